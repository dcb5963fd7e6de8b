import GuestFS
import GuestprepCore
import Yams

/// Lossless edits of one netplan YAML file: the text is changed line by line where a key's
/// value sits (found through Yams' line and column marks), never re-serialised, so comments,
/// key order, quoting and indentation of everything else stay byte for byte. Only block-style
/// structure on the way to a device is edited; flow style, anchors and aliases are refused
/// with the file and line rather than guessed at.
public struct NetplanEditor: Sendable {
    public let path: GuestPath
    public private(set) var lines: [TextLine]

    public init(path: GuestPath, bytes: [UInt8]) {
        self.path = path
        lines = TextLines.split(bytes)
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// A new value for a key: one line after `key: `, or lines below `key:` indented relative to
    /// the key's own column (so a sequence may sit at the key's indentation, as YAML allows).
    public enum NewValue: Sendable, Hashable {
        case inline(String)
        case lines([String])
    }

    /// Where a mapping entry sits: its key's line and column, and the end of its lines
    /// (exclusive; trailing blank and comment lines belong to what follows).
    struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
        var line: Int
        var column: Int
        var end: Int
    }

    // MARK: - Reading the current text

    func compose() throws -> Node? {
        try refuseAnchorsInText()
        let root = try NetplanDocument.compose(bytes, path: path)
        if let root { try refuseAnchors(root) }
        return root
    }

