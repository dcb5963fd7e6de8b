import ArgumentParser

/// The `guestprep` command: prepares a VM's guest OS to move to another hypervisor or cloud.
public struct GuestprepCommand: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "guestprep",
        abstract: "Prepare a virtual machine's guest OS to boot and reach the network after migration.",
        discussion: """
            Inspect a guest (the running system, or an offline root with --root), preview the changes a \
            playbook would make (plan), apply them through a crash-safe journal (apply), and undo them \
            (rollback).
            """,
        version: version,
        subcommands: [InspectCommand.self, PlanCommand.self, ApplyCommand.self, RollbackCommand.self, HistoryCommand.self])

    public init() {}

    /// Parses the process's arguments, runs the command and exits. Every error exits 1, usage
    /// errors included (argument-parser would use 64), so scripts and `--detailed-exitcode`
    /// see one code for failure, as with terraform.
    public static func runAndExit() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            exit()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                CommandEnvironment.console.err(fullMessage(for: error) + "\n")
                exit(withError: ExitCode.failure)
            }
            exit(withError: error)
        }
    }
}
