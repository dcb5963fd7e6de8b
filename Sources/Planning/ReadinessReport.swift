import Foundation
import GuestprepCore
import Rules

/// `guestprep check`: whether the guest is ready for its destination, as text for people (the
/// verdict first), JSON for scripts and Markdown for change tickets. The findings are the plan's;
/// what `apply` would change is counted per rule, since rules report as findings only what they
/// leave undone.
public struct ReadinessReport: Sendable {
    public var plan: Plan
    public var findings: [Finding]
    public var destination: Destination?
    public var playbookDescription: String?

    public init(plan: Plan, extraFindings: [Finding] = [], destination: Destination? = nil, playbookDescription: String? = nil) {
        self.plan = plan
        self.findings = extraFindings + plan.findings
        self.destination = destination
        self.playbookDescription = playbookDescription
    }

    public var verdict: Verdict {
        if !plan.failures.isEmpty { return .error }
        if findings.contains(where: { $0.severity == .blocker }) { return .blocked }
        return plan.changes.isEmpty ? .ready : .changesPending
    }

    func count(_ severity: Severity) -> Int { findings.filter { $0.severity == severity }.count }

    /// READY, READY WITH WARNINGS, CHANGES PENDING: N, BLOCKED: N or ERROR: N.
    public var headline: String {
        switch verdict {
        case .error: "ERROR: \(plan.failures.count) check\(plan.failures.count == 1 ? "" : "s") could not be done"
        case .blocked: "BLOCKED: \(count(.blocker))"
        case .changesPending: "CHANGES PENDING: \(plan.changes.count)"
        case .ready: count(.warning) > 0 ? "READY WITH WARNINGS" : "READY"
        }
    }

    /// Rules in playbook order as they appear in findings, changes and failures: the report's areas.
    var areas: [String] {
        var seen: [String] = []
        for rule in findings.map(\.rule) + plan.changes.flatMap(\.rules) + plan.failures.map(\.rule) where !seen.contains(rule) {
            seen.append(rule)
        }
        return seen
    }

    func changes(of rule: String) -> [Change] { plan.changes.filter { $0.rules.first == rule } }

    static let severityTitles: [(Severity, String)] = [
        (.blocker, "Blockers: the guest will likely not boot or reach the network there; apply cannot fix these"),
        (.warning, "Warnings: worth fixing or knowing; apply leaves these as they are"),
        (.info, "Notes"),
    ]

    // MARK: Text

    public enum Style: Sendable { case plain, bold, red, yellow, green }

    /// Lines with a style each; guest-provided text is escaped before any colour is added, so a
    /// file name cannot carry its own escape sequences.
    public func text(color: Bool) -> String {
        var lines: [(String, Style)] = []
        let verdictStyle: Style =
            switch verdict {
            case .ready: count(.warning) > 0 ? .yellow : .green
            case .changesPending: .yellow
            case .blocked, .error: .red
            }
        lines.append((headline, verdictStyle))
        lines.append(("guest root \(plan.root), playbook \(plan.playbook)\(playbookDescription.map { ": \($0)" } ?? "")", .plain))
        if let destination { lines.append(("destination: \(Self.describe(destination))", .plain)) }
        if !plan.failures.isEmpty {
            lines.append(("", .plain))
            lines.append(("Errors: these checks could not be done, so the report is incomplete", .red))
            for failure in plan.failures { lines.append(("  \(failure.rule): \(failure.error)", .plain)) }
        }
        for (severity, title) in Self.severityTitles {
            let matching = findings.filter { $0.severity == severity }
            guard !matching.isEmpty else { continue }
            lines.append(("", .plain))
            lines.append((title, severity == .blocker ? .red : severity == .warning ? .yellow : .bold))
            for area in areas {
                let inArea = matching.filter { $0.rule == area }
                guard !inArea.isEmpty else { continue }
                lines.append(("  \(area)", .bold))
                for finding in inArea {
                    lines.append(("    \(finding.location.map { "\($0): " } ?? "")\(finding.message) [\(finding.code)]", .plain))
                }
            }
        }
        let fixing = areas.filter { !changes(of: $0).isEmpty }
        if !fixing.isEmpty {
            lines.append(("", .plain))
            lines.append(("Apply fixes these (review with guestprep plan, then guestprep apply):", .bold))
            for area in fixing {
                let own = changes(of: area)
                lines.append(("  \(area): \(own.count) change\(own.count == 1 ? "" : "s")", .bold))
                for change in own { lines.append(("    \(change.headline)\(change.isIrreversible ? " (irreversible)" : "")", .plain)) }
            }
        }
        if findings.isEmpty && plan.changes.isEmpty && plan.failures.isEmpty {
            lines.append(("", .plain))
            lines.append(("Every check passed.", .plain))
        }
        lines.append(("", .plain))
        lines.append((summary, .plain))
        return lines.map { text, style in
            let escaped = TerminalText.escape(text, keeping: [.tab])
            return (color ? Self.colored(escaped, style) : escaped) + "\n"
        }.joined()
    }

    var summary: String {
        "Summary: \(count(.blocker)) blocker\(count(.blocker) == 1 ? "" : "s"), \(count(.warning)) warning\(count(.warning) == 1 ? "" : "s"), \(count(.info)) info, \(plan.changes.count) change\(plan.changes.count == 1 ? "" : "s") apply would make, \(plan.failures.count) error\(plan.failures.count == 1 ? "" : "s")."
    }

