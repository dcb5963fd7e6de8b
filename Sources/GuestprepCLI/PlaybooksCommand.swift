import ArgumentParser
import Foundation
import GuestprepCore
import Planning

struct PlaybooksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playbooks",
        abstract: "List the shipped playbooks: the default one, and one per destination platform (for --to).")

    @Option(name: .long, help: "Output format.") var format: OutputFormat = .text

    struct Entry: Encodable {
        var name: String
        var description: String
        var extends: String?
        var rules: [String]
        var destination: String?
    }

    func run() throws {
        try reportingErrors {
            let entries = try (["default"] + PlaybookLibrary.destinations).map { name in
                let playbook = try PlaybookLibrary.load(name)
                return Entry(
                    name: name,
                    description: (playbook.description ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
                        .trimmingCharacters(in: .whitespaces),
                    extends: playbook.parents.first?.reference, rules: playbook.steps.map(\.ruleID),
                    destination: playbook.destination?.platform)
            }
            let console = CommandEnvironment.console
            switch format {
            case .json: console.out(try renderJSON(entries))
            case .text:
                let width = entries.map(\.name.count).max() ?? 0
                for entry in entries {
                    console.show("\(entry.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.description)\n")
                }
                console.show(
                    "\nUse one with: guestprep check --to NAME (or plan/apply --to NAME); a playbook of your own can say 'extends: NAME'.\n"
                )
            }
        }
    }
}
