import ArgumentParser
import BlockProbe
import Foundation
import GuestFS
import GuestprepCore
import Journal

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what guestprep sees: the guest OS, its block devices and past runs.")

    @OptionGroup var guest: GuestOptions
    @Option(name: .long, help: "Output format.") var format: OutputFormat = .text

    struct Report: Encodable {
        var root: String
        var os: String?
        var devices: [BlockDevice]
        var runs: [RunSummary]
        var findings: [Finding]
    }

    func run() throws {
        try reportingErrors {
            let root = try guest.openRoot()
            let (devices, findings) = try guest.inventory(for: root)
            let report = Report(
                root: root.hostPath, os: try OSRelease.prettyName(in: root), devices: devices.devices,
                runs: try RunHistory.runs(in: root),
                findings: findings)
            let console = CommandEnvironment.console
            switch format {
            case .json:
                console.out(try renderJSON(report))
            case .text:
                var text = "Guest root: \(report.root)\nOS: \(report.os ?? "unknown (no os-release)")\n\nBlock devices:\n"
                if report.devices.isEmpty { text += "  (none probed)\n" }
                for device in report.devices {
                    text += "  \(device.name)  \(device.type ?? "-")  UUID=\(device.uuid ?? "-")"
                    if let label = device.label { text += "  LABEL=\(label)" }
                    text += "  [\(device.source)]"
                    if !device.aliases.isEmpty { text += " aka \(device.aliases.joined(separator: ", "))" }
                    if let problem = device.problem { text += "  ! \(problem)" }
                    text += "\n"
                }
                text += "\nRuns: \(report.runs.isEmpty ? "none" : "")\n"
                for run in report.runs { text += "  \(run.id)  \(run.state.rawValue)  \(run.files.joined(separator: ", "))\n" }
                for finding in report.findings { text += "\n\(finding.severity.rawValue): \(finding.message)\n" }
                console.out(text)
            }
        }
    }
}

/// PRETTY_NAME from the guest's os-release (os-release(5): /etc first, then /usr/lib).
enum OSRelease {
    static func prettyName(in root: GuestRoot) throws -> String? {
        for path: GuestPath in ["/etc/os-release", "/usr/lib/os-release"] {
            guard let file = try root.readFile(path) else { continue }
            for line in TextLines.split(file.contents) {
                let text = line.text
                guard text.hasPrefix("PRETTY_NAME=") else { continue }
                var value = text.dropFirst("PRETTY_NAME=".count)
                if let first = value.first, first == "\"" || first == "'", value.last == first, value.count >= 2 {
                    value = value.dropFirst().dropLast()
                }
                return String(value)
            }
        }
        return nil
    }
}
