import Apply
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import HostProcess
import Journal
import Planning
import Testing

@testable import GuestprepCLI
@testable import Rules

/// kernel-parameters, cloud-init-identity and data-disk-nofail against the golden cases under
/// `Fixtures/firstboot/<case>/`: each case's playbook.yaml (extending a shipped destination) is
/// planned with these three rules; findings, commands and the applied tree are compared with the
/// files beside it, then rollback must give the input back byte for byte.
@Suite("First boot on the destination")
struct FirstBootTests {
    static let folder = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/firstboot")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasSuffix(".md") }.sorted()
    static let rules: Set<String> = [KernelParameters.id, CloudInitIdentity.id, DataDiskNofail.id]

    struct Planned {
        var scratch: URL
        var guest: URL
        var root: GuestRoot
        var playbook: Playbook
        var plan: Plan

        init(_ name: String) throws {
            let directory = FirstBootTests.folder.appendingPathComponent(name)
            scratch = try Support.scratch("firstboot")
            guest = scratch.appendingPathComponent("root")
            try Support.must("cp", ["-a", directory.appendingPathComponent("input").path, guest.path])
            root = try GuestRoot(hostPath: guest.path)
            playbook = try PlaybookLibrary.load(directory.appendingPathComponent("playbook.yaml").path)
            playbook.steps = playbook.steps.filter { FirstBootTests.rules.contains($0.ruleID) }
            plan = try Self.plan(root, playbook)
        }

        static func plan(_ root: GuestRoot, _ playbook: Playbook) throws -> Plan {
            Planner.plan(root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook)
        }

        /// Findings as `severity code path:line`, then each command with its undo.
        var summary: String {
            var out = plan.findings.map { finding in
                let location = finding.location.map { $0.replacingOccurrences(of: guest.path, with: "") } ?? "-"
                return "\(finding.severity.rawValue) \(finding.code) \(location)\n"
            }.joined()
            for change in plan.changes {
                guard let command = change.command else { continue }
                out += "run \(command.argv.joined(separator: " | "))\n"
                out += "undo \(command.undo?.joined(separator: " | ") ?? "none: \(command.manualUndo ?? "")")\n"
            }
            return out
        }

        func cleanUp() { Support.cleanUp(scratch) }
    }

    @Test("golden case: findings and commands, applied tree, nothing left to do, rollback byte-identical", arguments: cases)
    func golden(_ name: String) throws {
        let directory = Self.folder.appendingPathComponent(name)
        let planned = try Planned(name)
        defer { planned.cleanUp() }
        #expect(planned.plan.failures.isEmpty, "\(name): \(planned.plan.failures)")
        #expect(!planned.plan.findings.contains { $0.code.hasPrefix("plan.") }, "\(name): \(planned.plan.findings)")

        let summaryFile = directory.appendingPathComponent("findings.txt")
        if NetworkFixtures.recording { try Data(planned.summary.utf8).write(to: summaryFile) }
        #expect(planned.summary == (try? String(contentsOf: summaryFile, encoding: .utf8)) ?? "", "\(name): findings")

        let before = try Support.snapshot(planned.guest, excluding: "var/lib/guestprep")
        let expectedDirectory = directory.appendingPathComponent("expected")
        // Commands need the guest's own tools; they are checked in findings.txt and run for real below.
        let files = planned.plan.changes.filter { $0.command == nil }
        if files.isEmpty {
            #expect(!FileManager.default.fileExists(atPath: expectedDirectory.path), "\(name): expected/ but no change planned")
            return
        }
        let outcome = try Applier(root: planned.root, tool: "test").apply(files, playbook: planned.plan.playbook)
        let after = try NetworkFixtures.tree(planned.guest).filter { !$0.key.hasPrefix("var/lib/guestprep") }
        if NetworkFixtures.recording { try NetworkFixtures.writeTree(after, to: expectedDirectory) }
        MediaRepositoriesTests.compare(after, try NetworkFixtures.tree(expectedDirectory), name)

        if let fstab = after["etc/fstab"], let original = try NetworkFixtures.tree(directory.appendingPathComponent("input"))["etc/fstab"] {
            // findmnt (libmount behind a command line) rejects no line it did not reject before.
            if let rejected = try MountTableTests.findmntRejectedLines(fstab) {
                #expect(rejected == (try MountTableTests.findmntRejectedLines(original) ?? []), "\(name): findmnt --verify")
            }
        }

        let again = try Planned.plan(planned.root, planned.playbook)
        #expect(again.changes.filter { $0.command == nil }.isEmpty, "\(name): \(again.changes.map(\.headline))")

        _ = try Rollback(root: planned.root).rollBack(runID: outcome.runID, force: false)
        #expect(try Support.snapshot(planned.guest, excluding: "var/lib/guestprep") == before, "\(name): rollback")
    }

