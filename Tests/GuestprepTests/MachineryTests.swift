import BlockProbe
import Foundation
import GuestFS
import GuestprepCore
import Journal
import Planning
import Rules
import Testing

/// The machinery every later remediation relies on: a rule that creates, modifies and deletes
/// files, two rules editing one file, all through plan, journal, apply and rollback.
@Suite("Rule machinery")
struct MachineryTests {
    /// Creates a .link file, deletes an old rules file and appends to fstab.
    struct WritesFiles: Rule {
        static let id = "test-writes-files"
        static let summary = "test rule"
        static let parameterNames: [String] = []
        init(parameters: RuleParameters) {}
        init() {}

        func evaluate(in context: RuleContext) throws {
            try context.propose(
                "/etc/systemd/network/10-test.link", contents: Array("[Match]\nMACAddress=52:54:00:12:34:56\n".utf8),
                rule: Self.id, reasons: ["pin the name"])
            try context.proposeDeletion("/etc/udev/rules.d/70-persistent-net.rules", rule: Self.id, reasons: ["stale"])
            let fstab = try #require(try context.read("/etc/fstab"))
            try context.propose(
                "/etc/fstab", contents: fstab.contents + Array("\n# touched by test\n".utf8), rule: Self.id, reasons: ["note"])
        }
    }

    /// Sees what the first rule proposed.
    struct SeesEarlierRules: Rule {
        static let id = "test-sees-earlier"
        static let summary = "test rule"
        static let parameterNames: [String] = []
        init(parameters: RuleParameters) {}
        init() {}

        func evaluate(in context: RuleContext) throws {
            #expect(try context.listDirectory("/etc/systemd/network") == ["10-test.link"])
            #expect(try context.listDirectory("/etc/udev/rules.d") == ["99-keep.rules"])
            #expect(try context.read("/etc/udev/rules.d/70-persistent-net.rules") == nil)
            let fstab = try #require(try context.read("/etc/fstab"))
            #expect(String(decoding: fstab.contents, as: UTF8.self).hasSuffix("# touched by test\n"))
        }
    }

    @Test("create, modify and delete go through plan, apply and rollback, and rules see each other's proposals")
    func createModifyDelete() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try FileManager.default.createDirectory(at: guest.file("etc/systemd/network"), withIntermediateDirectories: true)
        try Support.write("SUBSYSTEM==\"net\", NAME=\"eth0\"\n", to: guest.file("etc/udev/rules.d/70-persistent-net.rules"))
        try Support.write("# keep\n", to: guest.file("etc/udev/rules.d/99-keep.rules"))
        let original = try guest.snapshot()

        let root = try GuestRoot(hostPath: guest.root.path)
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [
                .init(rule: WritesFiles(), ruleID: WritesFiles.id, line: 1),
                .init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 2),
                .init(rule: SeesEarlierRules(), ruleID: SeesEarlierRules.id, line: 3),
            ])
        let devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)])
        let plan = try Planner.plan(root: root, devices: devices, playbook: playbook)
        #expect(plan.changes.map(\.action) == [.create, .delete, .modify])
        let fstab = try #require(plan.changes.first { $0.path == "/etc/fstab" })
        #expect(fstab.rules == [WritesFiles.id, StableBlockDeviceReferences.id])
        #expect(
            plan.changes[0].diff(label: "/etc/systemd/network/10-test.link").hasPrefix(
                "--- /dev/null\n+++ b/etc/systemd/network/10-test.link\n"))
        #expect(plan.changes[1].diff(label: "/x").contains("+++ /dev/null"))

        _ = try Applier(root: root, tool: "test").apply(plan)
        #expect(try guest.read("etc/systemd/network/10-test.link").contains("MACAddress"))
        #expect(!FileManager.default.fileExists(atPath: guest.file("etc/udev/rules.d/70-persistent-net.rules").path))
        #expect(try guest.read("etc/fstab").contains("UUID=\(FixtureGuest.rootUUID)"))
        #expect(try guest.read("etc/fstab").hasSuffix("# touched by test\n"))

        let run = try #require(try RunHistory.runs(in: root).last)
        _ = try Rollback(root: root).rollBack(runID: run.id, force: false)
        #expect(try guest.snapshot() == original)
    }

    @Test("a file cannot be proposed in a directory the guest lacks")
    func missingDirectory() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let context = RuleContext(root: try GuestRoot(hostPath: guest.root.path), devices: DeviceInventory(devices: []))
        #expect { try context.propose("/etc/nowhere/x.conf", contents: [1], rule: "t", reasons: []) } throws: {
            ($0 as? GuestprepError)?.code == .refused
        }
    }
}
