import Dialects
import GuestFS
import GuestFacts
import GuestprepCore

/// systemd-networkd `.network` files (systemd.network(5)) as a network dialect.
public struct SystemdNetworkd: NetworkConfigDialect {
    public let stack: NetworkStack = .networkd

    public init() {}

    public func isPresent(in files: any GuestFileReader) throws -> Bool {
        try !NetworkdFiles.units(in: files).isEmpty
    }

    /// Lines networkd ignores with a warning (not a section, assignment or comment) and values this
    /// reader could not use (an address without `/prefix`, a MAC or gateway it cannot parse), with file and line.
    public func problems(in files: any GuestFileReader) throws -> [GuestprepError] {
        var problems: [GuestprepError] = []
        for unit in try NetworkdFiles.units(in: files) {
            for (path, ini) in unit.layers {
                func problem(_ line: Int, _ message: String) {
                    problems.append(GuestprepError(.parse, message, path: path.description, line: line))
                }
                for stray in ini.strays {
                    problem(stray.lineNumber, "'\(stray.text)' is not a [Section], Key=Value or comment; networkd ignores it")
                }
                for entry in ini.entries where !entry.value.isEmpty {
                    switch (entry.section, entry.key) {
                    case ("Network", "Address"), ("Address", "Address"):
                        if InterfaceAddress(cidr: entry.value) == nil {
                            problem(
                                entry.lineNumber, "Address '\(entry.value)' is not an address/prefix; guestprep does not guess a prefix")
                        }
                    case ("Network", "Gateway"), ("Route", "Gateway"):
                        // `_dhcp4`/`_ipv6ra` ask for the gateway the lease or RA gives: no fixed address.
                        if IPAddress(entry.value) == nil && !entry.value.hasPrefix("_") {
                            problem(entry.lineNumber, "Gateway '\(entry.value)' is not an IP address")
                        }
                    case ("Match", "MACAddress"), ("Match", "PermanentMACAddress"):
                        for word in entry.value.words where MACAddress(word) == nil {
                            problem(entry.lineNumber, "'\(word)' is not a MAC address")
                        }
                    default:
                        break
                    }
                }
            }
        }
        return problems
    }