    @Test("the codes and severities each case is for")
    func codes() throws {
        func codes(_ name: String, of rule: String? = nil) throws -> [String] {
            let planned = try Planned(name)
            defer { planned.cleanUp() }
            return planned.plan.findings.filter { rule == nil || $0.rule == rule }.map { "\($0.severity.rawValue) \($0.code)" }
        }
        #expect(try codes("no-destination-default-info-only").allSatisfy { $0.hasPrefix("info ") })
        #expect(try codes("fstab-data-disks-aws-report").filter { $0 == "warning fstab.no-nofail" }.count == 4)
        #expect(try codes("fstab-data-disks-aws-report").contains("info fstab.swap-no-nofail"))
        #expect(try codes("fstab-data-disks-vmware-not-a-cloud", of: DataDiskNofail.id).isEmpty)
        #expect(try codes("cloud-init-disabled-marker-vmware", of: CloudInitIdentity.id) == ["info cloud-init.disabled"])
        #expect(try codes("cloud-init-installed-not-enabled-vmware", of: CloudInitIdentity.id) == ["info cloud-init.not-enabled"])
        #expect(try codes("cloud-init-ssh-deletekeys-false-late-override-aws").contains("warning cloud-init.overridden"))
        #expect(try codes("rhel9-bls-no-grubby-openstack").contains("warning kernel-parameters.grubby-missing"))
        #expect(try codes("debian-grub-no-update-grub-bare-value-aws").contains("warning kernel-parameters.regenerate"))
    }

    @Test("what re-runs is named, and settings already there are not offered again")
    func reRunReport() throws {
        let planned = try Planned("cloud-init-ssh-deletekeys-false-late-override-aws")
        defer { planned.cleanUp() }
        let report = try #require(planned.plan.findings.first { $0.code == "cloud-init.new-instance" })
        #expect(report.message.contains("users_groups"))
        #expect(report.message.contains("scripts_user"))
        #expect(!report.message.contains("ssh (/etc/cloud"), "ssh_deletekeys: false keeps the host keys")
        #expect(!report.message.contains("set_passwords"), "[set_passwords, once] does not re-run")
        #expect(report.message.contains("datasource-list: [Ec2, None]"))
        #expect(!report.message.contains("keep-ssh-host-keys"))
        let overridden = try #require(planned.plan.findings.first { $0.code == "cloud-init.overridden" })
        #expect(overridden.location?.hasSuffix("/etc/cloud/cloud.cfg.d/99-site.cfg:2") == true)
    }

    @Test("single-valued keys are replaced, console= per device; the validator re-reads what is written")
    func parameterWords() throws {
        let wanted = ["console=ttyS0,115200n8", "nvme_core.io_timeout=4294967295"].map { KernelParameter(word: $0) }
        let line = TextLine(content: Array("console=tty0 console=ttyS0,9600 nvme_core.io_timeout=30 quiet".utf8), terminator: [])
        let edit = KernelCommandLineEdit(places: [line.fields()], wanted: wanted, why: { _ in "test" })
        #expect(edit.appended.isEmpty)
        let rewritten = KernelCommandLineEdit.apply(edit.replacements, to: line)
        #expect(rewritten.text == "console=tty0 console=ttyS0,115200n8 nvme_core.io_timeout=4294967295 quiet")
        #expect(KernelCommandLineEdit.unmet(wanted, in: rewritten.fields().map(\.text)) == nil)
        // A later GRUB_CMDLINE_LINUX_DEFAULT value would win: it is replaced there.
        let validator = KernelParametersValidator(wanted: wanted, place: .defaultGrub)
        let stale =
            "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200n8 nvme_core.io_timeout=4294967295\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"nvme_core.io_timeout=30\"\n"
        #expect(throws: GuestprepError.self) { try validator.validate(proposed: Array(stale.utf8), original: nil, path: "grub") }
        #expect(KernelParameter.check("a b") != nil && KernelParameter.check("x=$(reboot)") != nil)
    }

