/// A device reference in a file, keyed by what it is for rather than where it sits ("the entry
/// mounted at /boot (ext4)", "encrypted device cryptroot", "RESUME"), so validators still find it
/// after another rule has inserted or removed lines elsewhere in the same file.
public struct KeyedReference: Sendable, Hashable {
    /// What the reference is for, in words that also serve in messages.
    public var key: String
    /// The reference itself, e.g. "UUID=…".
    public var value: String
    /// 1-based line it was seen on (for expectations, in the file as the rule saw it); for messages only.
    public var line: Int

    public init(key: String, value: String, line: Int) {
        self.key = key
        self.value = value
        self.line = line
    }

    /// Expectations not met by `found`: each found reference meets at most one expectation of the
    /// same key and value, so two swap entries both mounted at "none" need two matching entries.
    static func unmet(_ expected: [KeyedReference], in found: [KeyedReference]) -> [KeyedReference] {
        struct Pair: Hashable {
            var key: String
            var value: String
        }
        var available: [Pair: Int] = [:]
        available.reserveCapacity(found.count)
        for reference in found { available[Pair(key: reference.key, value: reference.value), default: 0] += 1 }
        var unmet: [KeyedReference] = []
        for expectation in expected.sorted(by: { $0.line < $1.line }) {
            let pair = Pair(key: expectation.key, value: expectation.value)
            if let count = available[pair], count > 0 {
                available[pair] = count - 1
            } else {
                unmet.append(expectation)
            }
        }
        return unmet
    }

    /// What `found` holds for `key`, for a message: "UUID=… (line 5), /dev/sda1 (line 9)" or "no such entry".
    static func describe(_ key: String, in found: [KeyedReference]) -> String {
        let matches = found.filter { $0.key == key }
        guard !matches.isEmpty else { return "no such entry" }
        return matches.map { "\($0.value) (line \($0.line))" }.joined(separator: ", ")
    }
}