    /// One interface per literal name in `[Match] Name=` (a unit matching `eth0 eth1` configures
    /// both); a unit matching only globs or only a MAC gives one interface without a name.
    public func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        let units = try NetworkdFiles.units(in: files)
        var configs: [InterfaceConfig] = []
        var portsByController: [String: [String]] = [:]
        for unit in units {
            let read = Self.read(unit)
            let literal = read.names.filter { !$0.value.contains(where: { "*?[!".contains($0) }) }
            if literal.isEmpty {
                var config = read.config
                config.namePatterns = read.names
                configs.append(config)
            } else {
                for name in literal {
                    var config = read.config
                    config.name = name
                    configs.append(config)
                }
            }
            for controller in read.controllers { portsByController[controller, default: []] += literal.map(\.value) }
        }
        for index in configs.indices {
            guard let name = configs[index].name?.value, let ports = portsByController[name] else { continue }
            configs[index].ports = ports
            if configs[index].kind == .ethernet { configs[index].kind = .bond }
        }
        return configs
    }

    struct Reading {
        var config: InterfaceConfig
        var names: [Sourced<String>]
        var controllers: [String]
    }

    /// The unit's facts with drop-ins applied: a later single value wins, list keys accumulate,
    /// an empty assignment resets a list (systemd.syntax(7)).
    static func read(_ unit: NetworkdUnit) -> Reading {
        var config = InterfaceConfig(stack: .networkd, files: unit.layers.map(\.path))
        var names: [Sourced<String>] = []
        var dhcp: Sourced<String>? = nil
        var controllers: [String] = []
        var routeGateways: [Sourced<IPAddress>] = []
        for (path, ini) in unit.layers {
            func at(_ entry: IniFile.Entry) -> SourceLocation { SourceLocation(path, line: entry.lineNumber) }
            // [Route] sections are read one at a time: Destination= and Gateway= pair within a section.
            var route: (destination: InterfaceAddress?, gateway: Sourced<IPAddress>?, metric: Int?, start: Int)? = nil
            func flushRoute() {
                guard let current = route else { return }
                if let destination = current.destination, destination.prefix > 0 {
                    config.routes.append(
                        Sourced(
                            Route(destination: destination, gateway: current.gateway?.value, metric: current.metric),
                            at: current.gateway?.location ?? SourceLocation(path, line: current.start)))
                } else if let gateway = current.gateway {
                    routeGateways.append(gateway)
                }
                route = nil
            }
            for section in ini.sections.indices {
                flushRoute()
                let header = ini.sections[section]
                if header.name == "Route" { route = (nil, nil, nil, header.lineNumber) }
                for entry in ini.entries where entry.index > header.headerIndex && entry.index < header.endIndex {
                    switch (header.name, entry.key) {
                    case ("Match", "Name"):
                        if entry.value.isEmpty { names = [] }
                        names += entry.value.words.map { Sourced($0, at: at(entry)) }
                    case ("Match", "MACAddress"), ("Match", "PermanentMACAddress"):
                        if let mac = entry.value.words.compactMap(MACAddress.init).first, config.mac == nil {
                            config.mac = Sourced(mac, at: at(entry))
                        }
                    case ("Match", "Type"):
                        config.kind = kind(entry.value)
                    case ("Network", "DHCP"):
                        dhcp = Sourced(entry.value, at: at(entry))
                    case ("Network", "Address"), ("Address", "Address"):
                        if entry.value.isEmpty && header.name == "Network" {
                            config.addresses = []
                        } else if let address = InterfaceAddress(cidr: entry.value) {
                            config.addresses.append(Sourced(address, at: at(entry)))
                        }
                    case ("Network", "Gateway"):
                        if let ip = IPAddress(entry.value) { routeGateways.append(Sourced(ip, at: at(entry))) }
                    case ("Network", "DNS"):
                        if entry.value.isEmpty { config.dnsServers = [] }
                        // `addr%ifname#server` and `[addr]:port` forms carry more than an address: skipped.
                        config.dnsServers += entry.value.words.compactMap(IPAddress.init).map { Sourced($0, at: at(entry)) }
                    case ("Network", "Domains"):
                        if entry.value.isEmpty { config.searchDomains = [] }
                        // `~domain` is a routing-only domain, not a search domain.
                        config.searchDomains += entry.value.words.filter { !$0.hasPrefix("~") }.map { Sourced($0, at: at(entry)) }
                    case ("Network", "Bond"), ("Network", "Bridge"):
                        controllers.append(entry.value)
                    case ("Link", "MTUBytes"):
                        if let mtu = Int(entry.value) { config.mtu = Sourced(mtu, at: at(entry)) }
                    case ("Route", "Destination"):
                        route?.destination =
                            InterfaceAddress(cidr: entry.value)
                            ?? IPAddress(entry.value).flatMap {
                                InterfaceAddress(address: $0, prefix: $0.family == .v4 ? 32 : 128)
                            }
                    case ("Route", "Gateway"):
                        route?.gateway = IPAddress(entry.value).map { Sourced($0, at: at(entry)) }
                    case ("Route", "Metric"):
                        route?.metric = Int(entry.value)
                    default:
                        break
                    }
                }
            }
            flushRoute()
        }
        config.gateway4 = routeGateways.first { $0.value.family == .v4 }
        config.gateway6 = routeGateways.first { $0.value.family == .v6 }
        let value = dhcp?.value.lowercased() ?? "no"
        let v4DHCP = ["yes", "true", "on", "1", "ipv4", "both"].contains(value)
        let v6DHCP = ["yes", "true", "on", "1", "ipv6", "both"].contains(value)
        let at = dhcp?.location ?? SourceLocation(unit.path)
        func method(_ isDHCP: Bool, _ family: IPAddress.Family) -> Sourced<AddressingMethod>? {
            if isDHCP { return Sourced(.dhcp, at: at) }
            if let first = config.addresses.first(where: { $0.value.address.family == family }) {
                return Sourced(.static, at: first.location)
            }
            return dhcp.map { Sourced(.manual, at: $0.location) }
        }
        config.ipv4 = method(v4DHCP, .v4)
        config.ipv6 = method(v6DHCP, .v6)
        if !controllers.isEmpty {
            // A bond or bridge port: addressed through its controller, not itself.
            config.ipv4 = nil
            config.ipv6 = nil
        }
        return Reading(config: config, names: names, controllers: controllers)
    }

    static func kind(_ type: String) -> LinkKind {
        switch type {
        case "ether": .ethernet
        case "bond": .bond
        case "bridge": .bridge
        case "vlan": .vlan
        case "wlan": .wireless
        case "loopback": .loopback
        default: .other
        }
    }

    /// Whether a unit's `[Match]` can only ever pick one interface: one literal `Name=`, or no name
    /// and a MAC. A unit for `en*` or `eth0 eth1` is shared, and editing it would change the others.
    static func isExclusive(_ ini: IniFile) -> Bool {
        var names: [String] = []
        for entry in ini.entries("Match", "Name") { names = entry.value.isEmpty ? [] : names + entry.value.words }
        if names.isEmpty { return ini.entries("Match", "MACAddress").contains { !$0.value.isEmpty } }
        return names.count == 1 && !names[0].contains(where: { "*?[!".contains($0) })
    }

    /// The unit guestprep writes for one interface taken out of a shared unit; networkd uses the
    /// first unit (in file-name order) that matches, so it must sort before the shared one.
    static func ownUnitPath(for name: String) -> GuestPath {
        GuestPath("/etc/systemd/network").appending("00-guestprep-\(name).network")
    }

    /// Adds `[Match] MACAddress=` to the main file (every `[Match]` condition must hold, so the unit
    /// then applies only to that NIC). A shared unit is left alone: a MAC match would drop the other
    /// interfaces it serves, and the udev/.link pin already keeps the name it matches.
    public func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit] {
        guard let path = interface.files.first else { return [] }
        var ini = try Self.load(path, from: files)
        guard Self.isExclusive(ini) else { return [] }
        ini.setAll("Match", "MACAddress", to: [mac.description])
        return [.write(path, ini.bytes)]
    }

    /// Removes `[Match] MACAddress=`/`PermanentMACAddress=` from every file of the unit, adding
    /// `Name=` when nothing else would be left to match (a `[Match]` without conditions matches
    /// every link).
    public func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit] {
        let units = try interface.files.map { try Self.load($0, from: files) }
        let macKeys = ["MACAddress", "PermanentMACAddress"]
        guard units.contains(where: { ini in macKeys.contains { !ini.entries("Match", $0).isEmpty } }) else { return [] }
        let hasName = units.contains { !$0.entries("Match", "Name").isEmpty }
        var edits: [FileEdit] = []
        for (path, original) in zip(interface.files, units) {
            var ini = original
            if !hasName && path == interface.files.first {
                guard let name = interface.name?.value else {
                    throw GuestprepError(
                        .refused,
                        "matches its NIC only by MAC, and guestprep does not know that NIC's name; without the MAC it would match every link",
                        path: path.description)
                }
                ini.set("Match", "Name", to: name)
            }
            for key in macKeys { ini.remove("Match", key) }
            if ini.bytes != original.bytes { edits.append(.write(path, ini.bytes)) }
        }
        return edits
    }

    /// Writes the whole static configuration into the main file (`DHCP=no`, `Address=`, `Gateway=`,
    /// `DNS=`, `Domains=`, `[Match] MACAddress=`) and makes every drop-in that sets `DHCP=` say `no`
    /// and drop its own addressing keys, so no file of the unit says DHCP or contradicts the main file.
    /// An interface served by a shared unit (`Name=en*`) gets a unit of its own that sorts first
    /// instead; the shared unit stays for the others.
    public func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
    {
        guard let main = interface.files.first else { return [] }
        var ini = try Self.load(main, from: files)
        guard Self.isExclusive(ini) else {
            return [try ownUnit(for: interface, sharedUnit: main, settings, mac: mac)]
        }
        var edits: [FileEdit] = []
        if let mac { ini.setAll("Match", "MACAddress", to: [mac.description]) }
        Self.writeStatic(settings, into: &ini)
        edits.append(.write(main, ini.bytes))
        for path in interface.files.dropFirst() {
            var dropIn = try Self.load(path, from: files)
            guard !dropIn.entries("Network", "DHCP").isEmpty else { continue }
            dropIn.setAll("Network", "DHCP", to: ["no"])
            for key in ["Address", "Gateway", "DNS", "Domains"] { dropIn.remove("Network", key) }
            edits.append(.write(path, dropIn.bytes))
        }
        return edits
    }

    static func writeStatic(_ settings: StaticSettings, into ini: inout IniFile) {
        ini.set("Network", "DHCP", to: "no")
        ini.setAll("Network", "Address", to: settings.addresses.map(\.description))
        ini.setAll("Network", "Gateway", to: [settings.gateway4, settings.gateway6].compactMap { $0?.description })
        ini.setAll("Network", "DNS", to: settings.dnsServers.isEmpty ? [] : [settings.dnsServers.map(\.description).joined(separator: " ")])
        ini.setAll("Network", "Domains", to: settings.searchDomains.isEmpty ? [] : [settings.searchDomains.joined(separator: " ")])
        if let mtu = settings.mtu { ini.set("Link", "MTUBytes", to: String(mtu)) }
    }

    func ownUnit(
        for interface: InterfaceConfig, sharedUnit: GuestPath, _ settings: StaticSettings, mac: MACAddress?
    ) throws -> FileEdit {
        guard let name = interface.name?.value else {
            throw GuestprepError(
                .refused, "matches several interfaces and guestprep does not know which one this is; name it (--nic NAME=MAC)",
                path: sharedUnit.description)
        }
        let path = Self.ownUnitPath(for: name)
        guard Array(path.name.utf8).lexicographicallyPrecedes(Array(sharedUnit.name.utf8)) else {
            throw GuestprepError(
                .refused,
                "matches \(name) and sorts before \(path.name), so a unit of guestprep's own would never be used; "
                    + "give \(name) its own unit by hand", path: sharedUnit.description)
        }
        var text = "# Written by guestprep: \(name) taken out of \(sharedUnit) with its static configuration.\n[Match]\nName=\(name)\n"
        if let mac { text += "MACAddress=\(mac)\n" }
        text += "\n[Network]\n"
        var ini = IniFile(bytes: Array(text.utf8), syntax: .systemd)
        Self.writeStatic(settings, into: &ini)
        return .write(path, ini.bytes)
    }

    static func load(_ path: GuestPath, from files: any GuestFileReader) throws -> IniFile {
        guard let file = try files.read(path) else {
            throw GuestprepError(.notFound, "the systemd-networkd file to edit is gone; plan again", path: path.description)
        }
        return IniFile(bytes: file.contents, syntax: .systemd)
    }
}
