import Foundation
import GuestprepCore
import Rules

/// How plans are shown: for people (findings, then each change with its diff, then the verdict)
/// and as JSON.
public enum PlanRendering {
    public static func text(_ plan: Plan, extraFindings: [Finding] = []) -> String {
        var out = "guestprep plan: guest root \(plan.root), playbook \(plan.playbook)\n"
        let findings = extraFindings + plan.findings
        if !plan.failures.isEmpty {
            out += "\nErrors (these checks could not be done, so the plan is incomplete):\n"
            for failure in plan.failures { out += "  error   \(failure.error) [\(failure.rule)]\n" }
        }
        if findings.isEmpty {
            out += "\nNo findings.\n"
        } else {
            out += "\nFindings:\n"
            for finding in findings {
                out += "  \(finding.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) "
                if let location = finding.location { out += "\(location): " }
                out += "\(finding.message) [\(finding.code)]\n"
            }
        }
        if plan.changes.isEmpty && !plan.failures.isEmpty {
            out += "\nNo changes listed, but the plan is incomplete: see the errors above.\n"
            return out + summary(plan, findings: findings)
        }
        if plan.changes.isEmpty && findings.contains(where: { $0.severity == .blocker }) {
            out += "\nNo changes proposed; the blockers above need fixing first.\n"
            return out + summary(plan, findings: findings)
        }
        if plan.changes.isEmpty {
            out += "\nNo changes: the guest already matches playbook \(plan.playbook).\n"
            return out + summary(plan, findings: findings)
        }
        let reversible = plan.reversibleChanges
        if !reversible.isEmpty {
            out += "\nChanges (\(reversible.count) to \(plan.fileCount) file\(plan.fileCount == 1 ? "" : "s")):\n"
            out += changesText(reversible)
        }
        let irreversible = plan.irreversibleChanges
        if !irreversible.isEmpty {
            out += "\nIrreversible commands (rollback cannot undo these; apply asks for them separately):\n"
            out += changesText(irreversible)
        }
        return out + summary(plan, findings: findings)
    }

    private static func changesText(_ changes: [Change]) -> String {
        var out = ""
        for change in changes {
            out += "\n  \(change.headline) [\(change.rules.joined(separator: ", "))]\n"
            for reason in change.reasons { out += "    \(reason)\n" }
            if let command = change.command {
                out += "    effect: \(command.effect)\n"
                if let undo = command.undo { out += "    undone by: \(undo.joined(separator: " "))\n" }
                if !command.rewrites.isEmpty {
                    out +=
                        "    rewrites (saved first, restored by rollback): \(command.rewrites.map(\.description).joined(separator: ", "))\n"
                }
                if let manual = command.manualUndo { out += "    to undo by hand: \(manual)\n" }
            }
            if let path = change.path {
                let diff = change.diff(label: path.description)
                if !diff.isEmpty { out += "\n" + diff }
            }
        }
        return out
    }

    /// The closing lines: counts, then the verdict in words (what the exit status says).
    private static func summary(_ plan: Plan, findings: [Finding]) -> String {
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        let bySeverity = Severity.allCases.map { severity in
            let n = findings.filter { $0.severity == severity }.count
            return severity == .info ? "\(n) info" : count(n, severity.rawValue)
        }
        var out =
            "\nSummary: \(count(plan.changes.count, "change")) to \(count(plan.fileCount, "file")); \(bySeverity.joined(separator: ", "))"
        if !plan.failures.isEmpty { out += "; \(count(plan.failures.count, "error"))" }
        return out + ".\n" + "Verdict: \(verdictText(plan, findings: findings))\n"
    }

    public static func verdictText(_ plan: Plan, findings: [Finding]) -> String {
        let blockers = findings.filter { $0.severity == .blocker }
        if !plan.failures.isEmpty { return "error: \(plan.failures.count) check\(plan.failures.count == 1 ? "" : "s") could not be done" }
        if !blockers.isEmpty { return blockersText(blockers) }
        return plan.changes.isEmpty ? "ready" : "changes pending"
    }

    /// "2 blockers remain: /etc/fstab:4 (fstab.no-uuid), …"
    public static func blockersText(_ blockers: [Finding]) -> String {
        let listed = blockers.prefix(5).map { "\($0.location ?? $0.rule) (\($0.code))" }.joined(separator: ", ")
        return
            "\(blockers.count) blocker\(blockers.count == 1 ? "" : "s") remain\(blockers.count == 1 ? "s" : ""): \(listed)\(blockers.count > 5 ? ", …" : "")"
    }

    struct JSONPlan: Encodable {
        var root: String
        var playbook: String
        var verdict: String
        var errors: [JSONError]
        var findings: [Finding]
        var changes: [JSONChange]
        var summary: Summary
    }

    struct JSONError: Encodable {
        var rule: String
        var code: String
        var message: String
        var path: String?
        var line: Int?
    }

    struct JSONChange: Encodable {
        var rule: String
        var rules: [String]
        var path: String?
        var action: String
        var reasons: [String]
        var diff: String
        /// The diff's exact bytes, present only when they are not valid UTF-8 (which `diff`
        /// cannot carry losslessly).
        var diffBase64: String?
        var destination: String?
        var mode: String?
        var command: [String]?
        var irreversible: Bool
        var undo: [String]?
        var manualUndo: String?

        enum CodingKeys: String, CodingKey {
            case rule, rules, path, action, reasons, diff, destination, mode, command, irreversible, undo
            case manualUndo = "manual_undo"
            case diffBase64 = "diff_base64"
        }
    }

    struct Summary: Encodable {
        var blockers: Int
        var warnings: Int
        var errors: Int
        var changes: Int
        var files: Int
    }

    public static func verdictName(_ verdict: Verdict) -> String {
        switch verdict {
        case .ready: "ready"
        case .changesPending: "changes-pending"
        case .blocked: "blocked"
        case .error: "error"
        }
    }

    public static func json(_ plan: Plan, extraFindings: [Finding] = []) throws -> String {
        let findings = extraFindings + plan.findings
        var verdict = plan.verdict
        if verdict != .error && findings.contains(where: { $0.severity == .blocker }) { verdict = .blocked }
        let document = JSONPlan(
            root: plan.root, playbook: plan.playbook, verdict: verdictName(verdict),
            errors: plan.failures.map {
                JSONError(rule: $0.rule, code: $0.error.code.rawValue, message: $0.error.message, path: $0.error.path, line: $0.error.line)
            },
            findings: findings,
            changes: plan.changes.map { change in
                var json = JSONChange(
                    rule: change.rules.first ?? "", rules: change.rules, path: change.path?.description,
                    action: change.kind.rawValue, reasons: change.reasons,
                    diff: change.path.map { change.diff(label: $0.description) } ?? "", irreversible: change.isIrreversible)
                if let path = change.path {
                    let bytes = change.diffBytes(label: path.description)
                    if String(validating: bytes, as: UTF8.self) == nil { json.diffBase64 = Data(bytes).base64EncodedString() }
                }
                switch change.action {
                case .renameAside(_, _, let destination): json.destination = destination.description
                case .createDirectory(_, let mode): json.mode = String(mode, radix: 8)
                case .runCommand(let step):
                    json.command = step.argv
                    json.undo = step.undo
                    json.manualUndo = step.manualUndo
                default: break
                }
                return json
            },
            summary: Summary(
                blockers: findings.filter { $0.severity == .blocker }.count,
                warnings: findings.filter { $0.severity == .warning }.count, errors: plan.failures.count,
                changes: plan.changes.count, files: plan.fileCount))
        return try renderJSON(document)
    }
}
