import GuestprepCore

/// One ifupdown interfaces(5) file, kept as its exact lines, with the statements and stanzas
/// ifupdown reads from them.
public struct InterfacesFile: Sendable {
    public private(set) var lines: [TextLine]
    /// Every non-comment, non-blank logical line in order; parsed once per edit, since edit
    /// loops read it per interface (reparsing on each read made a 256-NIC plan cubic).
    public private(set) var statements: [Statement] = []
    /// The `iface` and `mapping` stanzas with their options, in file order.
    public private(set) var stanzas: [Stanza] = []

    public init(bytes: [UInt8]) {
        lines = TextLines.split(bytes)
        reparse()
    }

    private mutating func reparse() {
        statements = Self.statements(of: lines)
        stanzas = Self.stanzas(of: statements)
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// One logical line: interfaces(5) joins a line ending in "\" with the next one.
    public struct Statement: Sendable, Hashable {
        /// The physical lines (0-based) it spans.
        public var lineIndices: Range<Int>
        public var words: [String]
        public var lineNumber: Int { lineIndices.lowerBound + 1 }
        public var keyword: String { words[0] }
        public var arguments: ArraySlice<String> { words.dropFirst() }
    }

    /// An `iface` or `mapping` stanza: its header and the option lines under it.
    public struct Stanza: Sendable, Hashable {
        public var header: Statement
        public var options: [Statement]
        /// The physical line after its last option (or header): where new options go.
        public var endIndex: Int { (options.last ?? header).lineIndices.upperBound }
    }

    /// Keywords that start a new stanza or stand alone; anything else under an `iface` is an option.
    /// interfaces(5) plus ifupdown2's `template` and 0.8's `rename`/`no-*` lines.
    static func isTopLevel(_ keyword: String) -> Bool {
        ["iface", "mapping", "auto", "source", "source-directory", "rename", "no-auto-down", "no-scripts", "template"].contains(keyword)
            || keyword.hasPrefix("allow-")
    }

    static func statements(of lines: [TextLine]) -> [Statement] {
        var result: [Statement] = []
        var index = 0
        while index < lines.count {
            let start = index
            // A comment is a line whose first non-blank is "#"; it never continues (ifquery agrees).
            if lines[index].content.first(where: { !$0.isBlank }) == UInt8(ascii: "#") {
                index += 1
                continue
            }
            var joined: [UInt8] = []
            // Only a backslash that is the very last byte before LF continues: ifupdown does not
            // see one followed by blanks or by the CR of CRLF (checked against ifquery 0.8.41).
            while true {
                let line = lines[index]
                index += 1
                if line.content.last == UInt8(ascii: "\\"), line.terminator == [UInt8(ascii: "\n")], index < lines.count {
                    joined += line.content.dropLast()
                    continue
                }
                joined += line.content
                break
            }
            let words = TextLine(content: joined, terminator: []).fields().map(\.text)
            guard !words.isEmpty else { continue }
            result.append(Statement(lineIndices: start..<index, words: words))
        }
        return result
    }

    static func stanzas(of statements: [Statement]) -> [Stanza] {
        var result: [Stanza] = []
        var open = false
        for statement in statements {
            if Self.isTopLevel(statement.keyword) {
                open = statement.keyword == "iface" || statement.keyword == "mapping" || statement.keyword == "template"
                if open { result.append(Stanza(header: statement, options: [])) }
            } else if open {
                result[result.count - 1].options.append(statement)
            }
            // An option before any stanza is an ifupdown error ("misplaced option"): kept, ignored.
        }
        return result
    }

    /// Replaces physical lines `range` with `replacement` (each given without terminator); new lines
    /// take the terminator the file already uses.
    public mutating func replaceLines(_ range: Range<Int>, with replacement: [[UInt8]]) {
        let terminator = lines.first(where: { !$0.terminator.isEmpty })?.terminator ?? [UInt8(ascii: "\n")]
        var newLines = replacement.map { TextLine(content: $0, terminator: terminator) }
        if range.upperBound == lines.count, let last = lines.last, last.terminator.isEmpty, !newLines.isEmpty {
            // The file has no final newline: it still has none after the edit.
            newLines[newLines.count - 1].terminator = []
            if range.isEmpty { lines[lines.count - 1].terminator = terminator }
        }
        lines.replaceSubrange(range, with: newLines)
        reparse()
    }

    /// The leading blanks of the first option line in the file, for new options; four spaces otherwise.
    public var optionIndent: [UInt8] {
        for stanza in stanzas {
            if let option = stanza.options.first {
                let content = lines[option.lineIndices.lowerBound].content
                let indent = Array(content.prefix(while: \.isBlank))
                if !indent.isEmpty { return indent }
            }
        }
        return Array("    ".utf8)
    }

    /// The leading blanks of one physical line.
    public func indent(ofLine index: Int) -> [UInt8] {
        Array(lines[index].content.prefix(while: \.isBlank))
    }
}
