import ArgumentParser
import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import LinkProbe

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what guestprep sees: the guest OS and its facts, its block devices and past runs.")

    @OptionGroup var guest: GuestOptions
    @Option(name: .long, help: "Output format.") var format: OutputFormat = .text

    struct Report: Encodable {
        var root: String
        var os: String?
        var family: String
        var initSystem: String
        var networkStacks: [String]
        var bootloaderFiles: [String]
        var kernels: [String]
        var devices: [BlockDevice]
        /// The running system's network links (live inspection only).
        var links: [NetworkLink]?
        var runs: [RunSummary]
        var findings: [Finding]

        enum CodingKeys: String, CodingKey {
            case root, os, family, devices, links, runs, findings, kernels
            case initSystem = "init_system"
            case networkStacks = "network_stacks"
            case bootloaderFiles = "bootloader_files"
        }
    }

    func run() throws {
        try reportingErrors {
            let (root, facts) = try guest.openGuest()
            let (devices, findings) = try guest.inventory(for: root)
            let report = Report(
                root: root.hostPath, os: facts.os?.prettyName ?? facts.os?.id, family: facts.family.rawValue,
                initSystem: facts.initSystem.rawValue, networkStacks: facts.networkStacks.map(\.rawValue),
                bootloaderFiles: facts.bootloaderFiles.map(\.description), kernels: facts.kernels.kernels.map(\.description),
                devices: devices.devices, links: root.isLive ? try LiveLinkProbe.links() : nil, runs: try RunHistory.runs(in: root),
                findings: findings)
            let console = CommandEnvironment.console
            switch format {
            case .json:
                console.out(try renderJSON(report))
            case .text:
                var text =
                    "Guest root: \(report.root)\nOS: \(report.os ?? "unknown") (family \(report.family), init \(report.initSystem))\n"
                text +=
                    "Network configuration: \(report.networkStacks.isEmpty ? "none found" : report.networkStacks.joined(separator: ", "))\n"
                text += "Kernels: \(report.kernels.isEmpty ? "none in /boot" : report.kernels.joined(separator: ", "))\n"
                text += "\nBlock devices:\n"
                if report.devices.isEmpty { text += "  (none probed)\n" }
                for device in report.devices {
                    text += "  \(device.name)  \(device.type ?? "-")  UUID=\(device.uuid ?? "-")"
                    if let label = device.label { text += "  LABEL=\(label)" }
                    text += "  [\(device.source)]"
                    if !device.aliases.isEmpty { text += " aka \(device.aliases.joined(separator: ", "))" }
                    if let problem = device.problem { text += "  ! \(problem)" }
                    text += "\n"
                }
                if let links = report.links {
                    text += "\nNetwork links:\n"
                    for link in links {
                        text += "  \(link.name)  \(link.kind.rawValue)  \(link.mac?.description ?? "-")"
                        if let permanent = link.permanentMAC, permanent != link.mac { text += " (permanent \(permanent))" }
                        if let driver = link.driver { text += "  driver \(driver)" }
                        if let bus = link.bus { text += "  on \(bus)" }
                        if let master = link.master { text += "  port of \(master)" }
                        text += "\n"
                    }
                }
                text += "\nRuns: \(report.runs.isEmpty ? "none" : "")\n"
                for run in report.runs {
                    text += "  \(run.id)  \(run.state.rawValue)  \(run.problem ?? run.files.joined(separator: ", "))\n"
                }
                for finding in report.findings { text += "\n\(finding.severity.rawValue): \(finding.message) [\(finding.code)]\n" }
                console.show(text)
            }
        }
    }
}
