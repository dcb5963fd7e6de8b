import Executor
import GuestFS
import GuestprepCore
import Journal
import Rules

/// Applies changes through the journal: for each, the original is saved and fsynced and an
/// intent recorded before the guest changes, and the step is marked done after. Everything
/// written is read back and validated; any failure rolls this run back.
public struct Applier {
    public let root: GuestRoot
    public let tool: String
    /// Runs run-command steps; a plan with commands and no runner is refused before any change.
    public let runner: (any GuestExecutor)?

    public init(root: GuestRoot, tool: String, runner: (any GuestExecutor)? = nil) {
        self.root = root
        self.tool = tool
        self.runner = runner
    }

    /// Longest a command of a change may run (an initramfs rebuild for many kernels takes minutes).
    public static let commandTimeout: Duration = .seconds(1800)

    /// Largest file a command may rewrite and have saved (initramfs images run to a few hundred MiB).
    public static let rewrittenFileLimit = 1 << 30

    public struct Outcome: Sendable {
        public var runID: String
        public var changes: Int
        public var files: Int
    }

    /// Applies `changes` (a plan's, or the part of it the admin confirmed) as one run.
    public func apply(_ changes: [Change], playbook: String) throws -> Outcome {
        if changes.contains(where: { $0.command != nil }) && runner == nil {
            throw GuestprepError(.refused, "the plan runs commands in the guest, but no way to run them was given; nothing was changed")
        }
        try root.makeOwnDirectories(RunJournal.stateDirectory, mode: 0o700, in: RunJournal.stateDirectory)
        let lock = try root.lockExclusively(RunJournal.lockFile, holder: "guestprep apply")
        defer { withExtendedLifetime(lock) {} }
        try Self.refuseIfUnfinished(root)

        let manifest = changes.enumerated().map { Self.manifestStep($0.offset + 1, $0.element) }
        let journal = try RunJournal.create(root: root) { id in
            var begin = JournalRecord(.begin)
            begin.run = id
            begin.tool = tool
            begin.playbook = playbook
            begin.root = root.hostPath
            begin.steps = changes.count
            begin.manifest = manifest
            return begin
        }

        do {
            for (offset, change) in changes.enumerated() {
                try applyStep(offset + 1, change, planned: manifest[offset], journal: journal)
            }
            try validate(changes)
            try journal.append(JournalRecord(.applied))
        } catch let failure {
            throw rollBackAfterFailure(failure, journal: journal)
        }
        return Outcome(runID: journal.id, changes: changes.count, files: Set(changes.filter(\.touchesFile).compactMap(\.path)).count)
    }

    /// Records the failure and undoes what was done; the error says what state the guest is in.
    private func rollBackAfterFailure(_ failure: any Error, journal: RunJournal) -> GuestprepError {
        var failed = JournalRecord(.failed)
        failed.error = "\(failure)"
        // Try the rollback even if the failure cannot be recorded (a full disk, say): the
        // guest matters more than the record, and the state still reads as interrupted.
        var recordError: (any Error)?
        do { try journal.append(failed) } catch { recordError = error }
        var rollbackError: (any Error)?
        var manual: [String] = []
        do {
            manual = try Rollback(root: root, runner: runner).rollBackLocked(journal, force: false, reason: "apply-failed").manualSteps
        } catch {
            rollbackError = error
        }
        var error = GuestprepError.wrapping(failure)
        let rootArgument = root.isLive ? "" : " --root \(root.hostPath)"
        if let rollbackError {
            error.message =
                "apply failed (\(error.message)) and rolling back run \(journal.id) failed too (\(rollbackError)): the guest may hold some of this run's changes and the run is recorded as interrupted; fix the cause, then run 'guestprep rollback \(journal.id)\(rootArgument)'"
        } else if let recordError {
            error.message =
                "apply failed (\(error.message)); every file was restored, but the journal could not record that (\(recordError)), so the run still reads as interrupted: run 'guestprep rollback \(journal.id)\(rootArgument)' once there is space"
        } else {
            let extra = manual.isEmpty ? "" : " (except what commands did, which needs undoing by hand: \(manual.joined(separator: "; ")))"
            error.message = "apply failed, and run \(journal.id) was rolled back, leaving the guest as it was\(extra): \(error.message)"
        }
        return error
    }

    static func manifestStep(_ step: Int, _ change: Change) -> ManifestStep {
        var entry = ManifestStep(step: step, action: change.kind.rawValue, path: change.path?.description)
        if let original = change.original {
            entry.backup = RunJournal.backupName(step: step)
            entry.originalSHA256 = sha256Hex(original.contents)
        }
        if let proposed = change.proposed { entry.newSHA256 = sha256Hex(proposed) }
        if case .renameAside(_, _, let destination) = change.action { entry.destination = destination.description }
        if let command = change.command {
            entry.command = CommandRecord(
                argv: command.argv, undo: command.undo, manualUndo: command.manualUndo,
                rewrites: command.rewrites.isEmpty ? nil : command.rewrites.map(\.description))
        }
        return entry
    }

