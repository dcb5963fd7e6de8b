import Apply
import ArgumentParser
import BlockProbe
import Executor
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import Planning

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Preview what a playbook would change: findings and unified diffs. Writes nothing in the guest.")

    @OptionGroup var guest: GuestOptions
    @OptionGroup var playbook: PlaybookOption
    @Option(name: .long, help: "Output format.") var format: OutputFormat = .text
    @Flag(name: .long, help: "Exit 0 ready, 2 changes pending, 3 blockers present, 1 error.")
    var detailedExitcode = false
    @Option(name: .long, help: ArgumentHelp("Save the plan for 'guestprep apply --plan FILE'.", valueName: "FILE"))
    var out: String?

    func run() throws {
        var verdict = Verdict.ready
        try reportingErrors {
            let prepared = try PreparedPlan(guest: guest, playbook: try playbook.load())
            let console = CommandEnvironment.console
            switch format {
            case .text: console.show(PlanRendering.text(prepared.plan, extraFindings: prepared.preliminaryFindings))
            case .json: console.out(try PlanRendering.json(prepared.plan, extraFindings: prepared.preliminaryFindings))
            }
            verdict = prepared.verdict
            if let out {
                guard prepared.plan.failures.isEmpty else {
                    throw GuestprepError(.refused, "not saving an incomplete plan (some checks could not be done)", path: out)
                }
                try HostFiles.writeNew(out, try SavedPlan(plan: prepared.plan, playbook: prepared.playbook).encoded())
                console.err("Plan saved to \(out); apply exactly it with: guestprep apply --plan \(out)\n")
            }
        }
        // An incomplete plan is an error whatever the flags; otherwise plain `plan` succeeded.
        if verdict == .error || (detailedExitcode && verdict != .ready) { throw ExitCode(verdict.rawValue) }
    }
}

/// Everything plan and apply share: the root and its facts, the probed devices, the playbook,
/// the plan, and findings about guestprep's own state (unfinished or damaged runs).
struct PreparedPlan {
    var root: GuestRoot
    var playbook: Playbook
    var plan: Plan
    var preliminaryFindings: [Finding]
    var unfinishedRuns: [RunSummary]
    var executor: any GuestExecutor

    init(guest: GuestOptions, playbook: Playbook) throws {
        self.playbook = playbook
        let (root, facts) = try guest.openGuest()
        self.root = root
        let (devices, deviceFindings) = try guest.inventory(for: root)
        preliminaryFindings = deviceFindings
        unfinishedRuns = try RunHistory.runs(in: root).filter(\.isUnfinished)
        for run in unfinishedRuns {
            preliminaryFindings.append(
                Finding(
                    rule: "guestprep", code: run.state == .damaged ? "journal.damaged" : "journal.unfinished-run", severity: .blocker,
                    message: Applier.unfinishedRunError(run, root: root).message))
        }
        executor = guest.executor(for: root)
        plan = Planner.plan(
            root: root, devices: devices, facts: facts, playbook: playbook, executor: executor, network: try guest.networkInputs(for: root),
            source: try guest.sourceInputs())
    }

    var allFindings: [Finding] { preliminaryFindings + plan.findings }

    var verdict: Verdict {
        if !plan.failures.isEmpty { return .error }
        if allFindings.contains(where: { $0.severity == .blocker }) { return .blocked }
        return plan.changes.isEmpty ? .ready : .changesPending
    }
}
