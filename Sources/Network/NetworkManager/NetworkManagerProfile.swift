import Dialects
import GuestFS
import GuestFacts
import GuestprepCore

/// One NetworkManager connection profile (a keyfile) and what it says about its interface.
public struct NetworkManagerProfile: Sendable {
    public var path: GuestPath
    public var ini: IniFile

    public init(path: GuestPath, bytes: [UInt8]) {
        self.path = path
        ini = IniFile(bytes: bytes, syntax: .keyfile)
    }

    /// nm-settings-keyfile(5) accepts a setting's full name as its section name too.
    static let aliases: [String: String] = ["802-3-ethernet": "ethernet", "802-11-wireless": "wifi"]

    /// The section a setting lives in here: the alias the file already uses, else the short name.
    func sectionName(_ setting: String) -> String {
        if ini.hasSection(setting) { return setting }
        return Self.aliases.first { $0.value == setting && ini.hasSection($0.key) }?.key ?? setting
    }

    func value(_ setting: String, _ key: String) -> IniFile.Entry? {
        // GLib merges repeated groups and lets the last key win, across both spellings of a setting.
        ini.entries.last { entry in
            entry.key == key && (entry.section == setting || entry.section.flatMap { Self.aliases[$0] } == setting)
        }
    }

    func entries(_ setting: String) -> [IniFile.Entry] {
        ini.entries.filter { $0.section == setting || $0.section.flatMap { Self.aliases[$0] } == setting }
    }

    func at(_ entry: IniFile.Entry) -> SourceLocation { SourceLocation(path, line: entry.lineNumber) }

    public var uuid: String? { value("connection", "uuid")?.value }
    public var id: String? { value("connection", "id")?.value }
    public var type: String? { value("connection", "type")?.value }
    public var interfaceName: String? { value("connection", "interface-name")?.value }
    /// The controller (bond, bridge) this profile is a port of: `controller=` or its older name `master=`.
    public var controller: String? { (value("connection", "controller") ?? value("connection", "master"))?.value }

    public var kind: LinkKind {
        switch type {
        case "ethernet", "802-3-ethernet": .ethernet
        case "bond": .bond
        case "bridge": .bridge
        case "vlan": .vlan
        case "wifi", "802-11-wireless": .wireless
        case "loopback": .loopback
        default: .other
        }
    }

