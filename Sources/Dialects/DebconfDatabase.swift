import GuestprepCore

/// debconf's own database files (`/var/cache/debconf/config.dat`, Debconf::Format::822), parsed
/// losslessly: records separated by blank lines, `Field: value` lines (one optional blank after
/// the colon belongs to the syntax), and after `Variables:` indented `NAME = value` lines.
/// debconf has no comments: every other line would be read as a field, so edits add none.
public struct DebconfDatabase: Sendable {
    public let lines: [TextLine]
    public let records: [Record]

    public struct Field: Sendable {
        public var name: String
        public var value: String
        public var index: Int
        /// Offset in the line where the value starts.
        public var valueStart: Int
        public var lineNumber: Int { index + 1 }
    }

    public struct Record: Sendable {
        /// The `Name:` field's value: "grub-pc/install_devices".
        public var name: String
        public var fields: [Field]
        public var lineNumber: Int

        /// A field by name, ignoring case as debconf does (it lowercases field names).
        public func field(_ name: String) -> Field? {
            fields.last { $0.name.lowercased() == name.lowercased() }
        }
    }

    public init(bytes: [UInt8], path: String) throws {
        lines = TextLines.split(bytes)
        var records: [Record] = []
        var fields: [Field] = []
        var inVariables = false
        func close() throws {
            defer { fields = [] }
            guard let first = fields.first else { return }
            guard let name = fields.first(where: { $0.name.lowercased() == "name" }) else {
                throw GuestprepError(.parse, "a debconf record without a Name: field", path: path, line: first.lineNumber)
            }
            records.append(Record(name: name.value, fields: fields, lineNumber: first.lineNumber))
        }
        for (index, line) in lines.enumerated() {
            let content = line.content
            if content.isEmpty {
                try close()
                inVariables = false
                continue
            }
            if inVariables, let first = content.first, first.isBlank { continue }
            inVariables = false
            guard let colon = content.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
                throw GuestprepError(.parse, "'\(line.text)' is not a 'Field: value' line of a debconf record", path: path, line: index + 1)
            }
            var start = colon + 1
            if start < content.count, content[start].isBlank { start += 1 }
            let name = String(decoding: content[..<colon], as: UTF8.self)
            fields.append(Field(name: name, value: String(decoding: content[start...], as: UTF8.self), index: index, valueStart: start))
            if name.lowercased() == "variables" { inVariables = true }
        }
        try close()
        self.records = records
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    public func record(named name: String) -> Record? {
        records.last { $0.name == name }
    }

    /// Sets the `Value:` of record `name` (which must exist), touching only that line: a missing
    /// Value field is added after the Name line, as debconf would hold it.
    public func settingValue(_ value: String, of name: String, path: String) throws -> DebconfDatabase {
        guard let record = record(named: name) else {
            throw GuestprepError(.notFound, "no debconf record named \(name)", path: path)
        }
        var edited = lines
        if let field = record.field("Value") {
            let line = edited[field.index]
            // debconf writes "Value: " + value, so an empty value keeps its blank.
            let prefix = Array(line.content[..<field.valueStart])
            let blank: [UInt8] = prefix.last.map(\.isBlank) == true ? [] : [UInt8(ascii: " ")]
            edited[field.index] = TextLine(content: prefix + blank + Array(value.utf8), terminator: line.terminator)
        } else {
            let nameField = record.field("Name")!
            let terminator = edited[nameField.index].terminator.isEmpty ? [UInt8(ascii: "\n")] : edited[nameField.index].terminator
            if edited[nameField.index].terminator.isEmpty { edited[nameField.index].terminator = terminator }
            edited.insert(TextLine(content: Array("Value: \(value)".utf8), terminator: terminator), at: nameField.index + 1)
        }
        return try DebconfDatabase(bytes: TextLines.join(edited), path: path)
    }

    /// A multiselect value ("a, b") as its items; debconf escapes a comma inside an item as `\,`.
    public static func items(of value: String) -> [String] {
        var items: [String] = []
        var current = ""
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "," {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current)
        return items.map { $0.trimmingBlanks }.filter { !$0.isEmpty }
    }
}

/// GRUB's `/boot/grub/device.map` (grub-install(8) `--device-map`): `(hd0)<blanks>/dev/…` lines
/// mapping BIOS drives to devices, `#` comments.
public struct GrubDeviceMap: Sendable {
    public let lines: [TextLine]

    public struct Entry: Sendable, Equatable {
        public var drive: String
        public var device: String
        public var index: Int
        public var lineNumber: Int { index + 1 }
    }

    public let entries: [Entry]

    public init(bytes: [UInt8]) {
        lines = TextLines.split(bytes)
        entries = lines.enumerated().compactMap { index, line in
            let fields = line.fields()
            guard fields.count >= 2, let first = fields.first?.text, first.hasPrefix("("), !first.hasPrefix("#") else { return nil }
            return Entry(drive: first, device: fields[1].text, index: index)
        }
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// Comments out the entries on lines `indices`, each behind a `#`, with `marker` (a comment
    /// line) above each.
    public func commentingOut(_ indices: Set<Int>, marker: String) -> GrubDeviceMap {
        var edited: [TextLine] = []
        for (index, line) in lines.enumerated() {
            if indices.contains(index) {
                let terminator = line.terminator.isEmpty ? [UInt8(ascii: "\n")] : line.terminator
                edited.append(TextLine(content: Array(marker.utf8), terminator: terminator))
                edited.append(TextLine(content: [UInt8(ascii: "#")] + line.content, terminator: line.terminator))
            } else {
                edited.append(line)
            }
        }
        return GrubDeviceMap(bytes: TextLines.join(edited))
    }
}
