import Foundation
import Testing

/// The guestprep binary end to end on a fixture guest with a real disk image.
@Suite("guestprep command line")
struct CLITests {
    @Test("plan shows the diff and changes nothing; apply --yes writes it; rollback restores byte for byte")
    func planApplyRollBack() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()

        let plan = try Support.guestprep(["plan"] + guest.arguments + ["--detailed-exitcode"])
        #expect(plan.status == 2, "changes pending: \(plan.stderr)")
        #expect(plan.stdout.contains("\n-/dev/sda1\t/\text4\terrors=remount-ro\t0\t1\n"))
        #expect(plan.stdout.contains("\n+UUID=\(FixtureGuest.rootUUID)\t/\text4\terrors=remount-ro\t0\t1\n"))
        #expect(plan.stdout.contains("--- a/etc/fstab\n+++ b/etc/fstab\n"))
        #expect(try guest.snapshot() == original, "plan must not write")

        let apply = try Support.guestprep(["apply"] + guest.arguments + ["--yes"])
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(
            try guest.read("etc/fstab").hasPrefix(
                "# /etc/fstab: static file system information.\n#\n# <file system> <mount point>   <type>  <options>       <dump>  <pass>\nUUID=\(FixtureGuest.rootUUID)\t/"
            ))
        #expect(try guest.read("etc/initramfs-tools/conf.d/resume") == "RESUME=UUID=\(FixtureGuest.swapUUID)\n")

        let after = try Support.guestprep(["plan"] + guest.arguments + ["--detailed-exitcode"])
        #expect(after.status == 0, "nothing left to do")

        let history = try Support.guestprep(["history", "--root", guest.root.path, "--format", "json"])
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        #expect(runs.count == 1)
        #expect(runs.first?["state"] as? String == "applied")
        #expect((runs.first?["files"] as? [String])?.sorted() == ["/etc/default/grub", "/etc/fstab", "/etc/initramfs-tools/conf.d/resume"])

        let rollback = try Support.guestprep(["rollback", "--root", guest.root.path, "--yes"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(try guest.snapshot() == original)
        let again = try Support.guestprep(["rollback", "--root", guest.root.path, "--yes"])
        #expect(again.status == 0)
        #expect(try guest.snapshot() == original)
        let states = try Support.guestprep(["history", "--root", guest.root.path])
        #expect(states.stdout.contains("rolled-back"))
    }

    @Test("plan --format json carries findings and changes with rule, path, action and diff")
    func planJSON() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let result = try Support.guestprep(["plan"] + guest.arguments + ["--format", "json"])
        #expect(result.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let findings = try #require(document["findings"] as? [[String: Any]])
        let sda10 = try #require(findings.first { ($0["message"] as? String)?.contains("/dev/sda10") == true })
        #expect(sda10["rule"] as? String == "stable-block-device-references")
        #expect(sda10["severity"] as? String == "warning")
        #expect(sda10["path"] as? String == "/etc/fstab")
        #expect(sda10["line"] as? Int == 7)
        let changes = try #require(document["changes"] as? [[String: Any]])
        #expect(changes.count == 3)
        let fstab = try #require(changes.first { $0["path"] as? String == "/etc/fstab" })
        #expect(fstab["action"] as? String == "modify")
        #expect(fstab["rule"] as? String == "stable-block-device-references")
        #expect((fstab["diff"] as? String)?.contains("+UUID=C0DE-F00D   /boot/efi") == true)
    }

