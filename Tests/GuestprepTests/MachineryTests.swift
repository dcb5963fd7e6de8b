import Apply
import BlockProbe
import Foundation
import GuestFS
import GuestFacts
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
    struct WritesFiles: TestRule {
        static let id = "test-writes-files"

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
    struct SeesEarlierRules: TestRule {
        static let id = "test-sees-earlier"

        func evaluate(in context: RuleContext) throws {
            #expect(try context.listDirectory("/etc/systemd/network") == ["10-test.link"])
            #expect(try context.listDirectory("/etc/udev/rules.d") == ["99-keep.rules"])
            #expect(try context.read("/etc/udev/rules.d/70-persistent-net.rules") == nil)
            let fstab = try #require(try context.read("/etc/fstab"))
            #expect(String(decoding: fstab.contents, as: UTF8.self).hasSuffix("# touched by test\n"))
        }
    }

    /// Asks for the initramfs rebuild first, with nothing written yet.
    struct RebuildsEarly: TestRule {
        static let id = "test-rebuilds-early"
        func evaluate(in context: RuleContext) throws {
            context.proposeCommand(
                CommandStep(argv: ["update-initramfs", "-u", "-k", "all"], effect: "rebuild", rewrites: ["/boot/initrd.img-1"]),
                rule: Self.id, reasons: ["early"])
        }
    }

    /// Writes the modules list, then asks for the same rebuild.
    struct WritesThenRebuilds: TestRule {
        static let id = "test-writes-then-rebuilds"
        func evaluate(in context: RuleContext) throws {
            try context.propose("/etc/initramfs-tools/modules", contents: Array("nvme\n".utf8), rule: Self.id, reasons: ["driver"])
            context.proposeCommand(
                CommandStep(argv: ["update-initramfs", "-u", "-k", "all"], effect: "rebuild", rewrites: ["/boot/initrd.img-2"]),
                rule: Self.id, reasons: ["late"])
        }
    }

    @Test("one command two rules need is planned once, after the files either rule writes, rewriting what both declared")
    func mergedCommandRunsLast() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let root = try GuestRoot(hostPath: guest.root.path)
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [
                .init(rule: RebuildsEarly(), ruleID: RebuildsEarly.id, line: 1),
                .init(rule: WritesThenRebuilds(), ruleID: WritesThenRebuilds.id, line: 2),
            ])
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook)
        let commands = plan.changes.filter { $0.kind == .runCommand }
        #expect(commands.count == 1)
        #expect(plan.changes.last?.kind == .runCommand, "the rebuild runs after the modules list is written")
        #expect(commands.first?.rules == [RebuildsEarly.id, WritesThenRebuilds.id])
        #expect(commands.first?.command?.rewrites == ["/boot/initrd.img-1", "/boot/initrd.img-2"])
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
        #expect(plan.changes.map(\.kind) == [.create, .delete, .modify])
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

    @Test("a file in a directory the guest lacks brings create-directory changes; rollback leaves no directory behind")
    func missingDirectory() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let root = try GuestRoot(hostPath: guest.root.path)
        let context = RuleContext(root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root))
        try context.propose("/etc/systemd/network/10-eth0.link", contents: Array("[Match]\n".utf8), rule: "t", reasons: [])
        #expect(context.changes.map(\.kind) == [.createDirectory, .createDirectory, .create])
        #expect(context.changes.map(\.path) == ["/etc/systemd", "/etc/systemd/network", "/etc/systemd/network/10-eth0.link"])
        #expect(try context.listDirectory("/etc/systemd") == ["network"])
        #expect(try context.read("/etc/systemd/network/10-eth0.link") != nil)

        // Withdrawing the file drops the directories made only for it.
        context.withdraw("/etc/systemd/network/10-eth0.link")
        #expect(context.changes.isEmpty)

        try context.propose("/etc/systemd/network/10-eth0.link", contents: Array("[Match]\n".utf8), rule: "t", reasons: [])
        let outcome = try Applier(root: root, tool: "test").apply(context.changes, playbook: "test")
        var info = stat()
        #expect(stat(guest.file("etc/systemd/network").path, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o755, "the family's mode, whatever the umask")
        #expect(try guest.read("etc/systemd/network/10-eth0.link") == "[Match]\n")
        _ = try Rollback(root: root).rollBack(runID: outcome.runID, force: false)
        #expect(!FileManager.default.fileExists(atPath: guest.file("etc/systemd").path))
        #expect(try guest.snapshot() == original)
    }

    @Test("a directory guestprep created is not removed once someone put files in it")
    func createdDirectoryInUse() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let root = try GuestRoot(hostPath: guest.root.path)
        let context = RuleContext(root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root))
        try context.proposeDirectory("/etc/guestprep-test.d", rule: "t", reasons: ["test"])
        let outcome = try Applier(root: root, tool: "test").apply(context.changes, playbook: "test")
        try Support.write("admin's\n", to: guest.file("etc/guestprep-test.d/mine.conf"))
        #expect { try Rollback(root: root).rollBack(runID: outcome.runID, force: false) } throws: {
            ($0 as? GuestprepError)?.code == .modifiedSinceApply
        }
        #expect(try guest.read("etc/guestprep-test.d/mine.conf") == "admin's\n")
    }

    /// Moves a file aside into a directory guestprep owns beside it.
    struct MovesAside: TestRule {
        static let id = "test-moves-aside"

        func evaluate(in context: RuleContext) throws {
            try context.proposeRenameAside(
                "/etc/sysconfig/network-scripts/ifcfg-eth0", to: "/etc/sysconfig/network-scripts/guestprep-aside/ifcfg-eth0",
                rule: Self.id, reasons: ["replaced by a keyfile"])
        }
    }

    @Test("rename-aside moves a file into a new directory; rollback moves it back and removes the directory")
    func renameAside() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write("DEVICE=eth0\nBOOTPROTO=dhcp\n", to: guest.file("etc/sysconfig/network-scripts/ifcfg-eth0"))
        let original = try guest.snapshot()
        let root = try GuestRoot(hostPath: guest.root.path)
        let plan = try Planner.plan(
            root: root, devices: DeviceInventory(devices: []),
            playbook: Playbook(name: "t", source: "t", steps: [.init(rule: MovesAside(), ruleID: MovesAside.id, line: 1)]))
        #expect(plan.changes.map(\.kind) == [.createDirectory, .renameAside])
        let outcome = try Applier(root: root, tool: "test").apply(plan)
        #expect(!FileManager.default.fileExists(atPath: guest.file("etc/sysconfig/network-scripts/ifcfg-eth0").path))
        #expect(try guest.read("etc/sysconfig/network-scripts/guestprep-aside/ifcfg-eth0") == "DEVICE=eth0\nBOOTPROTO=dhcp\n")
        _ = try Rollback(root: root).rollBack(runID: outcome.runID, force: false)
        #expect(try guest.snapshot() == original)
    }

    /// Inserts two lines at the top of fstab, above the lines the UUID rule rewrites.
    struct InsertsAbove: TestRule {
        static let id = "test-inserts-above"

        func evaluate(in context: RuleContext) throws {
            let fstab = try #require(try context.read("/etc/fstab"))
            try context.propose(
                "/etc/fstab", contents: Array("# first inserted line\n# second inserted line\n".utf8) + fstab.contents, rule: Self.id,
                reasons: ["header"])
        }
    }

    @Test("two rules edit one file, the second inserting lines above the first one's edits: both survive validation")
    func insertAboveAnotherRulesEdit() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)])
        let plan = try Planner.plan(
            root: root, devices: devices,
            playbook: Playbook(
                name: "t", source: "t",
                steps: [
                    .init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1),
                    .init(rule: InsertsAbove(), ruleID: InsertsAbove.id, line: 2),
                ]))
        #expect(plan.failures.isEmpty)
        #expect(!plan.findings.contains { $0.code == "plan.validation-failed" }, "\(plan.findings)")
        let fstab = try #require(plan.changes.first { $0.path == "/etc/fstab" })
        #expect(fstab.rules == [StableBlockDeviceReferences.id, InsertsAbove.id])
        _ = try Applier(root: root, tool: "test").apply(plan)
        let written = try guest.read("etc/fstab")
        #expect(written.hasPrefix("# first inserted line\n"))
        #expect(written.contains("UUID=\(FixtureGuest.rootUUID)"))
    }

    /// Fails half-way, after proposing a change.
    struct FailsHalfway: TestRule {
        static let id = "test-fails-halfway"

        func evaluate(in context: RuleContext) throws {
            try context.propose("/etc/half-done.conf", contents: [1], rule: Self.id, reasons: [])
            throw GuestprepError(.io, "could not read something", path: "/etc/x", cause: "Permission denied (errno 13)")
        }
    }

    @Test("a rule that throws becomes an error for that rule alone: its proposals are dropped, the others still run")
    func failingRuleIsolated() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)])
        let plan = try Planner.plan(
            root: root, devices: devices,
            playbook: Playbook(
                name: "t", source: "t",
                steps: [
                    .init(rule: FailsHalfway(), ruleID: FailsHalfway.id, line: 1),
                    .init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 2),
                ]))
        #expect(plan.failures.map(\.rule) == [FailsHalfway.id])
        #expect(plan.failures.first?.error.errorNumber == nil && plan.failures.first?.error.code == .io)
        #expect(!plan.changes.contains { $0.path == "/etc/half-done.conf" })
        #expect(plan.changes.contains { $0.path == "/etc/fstab" })
        #expect(plan.verdict == .error)
    }
}

