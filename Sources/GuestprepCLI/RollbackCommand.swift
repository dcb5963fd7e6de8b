import Apply
import ArgumentParser
import Executor
import GuestprepCore
import Journal

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Restore the files a run changed, byte for byte with owner, mode and attributes.")

    @Argument(help: "The run to roll back (see 'guestprep history'); default: the newest one not rolled back.")
    var runID: String?

    @Option(name: .long, help: ArgumentHelp("The guest's root directory.", valueName: "DIR"))
    var root: String = "/"

    @Flag(name: .long, help: "Restore originals even over files changed since the run.")
    var force = false

    @Flag(name: .long, help: "Roll back without asking (needed when stdin is not a terminal).")
    var yes = false

    func run() throws {
        try reportingErrors {
            let console = CommandEnvironment.console
            let guest = try GuestOptions.parse(["--root", root]).openRoot()
            let rollback = Rollback(root: guest, runner: GuestExecutors.make(for: guest, runner: CommandEnvironment.runner))
            let target: RunSummary
            if let runID {
                guard let run = try RunHistory.runs(in: guest).first(where: { $0.id == runID }) else {
                    throw GuestprepError(.notFound, "no run \(runID) in this guest; 'guestprep history' lists the runs")
                }
                target = run
            } else {
                guard let run = try rollback.defaultRun() else {
                    console.show("Nothing to roll back: no applied or interrupted run in this guest.\n")
                    return
                }
                target = run
            }
            if target.state == .running {
                throw Applier.unfinishedRunError(target, root: guest)
            }
            if target.state == .rolledBack || target.state == .failedRolledBack {
                console.show("Run \(target.id) is already rolled back; nothing to do.\n")
                return
            }
            console.show("Run \(target.id) (\(target.state.rawValue), started \(target.started)) changed:\n")
            for file in target.files { console.show("  \(file)\n") }
            if !yes {
                guard console.isInteractive else {
                    throw GuestprepError(
                        .refused, "not rolling back: stdin is not a terminal to confirm on; pass --yes to roll back without asking")
                }
                guard console.confirm("Roll back run \(target.id)?") else {
                    console.show("Not rolled back; nothing was changed.\n")
                    return
                }
            }
            let outcome = try rollback.rollBack(runID: target.id, force: force)
            console.show(
                "Rolled back run \(outcome.runID): undid \(outcome.restored.count) step\(outcome.restored.count == 1 ? "" : "s").\n")
            for note in outcome.manualSteps { console.show("  by hand: \(note)\n") }
        }
    }
}
