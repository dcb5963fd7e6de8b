import ArgumentParser
import Planning

#if canImport(Glibc)
    import Glibc
#endif

/// The `guestprep` command: prepares a VM's guest OS to move to another hypervisor or cloud.
public struct GuestprepCommand: ParsableCommand {
    public static let version = "0.2.0"

    public static let configuration = CommandConfiguration(
        commandName: "guestprep",
        abstract: "Prepare a virtual machine's guest OS to boot and reach the network after migration.",
        discussion: """
            Inspect a guest (the running system, or an offline root with --root), preview the changes a \
            playbook would make (plan), apply them through a crash-safe journal (apply), and undo them \
            (rollback); check reports readiness for a destination (--to PLATFORM). Exit status: 0 ready, 2 changes pending, 3 blockers present, 1 error.
            """,
        version: version,
        subcommands: [
            InspectCommand.self, CheckCommand.self, PlanCommand.self, ApplyCommand.self, RollbackCommand.self, HistoryCommand.self,
            PlaybooksCommand.self,
        ])

    public init() {}

    /// Parses the process's arguments, runs the command and exits. Every error exits 1, usage
    /// errors included (argument-parser would use 64), and so does output that could not be
    /// written (`> /dev/full`): a script must never take lost output for success.
    public static func runAndExit() -> Never {
        // A closed pipe must not kill guestprep between a change and its journal record; the
        // write fails with EPIPE instead and the exit status says so.
        signal(SIGPIPE, SIG_IGN)
        var status: Int32 = 0
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            status = exit.rawValue
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                CommandEnvironment.console.show(fullMessage(for: error) + "\n")  // --help, --version
            } else {
                CommandEnvironment.console.err(fullMessage(for: error) + "\n")
                status = 1
            }
        }
        if let lost = OutputFailure.message {
            CommandEnvironment.console.err("guestprep: error: \(lost)\n")
            status = Verdict.error.rawValue
        }
        Glibc.exit(status)
    }
}
