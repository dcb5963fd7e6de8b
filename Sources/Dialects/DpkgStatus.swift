import GuestprepCore

/// dpkg's package database, `/var/lib/dpkg/status` (deb822 paragraphs, deb-control(5)), read
/// losslessly: every byte, blank-line run and field order stays in `lines`; paragraphs and fields
/// are views over them.
public struct DpkgStatusFile: Sendable {
    public private(set) var lines: [TextLine]

    public init(bytes: [UInt8]) {
        lines = TextLines.split(bytes)
    }

    public var bytes: [UInt8] { TextLines.join(lines) }

    /// One field: its name as written and its value (continuation lines joined with "\n", each
    /// without its leading blank, as deb822 folds them).
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        /// 0-based index of the field's first line in the file.
        public var index: Int
        public var lineNumber: Int { index + 1 }
    }

    /// One package stanza.
    public struct Paragraph: Sendable {
        public var fields: [Field]
        /// 1-based line of the stanza's first field.
        public var lineNumber: Int { fields.first?.lineNumber ?? 0 }

        /// A field's value; names compare without case (deb822(5)).
        public subscript(name: String) -> String? {
            let wanted = name.lowercased()
            return fields.first { $0.name.lowercased() == wanted }?.value
        }

        public var package: String { self["Package"] ?? "" }
        public var version: String { self["Version"] ?? "" }
        public var architecture: String { self["Architecture"] ?? "" }
        /// The third word of `Status:` ("installed", "config-files", "half-configured" …).
        public var state: String { (self["Status"] ?? "").split(separator: " ").last.map(String.init) ?? "" }
        /// Present on disk in some form: anything but "not-installed" and "config-files".
        public var isPresent: Bool { !["", "not-installed", "config-files"].contains(state) }
        /// `Installed-Size:` in KiB, as dpkg-gencontrol writes it.
        public var installedSizeKiB: Int? { self["Installed-Size"].flatMap { Int($0.stripping(" \t")) } }

        /// A relationship field (`Depends`, `Pre-Depends`, `Provides` …) parsed; empty when absent.
        public func relations(_ name: String) -> [[DpkgRelation]] {
            self[name].map(DpkgRelation.parseList) ?? []
        }
    }

    /// Stanzas in file order; lines that are neither a field nor a continuation (a stray comment,
    /// garbage) belong to no field and are kept only in `lines`.
    public var paragraphs: [Paragraph] {
        var result: [Paragraph] = []
        var current: [Field] = []
        for (index, line) in lines.enumerated() {
            let content = line.content.last == UInt8(ascii: "\r") ? Array(line.content.dropLast()) : line.content
            if content.allSatisfy(\.isBlank) {
                if !current.isEmpty { result.append(Paragraph(fields: current)) }
                current = []
            } else if let first = content.first, first.isBlank {
                guard !current.isEmpty else { continue }
                var text = String(decoding: content.drop(while: \.isBlank), as: UTF8.self)
                if text == "." { text = "" }  // a lone "." is an empty line in a multi-line value
                current[current.count - 1].value += "\n" + text
            } else if let colon = content.firstIndex(of: UInt8(ascii: ":")) {
                let name = String(decoding: content[..<colon], as: UTF8.self)
                let value = String(decoding: content[(colon + 1)...], as: UTF8.self).stripping(" \t")
                current.append(Field(name: name, value: value, index: index))
            }
        }
        if !current.isEmpty { result.append(Paragraph(fields: current)) }
        return result
    }
}

/// One alternative of a relationship field: `name[:arch] [(op version)]`, deb-control(5).
public struct DpkgRelation: Sendable, Equatable {
    public enum Operator: String, Sendable {
        case earlier = "<<"
        case earlierOrEqual = "<="
        case equal = "="
        case laterOrEqual = ">="
        case later = ">>"
    }
    public var name: String
    /// `:any`, `:amd64` … as written, or nil.
    public var architecture: String?
    public var constraint: (op: Operator, version: String)?

    public init(name: String, architecture: String? = nil, constraint: (op: Operator, version: String)? = nil) {
        self.name = name
        self.architecture = architecture
        self.constraint = constraint
    }

    public static func == (lhs: DpkgRelation, rhs: DpkgRelation) -> Bool {
        lhs.name == rhs.name && lhs.architecture == rhs.architecture && lhs.constraint?.op == rhs.constraint?.op
            && lhs.constraint?.version == rhs.constraint?.version
    }

    /// Comma-separated groups of `|`-separated alternatives; restrictions (`[arch]`, `<profile>`)
    /// are dropped, as dpkg drops them from the installed status.
    public static func parseList(_ text: String) -> [[DpkgRelation]] {
        text.split(separator: ",").compactMap { group in
            let alternatives = group.split(separator: "|").compactMap { parse(String($0)) }
            return alternatives.isEmpty ? nil : alternatives
        }
    }

    static func parse(_ text: String) -> DpkgRelation? {
        var rest = Substring(text.replacingBlanks())
        for (open, close) in [("[", "]"), ("<", ">")] {
            // Build restrictions only: a version constraint's operator is inside parentheses.
            while let start = rest.firstIndex(of: Character(open)), !rest[..<start].contains("("),
                let end = rest[start...].firstIndex(of: Character(close))
            {
                rest.removeSubrange(start...end)
            }
        }
        var constraint: (Operator, String)?
        if let open = rest.firstIndex(of: "("), let close = rest.firstIndex(of: ")"), open < close {
            let inside = rest[rest.index(after: open)..<close].stripping(" ")
            let opText = String(inside.prefix { "<>=".contains($0) })
            let version = inside.dropFirst(opText.count).stripping(" ")
            // "<" and ">" are the obsolete spellings of "<=" and ">=" (deb-control(5)).
            let op = Operator(rawValue: opText) ?? (opText == "<" ? .earlierOrEqual : opText == ">" ? .laterOrEqual : nil)
            if let op, !version.isEmpty { constraint = (op, version) }
            rest = rest[..<open]
        }
        let word = rest.stripping(" ")
        guard !word.isEmpty else { return nil }
        let parts = word.split(separator: ":", maxSplits: 1).map(String.init)
        return DpkgRelation(name: parts[0], architecture: parts.count > 1 ? parts[1] : nil, constraint: constraint)
    }
}

extension String {
    /// Tabs and newlines (folded relationship fields) as spaces.
    fileprivate func replacingBlanks() -> String {
        String(map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    fileprivate func stripping(_ set: String) -> String {
        let scalars = Array(self)
        var start = 0
        var end = scalars.count
        while start < end, set.contains(scalars[start]) { start += 1 }
        while end > start, set.contains(scalars[end - 1]) { end -= 1 }
        return String(scalars[start..<end])
    }
}

extension Substring {
    fileprivate func stripping(_ set: String) -> String { String(self).stripping(set) }
}
