/// Runs a host tool (findmnt, …) with the real runner: a shorthand for callers that do not take
/// a `ProcessRunner`.
public enum HostCommand {
    public typealias Result = ProcessResult

    /// The tool's path if it is installed in the usual system directories.
    public static func find(_ name: String) -> String? {
        SpawnProcessRunner().find(name)
    }

    /// Runs `executable` with `arguments` through `SpawnProcessRunner`, never through a shell.
    public static func run(
        _ executable: String, _ arguments: [String], input: [UInt8]? = nil,
        environment: [String: String] = [:], discardingStdout: Bool = false
    ) throws -> ProcessResult {
        try SpawnProcessRunner().run(
            executable, arguments, input: input, environment: environment, options: ProcessOptions(discardingStdout: discardingStdout))
    }
}
