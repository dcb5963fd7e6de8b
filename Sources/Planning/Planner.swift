import BlockProbe
import GuestFS
import GuestprepCore
import Rules

/// What a playbook would do to a guest: findings and changes, nothing written.
public struct Plan: Sendable {
    public var root: String
    public var playbook: String
    public var findings: [Finding]
    public var changes: [Change]

    public var fileCount: Int { Set(changes.compactMap(\.path)).count }
}

public enum Planner {
    /// Runs every rule of the playbook in order, then checks each proposal with its validators;
    /// a proposal that fails is withdrawn and reported as a blocker, so an apply never writes it.
    public static func plan(root: GuestRoot, devices: DeviceInventory, playbook: Playbook) throws -> Plan {
        let context = RuleContext(root: root, devices: devices)
        for step in playbook.steps {
            try step.rule.evaluate(in: context)
        }
        for change in context.changes {
            guard let path = change.path, let proposed = change.proposed else { continue }
            do {
                for validator in change.validators {
                    try validator.validate(proposed: proposed, original: change.original?.contents, path: path.description)
                }
            } catch let error as GuestprepError {
                context.withdraw(path)
                context.report(
                    Finding(
                        rule: change.rules.joined(separator: ","), severity: .blocker,
                        message: "proposed change withdrawn, it failed validation: \(error.message)\(error.cause.map { " (\($0))" } ?? "")",
                        path: path.description, line: error.line))
            }
        }
        return Plan(root: root.hostPath, playbook: playbook.name, findings: context.findings, changes: context.changes)
    }
}
