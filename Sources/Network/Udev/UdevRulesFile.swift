import GuestprepCore

/// A udev rules file (udev(7)), lexed losslessly: comments, blank lines and continuation lines
/// survive; rules are read as key/operator/value tokens and edited a whole rule at a time.
public struct UdevRulesFile: Sendable {
    public private(set) var lines: [TextLine]
    public private(set) var rules: [UdevRule] = []
    /// Rules udev would reject (an unknown operator, an unterminated quote): kept, never edited.
    public private(set) var malformed: [Int] = []

    public init(bytes: [UInt8]) {
        lines = TextLines.split(bytes)
        reparse()
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// The rules udev would refuse, as errors naming `path` and the line.
    public func problems(path: String) -> [GuestprepError] {
        malformed.map { index in
            GuestprepError(
                .parse, "'\(lines[index].text)' is not a udev rule (KEY==\"value\", …); udev ignores it", path: path, line: index + 1)
        }
    }

    /// Rules that assign an interface name (`NAME=` or `NAME:=`), the ones NIC pinning reads.
    public var namingRules: [UdevRule] { rules.filter { $0.assignedName != nil } }

    /// The one canonical pin line guestprep writes: by MAC, lower-case, so the kernel name stays
    /// with the NIC whatever bus or slot it lands on.
    public static func pinLine(mac: MACAddress, name: String) -> String {
        "SUBSYSTEM==\"net\", ACTION==\"add\", ATTR{address}==\"\(mac)\", NAME=\"\(name)\""
    }

    /// Replaces the rule starting at line `index` (all its continuation lines) with one line.
    public mutating func replaceRule(at index: Int, with line: String) {
        guard let rule = rules.first(where: { $0.index == index }) else { return }
        let terminator = lines[rule.index + rule.lineCount - 1].terminator
        lines.replaceSubrange(
            rule.index..<(rule.index + rule.lineCount), with: [TextLine(content: Array(line.utf8), terminator: terminator)])
        reparse()
    }

    /// Removes the rule starting at line `index` (all its continuation lines); other lines stay byte-identical.
    public mutating func removeRule(at index: Int) {
        guard let rule = rules.first(where: { $0.index == index }) else { return }
        lines.removeSubrange(rule.index..<(rule.index + rule.lineCount))
        reparse()
    }

    /// Comments out the rule starting at line `index`: a `marker` comment line before it, and a
    /// `#` before each of its lines (continuations included). Every other line stays byte-identical.
    public mutating func commentOutRule(at index: Int, marker: String) {
        guard let rule = rules.first(where: { $0.index == index }) else { return }
        let newline = lines.first { !$0.terminator.isEmpty }?.terminator ?? [UInt8(ascii: "\n")]
        for line in rule.index..<(rule.index + rule.lineCount) {
            lines[line].content.insert(UInt8(ascii: "#"), at: 0)
        }
        lines.insert(TextLine(content: Array(marker.utf8), terminator: newline), at: rule.index)
        reparse()
    }

    /// Appends one line at the end; a last line without a newline gets one first.
    public mutating func append(_ line: String) {
        let newline = lines.first { !$0.terminator.isEmpty }?.terminator ?? [UInt8(ascii: "\n")]
        if let last = lines.indices.last, lines[last].terminator.isEmpty { lines[last].terminator = newline }
        lines.append(TextLine(content: Array(line.utf8), terminator: newline))
        reparse()
    }

    private mutating func reparse() {
        rules = []
        malformed = []
        var index = 0
        while index < lines.count {
            let start = index
            var text: [UInt8] = []
            // udev(7): a line ending in a backslash continues on the next one.
            while index < lines.count {
                var content = lines[index].content
                index += 1
                if content.last == UInt8(ascii: "\\") {
                    content.removeLast()
                    text += content
                    continue
                }
                text += content
                break
            }
            guard let first = text.firstIndex(where: { !$0.isBlank }), text[first] != UInt8(ascii: "#") else { continue }
            if let tokens = UdevRule.lex(text) {
                rules.append(UdevRule(index: start, lineCount: index - start, tokens: tokens))
            } else {
                malformed.append(start)
            }
        }
    }
}

/// One udev rule: its tokens in order, with the line it starts on.
public struct UdevRule: Sendable, Hashable {
    /// Index into the file's lines of its first line.
    public var index: Int
    public var lineCount: Int
    public var tokens: [UdevToken]
    public var lineNumber: Int { index + 1 }

