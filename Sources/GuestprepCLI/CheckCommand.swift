import ArgumentParser
import Foundation
import GuestprepCore
import Planning

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Report whether the guest is ready for its destination: every check of the playbook, the verdict first. Writes nothing.",
        discussion: """
            Runs the same rules as plan and reports their findings grouped by severity and check, and what \
            apply would fix. Exit status is the verdict: 0 ready, 2 changes pending (apply fixes them), \
            3 blocked, 1 error (a check could not be done).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, markdown
    }

    @OptionGroup var guest: GuestOptions
    @OptionGroup var playbook: PlaybookOption
    @Option(name: .long, help: "Output format: text (colour on a terminal unless NO_COLOR is set), json or markdown.")
    var format: Format = .text

    func run() throws {
        var verdict = Verdict.ready
        try reportingErrors {
            let book = try playbook.load()
            let prepared = try PreparedPlan(guest: guest, playbook: book)
            let report = ReadinessReport(
                plan: prepared.plan, extraFindings: prepared.preliminaryFindings, destination: book.destination,
                playbookDescription: book.description?.trimmingCharacters(in: .whitespacesAndNewlines))
            let console = CommandEnvironment.console
            switch format {
            // The report escapes guest text itself, before it adds colour.
            case .text: console.out(report.text(color: console.isOutputTerminal && !Self.noColor))
            case .json: console.out(try report.json())
            case .markdown: console.out(report.markdown())
            }
            verdict = report.verdict
        }
        if verdict != .ready { throw ExitCode(verdict.rawValue) }
    }

    /// https://no-color.org: set and not empty.
    static var noColor: Bool { !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty }
}
