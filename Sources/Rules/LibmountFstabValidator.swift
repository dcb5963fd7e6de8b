import Dialects
import GuestprepCore
import MountTable

/// libmount's own reading of a proposed fstab, parsed in process: it rejects no line it did not
/// already reject in the original, and each planned source is on the entry libmount sees mounted
/// at the same target with the same type, wherever other rules' edits have moved that entry.
public struct LibmountFstabValidator: ChangeValidator {
    let expected: [KeyedReference]

    /// `expected` keys come from `key(target:type:)`.
    public init(expected: [KeyedReference]) {
        self.expected = expected
    }

    /// What an fstab entry is found by: its mount point and type, decoded (`\040` is a space).
    public static func key(target: String, type: String) -> String {
        "the entry mounted at \(target) (\(type))"
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let after = try ParsedMountTable(fstab: proposed, path: path)
        let before = try original.map { try ParsedMountTable(fstab: $0, path: path) }
        if let (line, text) = Self.newlyRejected(after.rejectedLines, of: proposed, before?.rejectedLines ?? [], of: original ?? []).first {
            throw GuestprepError(
                .validation,
                "libmount cannot parse this line, and the original had no such line: \"\(text)\" (fstab(5) needs a source, mount point and type; dump and pass must be numbers)",
                path: path, line: line,
                cause: "lines libmount rejects: \(after.rejectedLines.count) here, \(before?.rejectedLines.count ?? 0) in the original")
        }
        let found = after.entries.map { KeyedReference(key: Self.key(target: $0.target, type: $0.type), value: $0.source, line: 0) }
        if let missing = KeyedReference.unmet(expected, in: found).first {
            let sources = found.filter { $0.key == missing.key }.map(\.value)
            // libmount does not number its entries; the project's own parser says where the entry is now.
            let line = FstabFile(bytes: proposed).entries.first { Self.key(target: $0.mountPoint, type: $0.type) == missing.key }?
                .lineNumber
            throw GuestprepError(
                .validation,
                "libmount reads \(sources.isEmpty ? "no source" : sources.joined(separator: ", ")) for \(missing.key), expected \(missing.value) (planned on line \(missing.line))",
                path: path, line: line ?? missing.line)
        }
    }

    /// Rejected lines of the proposal whose text is not among the original's rejected lines (each
    /// original line excuses one), so a broken line a rule merely moved does not count as new.
    static func newlyRejected(_ lines: [Int], of proposed: [UInt8], _ originalLines: [Int], of original: [UInt8]) -> [(Int, String)] {
        guard !lines.isEmpty else { return [] }
        var excused: [[UInt8]: Int] = [:]
        if !originalLines.isEmpty {
            let text = TextLines.split(original)
            for line in originalLines where line >= 1 && line <= text.count { excused[text[line - 1].content, default: 0] += 1 }
        }
        let text = TextLines.split(proposed)
        var fresh: [(Int, String)] = []
        for line in lines {
            let content = line >= 1 && line <= text.count ? text[line - 1].content : []
            if let count = excused[content], count > 0 {
                excused[content] = count - 1
            } else {
                fresh.append((line, String(decoding: content, as: UTF8.self)))
            }
        }
        return fresh
    }
}
