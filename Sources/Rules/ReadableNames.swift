import GuestFS
import GuestprepCore
import Network

/// The context as the network dialects read it, with names that are not valid UTF-8 left out
/// of directory listings instead of stopping the rule: an SSID-named NetworkManager profile
/// must not keep every other interface from being converted. What was left out is remembered,
/// and the rule reports it.
final class ReadableNames: GuestFileReader {
    let context: RuleContext
    /// Directory → the escaped names left out of it.
    private(set) var skipped: [GuestPath: [String]] = [:]

    init(_ context: RuleContext) {
        self.context = context
    }

    func read(_ path: GuestPath) throws -> GuestFile? { try context.read(path) }

    func listDirectory(_ path: GuestPath) throws -> [String] {
        let raw = try context.root.listDirectoryBytes(try context.plannedPath(path))
        let unreadable = raw.filter { String(validating: $0, as: UTF8.self) == nil }
        guard !unreadable.isEmpty else { return try context.listDirectory(path) }
        skipped[path] = unreadable.map { TerminalText.escape($0) }
        // The names as they are now: a file this plan moves aside still shows, and reads as nil.
        return raw.compactMap { String(validating: $0, as: UTF8.self) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
