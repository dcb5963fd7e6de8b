import GuestprepCore

/// An INI-style file (`[Section]`, `Key=Value`) as GLib's key files (NetworkManager), systemd's
/// unit-style files (.network, .link) and yum/zypper `.repo` files write it, parsed losslessly: comments, blank lines,
/// duplicate sections and keys, white space around `=`, CRLF and a missing final newline all
/// survive, and an edit rewrites only the lines it changes.
public struct IniFile: Sendable {
    /// The readers differ in comments and continuation lines.
    public enum Syntax: Sendable {
        /// GLib key files (nm-settings-keyfile(5)): `#` comments only, no continuation lines.
        case keyfile
        /// systemd.syntax(7): `#` and `;` comments, a trailing `\` continues the value on the next line.
        case systemd
        /// yum/dnf and zypper `.repo` files (dnf.conf(5), libzypp's IniParser): `#` and `;`
        /// comments; a line that starts with a blank continues the value above (a `baseurl` of
        /// several URLs, one per line).
        case repo
    }

    public let syntax: Syntax
    public private(set) var lines: [TextLine]

    /// One `[Section]` header and the lines up to the next header.
    public struct Section: Sendable, Hashable {
        public var name: String
        /// Index into `lines` of the header.
        public var headerIndex: Int
        /// Index after the section's last line (the next header, or the end of the file).
        public var endIndex: Int
        public var lineNumber: Int { headerIndex + 1 }
    }

    /// One `Key=Value` assignment, possibly spanning continuation lines.
    public struct Entry: Sendable, Hashable {
        /// The section's name; nil before the first header (systemd ignores such lines with a warning).
        public var section: String?
        public var key: String
        /// The value with surrounding white space removed and continuation lines joined by a space.
        public var value: String
        /// Index into `lines` of the line holding the key.
        public var index: Int
        /// Physical lines the assignment covers (more than one only with continuation lines).
        public var lineCount: Int
        /// Byte range of the value in the first line's content, when the value sits on one line.
        public var valueRange: Range<Int>?
        /// Offset in the first line's content just after the `=`.
        public var valueStart: Int
        public var lineNumber: Int { index + 1 }
    }

    /// A line that is neither blank, a comment, a header nor an assignment: kept, reported by callers.
    public struct Stray: Sendable, Hashable {
        public var index: Int
        public var text: String
        public var lineNumber: Int { index + 1 }
    }

    public private(set) var sections: [Section] = []
    public private(set) var entries: [Entry] = []
    public private(set) var strays: [Stray] = []

