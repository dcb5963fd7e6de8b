import Apply
import ArgumentParser
import GuestprepCore
import Journal
import Planning
import Rules

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Show the plan, ask, then apply it through the journal; any failure rolls it back.",
        discussion: "Exit status: 0 ready, 2 changes still pending (declined), 3 blockers remain, 1 error.")

    @OptionGroup var guest: GuestOptions
    @OptionGroup var playbook: PlaybookOption
    @Option(
        name: .customLong("plan"),
        help: ArgumentHelp("Apply exactly this saved plan (from 'plan --out'); refused if the guest changed since.", valueName: "FILE"))
    var savedPlan: String?
    @Flag(name: .long, help: "Apply reversible changes without asking (needed when stdin is not a terminal).")
    var yes = false
    @Flag(name: .long, help: "Also run irreversible commands without asking.")
    var yesIrreversible = false

    func validate() throws {
        if savedPlan != nil && playbook.playbook != nil {
            throw ValidationError("--plan applies the playbook saved in the plan; drop --playbook, or plan again with it")
        }
    }

    func run() throws {
        var verdict = Verdict.ready
        try reportingErrors { verdict = try applyConfirmed() }
        if verdict != .ready { throw ExitCode(verdict.rawValue) }
    }

    private func applyConfirmed() throws -> Verdict {
        let console = CommandEnvironment.console
        let saved = try savedPlan.map { path in (path, try SavedPlan.decode(try HostFiles.read(path), path: path)) }
        let book = try saved.map { try PlaybookLibrary.replay($0.1, from: $0.0) } ?? playbook.load()
        let prepared = try PreparedPlan(guest: guest, playbook: book)
        let plan = prepared.plan
        console.show(PlanRendering.text(plan, extraFindings: prepared.preliminaryFindings))
        if let (path, saved) = saved {
            try saved.verify(against: plan, root: prepared.root, path: path)
        }
        // Even with nothing to change: the guest is between states until that run is undone.
        if let run = prepared.unfinishedRuns.last {
            throw Applier.unfinishedRunError(run, root: prepared.root)
        }
        guard plan.failures.isEmpty else {
            throw GuestprepError(
                .refused, "not applying: \(plan.failures.count) check(s) could not be done (listed above), so the plan may be incomplete")
        }
        let blockers = prepared.allFindings.filter { $0.severity == .blocker }
        func finalVerdict(pending: Bool) -> Verdict {
            let verdict: Verdict = !blockers.isEmpty ? .blocked : pending ? .changesPending : .ready
            switch verdict {
            case .blocked: console.show("\nVerdict: \(PlanRendering.blockersText(blockers))\n")
            case .changesPending: console.show("\nVerdict: changes pending (not applied)\n")
            default: console.show("\nVerdict: ready\n")
            }
            return verdict
        }
        guard !plan.changes.isEmpty else { return finalVerdict(pending: false) }

        var selected = plan.reversibleChanges
        if !selected.isEmpty && !yes {
            guard console.isInteractive else {
                throw GuestprepError(.refused, "not applying: stdin is not a terminal to confirm on; pass --yes to apply without asking")
            }
            let files = plan.fileCount
            guard
                console.confirm(
                    "\nApply \(selected.count) change\(selected.count == 1 ? "" : "s") to \(files) file\(files == 1 ? "" : "s")?")
            else {
                console.show("Not applied; nothing was changed.\n")
                return finalVerdict(pending: true)
            }
        }
        let irreversible = plan.irreversibleChanges
        var declined = false
        if !irreversible.isEmpty {
            if yesIrreversible
                || (console.isInteractive
                    && console.confirm(
                        "Also run \(irreversible.count) irreversible command\(irreversible.count == 1 ? "" : "s") (rollback cannot undo them)?"
                    ))
            {
                // Commands run after the file changes they belong with, in plan order.
                selected = plan.changes
            } else {
                declined = true
                console.show("Irreversible commands not run; pass --yes-irreversible (or answer y) to run them.\n")
            }
        }
        guard !selected.isEmpty else { return finalVerdict(pending: declined) }
        let outcome = try Applier(root: prepared.root, tool: "guestprep \(GuestprepCommand.version)", runner: prepared.executor)
            .apply(selected, playbook: plan.playbook)
        let rootArgument = prepared.root.isLive ? "" : " --root \(prepared.root.hostPath)"
        console.show(
            "\nApplied \(outcome.changes) change\(outcome.changes == 1 ? "" : "s") to \(outcome.files) file\(outcome.files == 1 ? "" : "s") as run \(outcome.runID).\nUndo with: guestprep rollback \(outcome.runID)\(rootArgument)\n"
        )
        // Also on stderr: stdout may be a pipe that closed early, and the run id must not be lost.
        console.warn("guestprep: applied run \(outcome.runID)\n")
        return finalVerdict(pending: declined)
    }
}
