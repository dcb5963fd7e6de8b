import Foundation
import GuestFS
import Network

/// A fixture guest tree held in memory: read as a `GuestFileReader`, edited by applying `FileEdit`s,
/// and compared with the case's `expected` tree.
struct MemoryGuest: GuestFileReader {
    var files: [GuestPath: [UInt8]] = [:]
    /// Metadata every file reports; NM keyfiles must be root-owned 0600 to be loaded.
    var metadata = FileMetadata(mode: 0o100600, uid: 0, gid: 0)

    init(files: [GuestPath: [UInt8]] = [:]) { self.files = files }

    /// Every regular file under `directory`, keyed by its path inside the tree.
    init(tree directory: URL) throws {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let url = directory.appendingPathComponent(relative)
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files[GuestPath("/" + relative)] = [UInt8](try Data(contentsOf: url))
        }
    }

    func read(_ path: GuestPath) throws -> GuestFile? {
        files[path].map { GuestFile(path: path, contents: $0, metadata: metadata) }
    }

    func listDirectory(_ path: GuestPath) throws -> [String] {
        let names = files.keys.compactMap { key -> String? in
            guard key.components.count > path.components.count, key.components.starts(with: path.components) else { return nil }
            return key.components[path.components.count]
        }
        return Set(names).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    mutating func apply(_ edits: [FileEdit]) {
        for edit in edits {
            switch edit {
            case .write(let path, let bytes): files[path] = bytes
            case .renameAside(let path, let target):
                files[target] = files[path]
                files[path] = nil
            }
        }
    }

    static let fixtures = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/network")

    static func fixture(_ dialect: String, _ name: String, _ tree: String = "input") throws -> MemoryGuest {
        try MemoryGuest(tree: fixtures.appendingPathComponent("\(dialect)/\(name)/\(tree)"))
    }

    /// Differences from another tree, one line per differing path, for a readable failure.
    func differences(from expected: MemoryGuest) -> [String] {
        Set(files.keys).union(expected.files.keys).sorted().compactMap { path in
            let got = files[path]
            let want = expected.files[path]
            guard got != want else { return nil }
            return "\(path):\n--- got\n\(got.map { String(decoding: $0, as: UTF8.self) } ?? "<missing>")\n--- expected\n"
                + "\(want.map { String(decoding: $0, as: UTF8.self) } ?? "<missing>")"
        }
    }
}
