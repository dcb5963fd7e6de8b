import GuestprepCore

/// A deb822 file (deb822(5)) such as apt's `*.sources` (sources.list(5)), parsed losslessly:
/// stanzas separated by blank lines, `Field: value` lines, continuation lines starting with a
/// blank, and `#` comment lines anywhere (apt skips them, inside a stanza too). A line that is
/// none of these is an error naming it.
public struct Deb822File: Sendable {
    public private(set) var lines: [TextLine]

    /// One `Name: value` field, possibly continued over further lines.
    public struct Field: Sendable, Hashable {
        public var name: String
        /// The value with blanks around it removed; continuation lines joined by a line feed.
        public var value: String
        public var index: Int
        /// Physical lines the field covers (comment lines inside included).
        public var lineCount: Int
        /// Offset in the first line's content just after the `:`.
        public var valueStart: Int
        public var lineNumber: Int { index + 1 }
    }

    /// A paragraph of fields.
    public struct Stanza: Sendable {
        public var fields: [Field]
        /// Index of the stanza's first field line, and after its last one.
        public var startIndex: Int
        public var endIndex: Int
        public var lineNumber: Int { startIndex + 1 }

        /// The field named `name` (field names are case-insensitive); the last wins.
        public func field(_ name: String) -> Field? {
            fields.last { $0.name.lowercased() == name.lowercased() }
        }
    }

    public let stanzas: [Stanza]

    public init(bytes: [UInt8], path: String) throws {
        lines = TextLines.split(bytes)
        stanzas = try Self.parse(lines, path: path)
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// The field's value as words (URIs, Suites), each with where its bytes sit.
    public func listValue(of field: Field) -> ListValue {
        ListValue(
            lines: lines, first: field.index, count: field.lineCount, valueStart: field.valueStart,
            commentStarts: [UInt8(ascii: "#")])
    }

    /// Sets a field of stanza `stanza` to a one-line value, with `marker` (a comment line) above
    /// it: an existing field is rewritten in place (its name's spelling kept), a missing one
    /// added after the stanza's last field.
    public mutating func set(_ name: String, to value: String, inStanza stanza: Int, marker: String, path: String) throws {
        var edited = lines
        let target = stanzas[stanza]
        if let field = target.field(name) {
            let first = edited[field.index]
            let blank = first.content[field.valueStart...].prefix { IniFile.isSpace($0) }
            let last = edited[field.index + field.lineCount - 1]
            let line = TextLine(
                content: Array(first.content[..<field.valueStart]) + Array(blank.isEmpty ? [UInt8(ascii: " ")] : Array(blank))
                    + Array(value.utf8),
                terminator: last.terminator)
            edited.replaceSubrange(field.index..<(field.index + field.lineCount), with: [line])
            edited.insertTextLines([marker], after: field.index - 1)
        } else {
            edited.insertTextLines([marker, "\(name): \(value)"], after: target.endIndex - 1)
        }
        self = try Deb822File(bytes: TextLines.join(edited), path: path)
    }

    /// Takes words out of a field's value (see `ListValue.removing`), with `marker` above the field.
    public mutating func removeWords(_ words: Set<ListValue.Word>, of field: Field, marker: String, path: String) throws {
        var edited = listValue(of: field).removing(words, from: lines)
        edited.insertTextLines([marker], after: field.index - 1)
        self = try Deb822File(bytes: TextLines.join(edited), path: path)
    }

    // MARK: Parsing

    static func parse(_ lines: [TextLine], path: String) throws -> [Stanza] {
        var stanzas: [Stanza] = []
        var fields: [Field] = []
        var start = 0
        var end = 0
        func close() {
            if !fields.isEmpty { stanzas.append(Stanza(fields: fields, startIndex: start, endIndex: end)) }
            fields = []
        }
        for (index, line) in lines.enumerated() {
            let content = line.content
            guard let head = content.firstIndex(where: { !IniFile.isSpace($0) }) else {
                close()
                continue
            }
            if content[head] == UInt8(ascii: "#") { continue }
            if head > 0 {
                // A continuation line belongs to the field above it.
                guard !fields.isEmpty else {
                    throw GuestprepError(
                        .parse, "'\(line.text)' starts with a blank, so it continues a field, but no field comes before it in this stanza",
                        path: path, line: index + 1)
                }
                let text = String(decoding: content[head...], as: UTF8.self).trimmingBlanks
                fields[fields.count - 1].value += "\n" + text
                fields[fields.count - 1].lineCount = index - fields[fields.count - 1].index + 1
                end = index + 1
                continue
            }
            guard let colon = content.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                !content[..<colon].contains(where: IniFile.isSpace)
            else {
                throw GuestprepError(
                    .parse, "'\(line.text)' is neither a 'Field: value' line, a continuation line, a comment nor a blank line",
                    path: path, line: index + 1)
            }
            if fields.isEmpty { start = index }
            let value = String(decoding: content[(colon + 1)...], as: UTF8.self).trimmingBlanks
            fields.append(
                Field(
                    name: String(decoding: content[..<colon], as: UTF8.self), value: value, index: index, lineCount: 1,
                    valueStart: colon + 1))
            end = index + 1
        }
        close()
        return stanzas
    }
}

extension String {
    var trimmingBlanks: String {
        let bytes = Array(utf8)
        let start = bytes.firstIndex { !IniFile.isSpace($0) } ?? bytes.count
        let end = bytes.lastIndex { !IniFile.isSpace($0) }.map { $0 + 1 } ?? start
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
