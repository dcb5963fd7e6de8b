import Foundation
import GuestprepCore
import Planning
import Rules
import Testing

/// `guestprep check`: the readiness report in its three formats and its exit status per verdict.
@Suite("Readiness report")
struct ReadinessReportTests {
    func snapshot(_ actual: String, _ name: String) throws {
        try SnapshotTests().assertSnapshot(actual, named: name)
    }

    @Test("check --to aws on the fixture guest: text, JSON and Markdown snapshots; changes pending exits 2")
    func formats() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let base = ["check", "--to", "aws", "--nic", "ens3=52:54:00:12:34:56"] + guest.arguments
        for (format, file) in [("text", "check-aws.txt"), ("json", "check-aws.json"), ("markdown", "check-aws.md")] {
            let result = try Support.guestprep(base + ["--format", format])
            #expect(result.status == 2, "\(format): \(result.stderr)")
            try snapshot(result.stdout.replacingOccurrences(of: guest.root.path, with: "<ROOT>"), file)
        }
        let text = try Support.guestprep(base)
        #expect(text.stdout.hasPrefix("CHANGES PENDING: "))
        #expect(!text.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
        let json = try JSONSerialization.jsonObject(with: Data(try Support.guestprep(base + ["--format", "json"]).stdout.utf8))
        let document = try #require(json as? [String: Any])
        #expect(document["format"] as? String == "guestprep-check/1")
        #expect(document["exit_status"] as? Int == 2 && document["verdict"] as? String == "changes-pending")
    }

    @Test("the exit status is the verdict: ready 0, blocked 3, error 1")
    func verdicts() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let applied = try Support.guestprep(["apply", "--yes"] + guest.arguments)
        #expect(applied.status == 0, "\(applied.stdout)")
        let ready = try Support.guestprep(["check"] + guest.arguments)
        #expect(ready.status == 0, "\(ready.stdout)")
        #expect(ready.stdout.hasPrefix("READY"))

        // Without its disk the fstab devices cannot be probed: blockers.
        try guest.reset()
        let blocked = try Support.guestprep(["check", "--root", guest.root.path])
        #expect(blocked.status == 3, "\(blocked.stdout)")
        #expect(blocked.stdout.hasPrefix("BLOCKED: "))

        let failed = try Support.guestprep(
            ["check"] + guest.arguments, environment: ["GUESTPREP_FAULT_FAIL_AT": "plan-validation"])
        #expect(failed.status == 1)
        #expect(failed.stdout.hasPrefix("ERROR: "))
    }

    @Test("colour on a terminal, none with NO_COLOR; guest text is escaped before colour is added")
    func colour() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let coloured = try runWithTerminalOutput(["check"] + guest.arguments, environment: [:])
        #expect(coloured.contains("\u{1B}[1;33mCHANGES PENDING: "))
        let plain = try runWithTerminalOutput(["check"] + guest.arguments, environment: ["NO_COLOR": "1"])
        #expect(plain.hasPrefix("CHANGES PENDING: ") && !plain.contains("\u{1B}["))

        let plan = Plan(
            root: "/g", playbook: "t",
            findings: [Finding(rule: "r", code: "c", severity: .warning, message: "evil \u{1B}[2J name", path: "/etc/x\u{1B}]0;t\u{07}")],
            changes: [])
        let report = ReadinessReport(plan: plan).text(color: true)
        #expect(!report.contains("\u{1B}[2J") && !report.contains("\u{1B}]0;"))
        #expect(report.contains("\u{1B}[1;33mREADY WITH WARNINGS\u{1B}[0m"))
        let markdown = ReadinessReport(plan: plan).markdown()
        #expect(markdown.contains("| r | `c` |") && !markdown.contains("\u{1B}"))
    }

    /// Runs guestprep with a pseudo-terminal as stdout, so it sees a terminal there.
    func runWithTerminalOutput(_ arguments: [String], environment: [String: String]) throws -> String {
        let terminal = try PseudoTerminal()
        defer { terminal.closeMaster() }
        let master = terminal.master
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Support.binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "NO_COLOR" }.merging(environment) { $1 }
        process.standardOutput = terminal.slaveHandle
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        // The terminal holds what was written until it is read; a pty turns \n into \r\n.
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
        while true {
            let count = read(master, &buffer, buffer.count)
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        return String(decoding: output, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }
}
