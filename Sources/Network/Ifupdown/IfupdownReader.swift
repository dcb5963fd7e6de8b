import GuestFS
import GuestprepCore

/// Turns ifupdown stanzas into interface models: every `iface NAME …` stanza for one name (inet,
/// inet6, several of each) is one interface.
enum IfupdownReader {
    /// interfaces(5) methods per family; anything not listed configures no address this dialect knows.
    static func method(family: String, _ method: String) -> AddressingMethod {
        switch (family, method) {
        case (_, "dhcp"), ("inet", "bootp"): .dhcp
        case (_, "static"): .static
        case ("inet6", "auto"), ("inet", "ipv4ll"): .auto
        default: .manual  // manual, loopback, ppp, wvdial, tunnel, v4tunnel, 6to4 …
        }
    }

    static func interfaces(from loaded: [IfupdownDialect.LoadedFile]) -> [InterfaceConfig] {
        var order: [String] = []
        var configs: [String: InterfaceConfig] = [:]
        var bondMasters: [(port: String, bond: String)] = []
        for file in loaded {
            for stanza in file.file.stanzas where stanza.header.keyword == "iface" && stanza.header.words.count >= 2 {
                let name = stanza.header.words[1]
                let at = SourceLocation(file.path, line: stanza.header.lineNumber)
                var config = configs[name] ?? InterfaceConfig(stack: .ifupdown, name: Sourced(name, at: at))
                if configs[name] == nil { order.append(name) }
                if !config.files.contains(file.path) { config.files.append(file.path) }
                // ifupdown2 allows `iface NAME` with no family: its addresses say which.
                let family = stanza.header.words.count >= 3 ? stanza.header.words[2] : ""
                let methodWord = stanza.header.words.count >= 4 ? stanza.header.words[3] : ""
                if methodWord == "loopback" || name == "lo" { config.kind = .loopback }
                // The vlan package's if-pre-up script infers a VLAN from the name alone:
                // NAME.VID and vlanVID (interfaces(5), vlan-interfaces(5)).
                if config.kind == .ethernet && Self.isVLANName(name) { config.kind = .vlan }
                if family == "inet", config.ipv4 == nil { config.ipv4 = Sourced(method(family: family, methodWord), at: at) }
                if family == "inet6", config.ipv6 == nil { config.ipv6 = Sourced(method(family: family, methodWord), at: at) }
                let before = config.addresses.count
                if let port = read(stanza, of: file.path, into: &config) { bondMasters.append((name, port)) }
                if family.isEmpty {
                    // ifupdown2's family-less stanza: its addresses are static ones.
                    for address in config.addresses[before...] {
                        if address.value.address.family == .v4, config.ipv4 == nil { config.ipv4 = Sourced(.static, at: at) }
                        if address.value.address.family == .v6, config.ipv6 == nil { config.ipv6 = Sourced(.static, at: at) }
                    }
                }
                configs[name] = config
            }
        }
        // A port naming its bond (`bond-master bond0`) is a port of that bond.
        for (port, bond) in bondMasters where configs[bond] != nil && !configs[bond]!.ports.contains(port) {
            configs[bond]!.ports.append(port)
            configs[bond]!.kind = .bond
        }
        return order.compactMap { configs[$0] }
    }

    /// Reads the options of one stanza; returns the bond this interface is a port of, if any.
    private static func read(_ stanza: InterfacesFile.Stanza, of path: GuestPath, into config: inout InterfaceConfig) -> String? {
        var bareAddresses: [(IPAddress, SourceLocation)] = []
        var netmask: String? = nil
        var bond: String? = nil
        for option in stanza.options {
            let at = SourceLocation(path, line: option.lineNumber)
            let values = Array(option.arguments)
            switch option.keyword {
            case "address":
                // ifupdown2 takes several addresses on one line; ifupdown takes one, with or without /prefix.
                for value in values {
                    if let cidr = InterfaceAddress(cidr: value) {
                        config.addresses.append(Sourced(cidr, at: at))
                    } else if let bare = IPAddress(value) {
                        bareAddresses.append((bare, at))
                    }
                }
            case "netmask": netmask = values.first
            case "gateway":
                guard let value = values.first, let gateway = IPAddress(value) else { break }
                if gateway.family == .v4 { config.gateway4 = config.gateway4 ?? Sourced(gateway, at: at) }
                if gateway.family == .v6 { config.gateway6 = config.gateway6 ?? Sourced(gateway, at: at) }
            case "hwaddress":
                // `hwaddress [ether] MAC`: the class word is optional since ifupdown 0.7.
                if let value = values.last, let mac = MACAddress(value) { config.mac = config.mac ?? Sourced(mac, at: at) }
            case "mtu":
                if let value = values.first, let mtu = Int(value), mtu > 0 { config.mtu = config.mtu ?? Sourced(mtu, at: at) }
            case "dns-nameservers", "dns-nameserver":
                config.dnsServers += values.compactMap(IPAddress.init).map { Sourced($0, at: at) }
            case "dns-search", "dns-domain":
                config.searchDomains += values.map { Sourced($0, at: at) }
            case "bond-slaves", "bond_slaves", "bond-ports":
                config.kind = .bond
                config.ports += values.filter { $0 != "none" && !config.ports.contains($0) }
            case "bond-mode", "bond_mode":
                config.kind = .bond
            case "bond-master", "bond_master":
                bond = values.first
            case "bridge_ports", "bridge-ports":
                config.kind = .bridge
                config.ports += values.filter { $0 != "none" && $0 != "all" && !config.ports.contains($0) }
            case "vlan-raw-device", "vlan_raw_device":
                config.kind = .vlan
            case _ where option.keyword.hasPrefix("wpa-") || option.keyword.hasPrefix("wireless-"):
                if config.kind == .ethernet { config.kind = .wireless }
            default:
                break  // up/down hooks (routes included) and everything else: left alone.
            }
        }
        // `netmask` is a dotted mask or, for inet6 (and ifupdown 0.8 inet), a prefix length.
        for (address, at) in bareAddresses {
            var parsed: InterfaceAddress? = nil
            if let netmask {
                if let bits = Int(netmask) {
                    parsed = InterfaceAddress(address: address, prefix: bits)
                } else if let mask = IPAddress(netmask) {
                    parsed = InterfaceAddress(address: address, netmask: mask)
                }
            }
            // No mask at all: ifupdown leaves the prefix to ip(8)'s default; guessing one is not ours to do.
            if let parsed { config.addresses.append(Sourced(parsed, at: at)) }
        }
        return bond
    }
}

extension IfupdownReader {
    /// `eth0.100`, `ens3.0100`, `vlan100`: names the vlan package treats as VLANs.
    static func isVLANName(_ name: String) -> Bool {
        let digits = { (text: Substring) in !text.isEmpty && text.allSatisfy { $0 >= "0" && $0 <= "9" } }
        if let dot = name.lastIndex(of: "."), dot != name.startIndex, digits(name[name.index(after: dot)...]) { return true }
        return name.hasPrefix("vlan") && digits(name.dropFirst(4))
    }
}
