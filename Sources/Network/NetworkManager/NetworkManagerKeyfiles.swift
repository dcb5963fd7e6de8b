import Dialects
import GuestFS
import GuestFacts
import GuestprepCore

/// NetworkManager keyfile profiles (nm-settings-keyfile(5)) as a network dialect.
public struct NetworkManagerKeyfiles: NetworkConfigDialect {
    public let stack: NetworkStack = .networkManager

    public init() {}

    /// A profile file and whether NetworkManager loads it.
    public struct Candidate: Sendable {
        public var profile: NetworkManagerProfile
        /// Why NM skips it (insecure owner or mode, shadowed by a higher-priority profile with its UUID); nil when loaded.
        public var skipped: String?
    }

    /// Every profile-named file in the keyfile directories, highest priority first.
    public func candidates(in files: any GuestFileReader) throws -> [Candidate] {
        var result: [Candidate] = []
        var seenUUIDs: Set<String> = []
        for directory in NetworkManagerFiles.directories {
            for name in try files.listDirectory(directory) where NetworkManagerFiles.isProfileName(name, in: directory) {
                let path = directory.appending(name)
                let file: GuestFile?
                do {
                    file = try files.read(path)
                } catch let error as GuestprepError where error.code == .notRegularFile {
                    continue  // a subdirectory or device: NM skips what is not a regular file
                }
                guard let file else { continue }
                let profile = NetworkManagerProfile(path: path, bytes: file.contents)
                var skipped: String? = nil
                if let error = profile.loadError {
                    skipped = error.description
                } else if !NetworkManagerFiles.hasSafePermissions(file.metadata) {
                    skipped =
                        "not owned by root or readable by others (mode \(String(file.metadata.mode & 0o7777, radix: 8))): NetworkManager ignores it"
                } else if let uuid = profile.uuid, seenUUIDs.contains(uuid) {
                    skipped = "shadowed by a higher-priority profile with UUID \(uuid)"
                }
                if skipped == nil, let uuid = profile.uuid { seenUUIDs.insert(uuid) }
                result.append(Candidate(profile: profile, skipped: skipped))
            }
        }
        return result
    }

    /// What the loaded profiles hold that this reader could not use, with file and line.
    public func problems(in files: any GuestFileReader) throws -> [GuestprepError] {
        try candidates(in: files).filter { $0.skipped == nil }.flatMap(\.profile.problems)
    }

    public func isPresent(in files: any GuestFileReader) throws -> Bool {
        try !candidates(in: files).isEmpty
    }

    /// One interface per loaded profile; a bond's or bridge's ports are the profiles naming it as controller.
    public func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        let profiles = try candidates(in: files).filter { $0.skipped == nil }.map(\.profile)
        return profiles.map { profile in
            var config = profile.interface()
            if config.kind == .bond || config.kind == .bridge {
                let handles = Set([profile.interfaceName, profile.uuid, profile.id].compactMap { $0 })
                config.ports = profiles.filter { $0.controller.map(handles.contains) ?? false }.compactMap(\.interfaceName)
            }
            return config
        }
    }

    /// Sets `mac-address=` in the profile's ethernet setting; `interface-name=` stays.
    public func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit] {
        try interface.files.map { path in
            var profile = try Self.load(path, from: files)
            profile.ini.set(profile.sectionName("ethernet"), "mac-address", to: mac.description)
            return .write(path, profile.ini.bytes)
        }
    }

    /// Removes `mac-address=` and makes sure `interface-name=` names the device: a profile with
    /// neither would be activated on any Ethernet NIC.
    public func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit] {
        try interface.files.compactMap { path in
            var profile = try Self.load(path, from: files)
            let before = profile.ini.bytes
            if profile.interfaceName == nil {
                guard let name = interface.name?.value else {
                    throw GuestprepError(
                        .refused,
                        "matches its NIC only by MAC, and guestprep does not know that NIC's name; without the MAC it would match any NIC",
                        path: path.description)
                }
                profile.ini.set("connection", "interface-name", to: name)
            }
            for section in ["ethernet", "802-3-ethernet"] { profile.ini.remove(section, "mac-address") }
            return profile.ini.bytes == before ? nil : .write(path, profile.ini.bytes)
        }
    }

    /// `method=manual` with `address1=a/p,gw`, `dns=`, `dns-search=`, and the MAC and name, so
    /// a tool reading this one file sees the whole static configuration.
    public func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
    {
        try interface.files.map { path in
            var profile = try Self.load(path, from: files)
            if let name = interface.name?.value { profile.ini.set("connection", "interface-name", to: name) }
            let ethernet = profile.sectionName("ethernet")
            if let mac { profile.ini.set(ethernet, "mac-address", to: mac.description) }
            if let mtu = settings.mtu { profile.ini.set(ethernet, "mtu", to: String(mtu)) }
            Self.writeFamily(
                "ipv4", addresses: settings.addresses.filter { $0.address.family == .v4 }, gateway: settings.gateway4,
                dns: settings.dnsServers.filter { $0.family == .v4 }, search: settings.searchDomains, into: &profile.ini)
            let v6 = settings.addresses.filter { $0.address.family == .v6 }
            // IPv6 is converted only when static v6 addresses are given; SLAAC/DHCPv6 stays as it is.
            if !v6.isEmpty {
                Self.writeFamily(
                    "ipv6", addresses: v6, gateway: settings.gateway6, dns: settings.dnsServers.filter { $0.family == .v6 }, search: [],
                    into: &profile.ini)
            }
            return .write(path, profile.ini.bytes)
        }
    }

    static func writeFamily(
        _ setting: String, addresses: [InterfaceAddress], gateway: IPAddress?, dns: [IPAddress], search: [String], into ini: inout IniFile
    ) {
        ini.set(setting, "method", to: "manual")
        // Old address keys go: NM would merge them with the new ones.
        for key in Set(ini.entries.filter { $0.section == setting && NetworkManagerProfile.isAddressKey($0.key) }.map(\.key)) {
            ini.remove(setting, key)
        }
        ini.remove(setting, "gateway")
        for (offset, address) in addresses.enumerated() {
            // The gateway rides on address1, where NM and tools reading the file alone both find it.
            let value = offset == 0 && gateway != nil ? "\(address),\(gateway!)" : address.description
            ini.set(setting, "address\(offset + 1)", to: value)
        }
        if dns.isEmpty { ini.remove(setting, "dns") } else { ini.set(setting, "dns", to: dns.map { "\($0);" }.joined()) }
        if search.isEmpty {
            ini.remove(setting, "dns-search")
        } else {
            ini.set(setting, "dns-search", to: search.map { "\($0);" }.joined())
        }
    }

    static func load(_ path: GuestPath, from files: any GuestFileReader) throws -> NetworkManagerProfile {
        guard let file = try files.read(path) else {
            throw GuestprepError(.notFound, "the NetworkManager profile to edit is gone; plan again", path: path.description)
        }
        return NetworkManagerProfile(path: path, bytes: file.contents)
    }
}
