import GuestprepCore
import HostProcess

/// A command to run in the guest: an explicit argv, never a shell string.
public struct GuestCommand: Sendable, Codable, Equatable, CustomStringConvertible {
    /// argv[0] is an absolute path inside the guest, or a bare name looked up in the guest's PATH.
    public var argv: [String]
    /// Added to (or overriding) the minimal environment: PATH and LC_ALL=C.
    public var environment: [String: String]
    /// Killed with SIGKILL when still running after this long.
    public var timeout: Duration?

    public init(_ argv: [String], environment: [String: String] = [:], timeout: Duration? = nil) {
        self.argv = argv
        self.environment = environment
        self.timeout = timeout
    }

    /// The program name as given (argv[0]).
    public var program: String { argv.first ?? "" }

    /// argv as a reader would type it: words with spaces or quotes are single-quoted.
    public var description: String {
        argv.map { word in
            let plain = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
            return plain ? word : "'" + word.map { $0 == "'" ? #"'\''"# : String($0) }.joined() + "'"
        }.joined(separator: " ")
    }

    /// Refuses what no executor can run: an empty argv, a relative path with a slash (relative to
    /// what? the guest has no working directory of ours), NUL bytes, bad variable names.
    func validate() throws {
        guard let program = argv.first, !program.isEmpty else {
            throw GuestprepError(.usage, "a guest command needs at least a program name (argv is empty)")
        }
        if !program.hasPrefix("/") && program.contains("/") {
            throw GuestprepError(
                .usage, "program \(program.debugDescription) is a relative path; give an absolute guest path or a bare name")
        }
        let words = argv + environment.keys + environment.values
        if let bad = words.first(where: { $0.utf8.contains(0) }) {
            throw GuestprepError(.usage, "\(bad.debugDescription) in `\(self)` contains a NUL byte, which no program can receive")
        }
        if let bad = environment.keys.first(where: { $0.isEmpty || $0.contains("=") }) {
            throw GuestprepError(.usage, "environment variable name \(bad.debugDescription) is empty or contains '='")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case argv, environment, timeoutSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        argv = try container.decode([String].self, forKey: .argv)
        environment = try container.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        timeout = try container.decodeIfPresent(Double.self, forKey: .timeoutSeconds).map { Duration.seconds($0) }
    }

    // Seconds as a number, not Duration's own encoding (a pair of integers nobody can read).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(argv, forKey: .argv)
        if !environment.isEmpty { try container.encode(environment, forKey: .environment) }
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            try container.encode(Double(seconds) + Double(attoseconds) / 1e18, forKey: .timeoutSeconds)
        }
    }
}

/// How a guest command ended and what it wrote, byte for byte: the same as any process's. A
/// non-zero status is a result, not an error: only failing to run the command at all throws.
public typealias GuestCommandResult = ProcessResult
