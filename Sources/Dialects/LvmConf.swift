import GuestprepCore

/// lvm.conf(5) (and lvmlocal.conf, profiles), parsed losslessly: sections `name { … }` that may
/// nest, settings `key = value` whose value is a string, a number or an array `[ "a", "b" ]` that
/// may run over several lines, and `#` comments outside strings. The file is kept as its bytes;
/// edits replace exactly the bytes of one value or array item, or insert whole lines.
public struct LvmConfFile: Sendable {
    public let bytes: [UInt8]
    public let settings: [Setting]
    public let sections: [Section]

    /// A string or number as written, with where its bytes (quotes included) sit in the file.
    public struct Scalar: Sendable, Equatable {
        /// The value: a string without its quotes (escapes resolved), or a number's text.
        public var text: String
        public var isString: Bool
        public var range: Range<Int>
        public var lineNumber: Int
    }

    /// One `key = value` setting.
    public struct Setting: Sendable {
        /// Enclosing sections, outermost first: ["devices"].
        public var section: [String]
        public var key: String
        /// One item for a plain value; every item for an array.
        public var items: [Scalar]
        public var isArray: Bool
        /// The value's bytes (the whole array with its brackets).
        public var valueRange: Range<Int>
        /// Offset of the key, where the setting's line starts to matter.
        public var keyStart: Int
        public var lineNumber: Int
    }

    /// One `name { … }` section.
    public struct Section: Sendable {
        public var path: [String]
        public var lineNumber: Int
        /// Offset of the closing brace.
        public var closingBrace: Int
    }

    public init(bytes: [UInt8], path: String) throws {
        self.bytes = bytes
        (settings, sections) = try Parser(bytes: bytes, path: path).parse()
    }

    /// The setting `key` of section `section` (a path); the last one when the file repeats it,
    /// which is the one LVM uses.
    public func setting(_ key: String, in section: [String]) -> Setting? {
        settings.last { $0.key == key && $0.section == section }
    }

    // MARK: Editing

    /// Replaces byte ranges of the file (values, array items) and re-parses the result.
    public func replacing(_ edits: [(range: Range<Int>, text: String)], path: String) throws -> LvmConfFile {
        var edited = bytes
        for edit in edits.sorted(by: { $0.range.lowerBound > $1.range.lowerBound }) {
            edited.replaceSubrange(edit.range, with: Array(edit.text.utf8))
        }
        return try LvmConfFile(bytes: edited, path: path)
    }

    /// Sets `key` in the top-level section `section` to `value` (rendered as written: `0`,
    /// `"text"`), with `comment` lines above it: an existing setting's value is replaced in place,
    /// a missing one is added as the section's last line, a missing section is appended.
    public func setting(
        _ key: String, in section: String, to value: String, comment: [String], path: String
    ) throws -> LvmConfFile {
        if let existing = setting(key, in: [section]) {
            let start = lineStart(existing.keyStart)
            let indent = indentation(before: existing.keyStart) ?? []
            let terminator = lineTerminator(at: existing.keyStart)
            var edited = bytes
            edited.replaceSubrange(existing.valueRange, with: Array(value.utf8))
            edited.insert(contentsOf: commentLines(comment, indent: indent, terminator: terminator), at: start)
            return try LvmConfFile(bytes: edited, path: path)
        }
        if let target = sections.last(where: { $0.path == [section] }) {
            let terminator = lineTerminator(at: target.closingBrace)
            let first = settings.first { $0.section == [section] }
            let indent = first.flatMap { indentation(before: $0.keyStart) } ?? [UInt8(ascii: "\t")]
            let lines =
                commentLines(comment, indent: indent, terminator: terminator) + indent + Array("\(key) = \(value)".utf8) + terminator
            var edited = bytes
            let start = lineStart(target.closingBrace)
            if bytes[start..<target.closingBrace].allSatisfy(\.isBlank) {
                edited.insert(contentsOf: lines, at: start)
            } else {
                // `devices { filter = [ … ] }` on one line: the new lines go before its brace.
                edited.insert(contentsOf: terminator + lines, at: target.closingBrace)
            }
            return try LvmConfFile(bytes: edited, path: path)
        }
        let terminator = bytes.contains(UInt8(ascii: "\r")) ? Array("\r\n".utf8) : [UInt8(ascii: "\n")]
        var edited = bytes
        if let last = edited.last, last != UInt8(ascii: "\n") { edited += terminator }
        edited += terminator
        edited += commentLines(comment, indent: [], terminator: terminator)
        edited += Array("\(section) {".utf8) + terminator
        edited += Array("\t\(key) = \(value)".utf8) + terminator + Array("}".utf8) + terminator
        return try LvmConfFile(bytes: edited, path: path)
    }

