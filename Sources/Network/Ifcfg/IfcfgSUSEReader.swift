import Dialects
import GuestFS
import GuestprepCore

/// One SUSE ifcfg file into the interface model (ifcfg(5)).
enum IfcfgSUSEReader {
    static func config(_ variables: IfcfgVariables, interface: String) -> InterfaceConfig {
        let fileLocation = SourceLocation(variables.path)
        var config = InterfaceConfig(stack: .ifcfgSUSE, name: Sourced(interface, at: fileLocation))
        config.files = [variables.path]
        // LLADDR sets the link-layer address; it is SUSE's only MAC key in ifcfg files.
        config.mac = variables.sourced("LLADDR", MACAddress.init)
        config.mtu = variables.sourced("MTU") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        config.addresses = addresses(variables)
        // ifcfg-bonding(5) asks for BONDING_MASTER=yes, but a file listing ports is a bond either way.
        let bondPorts = variables.keys.filter { $0.hasPrefix("BONDING_SLAVE") }.compactMap { variables[$0] }
        if IfcfgVariables.isYes(variables["BONDING_MASTER"]) || !bondPorts.isEmpty {
            config.kind = .bond
            config.ports = bondPorts
        } else if IfcfgVariables.isYes(variables["BRIDGE"]) {
            config.kind = .bridge
            config.ports = variables["BRIDGE_PORTS"]?.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) ?? []
        } else if variables["ETHERDEVICE"] != nil {
            config.kind = .vlan
        } else if variables.keys.contains(where: { $0.hasPrefix("WIRELESS") && variables[$0] != nil }) {
            // YaST templates carry every WIRELESS_* key empty: only a value makes it wireless.
            config.kind = .wireless
        }
        // ifcfg(5): BOOTPROTO defaults to static; `dhcp` is both families, `dhcp4`/`dhcp6` one each.
        let at = variables["BOOTPROTO"] != nil ? variables.location("BOOTPROTO") : fileLocation
        let hasV4 = config.addresses.contains { $0.value.address.family == .v4 }
        let hasV6 = config.addresses.contains { $0.value.address.family == .v6 }
        for mode in (variables["BOOTPROTO"]?.lowercased() ?? "static").split(separator: "+") {
            switch mode {
            case "dhcp":
                config.ipv4 = Sourced(.dhcp, at: at)
                config.ipv6 = Sourced(.dhcp, at: at)
            case "dhcp4": config.ipv4 = Sourced(.dhcp, at: at)
            case "dhcp6": config.ipv6 = Sourced(.dhcp, at: at)
            case "static":
                config.ipv4 = Sourced(hasV4 ? .static : .manual, at: at)
                if hasV6 { config.ipv6 = Sourced(.static, at: at) }
            case "autoip": config.ipv4 = config.ipv4 ?? Sourced(.auto, at: at)
            default: config.ipv4 = config.ipv4 ?? Sourced(.manual, at: at)  // none, ibft
            }
        }
        return config
    }

    /// `IPADDR` and every `IPADDR<suffix>`, each with a `/prefix` inside or `PREFIXLEN<suffix>`, else
    /// `NETMASK<suffix>`. An address with no prefix at all is skipped rather than guessed, and so is
    /// `0.0.0.0` (a bridge port's "up, no address").
    static func addresses(_ variables: IfcfgVariables) -> [Sourced<InterfaceAddress>] {
        var result: [Sourced<InterfaceAddress>] = []
        for key in variables.keys where key.hasPrefix("IPADDR") {
            guard let text = variables[key] else { continue }
            let suffix = String(key.dropFirst("IPADDR".count))
            var parsed = InterfaceAddress(cidr: text)
            if parsed == nil, let address = IPAddress(text) {
                if let prefix = variables["PREFIXLEN" + suffix].flatMap({ Int($0) }) {
                    parsed = InterfaceAddress(address: address, prefix: prefix)
                } else if let mask = variables["NETMASK" + suffix].flatMap(IPAddress.init) {
                    parsed = InterfaceAddress(address: address, netmask: mask)
                }
            }
            guard let parsed, !parsed.address.bytes.allSatisfy({ $0 == 0 }) else { continue }
            if !result.contains(where: { $0.value == parsed }) { result.append(Sourced(parsed, at: variables.location(key))) }
        }
        return result
    }

    /// Adds the routes of an ifroute/routes file that belong to `config`; a default route is its gateway.
    static func addRoutes(_ bytes: [UInt8], path: GuestPath, to config: inout InterfaceConfig, fixedInterface: Bool) {
        let name = config.name?.value
        var used = false
        for (index, line) in TextLines.split(bytes).enumerated() {
            guard let (route, interface) = IfcfgRoutes.suse(line) else { continue }
            if !fixedInterface {
                if let interface {
                    guard interface == name else { continue }
                } else {
                    guard let gateway = route.gateway, config.addresses.contains(where: { $0.value.contains(gateway) }) else { continue }
                }
            }
            let at = SourceLocation(path, line: index + 1)
            used = true
            if route.destination.prefix == 0, let gateway = route.gateway {
                if gateway.family == .v4 { config.gateway4 = config.gateway4 ?? Sourced(gateway, at: at) }
                if gateway.family == .v6 { config.gateway6 = config.gateway6 ?? Sourced(gateway, at: at) }
            } else {
                config.routes.append(Sourced(route, at: at))
            }
        }
        if used, !config.files.contains(path) { config.files.append(path) }
    }
}