    private func applyStep(_ step: Int, _ change: Change, planned: ManifestStep, journal: RunJournal) throws {
        // The plan was computed moments ago; if the guest moved on since, the diff shown is stale.
        if change.touchesFile, let path = change.path {
            guard try root.readFile(path)?.contents == change.original?.contents else {
                throw GuestprepError(.refused, "changed since it was planned; run guestprep plan again", path: root.display(path))
            }
        }
        // Checked before the intent is recorded, so rollback never removes a directory (or
        // overwrites a file) that guestprep did not create.
        if case .createDirectory(let path, _) = change.action, try root.exists(path) {
            throw GuestprepError(.refused, "appeared since it was planned; run guestprep plan again", path: root.display(path))
        }
        if case .renameAside(_, _, let destination) = change.action, try root.exists(destination) {
            throw GuestprepError(.refused, "appeared since it was planned; run guestprep plan again", path: root.display(destination))
        }
        var intent = JournalRecord(.intent)
        intent.step = step
        intent.path = planned.path
        intent.action = planned.action
        intent.rules = change.rules
        intent.destination = planned.destination
        intent.command = planned.command
        if let original = change.original {
            intent.backup = try journal.saveBackup(step: step, contents: original.contents)
            intent.original = FileState(contents: original.contents, metadata: original.metadata)
        }
        if case .write(_, let original, let contents, let metadata) = change.action {
            intent.new = FileState(contents: contents, metadata: original?.metadata ?? metadata)
        }
        if case .createDirectory(_, let mode) = change.action { intent.mode = mode }
        if let command = change.command, !command.rewrites.isEmpty {
            intent.rewritten = try command.rewrites.enumerated().map { index, path in
                var saved = RewrittenFile(path: path.description)
                if let file = try root.readFile(path, limit: Self.rewrittenFileLimit) {
                    saved.original = FileState(contents: file.contents, metadata: file.metadata)
                    saved.backup = try journal.saveBackup(step: step, rewritten: index + 1, contents: file.contents)
                }
                return saved
            }
        }
        try journal.append(intent)

        var done = JournalRecord(.done)
        done.step = step
        switch change.action {
        case .write(let path, let original, let contents, let metadata):
            try root.replaceFile(path, contents: contents, metadata: original?.metadata ?? metadata)
        case .delete(let path, _):
            try root.removeFile(path)
        case .renameAside(let path, _, let destination):
            try root.moveFile(path, to: destination)
        case .createDirectory(let path, let mode):
            try root.createDirectory(path, mode: mode)
        case .runCommand(let command):
            guard let runner else { throw GuestprepError(.refused, "no way to run commands in this guest") }
            // Bounded, so a hung command cannot hold the guest's lock for ever.
            let result = try runner.run(GuestCommand(command.argv, timeout: Self.commandTimeout))
            done.status = result.status
            done.output = result.outputTail
            guard result.succeeded else {
                throw GuestprepError(
                    .command,
                    "\(command.argv.joined(separator: " ")) \(result.timedOut ? "ran past its time limit and was killed" : result.wasSignaled ? "was killed by signal \(result.status)" : "exited with status \(result.status)")",
                    cause: result.outputTail.isEmpty ? nil : result.outputTail)
            }
            if !command.rewrites.isEmpty {
                done.rewritten = try command.rewrites.map { path in
                    RewrittenFile(
                        path: path.description,
                        new: try root.readFile(path, limit: Self.rewrittenFileLimit).map {
                            FileState(contents: $0.contents, metadata: $0.metadata)
                        })
                }
            }
        }
        try FaultInjection.stepCompleted()
        try journal.append(done)
    }

    /// Reads every changed file back from the guest and runs its change's validators on it.
    private func validate(_ changes: [Change]) throws {
        for change in changes where change.touchesFile {
            guard let path = change.path else { continue }
            let written = try root.readFile(path)
            guard written?.contents == change.proposed else {
                throw GuestprepError(.validation, "reads back different from what was written", path: root.display(path))
            }
            guard let contents = written?.contents else { continue }
            for validator in change.validators {
                try FaultInjection.failPoint("apply-validation")
                try validator.validate(proposed: contents, original: change.original?.contents, path: root.display(path))
            }
        }
    }

    /// A run that stopped half-way (or whose journal is damaged) leaves the guest in between;
    /// nothing new starts on top of it.
    static func refuseIfUnfinished(_ root: GuestRoot) throws {
        if let run = try RunHistory.runs(in: root, holdingLock: true).last(where: \.isUnfinished) {
            throw unfinishedRunError(run, root: root)
        }
    }

    public static func unfinishedRunError(_ run: RunSummary, root: GuestRoot) -> GuestprepError {
        let rootArgument = root.isLive ? "" : " --root \(root.hostPath)"
        let files = run.files.isEmpty ? "no step recorded" : "steps recorded for: \(run.files.joined(separator: ", "))"
        switch run.state {
        case .running:
            return GuestprepError(
                .locked, "run \(run.id) is in progress in another guestprep (\(files)); wait for it to finish")
        case .damaged:
            return GuestprepError(
                .interruptedRun,
                "the journal of run \(run.id) is damaged (\(run.problem ?? "unknown problem")); compare the guest with its backups in \(root.display(RunJournal.backupsDirectory.appending(run.id))), then move that directory out of backups/ to go on"
            )
        default:
            return GuestprepError(
                .interruptedRun,
                "run \(run.id) was interrupted before it finished (\(files)); run 'guestprep rollback \(run.id)\(rootArgument)' to restore the guest before anything else"
            )
        }
    }
}

extension GuestCommandResult {
    /// The last bytes of what the command printed (stdout, then stderr), for the journal and messages.
    var outputTail: String { String(decoding: (stdoutBytes + stderrBytes).suffix(2048), as: UTF8.self) }
}
