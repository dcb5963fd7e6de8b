import Foundation

/// How much a finding matters for the migration.
public enum Severity: String, Sendable, Codable, Comparable, CaseIterable {
    /// The guest will probably not boot or reach the network on the destination.
    case blocker
    /// Worth fixing or knowing; the migration may still succeed.
    case warning
    case info

    private var rank: Int {
        switch self {
        case .blocker: 0
        case .warning: 1
        case .info: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// One observation a rule makes about the guest, tied to a file and line where it can be.
public struct Finding: Sendable, Codable, Equatable {
    public var rule: String
    /// Stable identifier of what was found ("fstab.uuid-ambiguous"); tests and scripts match
    /// this, never the message.
    public var code: String
    public var severity: Severity
    public var message: String
    public var path: String?
    public var line: Int?

    public init(rule: String, code: String, severity: Severity, message: String, path: String? = nil, line: Int? = nil) {
        self.rule = rule
        self.code = code
        self.severity = severity
        self.message = message
        self.path = path
        self.line = line
    }

    public var location: String? {
        guard let path else { return nil }
        return line.map { "\(path):\($0)" } ?? path
    }
}

/// The JSON every `--format json` output uses: pretty, keys sorted (stable for diffs and tests),
/// slashes unescaped, one trailing newline.
public func renderJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
}
