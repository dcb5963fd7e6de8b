import GuestFS
import GuestFacts
import GuestprepCore

/// Debian's ifupdown: /etc/network/interfaces and the files it sources (interfaces(5)).
public struct IfupdownDialect: NetworkConfigDialect {
    public let stack: NetworkStack = .ifupdown
    public static let mainFile: GuestPath = "/etc/network/interfaces"
    /// `source` loops (a file sourcing itself through a glob) end here instead of recursing forever.
    static let maximumDepth = 16

    public init() {}

    /// One file ifupdown reads, in the order it reads them.
    public struct LoadedFile: Sendable {
        public var path: GuestPath
        public var file: InterfacesFile
    }

    public func isPresent(in files: any GuestFileReader) throws -> Bool {
        try files.read(Self.mainFile) != nil
    }

    /// The main file and everything it sources, depth first, as ifupdown reads them.
    public func load(from files: any GuestFileReader) throws -> [LoadedFile] {
        var loaded: [LoadedFile] = []
        try load(Self.mainFile, from: files, depth: 0, into: &loaded)
        return loaded
    }

    private func load(_ path: GuestPath, from files: any GuestFileReader, depth: Int, into loaded: inout [LoadedFile]) throws {
        guard let contents = try readRegular(path, from: files) else { return }
        let file = InterfacesFile(bytes: contents)
        loaded.append(LoadedFile(path: path, file: file))
        for statement in file.statements where statement.keyword == "source" || statement.keyword == "source-directory" {
            guard depth < Self.maximumDepth else {
                throw GuestprepError(
                    .parse, "sources files nested more than \(Self.maximumDepth) deep (a file sourcing itself?); fix the source lines",
                    path: path.description, line: statement.lineNumber)
            }
            for argument in statement.arguments {
                // interfaces(5): a relative path is relative to the directory of the file naming it.
                let pattern = argument.hasPrefix("/") ? GuestPath(argument) : path.parent.appending(argument)
                for match in try GuestGlob.expand(pattern, in: files) {
                    if statement.keyword == "source" {
                        try load(match, from: files, depth: depth + 1, into: &loaded)
                    } else {
                        for name in try files.listDirectory(match).filter(Self.isRunPartsName)
                            .sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) })
                        {
                            try load(match.appending(name), from: files, depth: depth + 1, into: &loaded)
                        }
                    }
                }
            }
        }
    }

    /// A file's bytes; nil when missing or not a regular file (a glob may match a directory,
    /// which ifupdown skips).
    private func readRegular(_ path: GuestPath, from files: any GuestFileReader) throws -> [UInt8]? {
        do {
            return try files.read(path)?.contents
        } catch let error as GuestprepError where error.code == .notRegularFile {
            return nil
        }
    }

    /// interfaces(5): source-directory reads only names made of ASCII letters, digits, "_" and
    /// "-", as run-parts(8) does, so `eth0.cfg` and editor backups are skipped.
    static func isRunPartsName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    public func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        IfupdownReader.interfaces(from: try load(from: files))
    }
}
