import Apply
import BlockProbe
import CGuestprepShim
import Foundation
import GuestFS
import GuestprepCore
import Journal
import Planning
import Rules
import Testing

/// Apply and rollback through the journal, in process, on a fixture guest with a real disk.
@Suite("Journal, apply and rollback")
struct JournalTests {
    func planFor(_ guest: FixtureGuest) throws -> (GuestRoot, Plan) {
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)])
        let playbook = try Playbook.parse(
            try Support.read(Support.repository.appendingPathComponent("playbooks/default.yaml")), source: "default.yaml")
        return (root, try Planner.plan(root: root, devices: devices, playbook: playbook))
    }

    @Test("apply writes the plan; rollback restores bytes, mode, owner and xattrs exactly")
    func applyAndRollBack() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let fstab = guest.file("etc/fstab")
        #expect(chmod(fstab.path, 0o640) == 0)
        if Support.isRoot { #expect(chown(fstab.path, 123, 456) == 0) }
        let fd = open(fstab.path, O_RDONLY)
        let value = Array("kept".utf8)
        let hasXattr = guestprep_fsetxattr(fd, "user.guestprep", value, value.count) == 0
        close(fd)
        let original = try guest.snapshot()
        let originalMetadata = try #require(try GuestRoot(hostPath: guest.root.path).readFile("/etc/fstab")).metadata

        let (root, plan) = try planFor(guest)
        #expect(plan.changes.count == 3)
        let outcome = try Applier(root: root, tool: "test").apply(plan)
        #expect(outcome.files == 3)
        for change in plan.changes {
            let written = try #require(try root.readFile(change.path!))
            #expect(written.contents == change.proposed)
        }
        let applied = try #require(try root.readFile("/etc/fstab"))
        #expect(applied.metadata == originalMetadata, "apply must keep mode, owner and xattrs")
        if hasXattr { #expect(applied.metadata.xattrs.contains { $0.name == "user.guestprep" }) }
        #expect(try RunHistory.runs(in: root).map(\.state) == [.applied])

        // The journal directory is private.
        var info = stat()
        #expect(stat(guest.file("var/lib/guestprep/backups/\(outcome.runID)").path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)

        let rolledBack = try Rollback(root: root).rollBack(runID: outcome.runID, force: false)
        #expect(rolledBack.restored.count == 3)
        #expect(try guest.snapshot() == original)
        #expect(try root.readFile("/etc/fstab")?.metadata == originalMetadata)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.rolledBack])

        // Idempotent.
        let again = try Rollback(root: root).rollBack(runID: outcome.runID, force: false)
        #expect(!again.didWork)
        #expect(try guest.snapshot() == original)
    }

    @Test("rollback refuses a file changed since apply, touching nothing; --force restores it")
    func modifiedSinceApply() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let (root, plan) = try planFor(guest)
        let outcome = try Applier(root: root, tool: "test").apply(plan)
        try Support.write("edited by the admin\n", to: guest.file("etc/fstab"))
        let edited = try guest.snapshot()
        #expect { try Rollback(root: root).rollBack(runID: outcome.runID, force: false) } throws: {
            ($0 as? GuestprepError)?.code == .modifiedSinceApply && "\($0)".contains("/etc/fstab")
        }
        #expect(try guest.snapshot() == edited, "a refused rollback must change nothing")
        _ = try Rollback(root: root).rollBack(runID: outcome.runID, force: true)
        #expect(try guest.snapshot() == original)
    }

    @Test("a damaged backup is an error, never a silent skip")
    func damagedBackup() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let (root, plan) = try planFor(guest)
        let outcome = try Applier(root: root, tool: "test").apply(plan)
        try Support.write("garbage\n", to: guest.file("var/lib/guestprep/backups/\(outcome.runID)/files/1.orig"))
        let before = try guest.snapshot()
        #expect { try Rollback(root: root).rollBack(runID: outcome.runID, force: false) } throws: {
            ($0 as? GuestprepError)?.code == .journal
        }
        #expect(try guest.snapshot() == before, "backups are checked before anything is restored")
    }

    /// Passes while planning, fails on the bytes read back after writing.
    struct FailsAfterWriting: ChangeValidator {
        func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
            throw GuestprepError(.validation, "rejected on purpose", path: path)
        }
    }

    @Test("a validation failure after writing rolls the run back and says so")
    func validationFailureRollsBack() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        var (root, plan) = try planFor(guest)
        plan.changes[1].validators.append(FailsAfterWriting())
        #expect { try Applier(root: root, tool: "test").apply(plan) } throws: {
            "\($0)".contains("rolled back") && "\($0)".contains("rejected on purpose")
        }
        #expect(try guest.snapshot() == original)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.failedRolledBack])
    }

    @Test("one apply or rollback per guest at a time")
    func lock() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let (root, plan) = try planFor(guest)
        try root.makeDirectories(RunJournal.stateDirectory, mode: 0o700)
        let applied = try Applier(root: root, tool: "test").apply(plan)
        let held = try root.lockExclusively(RunJournal.lockFile, holder: "test")
        let other = try GuestRoot(hostPath: guest.root.path)
        #expect { try Applier(root: other, tool: "test").apply(plan) } throws: { ($0 as? GuestprepError)?.code == .locked }
        #expect { try Rollback(root: other).rollBack(runID: applied.runID, force: false) } throws: {
            ($0 as? GuestprepError)?.code == .locked && "\($0)".contains("test pid")
        }
        withExtendedLifetime(held) {}
    }

    @Test("a journal line cut short by a crash is ignored; damage elsewhere is an error")
    func damagedJournal() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let (root, plan) = try planFor(guest)
        let outcome = try Applier(root: root, tool: "test").apply(plan)
        let journal = guest.file("var/lib/guestprep/backups/\(outcome.runID)/journal.jsonl")
        let text = try Support.read(journal)
        try Support.write(text + "{\"type\":\"rest", to: journal)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.applied])
        // The next record does not glue onto the fragment: rollback works and reads back cleanly.
        _ = try Rollback(root: root).rollBack(runID: outcome.runID, force: false)
        #expect(try RunHistory.runs(in: root).map(\.state) == [.rolledBack])
        #expect(!(try Support.read(journal)).contains("\"rest{"))
        // A stray file beside the runs is not a run.
        try Support.write("notes\n", to: guest.file("var/lib/guestprep/backups/README"))
        #expect(try RunHistory.runs(in: root).count == 1)
        try Support.write("{not json}\n" + text, to: journal)
        // One damaged run is reported as such; it does not make the whole history unreadable.
        let damaged = try RunHistory.runs(in: root)
        #expect(damaged.map(\.state) == [.damaged])
        #expect(damaged.first?.problem?.contains("journal.jsonl:1:") == true)
        #expect { try Rollback(root: root).rollBack(runID: outcome.runID, force: true) } throws: {
            ($0 as? GuestprepError)?.code == .journal && ($0 as? GuestprepError)?.line == 1
        }
    }
}
