import BlockProbe
import Executor
import GuestFS
import GuestFacts
import GuestprepCore
import Rules

/// A rule (or validator) that could not do its work: an error, never a finding about the guest.
public struct RuleFailure: Sendable, Error, CustomStringConvertible {
    public var rule: String
    public var error: GuestprepError

    public init(rule: String, error: GuestprepError) {
        self.rule = rule
        self.error = error
    }

    public var description: String { "rule \(rule) could not check the guest: \(error)" }
}

/// What a plan means for the guest, and the exit status every command uses for it.
public enum Verdict: Int32, Sendable {
    /// Nothing to do and nothing in the way.
    case ready = 0
    /// guestprep could not check everything: the plan cannot be trusted to be complete.
    case error = 1
    /// Changes are pending and nothing blocks the migration once they are applied.
    case changesPending = 2
    /// Something will stop the guest booting or reaching the network on the destination.
    case blocked = 3
}

/// What a playbook would do to a guest: findings and changes, nothing written.
public struct Plan: Sendable {
    public var root: String
    public var playbook: String
    public var findings: [Finding]
    public var changes: [Change]
    /// Rules that failed to check; any makes the plan incomplete.
    public var failures: [RuleFailure]

    public init(root: String, playbook: String, findings: [Finding], changes: [Change], failures: [RuleFailure] = []) {
        self.root = root
        self.playbook = playbook
        self.findings = findings
        self.changes = changes
        self.failures = failures
    }

    public var fileCount: Int { Set(changes.filter(\.touchesFile).compactMap(\.path)).count }
    public var blockers: [Finding] { findings.filter { $0.severity == .blocker } }
    public var reversibleChanges: [Change] { changes.filter { !$0.isIrreversible } }
    public var irreversibleChanges: [Change] { changes.filter(\.isIrreversible) }

    public var verdict: Verdict {
        if !failures.isEmpty { return .error }
        if !blockers.isEmpty { return .blocked }
        return changes.isEmpty ? .ready : .changesPending
    }
}

public enum Planner {
    /// Runs every rule of the playbook in order, then checks each proposal with its validators.
    /// A rule that throws becomes a failure for that rule and the others still run. A proposal
    /// whose contents fail validation is withdrawn and reported as a blocker; a validator that
    /// cannot check at all is a failure, and its change is withdrawn too.
    public static func plan(
        root: GuestRoot, devices: DeviceInventory, facts: GuestFacts, playbook: Playbook, executor: (any GuestExecutor)? = nil,
        network: NetworkInputs = NetworkInputs(), source: SourceInputs = SourceInputs()
    ) -> Plan {
        let context = RuleContext(
            root: root, devices: devices, facts: facts, executor: executor, network: network, destination: playbook.destination,
            source: source)
        var failures: [RuleFailure] = []
        for step in playbook.steps {
            do {
                try context.evaluating { try step.rule.evaluate(in: context) }
            } catch {
                failures.append(RuleFailure(rule: step.ruleID, error: .wrapping(error)))
            }
        }
        for change in context.changes {
            guard let path = change.path, let proposed = change.proposed else { continue }
            do {
                for validator in change.validators {
                    try FaultInjection.failPoint("plan-validation")
                    try validator.validate(proposed: proposed, original: change.original?.contents, path: path.description)
                }
            } catch let error as GuestprepError where error.code == .validation {
                context.withdraw(path)
                context.report(
                    Finding(
                        rule: change.rules.joined(separator: ","), code: "plan.validation-failed", severity: .blocker,
                        message: "proposed change withdrawn, it failed validation: \(error.message)\(error.cause.map { " (\($0))" } ?? "")",
                        path: path.description, line: error.line))
            } catch {
                context.withdraw(path)
                failures.append(RuleFailure(rule: change.rules.joined(separator: ","), error: .wrapping(error)))
            }
        }
        let files = PlannedFiles(root: root, changes: context.changes)
        for validator in context.setValidators {
            do {
                try validator.validate(files)
            } catch let error as GuestprepError where error.code == .validation {
                context.report(
                    Finding(
                        rule: validator.id, code: "plan.set-validation-failed", severity: .blocker,
                        message: "the planned files are not valid together: \(error.message)", path: error.path, line: error.line))
            } catch {
                failures.append(RuleFailure(rule: validator.id, error: .wrapping(error)))
            }
        }
        return Plan(root: root.hostPath, playbook: playbook.name, findings: context.findings, changes: context.changes, failures: failures)
    }
}
