import Dialects
import GuestFS
import GuestprepCore

/// One `.network` unit as systemd-networkd reads it: the main file after masking, and its
/// drop-ins (`NAME.network.d/*.conf`) in the order they are applied.
public struct NetworkdUnit: Sendable {
    public var name: String
    public var path: GuestPath
    public var ini: IniFile
    public var dropIns: [(path: GuestPath, ini: IniFile)]

    /// Main file first, then drop-ins: later assignments override or extend earlier ones.
    public var layers: [(path: GuestPath, ini: IniFile)] { [(path, ini)] + dropIns }
}

/// Where systemd-networkd finds `.network` files and how it orders them (systemd.network(5)).
public enum NetworkdFiles {
    /// Highest priority first: a file in an earlier directory masks one of the same name in a later one.
    public static let directories: [GuestPath] = [
        "/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network", "/usr/lib/systemd/network",
        "/lib/systemd/network",
    ]

    /// Every `.network` unit that is not masked, in lexical order of file name (the order networkd
    /// tries them: the first whose `[Match]` fits an interface configures it).
    public static func units(in files: any GuestFileReader) throws -> [NetworkdUnit] {
        var chosen: [String: GuestPath] = [:]
        var masked: Set<String> = []
        for directory in directories {
            for name in try files.listDirectory(directory) where name.hasSuffix(".network") && !name.hasPrefix(".") {
                guard chosen[name] == nil, !masked.contains(name) else { continue }
                // An empty file or a symlink to /dev/null masks the name (systemd.unit(5)).
                guard let bytes = try readRegular(directory.appending(name), files), !bytes.isEmpty else {
                    masked.insert(name)
                    continue
                }
                chosen[name] = directory.appending(name)
            }
        }
        var units: [NetworkdUnit] = []
        for name in chosen.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            guard let path = chosen[name], let bytes = try readRegular(path, files) else { continue }
            units.append(
                NetworkdUnit(
                    name: name, path: path, ini: IniFile(bytes: bytes, syntax: .systemd), dropIns: try dropIns(of: name, in: files)))
        }
        return units
    }

    /// `NAME.network.d/*.conf` from every directory; a drop-in name in an earlier directory masks
    /// the same name in later ones; the survivors apply in lexical order of file name.
    static func dropIns(of name: String, in files: any GuestFileReader) throws -> [(path: GuestPath, ini: IniFile)] {
        var chosen: [String: GuestPath] = [:]
        var masked: Set<String> = []
        for directory in directories {
            let dropInDirectory = directory.appending(name + ".d")
            for conf in try files.listDirectory(dropInDirectory) where conf.hasSuffix(".conf") && !conf.hasPrefix(".") {
                guard chosen[conf] == nil, !masked.contains(conf) else { continue }
                guard let bytes = try readRegular(dropInDirectory.appending(conf), files), !bytes.isEmpty else {
                    masked.insert(conf)
                    continue
                }
                chosen[conf] = dropInDirectory.appending(conf)
            }
        }
        return try chosen.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }).compactMap { conf in
            guard let path = chosen[conf], let bytes = try readRegular(path, files) else { return nil }
            return (path, IniFile(bytes: bytes, syntax: .systemd))
        }
    }

    /// A file's bytes; nil for a name that is not a readable regular file (a dangling or /dev/null link).
    static func readRegular(_ path: GuestPath, _ files: any GuestFileReader) throws -> [UInt8]? {
        do {
            return try files.read(path)?.contents
        } catch let error as GuestprepError where error.code == .notRegularFile {
            return nil
        }
    }
}
