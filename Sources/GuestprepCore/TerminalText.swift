/// Makes bytes from guest files safe to print on a terminal: control characters and invalid UTF-8
/// become visible escapes, so a mount point holding `\033[2J` cannot clear the screen or hide text.
public enum TerminalText {
    /// Controls a caller prints as they are (both are harmless layout on a terminal).
    public struct Kept: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let tab = Kept(rawValue: 1)
        public static let newline = Kept(rawValue: 2)
    }

    /// The bytes as text for a terminal. Printable UTF-8 (é, 中) stays as it is; C0 controls, DEL
    /// and C1 controls, bidirectional overrides and line separators are escaped (`\r`, `\x1b`,
    /// `\u{9b}`), and each byte of invalid UTF-8 is shown as `\xHH`. For display only: a backslash
    /// already in the input is kept, so the result does not always map back to one input.
    public static func escape(_ bytes: some Collection<UInt8>, keeping kept: Kept = [.tab]) -> String {
        let bytes = Array(bytes)
        var out = ""
        out.reserveCapacity(bytes.count)
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                offset += encoded.count
                out += escape(Unicode.UTF8.decode(encoded), kept: kept)
            case .error(let length):
                for byte in bytes[offset..<offset + length] { out += "\\x" + hex(UInt32(byte), digits: 2) }
                offset += length
            case .emptyInput:
                return out
            }
        }
    }

    /// The same for text that may hold characters from a guest file (decoded or not).
    public static func escape(_ text: String, keeping kept: Kept = [.tab]) -> String {
        escape(Array(text.utf8), keeping: kept)
    }

    private static func escape(_ scalar: Unicode.Scalar, kept: Kept) -> String {
        switch scalar.value {
        case 0x09: kept.contains(.tab) ? "\t" : "\\t"
        case 0x0A: kept.contains(.newline) ? "\n" : "\\n"
        case 0x0D: "\\r"
        case 0x00...0x1F, 0x7F: "\\x" + hex(scalar.value, digits: 2)
        // C1 controls (0x9B is CSI on many terminals); bidi embeddings, overrides and isolates,
        // which reorder what is shown ("Trojan Source"); line and paragraph separators.
        case 0x80...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029:
            "\\u{" + hex(scalar.value, digits: 1) + "}"
        default: String(scalar)
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
