import GuestFS
import Network

/// The guest as the plan leaves it plus one interface's edits not yet proposed: all of an
/// interface's files are edited first and proposed only if every dialect accepted its edit, so a
/// refusal leaves no file half-converted.
struct OverlayFiles: GuestFileReader {
    let base: any GuestFileReader
    var writes: [GuestPath: [UInt8]] = [:]
    var removed: Set<GuestPath> = []

    func read(_ path: GuestPath) throws -> GuestFile? {
        if removed.contains(path) { return nil }
        guard let bytes = writes[path] else { return try base.read(path) }
        let metadata = try base.read(path)?.metadata ?? .newConfigFile
        return GuestFile(path: path, contents: bytes, metadata: metadata)
    }

    func listDirectory(_ path: GuestPath) throws -> [String] {
        var names = Set(try base.listDirectory(path))
        for written in writes.keys where written.parent == path { names.insert(written.name) }
        for gone in removed where gone.parent == path { names.remove(gone.name) }
        return names.sorted()
    }

    mutating func apply(_ edit: FileEdit) throws {
        switch edit {
        case .write(let path, let bytes):
            writes[path] = bytes
            removed.remove(path)
        case .renameAside(let path, let destination):
            if let file = try read(path) { writes[destination] = file.contents }
            writes[path] = nil
            removed.insert(path)
        }
    }
}
