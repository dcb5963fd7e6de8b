import GuestprepCore

/// /etc/fstab (fstab(5)), parsed losslessly.
public struct FstabFile: Sendable {
    public var table: FieldTable

    /// One mount entry. Fields 5 and 6 (freq, passno) are optional, as libmount allows.
    public struct Entry: Sendable {
        public var lineNumber: Int
        public var index: Int
        /// fs_spec, decoded from octal escapes: "/dev/sda1", "UUID=…", "server:/export".
        public var source: String
        /// Where fs_spec's bytes sit in the line, for a rewrite that leaves the rest alone.
        public var sourceRange: Range<Int>
        public var mountPoint: String
        public var type: String
        public var options: [String]
        /// Lines libmount skips as unparsable (fewer than three fields, a dump or pass field that is
        /// not a number, a NUL byte); they are reported, never edited.
        public var isMalformed: Bool

        public func hasOption(_ option: String) -> Bool { options.contains(option) }
    }

    public init(bytes: [UInt8]) {
        table = FieldTable(bytes: bytes)
    }

    public var bytes: [UInt8] { table.bytes }

    public var entries: [Entry] {
        table.entries.map { entry in
            let fields = entry.fields
            func text(_ i: Int) -> String { i < fields.count ? OctalEscapes.decodedText(fields[i]) : "" }
            return Entry(
                lineNumber: entry.lineNumber, index: entry.index,
                source: text(0), sourceRange: fields.first?.range ?? 0..<0, mountPoint: text(1), type: text(2),
                options: text(3).split(separator: ",").map(String.init),
                isMalformed: fields.count < 3 || fields.dropFirst(4).prefix(2).contains { !Self.isNumber($0.bytes) }
                    || fields.contains { $0.bytes.contains(0) })
        }
    }

    /// A dump or pass field as libmount reads it (strtol, base 10): optional leading white space
    /// (other than the blanks that split fields), an optional sign, and at least one digit.
    static func isNumber(_ field: [UInt8]) -> Bool {
        var rest = field.drop { [0x0B, 0x0C, 0x0D].contains($0) }  // \v \f \r: isspace, yet not separators
        if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { rest = rest.dropFirst() }
        return !rest.isEmpty && rest.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// Rewrites fs_spec of the entry on line `index`.
    public mutating func replaceSource(ofLine index: Int, with source: String) {
        table.replaceField(0, ofLine: index, with: Array(source.utf8))
    }
}

/// /etc/crypttab (crypttab(5)): name, encrypted device, key file, options.
public struct CrypttabFile: Sendable {
    public var table: FieldTable

    public struct Entry: Sendable {
        public var lineNumber: Int
        public var index: Int
        public var name: String
        public var device: String
        /// Where the device field's bytes sit in the line (empty when it is missing).
        public var deviceRange: Range<Int>
        /// Third field: a key file, "none", "-", or a random source such as /dev/urandom.
        public var keyFile: String
        public var options: [String]
        public var isMalformed: Bool

        public func hasOption(_ option: String) -> Bool {
            options.contains { $0 == option || $0.hasPrefix(option + "=") }
        }
    }

    public init(bytes: [UInt8]) {
        table = FieldTable(bytes: bytes)
    }

    public var bytes: [UInt8] { table.bytes }

    public var entries: [Entry] {
        table.entries.map { entry in
            let fields = entry.fields
            return Entry(
                lineNumber: entry.lineNumber, index: entry.index,
                name: fields.first.map(OctalEscapes.decodedText) ?? "",
                device: fields.count > 1 ? OctalEscapes.decodedText(fields[1]) : "",
                deviceRange: fields.count > 1 ? fields[1].range : 0..<0,
                keyFile: fields.count > 2 ? OctalEscapes.decodedText(fields[2]) : "none",
                options: fields.count > 3 ? OctalEscapes.decodedText(fields[3]).split(separator: ",").map(String.init) : [],
                isMalformed: fields.count < 2)
        }
    }

    public mutating func replaceDevice(ofLine index: Int, with device: String) {
        table.replaceField(1, ofLine: index, with: Array(device.utf8))
    }
}
