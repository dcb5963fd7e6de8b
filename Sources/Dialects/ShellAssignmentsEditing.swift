import GuestprepCore

/// Key edits for KEY=value files (ifcfg, sysconfig): only the value bytes of the keys changed are rewritten.
extension ShellAssignmentsFile {
    /// Sets every assignment of `key` to `value`, keeping each one's quotes; appends `KEY=value`
    /// when the key is absent, quoted with `newQuote` (or double quotes when the value has blanks).
    /// Values needing shell escaping are refused: callers write validated addresses, numbers and names.
    public mutating func set(_ key: String, to value: String, newQuote: UInt8?, path: String) throws {
        guard
            !value.utf8.contains(where: {
                [UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`"), UInt8(ascii: "\n")]
                    .contains($0)
            })
        else {
            throw GuestprepError(.refused, "value for \(key) would need shell escaping; not written", path: path)
        }
        let needsQuotes = value.utf8.contains { $0.isBlank } || value.isEmpty
        let existing = assignments.filter { $0.key == key }
        guard !existing.isEmpty else {
            let quote = newQuote ?? (needsQuotes ? UInt8(ascii: "\"") : nil)
            append(Array("\(key)=".utf8) + Self.quoted(value, quote))
            return
        }
        for assignment in existing {
            guard assignment.isSimple else {
                throw GuestprepError(
                    .refused, "\(key) is not a simple value (an open quote, escapes or several words); edit it by hand",
                    path: path, line: assignment.lineNumber)
            }
            guard assignment.value != value else { continue }
            if assignment.quote != nil {
                replace(assignment.contentRange, inLine: assignment.index, with: value)
            } else {
                let range = assignment.contentRange
                let replacement = Self.quoted(value, needsQuotes ? UInt8(ascii: "\"") : nil)
                replace(range, inLine: assignment.index, with: String(decoding: replacement, as: UTF8.self))
            }
        }
    }

    /// Removes every line assigning `key`.
    public mutating func remove(_ key: String) {
        for assignment in assignments.filter({ $0.key == key }).reversed() { removeLine(at: assignment.index) }
    }

    /// The quote most of the file's assignments use, for new keys (nil: bare words).
    public var prevailingQuote: UInt8? {
        var counts: [UInt8: Int] = [:]
        var bare = 0
        for assignment in assignments {
            if let quote = assignment.quote { counts[quote, default: 0] += 1 } else { bare += 1 }
        }
        guard let (quote, count) = counts.max(by: { $0.value < $1.value }), count > bare else { return nil }
        return quote
    }

    static func quoted(_ value: String, _ quote: UInt8?) -> [UInt8] {
        guard let quote else { return Array(value.utf8) }
        return [quote] + Array(value.utf8) + [quote]
    }
}
