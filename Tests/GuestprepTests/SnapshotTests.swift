import Foundation
import Testing

/// What an admin reads: the human `plan` output, compared with a reviewed snapshot.
/// Re-record after an intended change with GUESTPREP_RECORD_SNAPSHOTS=1 swift test.
@Suite("Snapshots")
struct SnapshotTests {
    static let directory = Support.repository.appendingPathComponent("Tests/GuestprepTests/Snapshots")

    func assertSnapshot(_ actual: String, named name: String) throws {
        let file = Self.directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["GUESTPREP_RECORD_SNAPSHOTS"] == "1" {
            try Support.write(actual, to: file)
            return
        }
        let expected = try Support.read(file)
        #expect(actual == expected, "\(name) differs; if the change is intended, re-record with GUESTPREP_RECORD_SNAPSHOTS=1")
    }

    @Test("plan on the fixture guest, as text")
    func planText() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let result = try Support.guestprep(["plan"] + guest.arguments)
        #expect(result.status == 0)
        let text = result.stdout.replacingOccurrences(of: guest.root.path, with: "<ROOT>")
        try assertSnapshot(text, named: "plan-debian-sda-gpt.txt")
    }
}