    static func colored(_ text: String, _ style: Style) -> String {
        let code: String
        switch style {
        case .plain: return text
        case .bold: code = "1"
        case .red: code = "1;31"
        case .yellow: code = "1;33"
        case .green: code = "1;32"
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    static func describe(_ destination: Destination) -> String {
        var parts = [destination.platform]
        if let firmware = destination.firmware { parts.append("boots \(firmware.map(\.rawValue).joined(separator: ", "))") }
        if let keeps = destination.keepsMACs { parts.append(keeps ? "MACs kept" : "new MACs") }
        if !destination.guestAgents.isEmpty { parts.append("agent \(destination.guestAgents.joined(separator: " or "))") }
        if let dhcp = destination.dhcpTypical { parts.append(dhcp ? "DHCP" : "static addressing usual") }
        return parts.joined(separator: "; ")
    }

    // MARK: Markdown

    public func markdown() -> String {
        var out = "# Migration readiness: \(headline)\n\n"
        out += "- Guest root: `\(Self.code(plan.root))`\n- Playbook: `\(Self.code(plan.playbook))`"
        if let playbookDescription { out += " — \(Self.inline(playbookDescription))" }
        out += "\n"
        if let destination { out += "- Destination: \(Self.inline(Self.describe(destination)))\n" }
        if !plan.failures.isEmpty {
            out += "\n## Errors (the report is incomplete)\n\n"
            for failure in plan.failures { out += "- **\(Self.inline(failure.rule))**: \(Self.inline(failure.error.description))\n" }
        }
        for (severity, title) in Self.severityTitles {
            let matching = findings.filter { $0.severity == severity }
            guard !matching.isEmpty else { continue }
            let (heading, detail) = title.split(separator: ":", maxSplits: 1).map(String.init).pairOrWhole
            out += "\n## \(heading)\n\n"
            if let detail { out += "\(detail.trimmingCharacters(in: .whitespaces).capitalizedFirst).\n\n" }
            out += "| Check | Code | Where | Finding |\n|---|---|---|---|\n"
            for finding in matching {
                out +=
                    "| \(Self.cell(finding.rule)) | `\(Self.code(finding.code))` | \(finding.location.map { "`\(Self.code($0))`" } ?? "") | \(Self.cell(finding.message)) |\n"
            }
        }
        let fixing = areas.filter { !changes(of: $0).isEmpty }
        if !fixing.isEmpty {
            out += "\n## Changes apply would make\n\n"
            for area in fixing {
                for change in changes(of: area) {
                    out += "- **\(Self.inline(area))**: `\(Self.code(change.headline))`\(change.isIrreversible ? " (irreversible)" : "")\n"
                }
            }
        }
        return out + "\n" + summary + "\n"
    }

    /// Text inside a Markdown table cell: pipes and line breaks would end the cell.
    static func cell(_ text: String) -> String {
        inline(text).replacingOccurrences(of: "|", with: "\\|")
    }

    /// Text in running Markdown: control bytes escaped, characters Markdown would act on quoted.
    static func inline(_ text: String) -> String {
        var out = ""
        for character in TerminalText.escape(text, keeping: []) {
            if "\\`*_[]<>#".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Text inside backticks: a backtick would close the span, so it becomes a quote.
    static func code(_ text: String) -> String {
        TerminalText.escape(text, keeping: []).replacingOccurrences(of: "`", with: "'")
    }

    // MARK: JSON

    public static let jsonFormat = "guestprep-check/1"

    struct JSONReport: Encodable {
        var format: String
        var verdict: String
        var headline: String
        var exitStatus: Int32
        var root: String
        var playbook: String
        var destination: JSONDestination?
        var errors: [PlanRendering.JSONError]
        var findings: [Finding]
        var fixes: [JSONFix]
        var summary: JSONSummary

        enum CodingKeys: String, CodingKey {
            case format, verdict, headline, root, playbook, destination, errors, findings, fixes, summary
            case exitStatus = "exit_status"
        }
    }

    struct JSONDestination: Encodable {
        var platform: String
        var firmware: [String]?
        var keepsMACs: Bool?
        var guestAgents: [String]
        var dhcpTypical: Bool?

        enum CodingKeys: String, CodingKey {
            case platform, firmware
            case keepsMACs = "keeps_macs"
            case guestAgents = "guest_agents"
            case dhcpTypical = "dhcp_typical"
        }
    }

    struct JSONFix: Encodable {
        var rule: String
        var action: String
        var path: String?
        var command: [String]?
        var irreversible: Bool
    }

    struct JSONSummary: Encodable {
        var blockers: Int
        var warnings: Int
        var info: Int
        var changes: Int
        var errors: Int
    }

    public func json() throws -> String {
        try renderJSON(
            JSONReport(
                format: Self.jsonFormat, verdict: PlanRendering.verdictName(verdict), headline: headline, exitStatus: verdict.rawValue,
                root: plan.root, playbook: plan.playbook,
                destination: destination.map {
                    JSONDestination(
                        platform: $0.platform, firmware: $0.firmware?.map(\.rawValue), keepsMACs: $0.keepsMACs, guestAgents: $0.guestAgents,
                        dhcpTypical: $0.dhcpTypical)
                },
                errors: plan.failures.map {
                    PlanRendering.JSONError(
                        rule: $0.rule, code: $0.error.code.rawValue, message: $0.error.message, path: $0.error.path, line: $0.error.line)
                },
                findings: findings,
                fixes: plan.changes.map {
                    JSONFix(
                        rule: $0.rules.first ?? "", action: $0.kind.rawValue, path: $0.path?.description, command: $0.command?.argv,
                        irreversible: $0.isIrreversible)
                },
                summary: JSONSummary(
                    blockers: count(.blocker), warnings: count(.warning), info: count(.info), changes: plan.changes.count,
                    errors: plan.failures.count)))
    }
}

extension Array where Element == String {
    /// ("Blockers", " the guest will …") from a split title, or (whole, nil).
    fileprivate var pairOrWhole: (String, String?) { count > 1 ? (self[0], self[1]) : (first ?? "", nil) }
}

extension String {
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
