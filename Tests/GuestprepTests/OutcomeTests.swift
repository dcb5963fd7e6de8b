import Foundation
import Testing

/// Exit statuses and verdicts that tell the truth: 0 ready, 2 changes pending, 3 blockers, 1 error.
@Suite("Outcomes and exit codes")
struct OutcomeTests {
    @Test("plan --detailed-exitcode: 2 with changes pending, 0 once applied, 3 with blockers, 1 on error")
    func planExitCodes() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let pending = try Support.guestprep(["plan"] + guest.arguments + ["--detailed-exitcode"])
        #expect(pending.status == 2, "\(pending.stderr)")
        #expect(pending.stdout.hasSuffix("Verdict: changes pending\n"))
        #expect(try Support.guestprep(["plan"] + guest.arguments).status == 0, "plain plan succeeds whatever it found")

        let applied = try Support.guestprep(["apply"] + guest.arguments + ["--yes"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.hasSuffix("Verdict: ready\n"))
        #expect(try Support.guestprep(["plan"] + guest.arguments + ["--detailed-exitcode"]).status == 0)

        // A second disk the guest mounts, unprobed and not optional: a blocker.
        try Support.write(try guest.read("etc/fstab") + "\n/dev/sdb1 /data ext4 defaults 0 2\n", to: guest.file("etc/fstab"))
        let blocked = try Support.guestprep(["plan"] + guest.arguments + ["--detailed-exitcode"])
        #expect(blocked.status == 3)
        #expect(blocked.stdout.contains("[fstab.not-probed]"))
        #expect(blocked.stdout.hasSuffix("Verdict: 1 blocker remains: /etc/fstab:13 (fstab.not-probed)\n"), "\(blocked.stdout)")
    }

    @Test("apply applies what is safe, then exits 3 with the blockers as its last line")
    func applyWithBlockers() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write(try guest.read("etc/fstab") + "\n/dev/sdb1 /data ext4 defaults 0 2\n", to: guest.file("etc/fstab"))
        let result = try Support.guestprep(["apply"] + guest.arguments + ["--yes"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(try guest.read("etc/fstab").contains("UUID=\(FixtureGuest.rootUUID)"), "the safe changes are applied")
        #expect(result.stdout.hasSuffix("Verdict: 1 blocker remains: /etc/fstab:13 (fstab.not-probed)\n"))
        #expect(result.stderr.contains("guestprep: applied run "), "the run id reaches stderr too")
    }

    @Test("a failure to validate is an error (exit 1) with the guest unchanged, never 'no changes'")
    func validationFailureIsAnError() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let plan = try Support.guestprep(
            ["plan"] + guest.arguments + ["--detailed-exitcode"], environment: ["GUESTPREP_FAULT_FAIL_AT": "plan-validation"])
        #expect(plan.status == 1)
        #expect(plan.stdout.contains("injected failure at plan-validation"))
        #expect(!plan.stdout.contains("already matches"))
        let apply = try Support.guestprep(
            ["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_FAIL_AT": "plan-validation"])
        #expect(apply.status == 1)
        #expect(apply.stderr.contains("could not be done"))
        #expect(try guest.snapshot() == original)

        // The same failure after writing: the run is rolled back and the guest is as it was.
        let late = try Support.guestprep(
            ["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_FAIL_AT": "apply-validation"])
        #expect(late.status == 1)
        #expect(late.stderr.contains("rolled back, leaving the guest as it was"))
        #expect(try guest.snapshot() == original)
    }