    /// Anchors (`&name`) and aliases (`*name`) found in the text itself: Yams 6.2 resolves
    /// aliases into copies and does not always report the anchor, so the node tree alone cannot
    /// be trusted to show them. Both can only start a node: after `: `, `- `, `[`, `{`, `,` or
    /// at the start of a line; never inside quotes or comments.
    func refuseAnchorsInText() throws {
        for (index, line) in lines.enumerated() {
            let bytes = line.content
            var quote: UInt8? = nil
            var previous: UInt8? = nil  // last non-blank byte outside quotes
            var position = 0
            while position < bytes.count {
                let byte = bytes[position]
                if let open = quote {
                    if byte == open { quote = nil }
                    if byte == UInt8(ascii: "\\"), open == UInt8(ascii: "\""), position + 1 < bytes.count { position += 1 }
                    position += 1
                    continue
                }
                if byte == UInt8(ascii: "#"), position == 0 || bytes[position - 1].isBlank { break }
                let starts =
                    previous == nil
                    || [UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ",")].contains(previous!)
                if starts, byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if starts, byte == UInt8(ascii: "&") || byte == UInt8(ascii: "*"), position + 1 < bytes.count,
                    !bytes[position + 1].isBlank
                {
                    throw refuse(
                        "uses a YAML \(byte == UInt8(ascii: "&") ? "anchor" : "alias"); guestprep does not edit files with anchors or aliases",
                        line: index + 1)
                }
                if !byte.isBlank { previous = byte }
                position += 1
            }
        }
    }

    /// Whether a collection node is written in flow style (`{…}`, `[…]`), read from the text at
    /// its mark: Yams 6.2 takes a mapping's style from its end event, which is not reliable.
    func isFlow(_ node: Node) -> Bool {
        guard let mark = node.mark, mark.line - 1 < lines.count else { return false }
        let scalars = lines[mark.line - 1].text.unicodeScalars
        guard mark.column - 1 < scalars.count else { return false }
        let character = scalars[scalars.index(scalars.startIndex, offsetBy: mark.column - 1)]
        return character == "{" || character == "["
    }

    func refuse(_ message: String, line: Int?) -> GuestprepError {
        GuestprepError(.refused, message + "; edit this file by hand or simplify it, then run again", path: path.description, line: line)
    }

    /// Aliases are resolved by the composer into copies: an edit to one copy would silently
    /// not change the other, so a file with anchors is refused whole.
    func refuseAnchors(_ node: Node) throws {
        if node.anchor != nil {
            throw refuse(
                "uses a YAML anchor (&\(node.anchor!.rawValue)); guestprep does not edit files with anchors or aliases",
                line: node.mark?.line)
        }
        switch node {
        case .mapping(let mapping):
            for pair in mapping {
                if pair.key.scalar?.string == "<<" { throw refuse("uses a YAML merge key (<<)", line: pair.key.mark?.line) }
                try refuseAnchors(pair.value)
            }
        case .sequence(let sequence):
            for item in sequence { try refuseAnchors(item) }
        case .alias(let alias):
            throw refuse("uses a YAML alias", line: alias.mark?.line)
        case .scalar: break
        }
    }

    func isBlankOrComment(_ index: Int) -> Bool {
        let content = lines[index].content
        guard let first = content.firstIndex(where: { !$0.isBlank }) else { return true }
        return content[first] == UInt8(ascii: "#")
    }

    /// The entries of a block mapping whose lines end before `end`.
    func entries(of node: Node, end: Int, what: String) throws -> [Entry] {
        guard case .mapping(let mapping) = node else { return [] }
        guard !isFlow(node) else {
            throw refuse("writes \(what) in flow style ({…}); guestprep edits block style only", line: node.mark?.line)
        }
        let pairs = Array(mapping)
        return pairs.indices.map { index in
            let pair = pairs[index]
            let line = (pair.key.mark?.line ?? 1) - 1
            var stop = index + 1 < pairs.count ? (pairs[index + 1].key.mark?.line ?? 1) - 1 : end
            while stop - 1 > line, isBlankOrComment(stop - 1) { stop -= 1 }
            return Entry(
                key: pair.key.scalar?.string ?? "", keyNode: pair.key, value: pair.value, line: line,
                column: (pair.key.mark?.column ?? 1) - 1,
                end: stop)
        }
    }

    /// The entry of `network.<section>.<id>`, and the indentation step the file uses.
    func device(section: String, id: String) throws -> (entry: Entry, step: Int) {
        guard let root = try compose() else { throw GuestprepError(.notFound, "is empty; no netplan definitions", path: path.description) }
        var end = lines.count
        while end > 0, isBlankOrComment(end - 1) { end -= 1 }
        guard let network = try entries(of: root, end: end, what: "the top level").last(where: { $0.key == "network" }) else {
            throw GuestprepError(.notFound, "has no 'network:' mapping", path: path.description)
        }
        guard let sectionEntry = try entries(of: network.value, end: network.end, what: "network:").last(where: { $0.key == section })
        else {
            throw GuestprepError(.notFound, "has no 'network: \(section):'", path: path.description, line: network.line + 1)
        }
        guard let device = try entries(of: sectionEntry.value, end: sectionEntry.end, what: section + ":").last(where: { $0.key == id })
        else {
            throw GuestprepError(.notFound, "does not define \(section) '\(id)'", path: path.description, line: sectionEntry.line + 1)
        }
        let step = sectionEntry.column - network.column
        return (device, step > 0 ? step : 2)
    }

    // MARK: - Editing

    /// Sets `key` of `network.<section>.<id>` to `value`: the old value's lines are replaced, or
    /// the key is appended at the end of the definition with its siblings' indentation.
    public mutating func set(_ key: String, to value: NewValue, section: String, id: String) throws {
        let (device, step) = try self.device(section: section, id: id)
        var childColumn = device.column + step
        var insertAt = device.end
        switch device.value {
        case .mapping(let mapping) where mapping.isEmpty && isFlow(device.value):
            // `eth0: {}` (bond ports, cloud-init): the empty flow mapping gives way to block lines.
            try removeEmptyFlowMapping(device)
            insertAt = device.line + 1
        case .mapping(let mapping):
            let children = try entries(of: device.value, end: device.end, what: "'\(id)'")
            if let first = children.first { childColumn = first.column }
            if let existing = children.last(where: { $0.key == key }) {
                try replace(existing, with: value, step: step)
                return
            }
            if mapping.isEmpty { insertAt = device.line + 1 }
        case .scalar(let scalar) where scalar.string.isEmpty:
            insertAt = device.line + 1
        default:
            throw refuse("defines '\(id)' as something other than a block mapping", line: device.line + 1)
        }
        insert(render(key, value, column: childColumn, step: step), at: insertAt)
    }

    mutating func removeEmptyFlowMapping(_ entry: Entry) throws {
        let content = lines[entry.line].content
        guard let mark = entry.value.mark, mark.line == entry.line + 1,
            let open = scalarSpan(in: lines[entry.line], column: mark.column - 1)?.lowerBound, content[open] == UInt8(ascii: "{")
        else { throw refuse("writes '\(entry.key)' as a flow mapping over several lines", line: entry.line + 1) }
        var close = open + 1
        while close < content.count, content[close].isBlank { close += 1 }
        guard close < content.count, content[close] == UInt8(ascii: "}") else {
            throw refuse("writes '\(entry.key)' as a flow mapping", line: entry.line + 1)
        }
        var start = open
        while start > 0, content[start - 1].isBlank { start -= 1 }
        lines[entry.line] = lines[entry.line].replacing(start..<(close + 1), with: [])
    }

    /// The current entry of `key` under the device, if any (for callers choosing between keys).
    func child(_ key: String, section: String, id: String) throws -> Entry? {
        let (device, _) = try self.device(section: section, id: id)
        return try entries(of: device.value, end: device.end, what: "'\(id)'").last { $0.key == key }
    }

    mutating func replace(_ entry: Entry, with value: NewValue, step: Int) throws {
        if case .inline(let text) = value, case .scalar(let scalar) = entry.value, entry.end == entry.line + 1,
            scalar.mark?.line == entry.line + 1, [.plain, .singleQuoted, .doubleQuoted].contains(scalar.style),
            let span = scalarSpan(in: lines[entry.line], column: (scalar.mark?.column ?? 1) - 1)
        {
            // Only the scalar's bytes change: a comment after it on the line stays.
            lines[entry.line] = lines[entry.line].replacing(span, with: Array(text.utf8))
            return
        }
        if case .scalar(let scalar) = entry.value, [.literal, .folded].contains(scalar.style) {
            throw refuse("holds '\(entry.key)' as a block scalar", line: entry.line + 1)
        }
        let terminator = lines[entry.end - 1].terminator
        var replacement = render(entry.key, value, column: entry.column, step: step)
        if terminator.isEmpty, var last = replacement.popLast() {
            last.terminator = []
            replacement.append(last)
        }
        lines.replaceSubrange(entry.line..<entry.end, with: replacement)
    }

    mutating func insert(_ new: [TextLine], at index: Int) {
        guard !new.isEmpty else { return }
        var new = new
        if index > 0, lines[index - 1].terminator.isEmpty {
            // The file had no final newline: the old last line gets one, the new last line keeps none.
            lines[index - 1].terminator = newline
            if index == lines.count { new[new.count - 1].terminator = [] }
        }
        lines.insert(contentsOf: new, at: index)
    }

    var newline: [UInt8] { lines.first { !$0.terminator.isEmpty }?.terminator ?? [UInt8(ascii: "\n")] }

    func render(_ key: String, _ value: NewValue, column: Int, step: Int) -> [TextLine] {
        let indent = String(repeating: " ", count: column)
        switch value {
        case .inline(let text):
            return [TextLine(content: Array("\(indent)\(key): \(text)".utf8), terminator: newline)]
        case .lines(let body):
            return [TextLine(content: Array("\(indent)\(key):".utf8), terminator: newline)]
                + body.map { TextLine(content: Array((indent + $0).utf8), terminator: newline) }
        }
    }

    /// The byte range of a one-line scalar starting at `column` (in Unicode scalars, as libyaml counts).
    func scalarSpan(in line: TextLine, column: Int) -> Range<Int>? {
        let text = line.text
        guard column <= text.unicodeScalars.count else { return nil }
        let start = String(String.UnicodeScalarView(text.unicodeScalars.prefix(column))).utf8.count
        let bytes = line.content
        guard start < bytes.count else { return nil }
        var index = start
        switch bytes[start] {
        case UInt8(ascii: "\""):
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") { index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1 }
            return index < bytes.count ? start..<(index + 1) : nil
        case UInt8(ascii: "'"):
            index += 1
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "'") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "'") {
                        index += 2
                        continue
                    }
                    return start..<(index + 1)
                }
                index += 1
            }
            return nil
        default:
            while index < bytes.count, !(bytes[index] == UInt8(ascii: "#") && bytes[index - 1].isBlank) { index += 1 }
            var end = index
            while end > start, bytes[end - 1].isBlank { end -= 1 }
            return start..<end
        }
    }
}
