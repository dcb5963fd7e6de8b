import GuestprepCore

/// A whitespace-separated table file (fstab, crypttab): '#' comments, blank lines, and entries of
/// blank-separated fields. Every byte is kept; an edit replaces one field's bytes and nothing else.
public struct FieldTable: Sendable {
    public private(set) var lines: [TextLine]

    /// One non-comment, non-blank line.
    public struct Entry: Sendable {
        /// Index into `lines`.
        public var index: Int
        /// 1-based, for messages.
        public var lineNumber: Int { index + 1 }
        public var fields: [Field]
    }

    public init(bytes: [UInt8]) {
        lines = TextLines.split(bytes)
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    public var entries: [Entry] {
        var entries: [Entry] = []
        for (index, line) in lines.enumerated() {
            guard let first = line.content.firstIndex(where: { !$0.isBlank }) else { continue }
            if line.content[first] == UInt8(ascii: "#") { continue }
            entries.append(Entry(index: index, fields: line.fields()))
        }
        return entries
    }

    /// Replaces field `field` of the entry on line `index`; the rest of the line stays byte-identical.
    public mutating func replaceField(_ field: Int, ofLine index: Int, with replacement: [UInt8]) {
        let fields = lines[index].fields()
        precondition(field < fields.count, "field \(field) does not exist on line \(index + 1)")
        lines[index] = lines[index].replacing(fields[field].range, with: replacement)
    }
}

/// fstab(5)/crypttab(5) escapes: "\040" is a space, "\011" a tab, "\134" a backslash. Decoded as
/// libmount's unmangle() decodes them, so both read a field alike: exactly three octal digits, the
/// value kept to its low byte ("\777" is 0xFF), and the field ending at a NUL, where libmount's C
/// string ends ("/a\000b" is "/a").
public enum OctalEscapes {
    public static func decode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            var byte = bytes[index]
            var length = 1
            if byte == UInt8(ascii: "\\"), index + 4 <= bytes.count,
                bytes[(index + 1)..<(index + 4)].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) })
            {
                let value = bytes[(index + 1)..<(index + 4)].reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                byte = UInt8(truncatingIfNeeded: value)
                length = 4
            }
            if byte == 0 { break }
            out.append(byte)
            index += length
        }
        return out
    }

    public static func decodedText(_ field: Field) -> String {
        String(decoding: decode(field.bytes), as: UTF8.self)
    }
}
