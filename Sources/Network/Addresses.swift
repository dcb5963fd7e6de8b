/// A link-layer (MAC) address, compared and printed in one canonical form: lower-case hex
/// pairs joined by colons, as udev's ATTR{address} and systemd's MACAddress= read it.
public struct MACAddress: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let bytes: [UInt8]

    /// Accepts `52:54:00:AB:cd:ef`, `52-54-00-ab-cd-ef` and `5254.00ab.cdef`; 6 or 20 bytes
    /// (InfiniBand). Anything else is nil: a MAC guestprep cannot read is never written.
    public init?(_ text: String) {
        let separators: Set<Character> = [":", "-", "."]
        let hex = text.filter { !separators.contains($0) }
        guard hex.count == 12 || hex.count == 40, hex.allSatisfy(\.isHexDigit) else { return nil }
        let groups = text.split(whereSeparator: { separators.contains($0) })
        guard groups.count == 1 || groups.allSatisfy({ $0.count == 2 }) || groups.allSatisfy({ $0.count == 4 }) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.bytes = bytes
    }

    /// From raw bytes (6, or 20 for InfiniBand).
    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 || bytes.count == 20 else { return nil }
        self.bytes = bytes
    }

    public var description: String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: ":")
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MAC address: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 or IPv6 address, parsed exactly: `192.168.1.1` is never `192.168.1.10`, and
/// `010.0.0.3` (octal in some libcs) is refused rather than guessed.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    public enum Family: Sendable, Hashable { case v4, v6 }
    public let family: Family
    /// 4 or 16 bytes, network order.
    public let bytes: [UInt8]

    public init?(_ text: String) {
        if let v4 = Self.parseV4(Substring(text)) {
            family = .v4
            bytes = v4
        } else if let v6 = Self.parseV6(Substring(text)) {
            family = .v6
            bytes = v6
        } else {
            return nil
        }
    }

    static func parseV4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigitCharacter),
                part.count == 1 || part.first != "0", let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func parseV6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":"), !text.contains(":::") else { return nil }
        var text = text
        // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(text[text.index(after: lastColon)...]) else { return nil }
            tail = v4
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        let rest = halves.count == 2 ? groups(halves[1]) : []
        guard let rest else { return nil }
        let wanted = tail.isEmpty ? 8 : 6
        var all: [UInt16]
        if halves.count == 2 {
            guard head.count + rest.count < wanted else { return nil }
            all = head + [UInt16](repeating: 0, count: wanted - head.count - rest.count) + rest
        } else {
            guard head.count == wanted else { return nil }
            all = head
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } + tail
    }

    public var description: String {
        switch family {
        case .v4: return bytes.map(String.init).joined(separator: ".")
        case .v6:
            let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            // RFC 5952: the longest run of two or more zero groups becomes "::".
            var best: Range<Int>? = nil
            var index = 0
            while index < 8 {
                guard groups[index] == 0 else {
                    index += 1
                    continue
                }
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index >= 2 && (best == nil || end - index > best!.count) { best = index..<end }
                index = end
            }
            let hex = groups.map { String($0, radix: 16) }
            guard let best else { return hex.joined(separator: ":") }
            return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An address on an interface with its prefix length: `10.0.0.5/24`.
public struct InterfaceAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    public var address: IPAddress
    public var prefix: Int

    public init?(address: IPAddress, prefix: Int) {
        guard prefix >= 0, prefix <= (address.family == .v4 ? 32 : 128) else { return nil }
        self.address = address
        self.prefix = prefix
    }

    /// `10.0.0.5/24`; without `/prefix` nil, since guessing a prefix would write a wrong one.
    public init?(cidr text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])), parts[1].allSatisfy(\.isASCIIDigitCharacter),
            let prefix = Int(parts[1])
        else { return nil }
        self.init(address: address, prefix: prefix)
    }

    /// An IPv4 address with a dotted netmask (`255.255.255.0`); nil when the mask is not contiguous.
    public init?(address: IPAddress, netmask: IPAddress) {
        guard address.family == .v4, netmask.family == .v4 else { return nil }
        let bits = netmask.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let prefix = bits.nonzeroBitCount
        guard bits == (prefix == 0 ? 0 : UInt32.max << (32 - prefix)) else { return nil }
        self.init(address: address, prefix: prefix)
    }

    /// The dotted netmask of an IPv4 prefix (for ifupdown's `netmask` and ifcfg's `NETMASK=`).
    public var netmask: IPAddress? {
        guard address.family == .v4 else { return nil }
        let bits: UInt32 = prefix == 0 ? 0 : UInt32.max << (32 - prefix)
        return IPAddress("\(bits >> 24).\(bits >> 16 & 0xff).\(bits >> 8 & 0xff).\(bits & 0xff)")
    }

    /// Whether `other` lies in this address's subnet.
    public func contains(_ other: IPAddress) -> Bool {
        guard other.family == address.family else { return false }
        var remaining = prefix
        for (a, b) in zip(address.bytes, other.bytes) {
            guard remaining > 0 else { return true }
            let mask: UInt8 = remaining >= 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - remaining))
            if a & mask != b & mask { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefix)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = InterfaceAddress(cidr: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an address/prefix: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { self >= "0" && self <= "9" }
}
