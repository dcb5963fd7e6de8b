import ArgumentParser
import GuestprepCore
import Journal
import Planning

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Show the plan, ask, then apply it through the journal; any failure rolls it back.")

    @OptionGroup var guest: GuestOptions
    @OptionGroup var playbook: PlaybookOption
    @Flag(name: .long, help: "Apply without asking (needed when stdin is not a terminal).")
    var yes = false

    func run() throws {
        try reportingErrors {
            let console = CommandEnvironment.console
            let prepared = try PreparedPlan(guest: guest, playbook: playbook)
            let plan = prepared.plan
            console.out(PlanRendering.text(plan, extraFindings: prepared.preliminaryFindings))
            // Even with nothing to change: the guest is between states until that run is undone.
            if let run = prepared.interruptedRuns.last {
                throw Applier.interruptedRunError(run)
            }
            guard !plan.changes.isEmpty else { return }
            if !yes {
                guard console.isInteractive else {
                    throw GuestprepError(
                        .refused, "not applying: stdin is not a terminal to confirm on; pass --yes to apply without asking")
                }
                let files = plan.fileCount
                guard
                    console.confirm(
                        "\nApply \(plan.changes.count) change\(plan.changes.count == 1 ? "" : "s") to \(files) file\(files == 1 ? "" : "s")?"
                    )
                else {
                    console.out("Not applied; nothing was changed.\n")
                    return
                }
            }
            let outcome = try Applier(root: prepared.root, tool: "guestprep \(GuestprepCommand.version)").apply(plan)
            let rootArgument = prepared.root.isLive ? "" : " --root \(prepared.root.hostPath)"
            console.out(
                "\nApplied \(outcome.changes) change\(outcome.changes == 1 ? "" : "s") to \(outcome.files) file\(outcome.files == 1 ? "" : "s") as run \(outcome.runID).\nUndo with: guestprep rollback \(outcome.runID)\(rootArgument)\n"
            )
        }
    }
}
