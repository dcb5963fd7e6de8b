import GuestprepCore
import HostProcess

/// Runs commands on the running system itself, through a `ProcessRunner`.
public struct LiveExecutor: GuestExecutor {
    public let runner: any ProcessRunner

    public init(runner: any ProcessRunner = SpawnProcessRunner()) {
        self.runner = runner
    }

    public var mode: ExecutionMode { .live }

    public func run(_ command: GuestCommand, input: [UInt8]?) throws -> GuestCommandResult {
        try command.validate()
        let program = command.program
        let executable: String
        if program.hasPrefix("/") {
            executable = program
        } else if let found = runner.find(program) {
            executable = found
        } else {
            throw GuestprepError(.notFound, "command \(program.debugDescription) is not installed (searched \(ProcessEnvironment.path))")
        }
        let result = try runner.run(
            executable, Array(command.argv.dropFirst()), input: input, environment: command.environment,
            options: ProcessOptions(timeout: command.timeout))
        return result
    }
}