    @Test("apply without a terminal and without --yes refuses and changes nothing")
    func refusesWithoutTerminal() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        let result = try Support.guestprep(["apply"] + guest.arguments, input: "y\n")
        #expect(result.status == 1)
        #expect(result.stderr.contains("--yes"))
        #expect(try guest.snapshot() == original)
        #expect(!FileManager.default.fileExists(atPath: guest.file("var/lib/guestprep/backups").path))
    }

    @Test("bad playbooks are refused with file and line, before anything is read from the guest")
    func badPlaybooks() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let cases: [(String, String)] = [
            ("name: x\nrules:\n  - rule: no-such-rule\n", ":3: unknown rule 'no-such-rule'"),
            (
                "name: x\nrules:\n  - rule: stable-block-device-references\n    with:\n      colour: blue\n",
                ":5: rule stable-block-device-references has no parameter 'colour'"
            ),
            (
                "name: x\nrules:\n  - rule: stable-block-device-references\n    with:\n      targets: [fstab, swapfile]\n",
                ":5: rule stable-block-device-references: targets has unknown item 'swapfile'"
            ),
            ("name: x\nrules: [\n", ":3: not valid YAML"),
            ("name: x\nrulez: []\n", ":2: unknown playbook key 'rulez'"),
        ]
        for (text, expected) in cases {
            let file = guest.directory.appendingPathComponent("playbook.yaml")
            try Support.write(text, to: file)
            let result = try Support.guestprep(["plan"] + guest.arguments + ["--playbook", file.path])
            #expect(result.status == 1)
            #expect(result.stderr.contains(file.path + expected), "got: \(result.stderr)")
        }
        // Usage errors exit 1 too, like every other error.
        #expect(try Support.guestprep(["plan", "--bogus"]).status == 1)
        #expect(try Support.guestprep(["plan", "--format", "yaml"]).status == 1)
        #expect(try Support.guestprep(["plan"] + guest.arguments + ["--disk", "sda=\(guest.disk.path)"]).status == 1)
        let unknown = try Support.guestprep(["plan"] + guest.arguments + ["--playbook", "vmwarez"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no playbook named 'vmwarez'"))
    }

    @Test("rollback without a terminal and without --yes refuses; --detailed-exitcode exits 1 on errors")
    func refusalsAndErrors() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        #expect(try Support.guestprep(["apply"] + guest.arguments + ["--yes"]).status == 0)
        let applied = try guest.snapshot()
        let rollback = try Support.guestprep(["rollback", "--root", guest.root.path], input: "y\n")
        #expect(rollback.status == 1)
        #expect(rollback.stderr.contains("--yes"))
        #expect(try guest.snapshot() == applied)
        let error = try Support.guestprep(["plan", "--root", guest.directory.appendingPathComponent("missing").path, "--detailed-exitcode"])
        #expect(error.status == 1)
        #expect(error.stderr.contains("missing"))
    }

    @Test("a guest whose /var points outside itself gets a clear refusal and no change")
    func brokenVarSymlink() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try FileManager.default.createSymbolicLink(atPath: guest.file("var").path, withDestinationPath: "/nonexistent-in-guest/var")
        let original = try guest.snapshot()
        let result = try Support.guestprep(["apply"] + guest.arguments + ["--yes"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("symbolic link"))
        #expect(try guest.snapshot() == original)
    }

    @Test("an offline guest without --disk resolves nothing and says how to fix it")
    func offlineWithoutDisks() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let result = try Support.guestprep(["plan", "--root", guest.root.path, "--detailed-exitcode"])
        #expect(result.status == 3, "nothing can be resolved, so the fstab lines block")
        #expect(result.stdout.contains("pass --disk NAME=IMAGE"))
        #expect(result.stdout.contains("blocker /etc/fstab:4:"))
    }

    @Test("inspect lists the probed devices and the OS")
    func inspect() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let result = try Support.guestprep(["inspect"] + guest.arguments + ["--format", "json"])
        #expect(result.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["os"] as? String == "Debian GNU/Linux 12 (bookworm)")
        let devices = try #require(document["devices"] as? [[String: Any]])
        #expect(devices.contains { $0["name"] as? String == "/dev/sda2" && $0["uuid"] as? String == FixtureGuest.swapUUID })
    }

    @Test("a failure during apply rolls back what was done and exits non-zero")
    func injectedFailure() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        // Step 8 is after the second file was replaced.
        let result = try Support.guestprep(["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_FAIL_AFTER_STEP": "8"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("rolled back"))
        #expect(try guest.snapshot() == original)
        let history = try Support.guestprep(["history", "--root", guest.root.path])
        #expect(history.stdout.contains("failed-rolled-back"))
    }
}

/// Kill the process after every durable journal step; `rollback` must always restore the tree.
@Suite("Crash injection")
struct CrashInjectionTests {
    @Test("for every journal step k, a SIGKILL after k leaves a tree that rollback restores byte for byte")
    func everyCrashPoint() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        var k = 1
        var completed = false
        while !completed {
            try guest.reset()
            let apply = try Support.guestprep(
                ["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_KILL_AFTER_STEP": "\(k)"])
            if apply.status == 0 {
                completed = true
            } else {
                #expect(apply.status == 9, "step \(k): expected SIGKILL, got \(apply.status): \(apply.stderr)")
                let history = try Support.guestprep(["history", "--root", guest.root.path, "--format", "json"])
                let runs = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
                let state = runs.last?["state"] as? String
                // Killed before the run directory was renamed into place: no run, nothing touched.
                #expect(state == "interrupted" || state == "applied" || (k == 1 && state == nil), "step \(k): state \(state ?? "none")")
                if state == "interrupted" {
                    let plan = try Support.guestprep(["plan"] + guest.arguments)
                    #expect(plan.stdout.contains("was interrupted"), "step \(k): plan must report the interrupted run")
                    let refused = try Support.guestprep(["apply"] + guest.arguments + ["--yes"])
                    #expect(refused.status == 1 && refused.stderr.contains("guestprep rollback"), "step \(k): apply must refuse")
                }
            }
            let rollback = try Support.guestprep(["rollback", "--root", guest.root.path, "--yes"])
            #expect(rollback.status == 0, "step \(k): \(rollback.stderr)")
            #expect(try guest.snapshot() == original, "step \(k): tree differs after rollback")
            k += 1
            try #require(k < 100, "apply never completed")
        }
        // Killed after each of begin + 3 × (backup, intent, replace, done) + applied; completed at the 15th try.
        #expect(k - 1 == 15)
    }

    @Test("for every step k of a rollback, a SIGKILL after k leaves a run that rollback finishes")
    func everyRollbackCrashPoint() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()
        var k = 1
        var completed = false
        while !completed {
            try guest.reset()
            #expect(try Support.guestprep(["apply"] + guest.arguments + ["--yes"]).status == 0)
            let rollback = try Support.guestprep(
                ["rollback", "--root", guest.root.path, "--yes"], environment: ["GUESTPREP_FAULT_KILL_AFTER_STEP": "\(k)"])
            if rollback.status == 0 {
                completed = true
            } else {
                #expect(rollback.status == 9, "step \(k): expected SIGKILL, got \(rollback.status): \(rollback.stderr)")
                let again = try Support.guestprep(["rollback", "--root", guest.root.path, "--yes"])
                #expect(again.status == 0, "step \(k): \(again.stderr)")
            }
            #expect(try guest.snapshot() == original, "step \(k): tree differs after rollback")
            let history = try Support.guestprep(["history", "--root", guest.root.path])
            #expect(history.stdout.contains("rolled-back"), "step \(k): \(history.stdout)")
            k += 1
            try #require(k < 50, "rollback never completed")
        }
        // Killed after each of 3 × (restore, restored record) + rolled-back; completed at the 8th try.
        #expect(k - 1 == 8)
    }
}
