/// One line of a text file, split from its terminator so parsers see content and renderers restore
/// the exact bytes (LF, CRLF, or nothing on a last line without a final newline).
public struct TextLine: Sendable, Hashable {
    public var content: [UInt8]
    public var terminator: [UInt8]

    public init(content: [UInt8], terminator: [UInt8]) {
        self.content = content
        self.terminator = terminator
    }

    public var bytes: [UInt8] { content + terminator }

    /// The content as text for matching and messages; invalid UTF-8 is replaced, never written back.
    public var text: String { String(decoding: content, as: UTF8.self) }
}

public enum TextLines {
    /// Splits bytes into lines; `join(split(x)) == x` for every input.
    public static func split(_ bytes: [UInt8]) -> [TextLine] {
        var lines: [TextLine] = []
        var start = 0
        var index = 0
        let count = bytes.count
        while index < count {
            if bytes[index] == UInt8(ascii: "\n") {
                var end = index
                var terminator: [UInt8] = [UInt8(ascii: "\n")]
                if end > start, bytes[end - 1] == UInt8(ascii: "\r") {
                    end -= 1
                    terminator = [UInt8(ascii: "\r"), UInt8(ascii: "\n")]
                }
                lines.append(TextLine(content: Array(bytes[start..<end]), terminator: terminator))
                start = index + 1
            }
            index += 1
        }
        if start < count {
            lines.append(TextLine(content: Array(bytes[start..<count]), terminator: []))
        }
        return lines
    }

    public static func join(_ lines: [TextLine]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.content.count + $1.terminator.count })
        for line in lines {
            bytes += line.content
            bytes += line.terminator
        }
        return bytes
    }
}

extension UInt8 {
    /// Field separators in whitespace-separated config formats (fstab, crypttab).
    public var isBlank: Bool { self == UInt8(ascii: " ") || self == UInt8(ascii: "\t") }
}

/// A whitespace-separated field of a line: its bytes and where they sit, so one field can be
/// replaced while every other byte of the line stays as it was.
public struct Field: Sendable, Equatable {
    public var range: Range<Int>
    public var bytes: [UInt8]
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public init(range: Range<Int>, bytes: [UInt8]) {
        self.range = range
        self.bytes = bytes
    }
}

extension TextLine {
    /// Blank-separated fields of the content (or of `range` of it), with their byte ranges in the line.
    public func fields(in range: Range<Int>? = nil) -> [Field] {
        var fields: [Field] = []
        var index = range?.lowerBound ?? 0
        let count = range?.upperBound ?? content.count
        while index < count {
            while index < count, content[index].isBlank { index += 1 }
            guard index < count else { break }
            let start = index
            while index < count, !content[index].isBlank { index += 1 }
            fields.append(Field(range: start..<index, bytes: Array(content[start..<index])))
        }
        return fields
    }

    /// This line with `range` of its content replaced; terminator and other bytes untouched.
    public func replacing(_ range: Range<Int>, with replacement: [UInt8]) -> TextLine {
        var copy = self
        copy.content.replaceSubrange(range, with: replacement)
        return copy
    }
}
