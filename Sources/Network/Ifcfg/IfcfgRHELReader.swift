import GuestFS
import GuestprepCore

/// One RHEL ifcfg file into the interface model.
enum IfcfgRHELReader {
    static func config(_ variables: IfcfgVariables, device: String) -> InterfaceConfig {
        let fileLocation = SourceLocation(variables.path)
        var config = InterfaceConfig(
            stack: .ifcfgRHEL, name: Sourced(device, at: variables["DEVICE"] != nil ? variables.location("DEVICE") : fileLocation))
        config.files = [variables.path]
        // HWADDR matches the device's permanent MAC; MACADDR sets one. Either ties the file to a MAC.
        config.mac = variables.sourced("HWADDR", MACAddress.init) ?? variables.sourced("MACADDR", MACAddress.init)
        config.kind = kind(variables, device: device)
        config.addresses = addresses(variables)
        config.mtu = variables.sourced("MTU") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        if let gateway = variables.sourced("GATEWAY", IPAddress.init) {
            if gateway.value.family == .v4 { config.gateway4 = gateway } else { config.gateway6 = gateway }
        }
        // initscripts accepts `IPV6_DEFAULTGW=addr%iface`.
        config.gateway6 =
            config.gateway6 ?? variables.sourced("IPV6_DEFAULTGW") { IPAddress(String($0.split(separator: "%").first ?? "")) }
        config.dnsServers = variables.numbered("DNS").compactMap { variables.sourced($0.key, IPAddress.init) }
        if let domains = variables["DOMAIN"] {
            config.searchDomains = domains.split(whereSeparator: { $0 == " " || $0 == "\t" }).map {
                Sourced(String($0), at: variables.location("DOMAIN"))
            }
        }
        config.ports = []

        let v4 = config.addresses.contains { $0.value.address.family == .v4 }
        switch variables["BOOTPROTO"]?.lowercased() {
        case "dhcp", "bootp":
            config.ipv4 = Sourced(.dhcp, at: variables.location("BOOTPROTO"))
        case nil, "none", "static":
            // Missing BOOTPROTO means none; none with an IPADDR is a static address (nm-settings-ifcfg-rh(5)).
            let at = variables["BOOTPROTO"] != nil ? variables.location("BOOTPROTO") : config.addresses.first?.location ?? fileLocation
            config.ipv4 = Sourced(v4 ? .static : .manual, at: at)
        default:
            config.ipv4 = Sourced(.manual, at: variables.location("BOOTPROTO"))
        }
        if variables["IPV6INIT"] != nil {
            let at = variables.location("IPV6INIT")
            if !IfcfgVariables.isYes(variables["IPV6INIT"]) {
                config.ipv6 = Sourced(.disabled, at: at)
            } else if IfcfgVariables.isYes(variables["DHCPV6C"]) {
                config.ipv6 = Sourced(.dhcp, at: variables.location("DHCPV6C"))
            } else if config.addresses.contains(where: { $0.value.address.family == .v6 }) {
                config.ipv6 = Sourced(.static, at: variables.location("IPV6ADDR"))
            } else {
                config.ipv6 = Sourced(variables["IPV6_AUTOCONF"].map { IfcfgVariables.isYes($0) } ?? true ? .auto : .manual, at: at)
            }
        }
        return config
    }

    static func kind(_ variables: IfcfgVariables, device: String) -> LinkKind {
        switch variables["TYPE"]?.lowercased() {
        case "bond": return .bond
        case "bridge": return .bridge
        case "vlan": return .vlan
        case "wireless": return .wireless
        case "ethernet": return .ethernet
        case nil: break
        default: return .other
        }
        if variables["BONDING_OPTS"] != nil || IfcfgVariables.isYes(variables["BONDING_MASTER"]) { return .bond }
        if IfcfgVariables.isYes(variables["VLAN"]) { return .vlan }
        return .ethernet
    }

    /// `IPADDR`, then `IPADDR0`, `IPADDR1`, … each with `PREFIXn` (which wins), else `NETMASKn`,
    /// else a `/prefix` written into the address, else the address class: both initscripts'
    /// `ipcalc --netmask` and NetworkManager fall back to the class (nm-settings-ifcfg-rh(5)).
    static func addresses(_ variables: IfcfgVariables) -> [Sourced<InterfaceAddress>] {
        var result: [Sourced<InterfaceAddress>] = []
        let indexed: [(suffix: String, key: String)] =
            (variables["IPADDR"] != nil ? [("", "IPADDR")] : []) + variables.numbered("IPADDR").map { (String($0.number), $0.key) }
        for (suffix, key) in indexed {
            guard let text = variables[key] else { continue }
            let parts = text.split(separator: "/", maxSplits: 1)
            guard let address = IPAddress(String(parts[0])), address.family == .v4 else { continue }
            var parsed: InterfaceAddress? = nil
            if let prefix = variables["PREFIX" + suffix].flatMap({ Int($0) }) {
                parsed = InterfaceAddress(address: address, prefix: prefix)
            } else if let mask = variables["NETMASK" + suffix].flatMap(IPAddress.init) {
                parsed = InterfaceAddress(address: address, netmask: mask)
            } else if parts.count == 2, let prefix = Int(parts[1]) {
                parsed = InterfaceAddress(address: address, prefix: prefix)
            } else {
                parsed = InterfaceAddress(address: address, prefix: classfulPrefix(address))
            }
            if let parsed, !result.contains(where: { $0.value == parsed }) { result.append(Sourced(parsed, at: variables.location(key))) }
        }
        // IPv6: IPV6ADDR and IPV6ADDR_SECONDARIES, /64 when no prefix is given (initscripts' ifup-ipv6).
        var v6: [String] = []
        if let primary = variables["IPV6ADDR"] { v6.append(primary) }
        let secondaries = variables["IPV6ADDR_SECONDARIES"]?.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) ?? []
        for (index, text) in (v6 + secondaries).enumerated() {
            let key = index < v6.count ? "IPV6ADDR" : "IPV6ADDR_SECONDARIES"
            let parts = text.split(separator: "/", maxSplits: 1)
            guard let address = IPAddress(String(parts[0])), address.family == .v6,
                let parsed = InterfaceAddress(address: address, prefix: parts.count == 2 ? Int(parts[1]) ?? -1 : 64)
            else { continue }
            result.append(Sourced(parsed, at: variables.location(key)))
        }
        return result
    }

    /// The classful prefix of an IPv4 address (A /8, B /16, C and above /24).
    static func classfulPrefix(_ address: IPAddress) -> Int {
        switch address.bytes[0] {
        case 0..<128: 8
        case 128..<192: 16
        default: 24
        }
    }
}
