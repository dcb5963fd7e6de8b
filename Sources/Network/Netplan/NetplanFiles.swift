import GuestFS
import GuestprepCore
import Yams

/// One netplan YAML file as read: its bytes and its values with their lines.
public struct NetplanDocument: Sendable {
    public var path: GuestPath
    public var bytes: [UInt8]
    /// nil for an empty file (no document).
    public var root: NetplanValue?

    public init(path: GuestPath, bytes: [UInt8]) throws {
        self.path = path
        self.bytes = bytes
        root = try Self.compose(bytes, path: path).map { NetplanValue($0, path: path) }
    }

    /// Yams' node tree, with line and column marks (not `Sendable`, so never stored).
    static func compose(_ bytes: [UInt8], path: GuestPath) throws -> Node? {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw GuestprepError(.parse, "is not valid UTF-8; netplan reads YAML as UTF-8", path: path.description)
        }
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw GuestprepError(
                .parse, "is not valid YAML", path: path.description, line: Self.line(of: error), cause: "\(error)", underlying: error)
        }
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}

/// Where netplan reads its configuration, and in which order (netplan-generate(8), "Handling
/// multiple files"): `*.yaml` in /lib/netplan, /etc/netplan and /run/netplan; a name in /run
/// shadows the same name in /etc, which shadows /lib; the survivors are read in lexical order
/// of their file names, whatever their directory.
public enum NetplanFiles {
    public static let directories: [GuestPath] = ["/lib/netplan", "/etc/netplan", "/run/netplan"]

    /// The files netplan would read, in its order.
    public static func paths(in files: any GuestFileReader) throws -> [GuestPath] {
        var byName: [String: GuestPath] = [:]
        for directory in directories {
            for name in try files.listDirectory(directory) where name.hasSuffix(".yaml") {
                byName[name] = directory.appending(name)  // later directories shadow earlier ones
            }
        }
        // Lexical order of the name bytes, as glob(3)/g_strcmp0 in netplan sort them.
        return byName.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.compactMap { byName[$0] }
    }

    public static func documents(in files: any GuestFileReader) throws -> [NetplanDocument] {
        try paths(in: files).compactMap { path in
            guard let file = try files.read(path) else { return nil }
            return try NetplanDocument(path: path, bytes: file.contents)
        }
    }
}
