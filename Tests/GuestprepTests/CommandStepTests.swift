import Apply
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import Planning
import Rules
import Testing

/// run-command changes through plan, journal, apply and rollback, executed for real in an
/// offline guest chrooted inside a private mount namespace.
@Suite(
    "Command steps in an offline guest",
    .enabled(if: Support.isRoot && PhonyGuest.available, "needs root (namespaces, mounts) and busybox-static (make deps installs it)"))
struct CommandStepTests {
    /// Writes a file, then runs commands after it: the reversible one has an undo command.
    struct RunsCommands: Rule {
        static let id = "test-runs-commands"
        static let summary = "test rule"
        static let parameterNames: [String] = []
        var commands: [CommandStep]
        init(parameters: RuleParameters) { commands = [] }
        init(_ commands: [CommandStep]) { self.commands = commands }

        func evaluate(in context: RuleContext) throws {
            try context.propose("/etc/step.conf", contents: Array("written before the commands\n".utf8), rule: Self.id, reasons: ["test"])
            for command in commands { context.proposeCommand(command, rule: Self.id, reasons: ["test"]) }
        }
    }

    func plan(_ guest: PhonyGuest, _ commands: [CommandStep]) throws -> (GuestRoot, Plan) {
        try Support.write("ID=alpine\n", to: guest.root.appendingPathComponent("etc/os-release"))
        let root = try GuestRoot(hostPath: guest.root.path)
        let plan = try Planner.plan(
            root: root, devices: DeviceInventory(devices: []),
            playbook: Playbook(name: "t", source: "t", steps: [.init(rule: RunsCommands(commands), ruleID: RunsCommands.id, line: 1)]))
        return (root, plan)
    }

    @Test("a command that succeeds is journaled with its status; rollback runs its undo; no mount outlives it")
    func succeeds() throws {
        let guest = try PhonyGuest("step-ok")
        defer { Support.cleanUp(guest.top) }
        let touch = CommandStep(
            argv: ["/bin/sh", "-c", "printf ran > /etc/ran-by-step"], effect: "mark the guest",
            undo: ["/bin/sh", "-c", "rm /etc/ran-by-step"])
        let (root, plan) = try plan(guest, [touch, CommandStep(argv: ["true"], effect: "nothing", undo: ["true"])])
        #expect(plan.changes.map(\.kind) == [.create, .runCommand, .runCommand])
        #expect(plan.irreversibleChanges.isEmpty)
        let outcome = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        #expect(try Support.read(guest.root.appendingPathComponent("etc/ran-by-step")) == "ran")
        let records = try RunJournal(root: root, id: outcome.runID).records()
        #expect(records.filter { $0.type == .done }.compactMap(\.status) == [0, 0])
        #expect(try guest.hostMounts().isEmpty)

        _ = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        #expect(!FileManager.default.fileExists(atPath: guest.root.appendingPathComponent("etc/ran-by-step").path))
        #expect(!FileManager.default.fileExists(atPath: guest.root.appendingPathComponent("etc/step.conf").path))
        #expect(try guest.hostMounts().isEmpty)
    }

    @Test("a command that rewrites files: they are saved first, and rollback puts them back (and removes one it created)")
    func rewrites() throws {
        let guest = try PhonyGuest("step-rewrites")
        defer { Support.cleanUp(guest.top) }
        let image = guest.root.appendingPathComponent("boot/initrd.img-1")
        let original = [UInt8](repeating: 0xA5, count: 20 << 20)  // past the 16 MiB configuration-file limit
        try FileManager.default.createDirectory(at: image.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(original).write(to: image)
        try Support.must("chmod", ["600", image.path])
        let rebuild = CommandStep(
            argv: ["/bin/sh", "-c", "echo new > /boot/initrd.img-1; echo made > /boot/initrd.img-2"], effect: "rebuild",
            rewrites: ["/boot/initrd.img-1", "/boot/initrd.img-2"])
        let (root, plan) = try plan(guest, [rebuild])
        #expect(plan.irreversibleChanges.isEmpty, "restoring the saved files undoes it")
        let outcome = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        #expect(try Support.read(image) == "new\n")
        let records = try RunJournal(root: root, id: outcome.runID).records()
        let intent = try #require(records.first { $0.type == .intent && $0.action == "run-command" })
        #expect(intent.rewritten?.map(\.backup) == ["files/2.1.orig", nil])
        #expect(records.first { $0.type == .done && $0.step == 2 }?.rewritten?.compactMap(\.new).count == 2)

        // Rollback refuses to overwrite an image changed since, unless forced.
        try Support.write("changed by hand\n", to: image)
        #expect(throws: GuestprepError.self) {
            _ = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        }
        try Support.write("new\n", to: image)
        _ = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        #expect([UInt8](try Data(contentsOf: image)) == original)
        var info = stat()
        #expect(stat(image.path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(!FileManager.default.fileExists(atPath: guest.root.appendingPathComponent("boot/initrd.img-2").path))
    }

    @Test("a command that fails rolls the whole run back: the file written before it is restored")
    func fails() throws {
        let guest = try PhonyGuest("step-fails")
        defer { Support.cleanUp(guest.top) }
        let (root, plan) = try plan(
            guest, [CommandStep(argv: ["/bin/sh", "-c", "echo broken >&2; exit 7"], effect: "fail", undo: ["true"])])
        #expect(throws: GuestprepError.self) {
            try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        }
        do {
            _ = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        } catch let error as GuestprepError {
            #expect(error.code == .command)
            #expect(error.message.contains("exited with status 7"))
            #expect(error.cause?.contains("broken") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: guest.root.appendingPathComponent("etc/step.conf").path))
        #expect(try RunHistory.runs(in: root).map(\.state) == [.failedRolledBack, .failedRolledBack])
        #expect(try guest.hostMounts().isEmpty)
    }

    @Test("an irreversible command is listed apart; rollback reports it for undoing by hand")
    func irreversible() throws {
        let guest = try PhonyGuest("step-irreversible")
        defer { Support.cleanUp(guest.top) }
        let purge = CommandStep(argv: ["true"], effect: "remove an old kernel", manualUndo: "reinstall the package")
        let (root, plan) = try plan(guest, [purge])
        #expect(plan.irreversibleChanges.map(\.kind) == [.runCommand])
        #expect(plan.reversibleChanges.map(\.kind) == [.create])
        let text = PlanRendering.text(plan)
        #expect(text.contains("Irreversible commands (rollback cannot undo these; apply asks for them separately):"))
        #expect(text.contains("to undo by hand: reinstall the package"))
        let outcome = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        let rolledBack = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        #expect(rolledBack.manualSteps.count == 1)
        #expect(rolledBack.manualSteps.first?.contains("reinstall the package") == true)
    }

    @Test("a plan with commands and no way to run them is refused before anything changes")
    func noRunner() throws {
        let guest = try PhonyGuest("step-no-runner")
        defer { Support.cleanUp(guest.top) }
        let (root, plan) = try plan(guest, [CommandStep(argv: ["true"], effect: "nothing", undo: ["true"])])
        #expect(throws: GuestprepError.self) { try Applier(root: root, tool: "test").apply(plan) }
        #expect(!FileManager.default.fileExists(atPath: guest.root.appendingPathComponent("etc/step.conf").path))
    }
}
