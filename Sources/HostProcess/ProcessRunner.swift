/// Starts host processes; commands receive one so tests can swap in a fake.
public protocol ProcessRunner: Sendable {
    /// Runs `executable` (argv[0]) with `arguments`, never through a shell, in a minimal
    /// environment (C locale, system PATH) plus `environment`, with `input` (or nothing) on stdin.
    /// A process that runs and fails is a result; only failing to start it at all throws.
    func run(
        _ executable: String, _ arguments: [String], input: [UInt8]?, environment: [String: String], options: ProcessOptions
    ) throws -> ProcessResult

    /// The path of a host tool in the system directories, if it is installed.
    func find(_ name: String) -> String?
}

extension ProcessRunner {
    public func run(
        _ executable: String, _ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:],
        timeout: Duration? = nil, discardingStdout: Bool = false
    ) throws -> ProcessResult {
        try run(
            executable, arguments, input: input, environment: environment,
            options: ProcessOptions(timeout: timeout, discardingStdout: discardingStdout))
    }
}

/// How a process is run, beyond its argv, environment and input.
public struct ProcessOptions: Sendable, Equatable {
    /// Killed with SIGKILL when still running after this long.
    public var timeout: Duration?
    /// Sends stdout to /dev/null, for tools whose report can be huge when only stderr matters.
    public var discardingStdout: Bool

    public init(timeout: Duration? = nil, discardingStdout: Bool = false) {
        self.timeout = timeout
        self.discardingStdout = discardingStdout
    }
}

/// How a process ended and what it wrote, byte for byte.
public struct ProcessResult: Sendable, Equatable {
    /// The exit status, or the signal number when the process was killed by one.
    public var status: Int32
    public var wasSignaled: Bool
    /// It ran past its timeout and was killed.
    public var timedOut: Bool
    public var stdoutBytes: [UInt8]
    public var stderrBytes: [UInt8]

    public init(status: Int32, wasSignaled: Bool, timedOut: Bool = false, stdoutBytes: [UInt8], stderrBytes: [UInt8]) {
        self.status = status
        self.wasSignaled = wasSignaled
        self.timedOut = timedOut
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
    }

    /// Exited by itself with status 0.
    public var succeeded: Bool { !wasSignaled && status == 0 }
    /// stdout as text (invalid UTF-8 repaired with U+FFFD).
    public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    /// stderr as text (invalid UTF-8 repaired with U+FFFD).
    public var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }
}