    /// A string as lvm.conf writes it, quoted, with `"` and `\` escaped.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }

    /// The blanks that start the line of `offset`, nil when something else comes before it there.
    private func indentation(before offset: Int) -> [UInt8]? {
        let blanks = bytes[lineStart(offset)..<offset]
        return blanks.allSatisfy(\.isBlank) ? Array(blanks) : nil
    }

    private func lineStart(_ offset: Int) -> Int {
        var start = offset
        while start > 0, bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        return start
    }

    private func lineTerminator(at offset: Int) -> [UInt8] {
        guard let newline = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) else { return [UInt8(ascii: "\n")] }
        return newline > offset && bytes[newline - 1] == UInt8(ascii: "\r") ? Array("\r\n".utf8) : [UInt8(ascii: "\n")]
    }

    private func commentLines(_ comment: [String], indent: [UInt8], terminator: [UInt8]) -> [UInt8] {
        comment.flatMap { indent + Array("# \($0)".utf8) + terminator }
    }

    // MARK: Parsing (lvm.conf(5) "Syntax")

    private struct Token {
        enum Kind { case word, string, open, close, openArray, closeArray, equals, comma }
        var kind: Kind
        var range: Range<Int>
        var line: Int
        var text: String
    }

    private struct Parser {
        let bytes: [UInt8]
        let path: String

        func tokens() throws -> [Token] {
            var tokens: [Token] = []
            var index = 0
            var line = 1
            let punctuation: [UInt8: Token.Kind] = [
                UInt8(ascii: "{"): .open, UInt8(ascii: "}"): .close, UInt8(ascii: "["): .openArray,
                UInt8(ascii: "]"): .closeArray, UInt8(ascii: "="): .equals, UInt8(ascii: ","): .comma,
            ]
            func isSpace(_ byte: UInt8) -> Bool {
                byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A || byte == 0x0B || byte == 0x0C
            }
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    index += 1
                } else if isSpace(byte) {
                    index += 1
                } else if byte == UInt8(ascii: "#") {
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                } else if let kind = punctuation[byte] {
                    tokens.append(Token(kind: kind, range: index..<(index + 1), line: line, text: String(UnicodeScalar(byte))))
                    index += 1
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    let start = index
                    var text: [UInt8] = []
                    index += 1
                    while true {
                        guard index < bytes.count, bytes[index] != UInt8(ascii: "\n") else {
                            throw GuestprepError(
                                .parse, "a string opened with \(String(UnicodeScalar(byte))) is not closed on its line", path: path,
                                line: line)
                        }
                        if bytes[index] == byte { break }
                        if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: "\n") {
                            index += 1
                        }
                        text.append(bytes[index])
                        index += 1
                    }
                    index += 1
                    tokens.append(Token(kind: .string, range: start..<index, line: line, text: String(decoding: text, as: UTF8.self)))
                } else {
                    let start = index
                    while index < bytes.count, !isSpace(bytes[index]), punctuation[bytes[index]] == nil,
                        ![UInt8(ascii: "#"), UInt8(ascii: "\""), UInt8(ascii: "'")].contains(bytes[index])
                    {
                        index += 1
                    }
                    tokens.append(
                        Token(kind: .word, range: start..<index, line: line, text: String(decoding: bytes[start..<index], as: UTF8.self)))
                }
            }
            return tokens
        }

        func parse() throws -> ([Setting], [Section]) {
            let tokens = try tokens()
            var settings: [Setting] = []
            var sections: [Section] = []
            var open: [(name: String, line: Int)] = []
            var position = 0
            func fail(_ message: String, _ token: Token?) -> GuestprepError {
                GuestprepError(.parse, message, path: path, line: token?.line ?? bytes.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 })
            }
            func scalar(_ token: Token) -> Scalar {
                Scalar(text: token.text, isString: token.kind == .string, range: token.range, lineNumber: token.line)
            }
            while position < tokens.count {
                let token = tokens[position]
                switch token.kind {
                case .close:
                    guard !open.isEmpty else { throw fail("'}' closes no section", token) }
                    sections.append(Section(path: open.map(\.name), lineNumber: open.last!.line, closingBrace: token.range.lowerBound))
                    open.removeLast()
                    position += 1
                case .word:
                    let next = position + 1 < tokens.count ? tokens[position + 1] : nil
                    if next?.kind == .open {
                        open.append((token.text, token.line))
                        position += 2
                        continue
                    }
                    guard next?.kind == .equals else {
                        throw fail("'\(token.text)' is followed by neither '=' nor '{'", next ?? token)
                    }
                    position += 2
                    guard position < tokens.count else { throw fail("\(token.text) = has no value", token) }
                    let value = tokens[position]
                    switch value.kind {
                    case .word, .string:
                        settings.append(
                            Setting(
                                section: open.map(\.name), key: token.text, items: [scalar(value)], isArray: false, valueRange: value.range,
                                keyStart: token.range.lowerBound, lineNumber: token.line))
                        position += 1
                    case .openArray:
                        var items: [Scalar] = []
                        position += 1
                        while true {
                            guard position < tokens.count else { throw fail("the array of \(token.text) is not closed with ']'", value) }
                            let item = tokens[position]
                            position += 1
                            switch item.kind {
                            case .closeArray: break
                            case .comma: continue
                            case .word, .string:
                                items.append(scalar(item))
                                continue
                            default: throw fail("'\(item.text)' cannot be an item of the array of \(token.text)", item)
                            }
                            settings.append(
                                Setting(
                                    section: open.map(\.name), key: token.text, items: items, isArray: true,
                                    valueRange: value.range.lowerBound..<item.range.upperBound, keyStart: token.range.lowerBound,
                                    lineNumber: token.line))
                            break
                        }
                    default:
                        throw fail("\(token.text) = is followed by '\(value.text)', not a value", value)
                    }
                default:
                    throw fail("unexpected '\(token.text)'", token)
                }
            }
            if let unclosed = open.last {
                throw GuestprepError(.parse, "section \(unclosed.name) is not closed with '}'", path: path, line: unclosed.line)
            }
            return (settings, sections)
        }
    }
}

