import GuestprepCore

/// The virtual hardware version a VMware VM description declares: `virtualHW.version = "19"` in
/// a .vmx file, or `vmx-19` in an OVF descriptor's `<vssd:VirtualSystemType>`.
public struct VMwareHardwareVersion: Sendable, Equatable {
    public var version: Int
    /// 1-based line of the declaration.
    public var line: Int
    /// The declaration as written, for messages.
    public var text: String

    public init(version: Int, line: Int, text: String) {
        self.version = version
        self.line = line
        self.text = text
    }

    /// From a .vmx file: `key = "value"` lines (VMware's own format; keys are case-insensitive,
    /// the last assignment wins).
    public static func fromVMX(_ bytes: [UInt8]) -> VMwareHardwareVersion? {
        var found: VMwareHardwareVersion?
        for (index, line) in TextLines.split(bytes).enumerated() {
            let text = line.text
            guard let equals = text.firstIndex(of: "=") else { continue }
            let key = text[..<equals].trimmingCharacters(in: " \t").lowercased()
            guard key == "virtualhw.version" else { continue }
            var value = text[text.index(after: equals)...].trimmingCharacters(in: " \t")
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard let number = Int(value) else { continue }
            found = VMwareHardwareVersion(version: number, line: index + 1, text: text.trimmingCharacters(in: " \t"))
        }
        return found
    }

    /// From an OVF descriptor (DMTF DSP0243): each `VirtualSystemType` element's text is a
    /// blank-separated list such as `vmx-10 vmx-13`; the highest `vmx-NN` is what the VM needs at most.
    /// Read as text, not XML: only this one element matters, whatever its namespace prefix.
    public static func fromOVF(_ bytes: [UInt8]) -> VMwareHardwareVersion? {
        var best: VMwareHardwareVersion?
        let text = String(decoding: bytes, as: UTF8.self)
        var rest = text[...]
        while let open = rest.range(of: "VirtualSystemType>") {
            // The start tag: "<VirtualSystemType>" or "<prefix:VirtualSystemType>", not an end tag.
            let before = rest[..<open.lowerBound]
            guard let angle = before.lastIndex(of: "<"), !before[angle...].hasPrefix("</"),
                before[before.index(after: angle)...].allSatisfy({ $0.isLetter || $0.isNumber || $0 == ":" || $0 == "_" || $0 == "-" })
            else {
                rest = rest[open.upperBound...]
                continue
            }
            let content = rest[open.upperBound...]
            let end = content.firstIndex(of: "<") ?? content.endIndex
            let line = text[..<open.lowerBound].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
            for word in content[..<end].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) {
                guard word.lowercased().hasPrefix("vmx-"), let number = Int(word.dropFirst(4)) else { continue }
                if best == nil || number > best!.version {
                    best = VMwareHardwareVersion(
                        version: number, line: line, text: String(content[..<end]).trimmingCharacters(in: " \t\r\n"))
                }
            }
            rest = content[end...]
        }
        return best
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
