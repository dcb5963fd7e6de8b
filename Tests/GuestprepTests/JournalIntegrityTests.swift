import Apply
import BlockProbe
import Foundation
import GuestFS
import GuestprepCore
import Journal
import Planning
import Testing

/// A journal may be edited, cut short or deleted; rollback acts only on one that tells a single
/// consistent story, and refuses with the guest untouched otherwise.
@Suite("Journal integrity")
struct JournalIntegrityTests {
    /// Applies the default playbook to a fresh fixture guest; returns the guest, its root and run.
    func appliedGuest() throws -> (FixtureGuest, GuestRoot, String) {
        let guest = try FixtureGuest()
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)])
        let playbook = try Playbook.parse(
            try Support.read(Support.repository.appendingPathComponent("playbooks/default.yaml")), source: "default.yaml")
        let plan = try Planner.plan(root: root, devices: devices, playbook: playbook)
        let outcome = try Applier(root: root, tool: "test").apply(plan)
        return (guest, root, outcome.runID)
    }

    func journalURL(_ guest: FixtureGuest, _ run: String) -> URL {
        guest.file("var/lib/guestprep/backups/\(run)/journal.jsonl")
    }

    /// Tampers with the journal, then expects rollback to refuse and leave every file as it was.
    func expectRefused(_ name: String, tamper: (URL) throws -> Void) throws {
        let (guest, root, run) = try appliedGuest()
        defer { guest.cleanUp() }
        let journal = journalURL(guest, run)
        try tamper(journal)
        let before = try Support.snapshot(guest.root, excluding: "var/lib/guestprep/lock")
        #expect(throws: GuestprepError.self, "\(name): rollback must refuse") {
            try Rollback(root: root).rollBack(runID: run, force: true)
        }
        #expect(try Support.snapshot(guest.root, excluding: "var/lib/guestprep/lock") == before, "\(name): nothing may be written")
        let runs = try RunHistory.runs(in: root)
        #expect(runs.count == 1, "\(name): the damaged run is still listed")
        #expect(runs.first?.state == .damaged || runs.first?.state == .interrupted, "\(name): \(runs)")
    }

    func lines(_ url: URL) throws -> [String] {
        try Support.read(url).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func write(_ lines: [String], to url: URL) throws {
        try Support.write(lines.joined(separator: "\n"), to: url)
    }

    @Test("a repeated step number is refused (it once restored one file's backup over another)")
    func repeatedStep() throws {
        try expectRefused("repeated step") { url in
            var records = try lines(url)
            // Line 4 is the intent of step 2: claim it is step 1 again.
            let index = try #require(records.firstIndex { $0.contains("\"type\":\"intent\"") && $0.contains("\"step\":2") })
            records[index] = records[index].replacingOccurrences(of: "\"step\":2", with: "\"step\":1")
            try write(records, to: url)
        }
    }

    @Test("a journal cut short after its first step is refused: the other files hold what later steps wrote")
    func truncated() throws {
        try expectRefused("truncated") { url in
            let records = try lines(url)
            try write(Array(records.prefix(3)) + [""], to: url)
        }
    }

    @Test("an emptied journal is refused")
    func emptied() throws {
        try expectRefused("emptied") { url in try Support.write("", to: url) }
    }

    @Test("a deleted journal is refused")
    func deleted() throws {
        try expectRefused("deleted") { url in try FileManager.default.removeItem(at: url) }
    }

    @Test("a backup path outside the run's files/ is refused, in the manifest or the intent")
    func foreignBackupPath() throws {
        try expectRefused("foreign backup") { url in
            let text = try Support.read(url).replacingOccurrences(of: "files/1.orig", with: "../../../../etc/shadow")
            try Support.write(text, to: url)
        }
    }

    @Test("a mode beyond 07777 is refused")
    func badMode() throws {
        try expectRefused("mode") { url in
            var records = try lines(url)
            let index = try #require(records.firstIndex { $0.contains("\"type\":\"intent\"") })
            records[index] = records[index].replacingOccurrences(of: "\"mode\":420", with: "\"mode\":99999")
            try #require(records[index].contains("99999"))
            try write(records, to: url)
        }
    }

    @Test("one damaged run does not stop plan: it is a blocker finding, and apply refuses on top of it")
    func damagedRunInPlan() throws {
        let (guest, _, run) = try appliedGuest()
        defer { guest.cleanUp() }
        try Support.write("", to: journalURL(guest, run))
        let plan = try Support.guestprep(["plan"] + guest.arguments + ["--detailed-exitcode"])
        #expect(plan.status == 3, "\(plan.stderr)")
        #expect(plan.stdout.contains("[journal.damaged]"))
        let history = try Support.guestprep(["history", "--root", guest.root.path])
        #expect(history.status == 0)
        #expect(history.stdout.contains("damaged"))
        let apply = try Support.guestprep(["apply"] + guest.arguments + ["--yes"])
        #expect(apply.status == 1)
        #expect(apply.stderr.contains("is damaged"))
    }

    @Test("an unfinished run whose lock is held elsewhere is running, not interrupted")
    func runningIsNotInterrupted() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let killed = try Support.guestprep(
            ["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_KILL_AFTER_STEP": "3"])
        #expect(killed.status == 9)
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.interrupted])
        let lock = try root.lockExclusively(RunJournal.lockFile, holder: "test")
        #expect(try RunHistory.runs(in: root).map(\.state) == [.running])
        let plan = try Support.guestprep(["plan"] + guest.arguments)
        #expect(plan.stdout.contains("in progress in another guestprep"))
        #expect(!plan.stdout.contains("was interrupted"))
        withExtendedLifetime(lock) {}
    }

    @Test("a failure at the very first journal write leaves no run behind; a crash there is cleaned up by the next apply")
    func firstWriteFails() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let failed = try Support.guestprep(
            ["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_FAIL_AFTER_STEP": "1"])
        #expect(failed.status == 1)
        let backups = guest.file("var/lib/guestprep/backups").path
        #expect(try FileManager.default.contentsOfDirectory(atPath: backups).isEmpty)
        #expect(try guest.snapshot() == original)

        let killed = try Support.guestprep(
            ["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_KILL_AFTER_STEP": "1"])
        #expect(killed.status == 9)
        #expect(try FileManager.default.contentsOfDirectory(atPath: backups).allSatisfy { $0.hasPrefix(".") && $0.hasSuffix(".new") })
        #expect(try Support.guestprep(["history", "--root", guest.root.path]).stdout.contains("No runs"))
        #expect(try Support.guestprep(["apply"] + guest.arguments + ["--yes"]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: backups).allSatisfy { !$0.hasPrefix(".") })
    }
}