    /// A MAC in either spelling NM writes: `52:54:00:AB:CD:EF`, or the old list of decimal bytes
    /// `82;84;0;171;205;239;` (still read by nm-settings-keyfile(5)).
    static func mac(_ text: String) -> MACAddress? {
        if text.contains(";") {
            let bytes = text.split(separator: ";").compactMap { UInt8($0.trimmingBlanks) }
            guard bytes.count == 6 || bytes.count == 20, text.split(separator: ";").count == bytes.count else { return nil }
            return MACAddress(bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: ":"))
        }
        return MACAddress(text)
    }

    static func method(_ text: String, family: IPAddress.Family) -> AddressingMethod {
        switch text {
        case "auto": family == .v4 ? .dhcp : .auto
        case "dhcp": .dhcp
        case "manual": .static
        case "disabled", "ignore": .disabled
        // link-local brings the link up with only a link-local address; shared serves DHCP itself:
        // neither is a DHCP client to convert.
        case "link-local": .manual
        case "shared": .static
        default: .manual
        }
    }

    /// Addresses and the first gateway written beside one (`address1=10.0.0.5/24,10.0.0.1`; older
    /// files use `;` and the plural `addresses=` holding several). Addresses without `/prefix` are
    /// skipped: NM would default the prefix, guestprep will not guess one.
    func addresses(_ setting: String) -> (addresses: [Sourced<InterfaceAddress>], gateway: Sourced<IPAddress>?) {
        var addresses: [Sourced<InterfaceAddress>] = []
        var gateway: Sourced<IPAddress>? = nil
        for entry in entries(setting) where Self.isAddressKey(entry.key) {
            var previousWasAddress = false
            for token in entry.value.split(whereSeparator: { $0 == "," || $0 == ";" }).map({ String($0.trimmingBlanks) }) {
                if let address = InterfaceAddress(cidr: token) {
                    addresses.append(Sourced(address, at: at(entry)))
                    previousWasAddress = true
                } else if previousWasAddress, let ip = IPAddress(token) {
                    if gateway == nil { gateway = Sourced(ip, at: at(entry)) }
                    previousWasAddress = false
                } else {
                    previousWasAddress = false
                }
            }
        }
        return (addresses, gateway)
    }

    /// `address`, `addresses`, `address1`, `addresses2`… (nm-settings-keyfile(5)).
    static func isAddressKey(_ key: String) -> Bool {
        for stem in ["addresses", "address"] where key.hasPrefix(stem) {
            return key.dropFirst(stem.count).allSatisfy(\.isASCIIDigitCharacter)
        }
        return false
    }

    static func isRouteKey(_ key: String) -> Bool {
        key.hasPrefix("route") && key.count > 5 && key.dropFirst(5).allSatisfy(\.isASCIIDigitCharacter)
    }

    /// Why GLib would refuse to load this file at all (then NM ignores the profile): a line that is
    /// not a group, key or comment, or a key before the first group.
    public var loadError: GuestprepError? {
        if let stray = ini.strays.first {
            return GuestprepError(
                .parse,
                "'\(stray.text)' is not a [group], key=value or # comment: GLib refuses the file, so NetworkManager ignores this profile",
                path: path.description, line: stray.lineNumber)
        }
        if let orphan = ini.entries.first(where: { $0.section == nil }) {
            return GuestprepError(
                .parse, "'\(orphan.key)=' comes before the first [group]: GLib refuses the file, so NetworkManager ignores this profile",
                path: path.description, line: orphan.lineNumber)
        }
        return nil
    }

    /// Values this reader could not use, each with file and line: a MAC or address it cannot parse,
    /// an address without `/prefix`, an unknown method. They are left out of `interface()`.
    public var problems: [GuestprepError] {
        var problems: [GuestprepError] = []
        func problem(_ entry: IniFile.Entry, _ message: String) {
            problems.append(GuestprepError(.parse, message, path: path.description, line: entry.lineNumber))
        }
        for entry in ini.entries where entry.key == "mac-address" && Self.mac(entry.value) == nil && !entry.value.isEmpty {
            problem(entry, "mac-address '\(entry.value)' is not a MAC address; the profile is not tied to a NIC by it")
        }
        for setting in ["ipv4", "ipv6"] {
            for entry in entries(setting) where Self.isAddressKey(entry.key) {
                // Same walk as addresses(): an IP right after an address is its gateway.
                var previousWasAddress = false
                for token in entry.value.split(whereSeparator: { $0 == "," || $0 == ";" }).map({ String($0.trimmingBlanks) })
                where !token.isEmpty {
                    if InterfaceAddress(cidr: token) != nil {
                        previousWasAddress = true
                        continue
                    }
                    if IPAddress(token) == nil {
                        problem(entry, "'\(token)' is not an address/prefix or gateway")
                    } else if !previousWasAddress {
                        problem(entry, "'\(token)' has no /prefix; guestprep does not guess one (write the real length, e.g. \(token)/24)")
                        previousWasAddress = true  // what follows is still its gateway
                        continue
                    }
                    previousWasAddress = false
                }
            }
            if let entry = value(setting, "method"),
                !["auto", "dhcp", "manual", "disabled", "ignore", "link-local", "shared"].contains(entry.value)
            {
                problem(entry, "method '\(entry.value)' is not one NetworkManager knows")
            }
        }
        return problems
    }

    /// The interface this profile configures, facts with file:line.
    public func interface() -> InterfaceConfig {
        var config = InterfaceConfig(stack: .networkManager, kind: kind, files: [path])
        if let entry = value("connection", "interface-name") { config.name = Sourced(entry.value, at: at(entry)) }
        if let entry = value("ethernet", "mac-address") ?? value("wifi", "mac-address"), let mac = Self.mac(entry.value) {
            config.mac = Sourced(mac, at: at(entry))
        }
        if let entry = value("ethernet", "mtu") ?? value("wifi", "mtu"), let mtu = Int(entry.value), mtu > 0 {
            config.mtu = Sourced(mtu, at: at(entry))
        }
        // A port (of a bond or bridge) carries no IP configuration of its own.
        guard controller == nil else { return config }
        for (setting, family) in [("ipv4", IPAddress.Family.v4), ("ipv6", .v6)] {
            let method: Sourced<AddressingMethod>
            if let entry = value(setting, "method") {
                method = Sourced(Self.method(entry.value, family: family), at: at(entry))
            } else {
                // No method: NM's default, `auto`; no line to point at.
                method = Sourced(Self.method("auto", family: family), at: SourceLocation(path))
            }
            let (addresses, addressGateway) = addresses(setting)
            config.addresses += addresses
            var gateway = addressGateway
            if let entry = value(setting, "gateway"), let ip = IPAddress(entry.value) { gateway = Sourced(ip, at: at(entry)) }
            for entry in entries(setting) where entry.key == "dns" {
                for token in entry.value.split(whereSeparator: { $0 == ";" || $0 == "," }) {
                    if let ip = IPAddress(String(token.trimmingBlanks)) { config.dnsServers.append(Sourced(ip, at: at(entry))) }
                }
            }
            for entry in entries(setting) where entry.key == "dns-search" {
                for token in entry.value.split(whereSeparator: { $0 == ";" || $0 == "," }) where !token.trimmingBlanks.isEmpty {
                    config.searchDomains.append(Sourced(String(token.trimmingBlanks), at: at(entry)))
                }
            }
            for entry in entries(setting) where Self.isRouteKey(entry.key) {
                let parts = entry.value.split(whereSeparator: { $0 == "," || $0 == ";" }).map { String($0.trimmingBlanks) }
                guard let destination = parts.first.flatMap({ InterfaceAddress(cidr: $0) }) else { continue }
                let gateway = parts.count > 1 ? IPAddress(parts[1]) : nil
                let metric = parts.count > 2 ? Int(parts[2]) : nil
                config.routes.append(Sourced(Route(destination: destination, gateway: gateway, metric: metric), at: at(entry)))
            }
            if family == .v4 {
                config.ipv4 = method
                config.gateway4 = gateway
            } else {
                config.ipv6 = method
                config.gateway6 = gateway
            }
        }
        return config
    }
}
