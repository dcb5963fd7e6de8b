import ArgumentParser
import Foundation
import GuestprepCore
import Journal

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List the runs recorded in the guest's journal: id, time, state, files.")

    @Option(name: .long, help: ArgumentHelp("The guest's root directory.", valueName: "DIR"))
    var root: String = "/"

    @Option(name: .long, help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try reportingErrors {
            let guest = try GuestOptions.parse(["--root", root]).openRoot()
            let runs = try RunHistory.runs(in: guest)
            let console = CommandEnvironment.console
            switch format {
            case .json:
                console.out(try renderJSON(runs))
            case .text:
                if runs.isEmpty {
                    console.show("No runs recorded in this guest.\n")
                    return
                }
                for run in runs {
                    let detail = run.problem ?? run.files.joined(separator: ", ")
                    console.show(
                        "\(run.id)  \(run.started)  \(run.state.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0))  \(detail)\n")
                }
            }
        }
    }
}
