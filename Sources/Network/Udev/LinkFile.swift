import Dialects
import GuestprepCore

/// A systemd `.link` file (systemd.link(5)): what it matches and the name it gives, read through
/// the lossless INI parser.
public struct LinkFile: Sendable {
    public var ini: IniFile

    public init(bytes: [UInt8]) {
        ini = IniFile(bytes: bytes, syntax: .systemd)
    }

    public var bytes: [UInt8] { ini.bytes }

    /// The `[Match]` conditions (all must hold) and the naming `[Link]` asks for.
    public struct Naming: Sendable, Hashable {
        /// `MACAddress=` (a list: any of them matches).
        public var macAddresses: [MACAddress]
        public var permanentMACAddresses: [MACAddress]
        /// `OriginalName=` globs (the kernel's name).
        public var originalNames: [String]
        /// `Path=` globs (`pci-0000:08:00.0`, matched against ID_PATH).
        public var paths: [String]
        /// `Driver=`, `Type=` and other match keys, verbatim, so a caller can tell a narrow match.
        public var otherMatches: [String: String]
        /// `[Link] Name=`: used only when `NamePolicy=` is unset or yields nothing (systemd.link(5)).
        public var name: String?
        public var namePolicy: [String]
        /// Lines, for findings: the first `[Match]` key and `Name=`.
        public var matchLine: Int?
        public var nameLine: Int?
    }

    public var naming: Naming {
        func words(_ key: String, in section: String = "Match") -> [String] {
            // An empty assignment resets a list (systemd.syntax(7)).
            var result: [String] = []
            for entry in ini.entries(section, key) {
                if entry.value.isEmpty {
                    result = []
                } else {
                    result += entry.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                }
            }
            return result
        }
        var others: [String: String] = [:]
        let known: Set<String> = ["MACAddress", "PermanentMACAddress", "OriginalName", "Path"]
        for entry in ini.entries where entry.section == "Match" && !known.contains(entry.key) { others[entry.key] = entry.value }
        return Naming(
            macAddresses: words("MACAddress").compactMap(MACAddress.init),
            permanentMACAddresses: words("PermanentMACAddress").compactMap(MACAddress.init),
            originalNames: words("OriginalName"), paths: words("Path"), otherMatches: others,
            name: ini.last("Link", "Name").map(\.value).flatMap { $0.isEmpty ? nil : $0 },
            namePolicy: words("NamePolicy", in: "Link"),
            matchLine: ini.entries.first { $0.section == "Match" }?.lineNumber, nameLine: ini.last("Link", "Name")?.lineNumber)
    }

    /// The canonical `.link` guestprep writes: match the MAC, give the name. No `NamePolicy=`, so
    /// `Name=` applies; the file must sort before 99-default.link, as only the first match is used.
    ///
    /// VLANs, bonds and bridges inherit the MAC of their port, and a `.link` that matched them
    /// would rename them to the NIC's name. `Type=ether` (the type networkctl shows, read from
    /// DEVTYPE: vlan, bond and bridge have their own) keeps them out. `PermanentMACAddress=` was
    /// not chosen: it needs systemd 245 (RHEL 8 has 239, which ignores the unknown key), some
    /// paravirtual drivers report an all-zero permanent address, and the MACs read offline from
    /// configs and `--nic` are current addresses, not permanent ones (systemd.link(5)).
    public static func render(mac: MACAddress, name: String) -> [UInt8] {
        Array(
            """
            # Written by guestprep: keeps the name \(name) on the NIC with this MAC after migration.
            [Match]
            MACAddress=\(mac)
            Type=ether

            [Link]
            Name=\(name)

            """.utf8)
    }
}