    @Test("writing the output fails (/dev/full): exit 1 even though the plan succeeded")
    func outputToFullDevice() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let full = open("/dev/full", O_WRONLY)
        try #require(full >= 0)
        defer { close(full) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Support.binary)
        process.arguments = ["plan"] + guest.arguments
        process.standardOutput = FileHandle(fileDescriptor: full, closeOnDealloc: false)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(stderr.contains("writing to standard output failed: No space left on device"))
    }

    @Test("a closed stdout pipe after a successful apply: the run is recorded and its id reaches stderr")
    func closedPipeKeepsRunID() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Support.binary)
        process.arguments = ["apply"] + guest.arguments + ["--yes"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        // Nobody reads stdout: closing our read end makes every write to it fail with EPIPE.
        try output.fileHandleForReading.close()
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "SIGPIPE is ignored")
        #expect(process.terminationStatus == 1, "lost output is an error")
        #expect(stderr.contains("guestprep: applied run "))
        let history = try Support.guestprep(["history", "--root", guest.root.path])
        #expect(history.stdout.contains("applied"))
    }

    @Test("roots that are not guests are errors that say so")
    func notAGuest() throws {
        let directory = try Support.scratch("not-a-guest")
        defer { Support.cleanUp(directory) }
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let emptyResult = try Support.guestprep(["plan", "--root", empty.path])
        #expect(emptyResult.status == 1)
        #expect(emptyResult.stderr.contains("empty directory"))

        let noOS = directory.appendingPathComponent("no-os")
        try Support.write("/dev/sda1 / ext4 defaults 0 1\n", to: noOS.appendingPathComponent("etc/fstab"))
        let noOSResult = try Support.guestprep(["plan", "--root", noOS.path])
        #expect(noOSResult.status == 1)
        #expect(noOSResult.stderr.contains("os-release"))

        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try FileManager.default.createDirectory(at: guest.file("boot"), withIntermediateDirectories: true)
        try Support.write(try guest.read("etc/fstab") + "\n/dev/sda4 /boot ext4 defaults 0 2\n", to: guest.file("etc/fstab"))
        let unmounted = try Support.guestprep(["plan"] + guest.arguments)
        #expect(unmounted.status == 1)
        #expect(unmounted.stderr.contains("mounts a separate filesystem on /boot"))

        try guest.reset()
        try FileManager.default.removeItem(at: guest.file("etc/fstab"))
        try FileManager.default.createSymbolicLink(atPath: guest.file("etc/fstab").path, withDestinationPath: "/mnt/missing/fstab")
        let dangling = try Support.guestprep(["plan"] + guest.arguments)
        #expect(dangling.status == 1)
        #expect(dangling.stderr.contains("symbolic link to /mnt/missing/fstab"))
    }

    @Test("plan --out saves the reviewed plan; apply --plan applies exactly it, and refuses once a covered file changed")
    func savedPlans() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let planFile = guest.directory.appendingPathComponent("reviewed.plan").path
        let saved = try Support.guestprep(["plan"] + guest.arguments + ["--out", planFile])
        #expect(saved.status == 0, "\(saved.stderr)")

        // The admin edits fstab between review and apply: the saved plan no longer holds.
        let original = try guest.read("etc/fstab")
        try Support.write(original + "# edited after review\n", to: guest.file("etc/fstab"))
        let before = try guest.snapshot()
        let refused = try Support.guestprep(["apply"] + guest.arguments + ["--plan", planFile, "--yes"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("/etc/fstab changed since this plan was saved"))
        #expect(try guest.snapshot() == before)

        try Support.write(original, to: guest.file("etc/fstab"))
        let applied = try Support.guestprep(["apply"] + guest.arguments + ["--plan", planFile, "--yes"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try guest.read("etc/fstab").contains("UUID=\(FixtureGuest.rootUUID)"))

        let garbage = guest.directory.appendingPathComponent("garbage.plan")
        try Support.write("{}", to: garbage)
        let bad = try Support.guestprep(["apply"] + guest.arguments + ["--plan", garbage.path, "--yes"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("is not a plan saved by guestprep plan --out"))
    }
}

/// Bytes from guest files reach a terminal escaped, and JSON carries them losslessly.
@Suite("Guest bytes in output")
struct GuestBytesOutputTests {
    @Test("an escape sequence in a mount point is shown escaped, never sent raw; JSON keeps non-UTF-8 diffs as base64")
    func escapes() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        var fstab = Array(try Data(contentsOf: guest.file("etc/fstab")))
        // The fixture ends without a newline; a comment with a byte that is not UTF-8, then a
        // line whose mount point clears the screen.
        fstab += Array("\n# caf".utf8) + [0xE9] + Array("\n/dev/sda1 /mnt/\u{1B}[2J ext4 defaults 0 2\n".utf8)
        try Data(fstab).write(to: guest.file("etc/fstab"))
        let text = try Support.guestprep(["plan"] + guest.arguments)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(!text.stdout.utf8.contains(0x1B), "no raw ESC reaches the terminal")
        #expect(text.stdout.contains("/mnt/\\x1b[2J"))

        let json = try Support.guestprep(["plan"] + guest.arguments + ["--format", "json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let changes = try #require(document["changes"] as? [[String: Any]])
        let fstabChange = try #require(changes.first { $0["path"] as? String == "/etc/fstab" })
        let encoded = try #require(fstabChange["diff_base64"] as? String)
        let bytes = Array(try #require(Data(base64Encoded: encoded)))
        #expect(bytes.contains(0xE9) && bytes.contains(0x1B), "the exact bytes, as patch needs them")
    }
}

@Suite("When the automatic rollback fails too")
struct FailedRollbackTests {
    @Test("the message says what state the guest is in and the command that finishes the job")
    func rollbackFailsToo() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let result = try Support.guestprep(
            ["apply"] + guest.arguments + ["--yes"],
            environment: ["GUESTPREP_FAULT_FAIL_AFTER_STEP": "6", "GUESTPREP_FAULT_FAIL_AT": "rollback"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("rolling back run "))
        #expect(result.stderr.contains("the guest may hold some of this run's changes and the run is recorded as interrupted"))
        #expect(result.stderr.contains("run 'guestprep rollback ") && result.stderr.contains("--root \(guest.root.path)'"))
        let history = try Support.guestprep(["history", "--root", guest.root.path])
        #expect(history.stdout.contains("interrupted"))
        #expect(try Support.guestprep(["rollback", "--root", guest.root.path, "--yes"]).status == 0)
        #expect(try guest.snapshot() == original)
    }
}

@Suite("Findings from the review of the machinery")
struct MachineryReviewTests {
    @Test("a file named in another encoding in / or a NetworkManager directory does not stop plan or inspect")
    func nonUTF8NamesElsewhere() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        for directory in ["", "etc/NetworkManager/system-connections/"] {
            try FileManager.default.createDirectory(at: guest.file(directory.isEmpty ? "." : directory), withIntermediateDirectories: true)
            let path = guest.root.path + "/" + directory
            let fd = open(path + "caf\u{E9}", O_CREAT | O_WRONLY, 0o644)  // placeholder, renamed to bytes below
            close(fd)
            let bytes = Array((path + "caf").utf8) + [0xE9, 0]
            #expect(bytes.withUnsafeBufferPointer { rename(path + "caf\u{E9}", UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) } == 0)
        }
        #expect(try Support.guestprep(["plan"] + guest.arguments).status == 0)
        #expect(try Support.guestprep(["inspect"] + guest.arguments).status == 0)
    }

    @Test("an unmounted separate /usr is named as the cause, not a missing os-release; rbind counts as a bind")
    func usrNotMounted() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try FileManager.default.removeItem(at: guest.file("etc/os-release"))
        try FileManager.default.createSymbolicLink(atPath: guest.file("etc/os-release").path, withDestinationPath: "../usr/lib/os-release")
        try FileManager.default.createDirectory(at: guest.file("usr"), withIntermediateDirectories: true)
        try Support.write(try guest.read("etc/fstab") + "\n/dev/sda4 /usr ext4 defaults 0 2\n", to: guest.file("etc/fstab"))
        let result = try Support.guestprep(["plan"] + guest.arguments)
        #expect(result.status == 1)
        #expect(result.stderr.contains("mounts a separate filesystem on /usr"))

        try guest.reset()
        try FileManager.default.createDirectory(at: guest.file("var"), withIntermediateDirectories: true)
        try Support.write(try guest.read("etc/fstab") + "\n/srv/var-real /var none rbind 0 0\n", to: guest.file("etc/fstab"))
        #expect(try Support.guestprep(["plan"] + guest.arguments).status == 0)
    }

    @Test("with blockers and nothing to change, the plan does not say the guest already matches")
    func noFalseReassurance() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let result = try Support.guestprep(["plan", "--root", guest.root.path])
        #expect(!result.stdout.contains("already matches"))
        #expect(result.stdout.contains("No changes proposed; the blockers above need fixing first."))
    }

    @Test("apply --plan with --playbook is a usage error: the saved plan carries its playbook")
    func planAndPlaybook() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let result = try Support.guestprep(["apply"] + guest.arguments + ["--plan", "/nonexistent.plan", "--playbook", "x.yaml", "--yes"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--plan applies the playbook saved in the plan"))
    }
}