/// Smaller behaviours of the machinery, each a regression test for something seen.
@Suite("Machinery details")
struct MachineryDetailTests {
    /// Registers a check over the planned set that always finds the set invalid.
    struct RegistersSetCheck: TestRule {
        struct NoLinkWithoutRule: ChangeSetValidator {
            let id = "test.link-needs-rule"
            func validate(_ files: PlannedFiles) throws {
                guard try files.contents("/etc/udev/rules.d/70-net.rules") != nil else {
                    throw GuestprepError(.validation, "a .link file was planned without its udev rule", path: "/etc/systemd/network")
                }
            }
        }
        static let id = "test-set-check"
        func evaluate(in context: RuleContext) throws {
            try context.propose("/etc/systemd/network/10-eth0.link", contents: Array("[Match]\n".utf8), rule: Self.id, reasons: [])
            context.addSetValidator(NoLinkWithoutRule())
            context.addSetValidator(NoLinkWithoutRule())
        }
    }

    @Test("a set validator runs once over the planned files; a set that is not valid is a blocker")
    func setValidator() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let plan = try Planner.plan(
            root: try GuestRoot(hostPath: guest.root.path), devices: DeviceInventory(devices: []),
            playbook: Playbook(name: "t", source: "t", steps: [.init(rule: RegistersSetCheck(), ruleID: RegistersSetCheck.id, line: 1)]))
        #expect(plan.findings.filter { $0.code == "plan.set-validation-failed" }.count == 1)
        #expect(plan.verdict == .blocked)
    }

    @Test("device paths inside mount options are reported with a code, as blockers unless the mount is optional")
    func deviceNamesInOptions() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write(
            try guest.read("etc/fstab")
                + "\nUUID=\(FixtureGuest.rootUUID) /data btrfs device=/dev/sdb2,device=/dev/sdc2 0 0\n/dev/sda1 /logs ext4 journal_path=/dev/sdd1,nofail 0 2\n",
            to: guest.file("etc/fstab"))
        let plan = try Planner.plan(
            root: try GuestRoot(hostPath: guest.root.path),
            devices: try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)]),
            playbook: Playbook(
                name: "t", source: "t",
                steps: [.init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1)]))
        let options = plan.findings.filter { $0.code == "fstab.option-device-name" }
        #expect(options.map(\.line) == [13, 13, 14])
        #expect(options.map(\.severity) == [.blocker, .blocker, .warning])
        #expect(options.first?.message.contains("device= of /data names /dev/sdb2") == true)
    }
}

