import Executor
import GuestFS
import GuestprepCore
import Journal

/// Puts back what a run changed, newest step first, byte for byte with owner, mode and extended
/// attributes. All or nothing: the journal, its backups and the guest are checked against each
/// other before the first step is undone. Refuses to overwrite a file changed since (unless
/// forced), and is idempotent: a rolled-back run, or a step already restored, is left alone.
public struct Rollback {
    public let root: GuestRoot
    /// Runs the undo commands of reversible command steps.
    public let runner: (any GuestExecutor)?

    public init(root: GuestRoot, runner: (any GuestExecutor)? = nil) {
        self.root = root
        self.runner = runner
    }

    public struct Outcome: Sendable {
        public var runID: String
        public var restored: [String]
        /// False when the run had already been rolled back.
        public var didWork: Bool
        /// What commands did that no command can undo: the admin's to undo by hand.
        public var manualSteps: [String]
    }

    /// The run `rollback` acts on by default: the newest one not yet rolled back.
    public func defaultRun() throws -> RunSummary? {
        try RunHistory.runs(in: root).last { $0.state == .applied || $0.isUnfinished }
    }

    public func rollBack(runID: String, force: Bool) throws -> Outcome {
        let lock = try root.lockExclusively(RunJournal.lockFile, holder: "guestprep rollback")
        defer { withExtendedLifetime(lock) {} }
        let journal = RunJournal(root: root, id: runID)
        guard try root.isDirectory(journal.directory) else {
            throw GuestprepError(
                .notFound, "no run \(runID) in this guest; 'guestprep history' lists the runs",
                path: root.display(RunJournal.backupsDirectory))
        }
        return try rollBackLocked(journal, force: force, reason: "requested")
    }

    /// One step to undo, decided before anything is touched.
    private enum Undo {
        case restore(path: GuestPath, contents: [UInt8], metadata: FileMetadata)
        case remove(path: GuestPath)
        case moveBack(from: GuestPath, to: GuestPath)
        case removeDirectory(GuestPath)
        case runUndo([String])
        /// Files a command rewrote, put back as they were (nil contents: the file was not there).
        case restoreRewritten([(path: GuestPath, contents: [UInt8]?, metadata: FileMetadata?)])
        /// Nothing to undo, but a crash inside the step's atomic replace may have left its
        /// temporary file beside the target: ours to remove.
        case removeTemporaries(GuestPath)
    }