    @Test("bad parameters are playbook errors with file and line")
    func badParameters() throws {
        let directory = try Support.scratch("firstboot-bad")
        defer { Support.cleanUp(directory) }
        for (with, words) in [
            ("add: [\"quiet splash\"]", "holds"), ("datasource-list: [\"Ec2;\"]", "datasource name"),
            ("add-nofail: maybe", "must be one of"),
        ] {
            let rule = with.hasPrefix("add:") ? "kernel-parameters" : with.hasPrefix("data") ? "cloud-init-identity" : "data-disk-nofail"
            let file = directory.appendingPathComponent("p.yaml")
            try Support.write("name: p\nrules:\n  - rule: \(rule)\n    with:\n      \(with)\n", to: file)
            do {
                _ = try PlaybookLibrary.load(file.path)
                Issue.record("\(with) was accepted")
            } catch let error as GuestprepError {
                #expect(error.code == .playbook && error.line == 5 && error.message.contains(words), "\(error)")
            }
        }
    }
}

/// grubby run for real in the chrooted guest: a stub that records its arguments stands in for it.
@Suite(
    "kernel-parameters through the chroot executor",
    .enabled(if: Support.isRoot && PhonyGuest.available, "needs root (namespaces, mounts) and busybox-static (make deps installs it)"))
struct KernelParametersCommandTests {
    @Test("grubby runs with the planned arguments; rollback runs its undo and restores the files")
    func grubbyRunsAndUndoes() throws {
        let guest = try PhonyGuest("grubby")
        defer { Support.cleanUp(guest.top) }
        let input = FirstBootTests.folder.appendingPathComponent("rhel9-bls-grubby-kernel-cmdline-aws/input")
        try Support.must("cp", ["-a", input.path + "/.", guest.root.path])
        try Support.write(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> /var/log/grubby-calls; done\necho -- >> /var/log/grubby-calls\n",
            to: guest.root.appendingPathComponent("usr/sbin/grubby"))
        try Support.must("chmod", ["755", guest.root.appendingPathComponent("usr/sbin/grubby").path])
        try FileManager.default.createDirectory(at: guest.root.appendingPathComponent("var/log"), withIntermediateDirectories: true)
        let root = try GuestRoot(hostPath: guest.root.path)
        var playbook = try PlaybookLibrary.load("aws")
        playbook.steps = [.init(rule: KernelParameters(), ruleID: KernelParameters.id, line: 1)]
        let plan = try FirstBootTests.Planned.plan(root, playbook)
        #expect(plan.changes.map(\.kind) == [.modify, .runCommand, .modify])
        let before = try Support.snapshot(guest.root, excluding: "var/lib/guestprep")
        let outcome = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        let calls = "--update-kernel=ALL\n--args=console=tty0 console=ttyS0,115200n8 nvme_core.io_timeout=4294967295\n--\n"
        #expect(try Support.read(guest.root.appendingPathComponent("var/log/grubby-calls")) == calls)
        _ = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        let undone = "--update-kernel=ALL\n--remove-args=console=ttyS0,115200n8 nvme_core.io_timeout=4294967295\n--args=console=tty0\n--\n"
        #expect(try Support.read(guest.root.appendingPathComponent("var/log/grubby-calls")) == calls + undone)
        var after = try Support.snapshot(guest.root, excluding: "var/lib/guestprep")
        after["var/log/grubby-calls"] = nil
        #expect(after == before.filter { $0.key != "var/log/grubby-calls" })
        #expect(try guest.hostMounts().isEmpty)
    }
}
