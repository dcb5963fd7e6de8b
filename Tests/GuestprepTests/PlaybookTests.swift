import Foundation
import GuestprepCore
import Planning
import Testing

@testable import GuestprepCLI

@Suite("Playbooks")
struct PlaybookTests {
    @Test("the built-in default is playbooks/default.yaml, byte for byte")
    func builtInMatchesShipped() throws {
        let shipped = Array(try Data(contentsOf: Support.repository.appendingPathComponent("playbooks/default.yaml")))
        #expect(PlaybookLibrary.builtIn["default"] == shipped)
        let playbook = try PlaybookLibrary.load("default")
        #expect(playbook.name == "default")
        #expect(
            playbook.steps.map(\.ruleID) == [
                "stable-block-device-references", "nic-mac-pinning", "dhcp-to-static", "media-repos", "kernel-prune", "boot-space",
                "bootloader", "firmware", "boot-config", "block-udev-rules", "vmware-hw-version",
                "lvm-identity", "multipath", "bootloader-device",
                "kernel-parameters", "cloud-init-identity", "data-disk-nofail",
                "guest-agent", "subscription", "repos-updated", "kernel-current", "network-map",
                "initramfs-drivers",
            ])
    }

    @Test("a rule listed twice is refused at its line")
    func duplicateRule() {
        let text = "name: x\nrules:\n  - rule: stable-block-device-references\n  - rule: stable-block-device-references\n"
        #expect { try Playbook.parse(text, source: "p.yaml") } throws: {
            let error = $0 as? GuestprepError
            return error?.code == .playbook && error?.line == 4 && error?.path == "p.yaml"
        }
    }

    /// Collects what a command prints, in place of the terminal.
    final class RecordingConsole: Console, @unchecked Sendable {
        var printed = ""
        func out(_ text: String) { printed += text }
        func err(_ text: String) { printed += text }
        var isInteractive: Bool { false }
        func readLine() -> String? { nil }
    }

    @Test("commands run in process through the real argument parser and a swapped console")
    func inProcess() throws {
        let directory = try Support.scratch("history")
        defer { Support.cleanUp(directory) }
        let console = RecordingConsole()
        try CommandEnvironment.$console.withValue(console) {
            var command = try GuestprepCommand.parseAsRoot(["history", "--root", directory.path])
            try command.run()
        }
        #expect(console.printed == "No runs recorded in this guest.\n")
    }
}