@Suite("A full disk", .enabled(if: Support.isRoot, "needs root to mount a small tmpfs"))
struct FullDiskTests {
    @Test("ENOSPC at the very first journal write: exit 1, no half-created run, the guest as it was")
    func noSpaceForTheJournal() throws {
        let scratch = try Support.scratch("full-disk")
        defer { Support.cleanUp(scratch) }
        let mountPoint = scratch.appendingPathComponent("fs")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        try Support.must("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint.path])
        defer { _ = try? Support.run("umount", [mountPoint.path]) }
        let fixture = try FixtureGuest()
        defer { fixture.cleanUp() }
        let root = mountPoint.appendingPathComponent("root")
        try Support.must("cp", ["-a", FixtureGuest.fixture("debian-sda-gpt").path, root.path])
        // Fill the filesystem: directories can still be made, but no file can get a byte.
        _ = try Support.run("dd", ["if=/dev/zero", "of=\(mountPoint.path)/filler", "bs=4k"])
        let before = try Support.snapshot(root)
        let arguments = ["--root", root.path, "--disk", "sda=\(fixture.disk.path)"]
        let result = try Support.guestprep(["apply"] + arguments + ["--yes"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("No space left on device"), "\(result.stderr)")
        let backups = root.appendingPathComponent("var/lib/guestprep/backups").path
        let left = (try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []
        #expect(left.isEmpty, "no run and no staging directory: \(left)")
        #expect(try Support.snapshot(root, excluding: "var/lib/guestprep") == before.filter { !$0.key.hasPrefix("var") })

        try FileManager.default.removeItem(atPath: "\(mountPoint.path)/filler")
        #expect(try Support.guestprep(["apply"] + arguments + ["--yes"]).status == 0)
    }
}

@Suite("Journal integrity, continued")
struct JournalIntegrityMoreTests {
    @Test("a run written by guestprep 0.1 (no manifest) stays readable and can be rolled back")
    func legacyRun() throws {
        let (guest, root, run) = try JournalIntegrityTests().appliedGuest()
        defer { guest.cleanUp() }
        let original = FixtureGuest.fixture("debian-sda-gpt")
        let url = JournalIntegrityTests().journalURL(guest, run)
        var records = try JournalIntegrityTests().lines(url)
        var begin = try #require(try JSONSerialization.jsonObject(with: Data(records[0].utf8)) as? [String: Any])
        begin["manifest"] = nil
        begin["tool"] = "guestprep 0.1.0"
        records[0] = String(decoding: try JSONSerialization.data(withJSONObject: begin, options: [.sortedKeys]), as: UTF8.self)
        try JournalIntegrityTests().write(records, to: url)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.applied])
        _ = try Rollback(root: root).rollBack(runID: run, force: false)
        #expect(try Support.snapshot(guest.root.appendingPathComponent("etc")) == Support.snapshot(original.appendingPathComponent("etc")))
    }

    @Test("an action guestprep never writes makes the run damaged, not applied")
    func unknownAction() throws {
        let (guest, root, run) = try JournalIntegrityTests().appliedGuest()
        defer { guest.cleanUp() }
        let url = JournalIntegrityTests().journalURL(guest, run)
        try Support.write(
            try Support.read(url).replacingOccurrences(of: "\"action\":\"modify\"", with: "\"action\":\"format-disk\""), to: url)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.damaged])
    }

    @Test("a journal cut short shows as damaged in history, with what is wrong")
    func truncatedIsDamaged() throws {
        let (guest, root, run) = try JournalIntegrityTests().appliedGuest()
        defer { guest.cleanUp() }
        let url = JournalIntegrityTests().journalURL(guest, run)
        try JournalIntegrityTests().write(Array(try JournalIntegrityTests().lines(url).prefix(3)) + [""], to: url)
        let runs = try RunHistory.runs(in: root)
        #expect(runs.map(\.state) == [.damaged])
        #expect(runs.first?.problem?.contains("cut short") == true)
    }

    @Test("a symlink planted where a staging directory would be is left alone by the clean-up")
    func stagingSymlink() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let victim = guest.directory.appendingPathComponent("victim")
        try FileManager.default.createDirectory(at: victim.appendingPathComponent("files"), withIntermediateDirectories: true)
        let backups = guest.file("var/lib/guestprep/backups")
        try FileManager.default.createDirectory(at: backups, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: backups.appendingPathComponent(".20261130T000000Z-abcd.new").path, withDestinationPath: victim.path)
        #expect(try Support.guestprep(["apply"] + guest.arguments + ["--yes"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: victim.appendingPathComponent("files").path))
    }
}