/// LVM's devices file (lvmdevices(8), `/etc/lvm/devices/system.devices`): one physical volume a
/// line as `KEY=VALUE` words (`IDTYPE=sys_wwid IDNAME=… DEVNAME=/dev/sda2 PVID=…`), `#` comments,
/// and header lines such as `VERSION=1.1.2`. Read only: LVM rewrites the file itself.
public struct LvmDevicesFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public var fields: [String: String]
        public var lineNumber: Int
        public var idType: String { fields["IDTYPE"] ?? "" }
        public var idName: String { fields["IDNAME"] ?? "" }
        public var deviceName: String? { fields["DEVNAME"] }
        public var pvid: String? { fields["PVID"] }
    }

    /// The lines that name a device (they have IDTYPE=).
    public let entries: [Entry]

    public init(bytes: [UInt8]) {
        var entries: [Entry] = []
        for (index, line) in TextLines.split(bytes).enumerated() {
            let words = line.text.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            var fields: [String: String] = [:]
            for word in words {
                guard let equals = word.firstIndex(of: "=") else { continue }
                fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
            if fields["IDTYPE"] != nil { entries.append(Entry(fields: fields, lineNumber: index + 1)) }
        }
        self.entries = entries
    }

    /// ID types that name a logical device by its own UUID or a file, which a move to other
    /// virtual hardware does not change (lvmdevices(8) "DEVICE IDS").
    public static let stableIDTypes: Set<String> = ["mpath_uuid", "crypt_uuid", "lvmlv_uuid", "md_uuid", "loop_file"]
}
