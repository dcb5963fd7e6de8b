import GuestprepCore

/// apt's one-line sources (`/etc/apt/sources.list`, `sources.list.d/*.list`; sources.list(5)):
/// `deb [ option=value … ] uri suite [component …]`, parsed losslessly. Read as apt reads it: a
/// `#` outside an option block starts a comment, `[…]` keeps a word together (`cdrom:[Debian
/// GNU/Linux 12 …]/`), and a line apt would refuse is an error naming the line.
public struct AptSourcesList: Sendable {
    public private(set) var lines: [TextLine]

    /// One active source line.
    public struct Entry: Sendable, Hashable {
        public var index: Int
        public var lineNumber: Int { index + 1 }
        /// `deb` or `deb-src`.
        public var type: String
        /// The option block's words (`arch=amd64`, `signed-by=…`), without the brackets.
        public var options: [String]
        public var uri: String
        public var suite: String
        public var components: [String]
    }

    public let entries: [Entry]

    /// The types apt's one-line format knows (sources.list(5)).
    public static let types: Set<String> = ["deb", "deb-src"]

    public init(bytes: [UInt8], path: String) throws {
        let lines = TextLines.split(bytes)
        self.lines = lines
        entries = try lines.indices.compactMap { try Self.parse(lines[$0].content, index: $0, path: path) }
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// Comments out the entry's line (`# ` before its bytes, nothing else changed) with `marker`
    /// (a comment line) above it.
    public mutating func disable(_ entry: Entry, marker: String, path: String) throws {
        var edited = lines
        edited[entry.index].content = Array("# ".utf8) + edited[entry.index].content
        edited.insertTextLines([marker], after: entry.index - 1)
        self = try AptSourcesList(bytes: TextLines.join(edited), path: path)
    }

    // MARK: Parsing

    /// The content apt reads: up to a `#` that is not inside an option block.
    static func uncommented(_ content: [UInt8]) -> ArraySlice<UInt8> {
        var depth = 0
        for (offset, byte) in content.enumerated() {
            if byte == UInt8(ascii: "[") { depth += 1 }
            if byte == UInt8(ascii: "]") { depth = max(0, depth - 1) }
            if byte == UInt8(ascii: "#"), depth == 0 { return content[..<offset] }
        }
        return content[...]
    }

    /// Words as apt's ParseQuoteWord splits them: at blanks, except inside `[…]` and `"…"`.
    static func words(_ bytes: ArraySlice<UInt8>) -> [String] {
        var words: [String] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            while index < bytes.endIndex, IniFile.isSpace(bytes[index]) { index += 1 }
            guard index < bytes.endIndex else { break }
            let start = index
            var bracket = false
            var quote = false
            while index < bytes.endIndex {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { quote.toggle() }
                if byte == UInt8(ascii: "["), !quote { bracket = true }
                if byte == UInt8(ascii: "]"), !quote { bracket = false }
                if IniFile.isSpace(byte), !bracket, !quote { break }
                index += 1
            }
            words.append(String(decoding: bytes[start..<index], as: UTF8.self))
        }
        return words
    }

    static func parse(_ content: [UInt8], index: Int, path: String) throws -> Entry? {
        var words = words(uncommented(content))
        guard !words.isEmpty else { return nil }
        func fail(_ message: String) -> GuestprepError {
            GuestprepError(.parse, message, path: path, line: index + 1)
        }
        let type = words.removeFirst()
        guard types.contains(type) else {
            throw fail("'\(type)' is not a source type apt knows (deb, deb-src); apt refuses this file")
        }
        var options: [String] = []
        if let first = words.first, first.hasPrefix("[") {
            // The option block may hold blanks: `[ arch=amd64 signed-by=/k.gpg ]` is one word here.
            guard first.hasSuffix("]") else { throw fail("the option block '\(first)' has no closing ']'") }
            options = first.dropFirst().dropLast().split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            words.removeFirst()
        }
        guard words.count >= 2 else {
            throw fail(words.isEmpty ? "\(type) line has no URI" : "\(type) line names \(words[0]) but no suite")
        }
        let suite = words[1]
        let components = Array(words.dropFirst(2))
        // sources.list(5): a suite ending in "/" is an exact path and takes no components; apt refuses one.
        if suite.hasSuffix("/"), !components.isEmpty {
            throw fail(
                "suite \(suite) is an exact path (it ends in /), so it takes no components, yet the line has \(components.joined(separator: " "))"
            )
        }
        return Entry(index: index, type: type, options: options, uri: words[0], suite: suite, components: components)
    }
}