    /// Match tokens (`==`, `!=`), in order: what a naming rule keys on.
    public var matches: [UdevToken] { tokens.filter { $0.operator.isMatch } }

    /// The name a `NAME=`/`NAME:=` assigns (the last one wins, as udev applies them in order).
    public var assignedName: String? {
        tokens.last { $0.key == "NAME" && ($0.operator == .assign || $0.operator == .assignFinal) }?.value
    }

    /// The MAC an `ATTR{address}==` match names, when it is one literal MAC (not a glob like `?*`).
    public var matchedMAC: MACAddress? {
        tokens.first { $0.key == "ATTR" && $0.attribute == "address" && $0.operator == .equal }.flatMap { MACAddress($0.value) }
    }

    /// The first match token for `key` (and `attribute`) with `==`.
    public func match(_ key: String, attribute: String? = nil) -> UdevToken? {
        tokens.first { $0.key == key && $0.attribute == attribute && $0.operator == .equal }
    }

    /// Tokens of `KEY{attr} OP "value"` separated by commas and blanks; nil when udev would refuse the line.
    static func lex(_ text: [UInt8]) -> [UdevToken]? {
        var tokens: [UdevToken] = []
        var position = 0
        func isKeyByte(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
        while true {
            while position < text.count, text[position].isBlank || text[position] == UInt8(ascii: ",") { position += 1 }
            guard position < text.count else { break }
            let keyStart = position
            while position < text.count, isKeyByte(text[position]) { position += 1 }
            guard position > keyStart else { return nil }
            let key = String(decoding: text[keyStart..<position], as: UTF8.self)
            var attribute: String? = nil
            if position < text.count, text[position] == UInt8(ascii: "{") {
                guard let close = text[position...].firstIndex(of: UInt8(ascii: "}")) else { return nil }
                attribute = String(decoding: text[(position + 1)..<close], as: UTF8.self)
                position = close + 1
            }
            while position < text.count, text[position].isBlank { position += 1 }
            guard let op = UdevOperator.allCases.first(where: { text[position...].starts(with: Array($0.rawValue.utf8)) }) else {
                return nil
            }
            position += op.rawValue.utf8.count
            while position < text.count, text[position].isBlank { position += 1 }
            // udev(7): e"…" takes C escapes; plain "…" only \" (kept as written otherwise).
            if position < text.count, text[position] == UInt8(ascii: "e") { position += 1 }
            guard position < text.count, text[position] == UInt8(ascii: "\"") else { return nil }
            position += 1
            var value: [UInt8] = []
            var closed = false
            while position < text.count {
                let byte = text[position]
                if byte == UInt8(ascii: "\\"), position + 1 < text.count, text[position + 1] == UInt8(ascii: "\"") {
                    value.append(UInt8(ascii: "\""))
                    position += 2
                    continue
                }
                position += 1
                if byte == UInt8(ascii: "\"") {
                    closed = true
                    break
                }
                value.append(byte)
            }
            guard closed else { return nil }
            tokens.append(UdevToken(key: key, attribute: attribute, operator: op, value: String(decoding: value, as: UTF8.self)))
        }
        return tokens
    }
}

/// One `KEY{attribute} OP "value"` of a udev rule.
public struct UdevToken: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var attribute: String?
    public var `operator`: UdevOperator
    public var value: String

    public var description: String { "\(key)\(attribute.map { "{\($0)}" } ?? "")\(`operator`.rawValue)\"\(value)\"" }
}

/// udev(7) operators; longest first so `==` is not read as `=`.
public enum UdevOperator: String, Sendable, Hashable, CaseIterable {
    case equal = "=="
    case notEqual = "!="
    case add = "+="
    case remove = "-="
    case assignFinal = ":="
    case assign = "="

    public var isMatch: Bool { self == .equal || self == .notEqual }
}