    /// The rollback itself; the caller holds the lock.
    @discardableResult
    func rollBackLocked(_ journal: RunJournal, force: Bool, reason: String) throws -> Outcome {
        let run = try journal.load()
        let summary = RunSummary(id: journal.id, records: run.records)
        if summary.state == .rolledBack || summary.state == .failedRolledBack {
            return Outcome(runID: journal.id, restored: [], didWork: false, manualSteps: [])
        }
        if let lost = try run.lostRecords(in: root) {
            throw GuestprepError(
                .journal, "run \(journal.id): \(lost); refusing to roll back from it (compare the guest with the backups by hand)",
                path: root.display(journal.journalPath))
        }

        var pending: [(step: Int, label: String, undo: Undo)] = []
        var conflicts: [String] = []
        var manual: [String] = []
        // Paths the undos decided so far will remove: a directory guestprep created is empty
        // enough to remove when all it holds goes with them.
        var removed: Set<GuestPath> = []
        for planned in run.manifest.reversed() {
            guard let intent = run.intent(step: planned.step), !run.isRestored(step: planned.step) else { continue }
            let label = planned.path ?? planned.command?.argv.joined(separator: " ") ?? "step \(planned.step)"
            let decision = try decide(planned, intent: intent, run: run, journal: journal, force: force, removed: removed)
            // Temporary files of a replace that a crash cut short go whatever else is decided,
            // and before the directories they sit in are checked or removed.
            if ["create", "modify", "delete"].contains(planned.action), let path = planned.path.map({ GuestPath($0) }) {
                if case .undo(.restore) = decision {} else { pending.append((planned.step, label, .removeTemporaries(path))) }
                for name in try temporaries(beside: path) { removed.insert(path.parent.appending(name)) }
            }
            switch decision {
            case .nothing: continue
            case .conflict(let why): conflicts.append("\(label) (\(why))")
            case .manual(let note): manual.append(note)
            case .undo(let undo):
                pending.append((planned.step, label, undo))
                switch undo {
                case .remove(let path), .removeDirectory(let path), .moveBack(let path, _): removed.insert(path)
                case .restore, .runUndo, .removeTemporaries, .restoreRewritten: break
                }
            }
        }
        if !conflicts.isEmpty {
            throw GuestprepError(
                .modifiedSinceApply,
                "run \(journal.id) cannot be rolled back safely: \(conflicts.joined(separator: ", ")) no longer match what guestprep left; look at them, then use --force to restore the originals anyway"
            )
        }
        if pending.contains(where: { if case .runUndo = $0.undo { true } else { false } }) && runner == nil {
            throw GuestprepError(.refused, "run \(journal.id) needs commands run in the guest to undo it, and no way to run them was given")
        }

        try FaultInjection.failPoint("rollback")
        var restored: [String] = []
        for (step, label, undo) in pending {
            switch undo {
            case .restore(let path, let contents, let metadata):
                try root.replaceFile(path, contents: contents, metadata: metadata)
            case .remove(let path):
                try root.removeFile(path)
            case .moveBack(let from, let to):
                try root.moveFile(from, to: to)
            case .removeDirectory(let path):
                try root.removeEmptyDirectory(path)
            case .restoreRewritten(let files):
                for file in files {
                    if let contents = file.contents, let metadata = file.metadata {
                        try root.replaceFile(file.path, contents: contents, metadata: metadata)
                        try root.removeStaleTemporaries(beside: file.path)
                    } else if try root.exists(file.path) {
                        try root.removeFile(file.path)
                    }
                }
            case .removeTemporaries(let path):
                try root.removeStaleTemporaries(beside: path)
                continue  // no state of the run changed: no record
            case .runUndo(let argv):
                guard let runner else { continue }
                let result = try runner.run(GuestCommand(argv, timeout: Applier.commandTimeout))
                guard result.succeeded else {
                    throw GuestprepError(
                        .command, "undoing step \(step) with \(argv.joined(separator: " ")) failed with status \(result.status)",
                        cause: result.outputTail)
                }
            }
            if case .restore(let path, _, _) = undo {
                // A crash inside an atomic replace leaves its temporary file; it is ours to remove.
                try root.removeStaleTemporaries(beside: path)
            }
            try FaultInjection.stepCompleted()
            var record = JournalRecord(.restored)
            record.step = step
            record.path = run.manifest[step - 1].path
            try journal.append(record)
            restored.append(label)
        }
        var done = JournalRecord(.rolledBack)
        // A failed apply stays a failed apply, whoever finishes undoing it.
        done.reason = run.records.contains { $0.type == .failed } ? "apply-failed" : reason
        try journal.append(done)
        return Outcome(runID: journal.id, restored: restored, didWork: true, manualSteps: manual)
    }

    /// Names of temporary files a crashed atomic replace of `path` left beside it.
    private func temporaries(beside path: GuestPath) throws -> [String] {
        guard try root.isDirectory(path.parent) else { return [] }
        return try root.listDirectoryBytes(path.parent).compactMap { String(validating: $0, as: UTF8.self) }
            .filter { GuestRoot.isTemporary($0, of: path.name) }
    }

    private enum Decision {
        case nothing
        case conflict(String)
        case manual(String)
        case undo(Undo)
    }

    private func hash(_ path: GuestPath, limit: Int = GuestRoot.defaultSizeLimit) throws -> String? {
        do {
            return try root.readFile(path, limit: limit).map { sha256Hex($0.contents) }
        } catch let error as GuestprepError where error.code == .fileTooLarge || error.code == .notRegularFile {
            return "not a file guestprep wrote"  // matches neither hash: a conflict
        }
    }

