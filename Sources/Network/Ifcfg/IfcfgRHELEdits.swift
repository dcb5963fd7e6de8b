import Dialects
import GuestFS
import GuestprepCore

/// HWADDR pinning and static conversion in every ifcfg file that configures the interface.
extension IfcfgRHELDialect {
    public func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit] {
        try edit(interface, in: files) { variables, file in
            try file.set("HWADDR", to: mac.description, newQuote: file.prevailingQuote, path: variables.path.description)
        }
    }

    /// Removes `HWADDR=` (the match) and `MACADDR=` (a MAC it sets) and names the device with
    /// `DEVICE=` when the file does not: NetworkManager's ifcfg-rh binds a profile to a device by
    /// one of the two, and the file-name suffix alone only convinces initscripts.
    public func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit] {
        try edit(interface, in: files) { variables, file in
            guard variables["HWADDR"] != nil || variables["MACADDR"] != nil else { return }
            file.remove("HWADDR")
            file.remove("MACADDR")
            if variables["DEVICE"] == nil, let name = interface.name?.value {
                try file.set("DEVICE", to: name, newQuote: file.prevailingQuote, path: variables.path.description)
            }
        }
    }

    /// Writes the keys a reader of this one file needs (nm-settings-ifcfg-rh(5)): `BOOTPROTO=none`,
    /// plain `IPADDR=`/`PREFIX=` (tools that read only those exist), `GATEWAY=`, `DNSn=`, `DOMAIN=`,
    /// `MTU=`, `HWADDR=`. `NETMASK` and indexed addresses are removed only when they say otherwise.
    public func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
    {
        let v4 = settings.addresses.filter { $0.address.family == .v4 }
        guard let first = v4.first else {
            throw GuestprepError(.refused, "no IPv4 address to write for \(interface.name?.value ?? "the interface")")
        }
        let domains = try settings.searchDomains.map(SearchDomain.checked)
        return try edit(interface, in: files) { variables, file in
            let path = variables.path
            let quote = file.prevailingQuote
            try file.set("BOOTPROTO", to: "none", newQuote: quote, path: path.description)
            try file.set("IPADDR", to: first.address.description, newQuote: quote, path: path.description)
            try file.set("PREFIX", to: String(first.prefix), newQuote: quote, path: path.description)
            if let netmask = variables["NETMASK"], IPAddress(netmask) != first.netmask { file.remove("NETMASK") }
            // Indexed addresses: kept when they are among the new ones, removed when they contradict them.
            var present: Set<InterfaceAddress> = [first]
            for (number, key) in variables.numbered("IPADDR") {
                let suffix = String(number)
                if let address = Self.indexedAddress(variables, suffix: suffix, key: key), v4.contains(address), !present.contains(address)
                {
                    present.insert(address)
                    continue
                }
                if let address = Self.indexedAddress(variables, suffix: suffix, key: key), address == first { continue }
                for stale in ["IPADDR", "PREFIX", "NETMASK", "GATEWAY"] { file.remove(stale + suffix) }
            }
            var next = (variables.numbered("IPADDR").map(\.number).max() ?? 0) + 1
            for address in v4 where !present.contains(address) {
                try file.set("IPADDR\(next)", to: address.address.description, newQuote: quote, path: path.description)
                try file.set("PREFIX\(next)", to: String(address.prefix), newQuote: quote, path: path.description)
                present.insert(address)
                next += 1
            }
            if let gateway = settings.gateway4 { try file.set("GATEWAY", to: gateway.description, newQuote: quote, path: path.description) }
            if !settings.dnsServers.isEmpty {
                for (index, server) in settings.dnsServers.enumerated() {
                    try file.set("DNS\(index + 1)", to: server.description, newQuote: quote, path: path.description)
                }
                for (number, key) in variables.numbered("DNS") where number > settings.dnsServers.count { file.remove(key) }
            }
            if !domains.isEmpty { try file.set("DOMAIN", to: domains.joined(separator: " "), newQuote: quote, path: path.description) }
            if let mtu = settings.mtu { try file.set("MTU", to: String(mtu), newQuote: quote, path: path.description) }
            if let mac { try file.set("HWADDR", to: mac.description, newQuote: quote, path: path.description) }
        }
    }

    /// IPADDRn with its own PREFIXn or NETMASKn.
    static func indexedAddress(_ variables: IfcfgVariables, suffix: String, key: String) -> InterfaceAddress? {
        guard let address = variables[key].flatMap(IPAddress.init) else { return nil }
        if let prefix = variables["PREFIX" + suffix].flatMap({ Int($0) }) { return InterfaceAddress(address: address, prefix: prefix) }
        if let mask = variables["NETMASK" + suffix].flatMap(IPAddress.init) { return InterfaceAddress(address: address, netmask: mask) }
        return InterfaceAddress(address: address, prefix: IfcfgRHELReader.classfulPrefix(address))
    }

    /// Runs `change` on every ifcfg file for the interface's device; unchanged files give no edit.
    private func edit(
        _ interface: InterfaceConfig, in files: any GuestFileReader,
        _ change: (IfcfgVariables, inout ShellAssignmentsFile) throws -> Void
    ) throws -> [FileEdit] {
        guard let name = interface.name?.value else {
            throw GuestprepError(.refused, "an ifcfg interface always has a device name; this one came from another dialect")
        }
        var edits: [FileEdit] = []
        for profile in try profiles(in: files) where profile.interface == name {
            var file = profile.variables.file
            try change(profile.variables, &file)
            if file.bytes != profile.variables.file.bytes { edits.append(.write(profile.variables.path, file.bytes)) }
        }
        return edits
    }
}
