import GuestprepCore

/// multipath.conf(5), parsed losslessly: sections `name {` … `}` (they nest: `devices { device {`),
/// `keyword value` lines whose value may be double-quoted, and comments from `#` or `!` outside
/// quotes. Kept as lines; an edit rewrites one value or inserts lines.
public struct MultipathConfFile: Sendable {
    public let lines: [TextLine]
    public let settings: [Setting]
    public let sections: [Section]

    public struct Setting: Sendable {
        public var section: [String]
        public var keyword: String
        /// The value without quotes ("" when the line has none).
        public var value: String
        public var index: Int
        /// Where the value's bytes (quotes included) sit in the line.
        public var valueRange: Range<Int>
        public var lineNumber: Int { index + 1 }
    }

    public struct Section: Sendable {
        public var path: [String]
        public var index: Int
        /// Line of the closing brace.
        public var closingIndex: Int
    }

    public init(bytes: [UInt8], path: String) throws {
        lines = TextLines.split(bytes)
        var settings: [Setting] = []
        var sections: [Section] = []
        var open: [(name: String, index: Int)] = []
        for (index, line) in lines.enumerated() {
            var words = try Self.words(line.content, path: path, line: index + 1)
            while let first = words.first {
                if first.text == "}" && !first.quoted {
                    guard let closing = open.popLast() else {
                        throw GuestprepError(.parse, "'}' closes no section", path: path, line: index + 1)
                    }
                    sections.append(Section(path: open.map(\.name) + [closing.name], index: closing.index, closingIndex: index))
                    words.removeFirst()
                    continue
                }
                if words.count >= 2, words[1].text == "{", !words[1].quoted {
                    open.append((first.text, index))
                    words.removeFirst(2)
                    continue
                }
                let value = words.dropFirst().prefix { !($0.text == "}" && !$0.quoted) }
                let range =
                    value.isEmpty
                    ? first.range.upperBound..<first.range.upperBound : value.first!.range.lowerBound..<value.last!.range.upperBound
                settings.append(
                    Setting(
                        section: open.map(\.name), keyword: first.text, value: value.map(\.text).joined(separator: " "), index: index,
                        valueRange: range))
                words.removeFirst(1 + value.count)
            }
        }
        if let unclosed = open.last {
            throw GuestprepError(.parse, "section \(unclosed.name) is not closed with '}'", path: path, line: unclosed.index + 1)
        }
        self.settings = settings
        self.sections = sections
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// The setting `keyword` directly in section `section`; the last one wins, as in multipathd.
    public func setting(_ keyword: String, in section: [String]) -> Setting? {
        settings.last { $0.keyword == keyword && $0.section == section }
    }

    /// Sets `keyword` in the top-level `section` to `value`, with `comment` lines above it:
    /// rewritten in place when present, else added before the section's brace, else a new
    /// section is appended.
    public func setting(_ keyword: String, in section: String, to value: String, comment: [String], path: String) throws
        -> MultipathConfFile
    {
        var edited = lines
        let newline = lines.first?.terminator.isEmpty == false ? lines.first!.terminator : [UInt8(ascii: "\n")]
        func text(_ string: String) -> TextLine { TextLine(content: Array(string.utf8), terminator: newline) }
        if let existing = setting(keyword, in: [section]) {
            var line = edited[existing.index]
            line.content.replaceSubrange(existing.valueRange, with: Array(value.utf8))
            edited[existing.index] = line
            let indent = String(decoding: line.content.prefix { $0.isBlank }, as: UTF8.self)
            edited.insert(contentsOf: comment.map { text("\(indent)# \($0)") }, at: existing.index)
        } else if let target = sections.last(where: { $0.path == [section] }), target.closingIndex > target.index {
            edited.insert(contentsOf: comment.map { text("\t# \($0)") } + [text("\t\(keyword) \(value)")], at: target.closingIndex)
        } else {
            if let last = edited.indices.last, edited[last].terminator.isEmpty { edited[last].terminator = newline }
            edited += comment.map { text("# \($0)") } + [text("\(section) {"), text("\t\(keyword) \(value)"), text("}")]
        }
        return try MultipathConfFile(bytes: TextLines.join(edited), path: path)
    }

    private struct Word {
        var text: String
        var quoted: Bool
        var range: Range<Int>
    }

    /// Words of a line up to its comment; `{` and `}` are words of their own.
    private static func words(_ content: [UInt8], path: String, line: Int) throws -> [Word] {
        var words: [Word] = []
        var index = 0
        while index < content.count {
            let byte = content[index]
            if byte.isBlank || byte == 0x0D {
                index += 1
            } else if byte == UInt8(ascii: "#") || byte == UInt8(ascii: "!") {
                break
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "}") {
                words.append(Word(text: String(UnicodeScalar(byte)), quoted: false, range: index..<(index + 1)))
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                let start = index
                index += 1
                guard let end = content[index...].firstIndex(of: UInt8(ascii: "\"")) else {
                    throw GuestprepError(.parse, "a quoted value is not closed on its line", path: path, line: line)
                }
                words.append(Word(text: String(decoding: content[index..<end], as: UTF8.self), quoted: true, range: start..<(end + 1)))
                index = end + 1
            } else {
                let start = index
                while index < content.count, !content[index].isBlank, content[index] != 0x0D,
                    ![UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "#"), UInt8(ascii: "!"), UInt8(ascii: "\"")].contains(
                        content[index])
                {
                    index += 1
                }
                words.append(Word(text: String(decoding: content[start..<index], as: UTF8.self), quoted: false, range: start..<index))
            }
        }
        return words
    }
}

/// `/etc/multipath/bindings` (multipath.conf(5) bindings_file): `alias wwid` lines, `#` comments.
public struct MultipathBindings: Sendable {
    public let aliases: [String: String]

    public init(bytes: [UInt8]) {
        var aliases: [String: String] = [:]
        for line in TextLines.split(bytes) {
            let fields = line.fields().map(\.text)
            guard fields.count >= 2, !fields[0].hasPrefix("#") else { continue }
            aliases[fields[0]] = fields[1]
        }
        self.aliases = aliases
    }
}
