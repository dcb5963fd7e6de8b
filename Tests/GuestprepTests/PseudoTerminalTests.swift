import Foundation
import Testing

/// The confirmation prompts answered by a person at a real pseudo-terminal.
@Suite("Confirmation through a pseudo-terminal")
struct PseudoTerminalTests {
    /// Runs guestprep with a pty as stdin (so it sees a terminal), types `answer` at it, and
    /// returns what it printed on stdout.
    func runAtTerminal(_ arguments: [String], answer: String) throws -> (status: Int32, output: String) {
        let terminal = try PseudoTerminal()
        defer { terminal.closeMaster() }
        let master = terminal.master

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Support.binary)
        process.arguments = arguments
        let output = Pipe()
        process.standardInput = terminal.slaveHandle
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // The terminal's line discipline holds the answer until guestprep reads its line.
        let typed = Array(answer.utf8)
        _ = typed.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: printed, as: UTF8.self))
    }

    @Test("answering n applies nothing; answering y applies; rollback asks too")
    func answers() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let original = try guest.snapshot()

        let declined = try runAtTerminal(["apply"] + guest.arguments, answer: "n\n")
        #expect(declined.status == 2, "declined: the changes are still pending")
        #expect(declined.output.contains("Apply 3 changes to 3 files? [y/N] "))
        #expect(declined.output.contains("Not applied; nothing was changed."))
        #expect(try guest.snapshot() == original)

        let accepted = try runAtTerminal(["apply"] + guest.arguments, answer: "y\n")
        #expect(accepted.status == 0)
        #expect(accepted.output.contains("Applied 3 changes to 3 files as run "))
        #expect(try guest.read("etc/fstab").contains("UUID=\(FixtureGuest.rootUUID)"))

        let keep = try runAtTerminal(["rollback", "--root", guest.root.path], answer: "\n")
        #expect(keep.output.contains("[y/N]"))
        #expect(keep.output.contains("Not rolled back"))
        #expect(try guest.snapshot() != original)

        let undo = try runAtTerminal(["rollback", "--root", guest.root.path], answer: "yes\n")
        #expect(undo.status == 0)
        #expect(try guest.snapshot() == original)
    }
}