@Suite("Probe failures are errors")
struct ProbeFailureTests {
    @Test("a referenced device that could not be read (EACCES) makes the rule fail, not a finding about the guest")
    func unreadableDevice() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        var devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)]).devices
        let index = try #require(devices.firstIndex { $0.name == "/dev/sda1" })
        devices[index] = BlockDevice(
            name: "/dev/sda1", source: "/dev/sda1", readFailure: "/dev/sda1: opening failed: Permission denied (errno 13)")
        let plan = try Planner.plan(
            root: try GuestRoot(hostPath: guest.root.path), devices: DeviceInventory(devices: devices),
            playbook: Playbook(
                name: "t", source: "t",
                steps: [.init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1)]))
        #expect(plan.verdict == .error)
        let failure = try #require(plan.failures.first)
        #expect(failure.error.code == .probe)
        #expect(failure.error.path == "/etc/fstab" && failure.error.line == 4)
        #expect(failure.error.cause?.contains("Permission denied") == true)
        #expect(!plan.findings.contains { $0.line == 4 })
    }
}

@Suite("Crash inside an atomic replace")
struct CrashInsideReplaceTests {
    @Test("a temporary file left by a replace killed mid-way goes with the rollback, even in a directory the run created")
    func temporaryInCreatedDirectory() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let root = try GuestRoot(hostPath: guest.root.path)
        let context = RuleContext(root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root))
        try context.propose("/etc/systemd/network/10-eth0.link", contents: Array("[Match]\n".utf8), rule: "t", reasons: [])
        let outcome = try Applier(root: root, tool: "test").apply(context.changes, playbook: "test")

        // The state a SIGKILL just before the rename leaves: step 3's intent is the last record,
        // the target does not exist yet, and its temporary file sits beside it.
        let journal = guest.file("var/lib/guestprep/backups/\(outcome.runID)/journal.jsonl")
        let lines = try Support.read(journal).split(separator: "\n").map(String.init)
        let lastIntent = try #require(lines.lastIndex { $0.contains("\"type\":\"intent\"") })
        try Support.write(lines[...lastIntent].joined(separator: "\n") + "\n", to: journal)
        try FileManager.default.removeItem(at: guest.file("etc/systemd/network/10-eth0.link"))
        try Support.write("[Match]\n", to: guest.file("etc/systemd/network/.10-eth0.link.guestprep-4242-17"))
        #expect(try RunHistory.runs(in: root).map(\.state) == [.interrupted])

        _ = try Rollback(root: root).rollBack(runID: outcome.runID, force: false)
        #expect(try guest.snapshot() == original)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.rolledBack])
    }
}
