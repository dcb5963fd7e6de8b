import GuestFS
import GuestprepCore
import Planning
import Rules

/// Applies a plan through the journal: for each change, the original is saved and fsynced and
/// an intent recorded before the file is atomically replaced, and the step is marked done after.
/// Everything written is read back and validated; any failure rolls this run back.
public struct Applier {
    public let root: GuestRoot
    public let tool: String

    public init(root: GuestRoot, tool: String) {
        self.root = root
        self.tool = tool
    }

    public struct Outcome: Sendable {
        public var runID: String
        public var changes: Int
        public var files: Int
    }

    public func apply(_ plan: Plan) throws -> Outcome {
        try root.makeDirectories(RunJournal.stateDirectory, mode: 0o700)
        let lock = try root.lockExclusively(RunJournal.lockFile, holder: "guestprep apply")
        defer { withExtendedLifetime(lock) {} }
        try Self.refuseIfInterrupted(root)

        let journal = try RunJournal.create(root: root)
        var begin = JournalRecord(.begin)
        begin.run = journal.id
        begin.tool = tool
        begin.playbook = plan.playbook
        begin.root = root.hostPath
        begin.steps = plan.changes.count
        try journal.append(begin)

        do {
            for (offset, change) in plan.changes.enumerated() {
                try applyStep(offset + 1, change, journal: journal)
            }
            try validate(plan)
            try journal.append(JournalRecord(.applied))
        } catch let failure {
            var failed = JournalRecord(.failed)
            failed.error = "\(failure)"
            // Try the rollback even if the failure cannot be recorded (a full disk, say): the
            // guest matters more than the record, and the state still reads as interrupted.
            let recordError: Error?
            do {
                try journal.append(failed)
                recordError = nil
            } catch { recordError = error }
            var rollbackError: Error?
            do {
                try Rollback(root: root).rollBackLocked(journal, force: false, reason: "apply-failed")
            } catch {
                rollbackError = error
            }
            if rollbackError == nil, let recordError {
                rollbackError = GuestprepError(.journal, "the files were restored but the journal could not record it: \(recordError)")
            }
            var error = (failure as? GuestprepError) ?? GuestprepError(.io, "\(failure)")
            if let rollbackError {
                error.message =
                    "apply failed (\(error.message)) and rolling back run \(journal.id) failed too: \(rollbackError); run 'guestprep rollback \(journal.id)' once the cause is fixed"
            } else {
                error.message = "apply failed, and run \(journal.id) was rolled back, leaving the guest as it was: \(error.message)"
            }
            throw error
        }
        return Outcome(runID: journal.id, changes: plan.changes.count, files: plan.fileCount)
    }

    private func applyStep(_ step: Int, _ change: Change, journal: RunJournal) throws {
        guard let path = change.path else {
            throw GuestprepError(.refused, "command changes are not supported by this version of guestprep; nothing was run")
        }
        // The plan was computed moments ago; if the file moved on since, the diff shown is stale.
        let current = try root.readFile(path)
        guard current?.contents == change.original?.contents else {
            throw GuestprepError(.refused, "changed since it was planned; run guestprep plan again", path: root.display(path))
        }
        var intent = JournalRecord(.intent)
        intent.step = step
        intent.path = path.description
        intent.action = change.action.rawValue
        intent.rules = change.rules
        if let original = change.original {
            intent.backup = try journal.saveBackup(step: step, contents: original.contents)
            intent.original = FileState(contents: original.contents, metadata: original.metadata)
        }
        let metadata = change.original?.metadata ?? change.metadata ?? .newConfigFile
        if let proposed = change.proposed {
            intent.new = FileState(contents: proposed, metadata: metadata)
        }
        try journal.append(intent)

        switch change.action {
        case .modify, .create:
            guard let proposed = change.proposed else {
                throw GuestprepError(.refused, "a \(change.action.rawValue) change without contents", path: root.display(path))
            }
            try root.replaceFile(path, contents: proposed, metadata: metadata)
        case .delete:
            try root.removeFile(path)
        case .command:
            throw GuestprepError(.refused, "command changes are not supported by this version of guestprep; nothing was run")
        }
        try FaultInjection.stepCompleted()

        var done = JournalRecord(.done)
        done.step = step
        try journal.append(done)
    }

    /// Reads every changed file back from the guest and runs its change's validators on it.
    private func validate(_ plan: Plan) throws {
        for change in plan.changes {
            guard let path = change.path else { continue }
            let written = try root.readFile(path)
            guard written?.contents == change.proposed else {
                throw GuestprepError(.validation, "reads back different from what was written", path: root.display(path))
            }
            guard let contents = written?.contents else { continue }
            for validator in change.validators {
                try validator.validate(proposed: contents, original: change.original?.contents, path: root.display(path))
            }
        }
    }

    /// A run that stopped half-way leaves the guest in between; nothing new starts on top of it.
    static func refuseIfInterrupted(_ root: GuestRoot) throws {
        if let run = try RunHistory.runs(in: root).last(where: { $0.state == .interrupted }) {
            throw interruptedRunError(run)
        }
    }

    public static func interruptedRunError(_ run: RunSummary) -> GuestprepError {
        let files = run.files.isEmpty ? "no file changed yet" : "files: \(run.files.joined(separator: ", "))"
        return GuestprepError(
            .interruptedRun,
            "run \(run.id) was interrupted before it finished (\(files)); run 'guestprep rollback \(run.id)' to restore the guest before anything else"
        )
    }
}
