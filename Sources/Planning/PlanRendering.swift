import Foundation
import GuestprepCore
import Rules

/// How plans are shown: for people (findings, then each change with its diff) and as JSON.
public enum PlanRendering {
    public static func text(_ plan: Plan, extraFindings: [Finding] = []) -> String {
        var out = "guestprep plan: guest root \(plan.root), playbook \(plan.playbook)\n"
        let findings = extraFindings + plan.findings
        if findings.isEmpty {
            out += "\nNo findings.\n"
        } else {
            out += "\nFindings:\n"
            for finding in findings {
                out += "  \(finding.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) "
                if let location = finding.location { out += "\(location): " }
                out += "\(finding.message) [\(finding.rule)]\n"
            }
        }
        if plan.changes.isEmpty {
            out += "\nNo changes: the guest already matches playbook \(plan.playbook).\n"
            return out + summary(plan, findings: findings)
        }
        out += "\nChanges (\(plan.changes.count) to \(plan.fileCount) file\(plan.fileCount == 1 ? "" : "s")):\n"
        for change in plan.changes {
            out +=
                "\n  \(change.action.rawValue) \(change.path?.description ?? change.command?.joined(separator: " ") ?? "") [\(change.rules.joined(separator: ", "))]\n"
            for reason in change.reasons { out += "    \(reason)\n" }
            if let path = change.path {
                out += "\n" + change.diff(label: path.description)
            }
        }
        return out + summary(plan, findings: findings)
    }

    private static func summary(_ plan: Plan, findings: [Finding]) -> String {
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        let bySeverity = Severity.allCases.map { severity in
            let n = findings.filter { $0.severity == severity }.count
            return severity == .info ? "\(n) info" : count(n, severity.rawValue)
        }
        return
            "\nSummary: \(count(plan.changes.count, "change")) to \(count(plan.fileCount, "file")); \(bySeverity.joined(separator: ", ")).\n"
    }

    struct JSONPlan: Encodable {
        var root: String
        var playbook: String
        var findings: [Finding]
        var changes: [JSONChange]
        var summary: Summary
    }

    struct JSONChange: Encodable {
        var rule: String
        var rules: [String]
        var path: String?
        var action: String
        var reasons: [String]
        var diff: String
        var command: [String]?
    }

    struct Summary: Encodable {
        var blockers: Int
        var warnings: Int
        var changes: Int
        var files: Int
    }

    public static func json(_ plan: Plan, extraFindings: [Finding] = []) throws -> String {
        let findings = extraFindings + plan.findings
        let document = JSONPlan(
            root: plan.root, playbook: plan.playbook, findings: findings,
            changes: plan.changes.map { change in
                JSONChange(
                    rule: change.rules.first ?? "", rules: change.rules, path: change.path?.description,
                    action: change.action.rawValue, reasons: change.reasons,
                    diff: change.path.map { change.diff(label: $0.description) } ?? "", command: change.command)
            },
            summary: Summary(
                blockers: findings.filter { $0.severity == .blocker }.count,
                warnings: findings.filter { $0.severity == .warning }.count,
                changes: plan.changes.count, files: plan.fileCount))
        return try renderJSON(document)
    }
}
