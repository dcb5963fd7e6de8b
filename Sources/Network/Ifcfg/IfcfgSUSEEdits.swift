import Dialects
import GuestFS
import GuestprepCore

/// LLADDR pinning and static conversion in SUSE's ifcfg, ifroute and netconfig files.
extension IfcfgSUSEDialect {
    public func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit] {
        let (_, variables) = try profile(of: interface, in: files)
        var file = variables.file
        try file.set("LLADDR", to: mac.description, newQuote: file.prevailingQuote, path: variables.path.description)
        return file.bytes == variables.file.bytes ? [] : [.write(variables.path, file.bytes)]
    }

    /// Removes `LLADDR=`: on the destination wicked would set the old MAC on the new NIC. The
    /// file name already says which interface it configures.
    public func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit] {
        let (_, variables) = try profile(of: interface, in: files)
        var file = variables.file
        file.remove("LLADDR")
        return file.bytes == variables.file.bytes ? [] : [.write(variables.path, file.bytes)]
    }

    /// `BOOTPROTO='static'`, `IPADDR='a/p'` (the prefix inside, which wicked prefers to PREFIXLEN),
    /// further addresses as `IPADDR_n`, `LLADDR`, `MTU`; the gateway as a default route in
    /// ifroute-IFACE; DNS added to netconfig's static lists (global, so other interfaces' entries stay).
    public func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
    {
        let (name, variables) = try profile(of: interface, in: files)
        let v4 = settings.addresses.filter { $0.address.family == .v4 }
        guard let first = v4.first else { throw GuestprepError(.refused, "no IPv4 address to write for \(name)") }
        let domains = try settings.searchDomains.map(SearchDomain.checked)
        var edits: [FileEdit] = []
        var file = variables.file
        let path = variables.path
        let quote = file.prevailingQuote
        try file.set("BOOTPROTO", to: "static", newQuote: quote, path: path.description)
        try file.set("IPADDR", to: first.description, newQuote: quote, path: path.description)
        if let prefix = variables["PREFIXLEN"], Int(prefix) != first.prefix { file.remove("PREFIXLEN") }
        if let netmask = variables["NETMASK"], IPAddress(netmask) != first.netmask { file.remove("NETMASK") }
        var present: Set<InterfaceAddress> = [first]
        let current = IfcfgSUSEReader.addresses(variables)
        for key in variables.keys where key.hasPrefix("IPADDR") && key != "IPADDR" {
            let suffix = String(key.dropFirst("IPADDR".count))
            if let address = current.first(where: { $0.location.line == variables.location(key).line })?.value, v4.contains(address) {
                present.insert(address)
                continue
            }
            guard variables[key] != nil else { continue }
            for stale in ["IPADDR", "PREFIXLEN", "NETMASK", "LABEL", "BROADCAST"] { file.remove(stale + suffix) }
        }
        var next = 1
        for address in v4 where !present.contains(address) {
            while variables.keys.contains("IPADDR_\(next)") { next += 1 }
            try file.set("IPADDR_\(next)", to: address.description, newQuote: quote, path: path.description)
            present.insert(address)
            next += 1
        }
        if let mtu = settings.mtu { try file.set("MTU", to: String(mtu), newQuote: quote, path: path.description) }
        if let mac { try file.set("LLADDR", to: mac.description, newQuote: quote, path: path.description) }
        if file.bytes != variables.file.bytes { edits.append(.write(path, file.bytes)) }

        if let gateway = settings.gateway4, let edit = try defaultRoute(gateway, for: name, in: files) { edits.append(edit) }
        if !settings.dnsServers.isEmpty || !domains.isEmpty,
            let config = try IfcfgVariables.read(Self.configFile, from: files)
        {
            var file = config.file
            let quote = file.prevailingQuote ?? UInt8(ascii: "\"")
            let servers = merged(config["NETCONFIG_DNS_STATIC_SERVERS"], settings.dnsServers.map(\.description))
            let search = merged(config["NETCONFIG_DNS_STATIC_SEARCHLIST"], domains)
            try file.set("NETCONFIG_DNS_STATIC_SERVERS", to: servers, newQuote: quote, path: Self.configFile.description)
            try file.set("NETCONFIG_DNS_STATIC_SEARCHLIST", to: search, newQuote: quote, path: Self.configFile.description)
            if file.bytes != config.file.bytes { edits.append(.write(Self.configFile, file.bytes)) }
        }
        return edits
    }

    /// The existing words followed by the new ones not already there.
    private func merged(_ existing: String?, _ added: [String]) -> String {
        var words = self.words(existing)
        for word in added where !words.contains(word) { words.append(word) }
        return words.joined(separator: " ")
    }

    /// The default route in ifroute-IFACE (routes(5)): its gateway column replaced, or a line added,
    /// or the file created.
    private func defaultRoute(_ gateway: IPAddress, for name: String, in files: any GuestFileReader) throws -> FileEdit? {
        let path = Self.directory.appending("ifroute-" + name)
        let line = Array("default \(gateway) - \(name)".utf8)
        guard let existing = try files.read(path) else { return .write(path, line + [UInt8(ascii: "\n")]) }
        var lines = TextLines.split(existing.contents)
        for index in lines.indices {
            guard let (route, _) = IfcfgRoutes.suse(lines[index]), route.destination.prefix == 0,
                route.destination.address.family == gateway.family
            else { continue }
            guard route.gateway != gateway else { return nil }
            let fields = lines[index].fields()
            lines[index] = lines[index].replacing(fields[1].range, with: Array(gateway.description.utf8))
            return .write(path, TextLines.join(lines))
        }
        let terminator = lines.first(where: { !$0.terminator.isEmpty })?.terminator ?? [UInt8(ascii: "\n")]
        if let last = lines.indices.last, lines[last].terminator.isEmpty { lines[last].terminator = terminator }
        lines.append(TextLine(content: line, terminator: terminator))
        return .write(path, TextLines.join(lines))
    }

    private func profile(of interface: InterfaceConfig, in files: any GuestFileReader) throws -> (String, IfcfgVariables) {
        guard let name = interface.name?.value else {
            throw GuestprepError(.refused, "a SUSE ifcfg interface always has a name; this one came from another dialect")
        }
        guard let variables = try profiles(in: files).first(where: { $0.interface == name })?.variables else {
            throw GuestprepError(.notFound, "no ifcfg-\(name) to edit", path: Self.directory.description)
        }
        return (name, variables)
    }
}
