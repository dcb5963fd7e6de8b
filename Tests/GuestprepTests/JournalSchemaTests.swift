import Foundation
import Testing

/// The documented journal format (backups/journal-record.schema.json) is the one the code writes.
@Suite("Journal format documentation")
struct JournalSchemaTests {
    static var jsonschemaAvailable: Bool {
        (try? Support.run("python3", ["-c", "import jsonschema"]).status) == 0
    }

    @Test(
        "records of applied, rolled-back and failed runs validate against the schema",
        .enabled(if: jsonschemaAvailable, "python3 with jsonschema is not installed"))
    func recordsMatchSchema() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        #expect(try Support.guestprep(["apply"] + guest.arguments + ["--yes"]).status == 0)
        #expect(try Support.guestprep(["rollback", "--root", guest.root.path, "--yes"]).status == 0)
        let failed = try Support.guestprep(["apply"] + guest.arguments + ["--yes"], environment: ["GUESTPREP_FAULT_FAIL_AFTER_STEP": "6"])
        #expect(failed.status == 1)
        let backups = guest.file("var/lib/guestprep/backups")
        let runs = try FileManager.default.contentsOfDirectory(atPath: backups.path)
        #expect(runs.count == 2)
        let validator = Support.repository.appendingPathComponent("backups/validate_journal.py").path
        for run in runs {
            let journal = backups.appendingPathComponent(run).appendingPathComponent("journal.jsonl").path
            let result = try Support.run("python3", [validator, journal])
            #expect(result.status == 0, "\(run): \(result.stdout)\(result.stderr)")
        }
    }
}
