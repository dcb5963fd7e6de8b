import ArgumentParser
import GuestFS
import GuestprepCore
import Journal
import Planning

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Preview what a playbook would change: findings and unified diffs. Writes nothing.")

    @OptionGroup var guest: GuestOptions
    @OptionGroup var playbook: PlaybookOption
    @Option(name: .long, help: "Output format.") var format: OutputFormat = .text
    @Flag(name: .long, help: "Exit 0 when there is nothing to do, 2 when changes are pending, 1 on error.")
    var detailedExitcode = false

    func run() throws {
        var pending = false
        try reportingErrors {
            let prepared = try PreparedPlan(guest: guest, playbook: playbook)
            let console = CommandEnvironment.console
            switch format {
            case .text: console.out(PlanRendering.text(prepared.plan, extraFindings: prepared.preliminaryFindings))
            case .json: console.out(try PlanRendering.json(prepared.plan, extraFindings: prepared.preliminaryFindings))
            }
            pending = !prepared.plan.changes.isEmpty
        }
        if detailedExitcode && pending { throw ExitCode(2) }
    }
}

/// Everything plan and apply share: the root, the probed devices, the playbook, the plan, and
/// findings about the guestprep state itself (an interrupted run).
struct PreparedPlan {
    var root: GuestRoot
    var plan: Plan
    var preliminaryFindings: [Finding]
    var interruptedRuns: [RunSummary]

    init(guest: GuestOptions, playbook: PlaybookOption) throws {
        let loaded = try playbook.load()
        root = try guest.openRoot()
        let (devices, deviceFindings) = try guest.inventory(for: root)
        preliminaryFindings = deviceFindings
        interruptedRuns = try RunHistory.runs(in: root).filter { $0.state == .interrupted }
        for run in interruptedRuns {
            preliminaryFindings.append(Finding(rule: "guestprep", severity: .blocker, message: Applier.interruptedRunError(run).message))
        }
        plan = try Planner.plan(root: root, devices: devices, playbook: loaded)
    }
}