    /// A command whose rewritten files were saved: each goes back unless it changed since (a
    /// command cut short by a crash may have written anything, so then every one goes back).
    private func decideRewritten(_ planned: ManifestStep, saved: [RewrittenFile], run: LoadedRun, journal: RunJournal, force: Bool)
        throws -> Decision
    {
        let after = run.records.first { $0.type == .done && $0.step == planned.step }?.rewritten
        var files: [(path: GuestPath, contents: [UInt8]?, metadata: FileMetadata?)] = []
        for (index, file) in saved.enumerated() {
            let path = GuestPath(file.path)
            let current = try hash(path, limit: Applier.rewrittenFileLimit)
            if current == file.original?.sha256 { continue }
            if let after, index < after.count, current != after[index].new?.sha256, !force {
                return .conflict(
                    "\(file.path) \(current == nil ? "deleted" : "changed") since \(planned.command?.argv.first ?? "the command") rewrote it"
                )
            }
            guard let original = file.original, let backup = file.backup else {
                files.append((path, nil, nil))
                continue
            }
            files.append((path, try journal.readBackup(backup, expected: original), try original.metadata()))
        }
        return files.isEmpty ? .nothing : .undo(.restoreRewritten(files))
    }

    private func decide(
        _ planned: ManifestStep, intent: JournalRecord, run: LoadedRun, journal: RunJournal, force: Bool, removed: Set<GuestPath>
    ) throws -> Decision {
        let path = planned.path.map({ GuestPath($0) })
        switch planned.action {
        case "create", "modify", "delete":
            guard let path else { return .nothing }
            let current = try hash(path)
            if current == planned.originalSHA256 { return .nothing }  // never replaced, or already put back
            if current != planned.newSHA256 && !force {
                return .conflict(current == nil ? "deleted since" : "contents changed since")
            }
            guard let original = intent.original, let backup = intent.backup else { return .undo(.remove(path: path)) }
            let contents = try journal.readBackup(backup, expected: original)
            return .undo(.restore(path: path, contents: contents, metadata: try original.metadata()))
        case "rename-aside":
            guard let path, let destination = planned.destination.map({ GuestPath($0) }) else { return .nothing }
            let atSource = try hash(path)
            let atDestination = try hash(destination)
            if atSource == planned.originalSHA256 && atDestination == nil { return .nothing }
            if atSource == nil && atDestination == planned.originalSHA256 { return .undo(.moveBack(from: destination, to: path)) }
            guard force, let original = intent.original, let backup = intent.backup else {
                return .conflict("moved aside to \(destination), and one of the two changed since")
            }
            let contents = try journal.readBackup(backup, expected: original)
            return .undo(.restore(path: path, contents: contents, metadata: try original.metadata()))
        case "create-directory":
            guard let path else { return .nothing }
            guard try root.exists(path) else { return .nothing }
            guard try root.listDirectory(path).allSatisfy({ removed.contains(path.appending($0)) }) else {
                return force
                    ? .manual("left \(path) in place: files were put in it since guestprep created it") : .conflict("no longer empty")
            }
            return .undo(.removeDirectory(path))
        case "run-command":
            guard let command = planned.command else { return .nothing }
            let shown = command.argv.joined(separator: " ")
            if command.undo == nil, let saved = intent.rewritten, !saved.isEmpty {
                return try decideRewritten(planned, saved: saved, run: run, journal: journal, force: force)
            }
            if let undo = command.undo {
                return .undo(.runUndo(undo))  // undo commands are written to be safe to run again
            }
            let started = run.isDone(step: planned.step) ? "ran" : "may have run (interrupted)"
            return .manual(
                "step \(planned.step) \(started) \(shown), which cannot be undone automatically: \(command.manualUndo ?? "undo it by hand")"
            )
        default:
            throw GuestprepError(.journal, "step \(planned.step) has action \(planned.action), which this guestprep does not know")
        }
    }
}
