import GuestFS
import GuestprepCore
import Network

/// Leftover copies of network configurations (`ifcfg-eth0.bak`, `50-cloud-init.yaml.orig`,
/// `eth0.nmconnection.bak`) that a migration tool still matches by name and would read as a
/// DHCP twin of the converted file; they are moved into a subdirectory none of the tools reads.
enum NetworkBackups {
    /// A file to move aside, where to, and why.
    struct Backup {
        var path: GuestPath
        var destination: GuestPath
        var why: String
    }

    /// A subdirectory on the same filesystem (rename(2) needs that): network-scripts and wicked read
    /// only `ifcfg-*` files directly in their directory, netplan only `*.yaml` directly in its
    /// directories, and NetworkManager skips whatever is not a regular file in its own.
    static let asideDirectory = ".guestprep-aside"

    /// Editor, package-manager and admin backup suffixes.
    static let suffixes = [
        "~", ".bak", ".old", ".orig", ".save", ".backup", ".rpmnew", ".rpmorig", ".rpmsave", ".dpkg-old", ".dpkg-dist", ".dpkg-bak",
        ".ucf-old", ".tmp", ".rej",
    ]

    /// A directory tools read, which of its names are network configs, and who reads them.
    struct Place: Sendable {
        var directory: GuestPath
        var matches: @Sendable (String) -> Bool
        var why: String
    }

    static let places: [Place] = [
        Place(
            directory: "/etc/sysconfig/network-scripts", matches: { $0.hasPrefix("ifcfg-") },
            why: "initscripts skips it, but migration tools read every ifcfg-* in network-scripts"),
        Place(
            directory: "/etc/sysconfig/network", matches: { $0.hasPrefix("ifcfg-") },
            why: "wicked skips it, but migration tools read every ifcfg-* in /etc/sysconfig/network"),
        Place(
            directory: "/etc/netplan", matches: { $0.contains(".yaml") || $0.contains(".yml") },
            why: "netplan reads only *.yaml, but migration tools that glob /etc/netplan still match it"),
        Place(
            directory: "/etc/NetworkManager/system-connections", matches: { _ in true },
            why: "NetworkManager loads every name in system-connections that is not hidden or ending in ~, .bak and .orig included"),
    ]

    static func isBackup(_ name: String) -> Bool {
        !name.hasPrefix(".") && suffixes.contains { name.hasSuffix($0) && name.count > $0.count }
    }

    /// Backups that mention one of `names` (as a whole word: `eth0` is not in `eth0.100` or `veth0`).
    static func find(mentioning names: Set<String>, in context: RuleContext, files: any GuestFileReader) throws -> [Backup] {
        var found: [Backup] = []
        for place in places {
            for name in try files.listDirectory(place.directory) where isBackup(name) && place.matches(name) {
                let path = place.directory.appending(name)
                let file: GuestFile?
                do {
                    file = try context.read(path)
                } catch let error as GuestprepError where error.code == .notRegularFile {
                    continue
                }
                guard let file else { continue }
                var stem = name
                if let suffix = suffixes.first(where: { name.hasSuffix($0) }) { stem = String(name.dropLast(suffix.count)) }
                let words = Set(words(in: file.contents)).union([String(stem.drop { $0 != "-" }.dropFirst())])
                let mentioned = names.intersection(words).sorted()
                guard !mentioned.isEmpty else { continue }
                found.append(
                    Backup(
                        path: path, destination: try destination(for: path, in: context),
                        why: "leftover backup configuring \(mentioned.joined(separator: ", ")) with its old settings: \(place.why), and one reading it would put DHCP back; moved aside, not deleted"
                    ))
            }
        }
        return found
    }

    /// `<dir>/.guestprep-aside/<name>`, numbered when a file of that name was moved aside before.
    static func destination(for path: GuestPath, in context: RuleContext) throws -> GuestPath {
        let directory = path.parent.appending(asideDirectory)
        var candidate = directory.appending(path.name)
        var number = 1
        while try context.read(candidate) != nil || context.root.exists(candidate) {
            candidate = directory.appending("\(path.name).\(number)")
            number += 1
        }
        return candidate
    }

    /// Words made of the characters interface names use; ':' '=' '"' and blanks separate them.
    static func words(in bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split { character in
            !(character.isLetter || character.isNumber || character == "-" || character == "_" || character == "." || character == "@")
        }.map(String.init)
    }
}
