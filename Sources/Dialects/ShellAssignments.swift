import GuestprepCore

/// KEY=VALUE files read by a POSIX shell: /etc/default/grub, /etc/initramfs-tools/conf.d/resume,
/// /etc/sysconfig/*. Only simple assignments are understood (a bare word or one quoted string);
/// anything cleverer is left alone and reported by the rule that cares.
public struct ShellAssignmentsFile: Sendable {
    public private(set) var lines: [TextLine]

    public struct Assignment: Sendable {
        public var index: Int
        public var lineNumber: Int { index + 1 }
        public var key: String
        /// The value as the shell would see it, for simple values.
        public var value: String
        /// Byte range of the value's content in the line (inside the quotes, when quoted).
        public var contentRange: Range<Int>
        /// '"', '\'' or nil for a bare word.
        public var quote: UInt8?
        /// Values this parser does not rewrite: open quotes continued on later lines, backslashes,
        /// several concatenated words.
        public var isSimple: Bool
        /// `KEY+=value`, bash's append (dracut.conf's `add_drivers+=" … "`).
        public var isAppend = false
    }

    public init(bytes: [UInt8]) {
        lines = TextLines.split(bytes)
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    public var assignments: [Assignment] {
        lines.indices.compactMap { Self.parse(lines[$0].content, index: $0) }
    }

    /// Blank-separated words of a quoted or bare value, with ranges in line coordinates: the
    /// parameters of a kernel command line.
    public func words(of assignment: Assignment) -> [Field] {
        lines[assignment.index].fields(in: assignment.contentRange)
    }

    /// Replaces bytes of one line; callers pass ranges from `words(of:)` or `contentRange`.
    public mutating func replace(_ range: Range<Int>, inLine index: Int, with replacement: String) {
        lines[index] = lines[index].replacing(range, with: Array(replacement.utf8))
    }

    /// Adds a line at the end, with the file's line terminator; a file without a final newline
    /// still has none afterwards.
    public mutating func append(_ content: [UInt8]) {
        let terminator = lines.first(where: { !$0.terminator.isEmpty })?.terminator ?? [UInt8(ascii: "\n")]
        if let last = lines.last, last.terminator.isEmpty {
            lines[lines.count - 1].terminator = terminator
            lines.append(TextLine(content: content, terminator: []))
        } else {
            lines.append(TextLine(content: content, terminator: terminator))
        }
    }

    /// Removes one line (0-based index).
    public mutating func removeLine(at index: Int) {
        let removed = lines.remove(at: index)
        // Removing the unterminated last line leaves the new last line as the file ended before.
        if index == lines.count, removed.terminator.isEmpty, !lines.isEmpty { lines[lines.count - 1].terminator = [] }
    }

    static func parse(_ content: [UInt8], index: Int) -> Assignment? {
        var position = 0
        func skipBlanks() { while position < content.count, content[position].isBlank { position += 1 } }
        skipBlanks()
        guard position < content.count, content[position] != UInt8(ascii: "#") else { return nil }
        let exportWord = Array("export".utf8)
        if content[position...].starts(with: exportWord), position + exportWord.count < content.count,
            content[position + exportWord.count].isBlank
        {
            position += exportWord.count
            skipBlanks()
        }
        let keyStart = position
        while position < content.count, isNameByte(content[position], first: position == keyStart) { position += 1 }
        let key = String(decoding: content[keyStart..<position], as: UTF8.self)
        guard !key.isEmpty else { return nil }
        let isAppend = position + 1 < content.count && content[position] == UInt8(ascii: "+") && content[position + 1] == UInt8(ascii: "=")
        if isAppend { position += 1 }
        guard position < content.count, content[position] == UInt8(ascii: "=") else { return nil }
        position += 1

        let valueStart = position
        if position < content.count, content[position] == UInt8(ascii: "\"") || content[position] == UInt8(ascii: "'") {
            let quote = content[position]
            let inner = position + 1
            guard let close = content[inner...].firstIndex(of: quote) else {
                // Opened here, closed on a later line.
                return Assignment(
                    index: index, key: key, value: "", contentRange: inner..<content.count, quote: quote, isSimple: false,
                    isAppend: isAppend)
            }
            let innerBytes = content[inner..<close]
            let after = close + 1
            let endsCleanly = after == content.count || content[after].isBlank
            let simple = endsCleanly && (quote == UInt8(ascii: "'") || !innerBytes.contains(UInt8(ascii: "\\")))
            return Assignment(
                index: index, key: key, value: String(decoding: innerBytes, as: UTF8.self),
                contentRange: inner..<close, quote: quote, isSimple: simple, isAppend: isAppend)
        }
        while position < content.count, !content[position].isBlank { position += 1 }
        let raw = content[valueStart..<position]
        let simple = !raw.contains(where: { [UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`")].contains($0) })
        return Assignment(
            index: index, key: key, value: String(decoding: raw, as: UTF8.self),
            contentRange: valueStart..<position, quote: nil, isSimple: simple, isAppend: isAppend)
    }

    private static func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"): true
        case UInt8(ascii: "0")...UInt8(ascii: "9"): !first
        default: false
        }
    }
}