    public init(bytes: [UInt8], syntax: Syntax) {
        self.syntax = syntax
        lines = TextLines.split(bytes)
        reparse()
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    // MARK: Reading

    /// Every assignment of `key` in every section named `section`, in file order.
    public func entries(_ section: String, _ key: String) -> [Entry] {
        entries.filter { $0.section == section && $0.key == key }
    }

    /// The value both readers use for a single-valued key: the last assignment wins.
    public func last(_ section: String, _ key: String) -> Entry? {
        entries.last { $0.section == section && $0.key == key }
    }

    public func hasSection(_ name: String) -> Bool { sections.contains { $0.name == name } }

    /// The value of an assignment as a list of words split at blanks and `extraSeparators` (a
    /// `.repo` `baseurl` of several URLs), each with where its bytes sit.
    public func listValue(of entry: Entry, extraSeparators: Set<UInt8> = []) -> ListValue {
        ListValue(
            lines: lines, first: entry.index, count: entry.lineCount, valueStart: entry.valueStart, extraSeparators: extraSeparators,
            commentStarts: commentStarts)
    }

    // MARK: Editing

    /// Sets `key` in `section`: the last assignment's value is replaced in place (white space around
    /// `=` kept); with none, a line is appended to the last section of that name, which is added at
    /// the end of the file when missing.
    public mutating func set(_ section: String, _ key: String, to value: String) {
        if let entry = last(section, key) {
            replaceValue(of: entry, with: value)
            return
        }
        insert(section, [(key, value)])
    }

    /// Makes `key` hold exactly `values` in `section`, one assignment per value (for list keys such as
    /// systemd's `Address=` that may repeat): existing assignments are reused in order, extra ones
    /// removed, missing ones added after the last one kept.
    public mutating func setAll(_ section: String, _ key: String, to values: [String]) {
        let existing = entries(section, key)
        // Re-read after each replacement: joining a continued value shifts the lines below it.
        for (offset, value) in values.prefix(existing.count).enumerated() {
            replaceValue(of: entries(section, key)[offset], with: value)
        }
        if existing.count > values.count {
            removeLines(entries(section, key)[values.count...].map { $0.index..<($0.index + $0.lineCount) })
        } else if values.count > existing.count {
            let rest = values[existing.count...].map { (key, $0) }
            if let anchor = entries(section, key).last {
                insertLines(rest.map { "\($0.0)=\($0.1)" }, after: anchor.index + anchor.lineCount - 1)
            } else {
                insert(section, Array(rest))
            }
        }
    }

    /// Removes every assignment of `key` in every section named `section` (all their lines).
    public mutating func remove(_ section: String, _ key: String) {
        removeLines(entries(section, key).map { $0.index..<($0.index + $0.lineCount) })
    }

    /// Takes words out of an assignment's value (see `ListValue.removing`); the rest of the file
    /// stays byte-identical.
    public mutating func removeWords(_ words: Set<ListValue.Word>, of entry: Entry, extraSeparators: Set<UInt8> = []) {
        lines = listValue(of: entry, extraSeparators: extraSeparators).removing(words, from: lines)
        reparse()
    }

    /// Replaces the value of one assignment (white space around `=` kept).
    public mutating func setValue(of entry: Entry, to value: String) {
        replaceValue(of: entry, with: value)
    }

    /// Turns an assignment into comment lines: `#` before each of its lines, nothing else changed.
    public mutating func commentOut(_ entry: Entry) {
        for index in entry.index..<(entry.index + entry.lineCount) {
            lines[index].content.insert(UInt8(ascii: "#"), at: 0)
        }
        reparse()
    }

    /// Appends `[name]` at the end of the file, after a blank line when the file does not end in one.
    public mutating func addSection(_ name: String) {
        var added: [String] = []
        if let last = lines.last, !last.content.allSatisfy(\.isBlank) { added.append("") }
        added.append("[\(name)]")
        insertLines(added, after: lines.count - 1)
    }

    // MARK: Internals

    private mutating func replaceValue(of entry: Entry, with value: String) {
        if let range = entry.valueRange {
            lines[entry.index] = lines[entry.index].replacing(range, with: Array(value.utf8))
        } else {
            // A value continued over several lines becomes one line; the key's own bytes are kept.
            let first = lines[entry.index]
            let equals = first.content.firstIndex(of: UInt8(ascii: "=")) ?? first.content.count
            let last = lines[entry.index + entry.lineCount - 1]
            let line = TextLine(content: Array(first.content[...equals]) + Array(value.utf8), terminator: last.terminator)
            lines.replaceSubrange(entry.index..<(entry.index + entry.lineCount), with: [line])
        }
        reparse()
    }

    /// Appends assignments to the last section named `section` (after its last non-blank,
    /// non-comment line), adding the section when missing.
    private mutating func insert(_ section: String, _ assignments: [(String, String)]) {
        if !hasSection(section) { addSection(section) }
        guard let target = sections.last(where: { $0.name == section }) else { return }
        var after = target.headerIndex
        for index in (target.headerIndex + 1)..<target.endIndex where !isBlankOrComment(lines[index].content) {
            after = index
        }
        insertLines(assignments.map { "\($0.0)=\($0.1)" }, after: after)
    }

    /// Inserts lines after line `index` (-1: at the start). A file without a final newline keeps
    /// having none: the line before gets the file's newline, the new last line none.
    public mutating func insertLines(_ texts: [String], after index: Int) {
        guard !texts.isEmpty else { return }
        lines.insertTextLines(texts, after: index)
        reparse()
    }

    /// Removes whole lines. The lines around them stay byte-identical, so removing an unterminated
    /// last line leaves the file ending in the newline of the line before.
    private mutating func removeLines(_ ranges: [Range<Int>]) {
        guard !ranges.isEmpty else { return }
        for range in ranges.sorted(by: { $0.lowerBound > $1.lowerBound }) { lines.removeSubrange(range) }
        reparse()
    }

    private func isBlankOrComment(_ content: [UInt8]) -> Bool {
        guard let first = content.firstIndex(where: { !Self.isSpace($0) }) else { return true }
        return isCommentStart(content[first])
    }

    private func isCommentStart(_ byte: UInt8) -> Bool { commentStarts.contains(byte) }

    private var commentStarts: Set<UInt8> {
        syntax == .keyfile ? [UInt8(ascii: "#")] : [UInt8(ascii: "#"), UInt8(ascii: ";")]
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte.isBlank || byte == 0x0D || byte == 0x0B || byte == 0x0C }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> Range<Int> {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        return start..<end
    }

    private mutating func reparse() {
        sections = []
        entries = []
        strays = []
        var current: String? = nil
        var index = 0
        while index < lines.count {
            let content = lines[index].content
            let body = Self.trimmed(content[...])
            if body.isEmpty || isCommentStart(content[body.lowerBound]) {
                index += 1
                continue
            }
            if content[body.lowerBound] == UInt8(ascii: "["), content[body.upperBound - 1] == UInt8(ascii: "]") {
                if !sections.isEmpty { sections[sections.count - 1].endIndex = index }
                let name = String(decoding: content[(body.lowerBound + 1)..<(body.upperBound - 1)], as: UTF8.self)
                sections.append(Section(name: name, headerIndex: index, endIndex: lines.count))
                current = name
                index += 1
                continue
            }
            guard let equals = content[body].firstIndex(of: UInt8(ascii: "=")) else {
                strays.append(Stray(index: index, text: lines[index].text))
                index += 1
                continue
            }
            let key = String(decoding: content[Self.trimmed(content[body.lowerBound..<equals])], as: UTF8.self)
            let valueRange = Self.trimmed(content[(equals + 1)..<body.upperBound])
            var value = String(decoding: content[valueRange], as: UTF8.self)
            var count = 1
            var single: Range<Int>? = valueRange
            if syntax == .repo {
                // A line starting with a blank continues the value; comment lines inside are skipped.
                var scan = count
                while index + scan < lines.count {
                    let next = lines[index + scan].content
                    let nextBody = Self.trimmed(next[...])
                    guard let head = next.first, Self.isSpace(head), !nextBody.isEmpty else { break }
                    scan += 1
                    if isCommentStart(next[nextBody.lowerBound]) { continue }
                    value += (value.isEmpty ? "" : " ") + String(decoding: next[nextBody], as: UTF8.self)
                    single = nil
                    count = scan
                }
            } else if syntax == .systemd, value.hasSuffix("\\") {
                // systemd.syntax(7): a trailing backslash joins the next line, the backslash read as a
                // space; comment lines inside the continuation are skipped.
                single = nil
                value.removeLast()
                while index + count < lines.count {
                    let next = lines[index + count].content
                    let nextBody = Self.trimmed(next[...])
                    count += 1
                    if !nextBody.isEmpty, isCommentStart(next[nextBody.lowerBound]) { continue }
                    let piece = String(decoding: next[nextBody], as: UTF8.self)
                    if piece.hasSuffix("\\") {
                        value += " " + piece.dropLast()
                        continue
                    }
                    value += " " + piece
                    break
                }
                value = String(value.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
            }
            entries.append(
                Entry(
                    section: current, key: key, value: value, index: index, lineCount: count, valueRange: single,
                    valueStart: equals + 1))
            index += count
        }
    }
}
