import GuestFS
import GuestprepCore

/// Puts back what a run changed, newest step first, byte for byte with owner, mode and extended
/// attributes. Refuses to overwrite a file changed since (unless forced), and is idempotent: a
/// rolled-back run, or a step already restored, is left alone.
public struct Rollback {
    public let root: GuestRoot

    public init(root: GuestRoot) {
        self.root = root
    }

    public struct Outcome: Sendable {
        public var runID: String
        public var restored: [String]
        /// False when the run had already been rolled back.
        public var didWork: Bool
    }

    /// The run `rollback` acts on by default: the newest one not yet rolled back.
    public func defaultRun() throws -> RunSummary? {
        try RunHistory.runs(in: root).last { $0.state == .applied || $0.state == .interrupted }
    }

    public func rollBack(runID: String, force: Bool) throws -> Outcome {
        let lock = try root.lockExclusively(RunJournal.lockFile, holder: "guestprep rollback")
        defer { withExtendedLifetime(lock) {} }
        let journal = RunJournal(root: root, id: runID)
        guard try root.exists(journal.journalPath) else {
            throw GuestprepError(
                .notFound, "no run \(runID) in this guest; 'guestprep history' lists the runs",
                path: root.display(RunJournal.backupsDirectory))
        }
        return try rollBackLocked(journal, force: force, reason: "requested")
    }

    /// The rollback itself; the caller holds the lock.
    @discardableResult
    func rollBackLocked(_ journal: RunJournal, force: Bool, reason: String) throws -> Outcome {
        let records = try journal.records()
        let summary = RunSummary(id: journal.id, records: records)
        if summary.state == .rolledBack || summary.state == .failedRolledBack {
            return Outcome(runID: journal.id, restored: [], didWork: false)
        }
        let restoredSteps = Set(records.filter { $0.type == .restored }.compactMap(\.step))
        let intents = records.filter { $0.type == .intent }.sorted { ($0.step ?? 0) > ($1.step ?? 0) }

        // Decide every step before touching anything, so a refusal leaves the guest as it is.
        var pending: [(record: JournalRecord, path: GuestPath)] = []
        var conflicts: [String] = []
        for intent in intents {
            guard let step = intent.step, let pathText = intent.path else {
                throw GuestprepError(.journal, "intent record without step or path", path: root.display(journal.journalPath))
            }
            if restoredSteps.contains(step) { continue }
            let path = GuestPath(pathText)
            // Damage in the record itself must stop the rollback here, before any file is touched.
            if intent.original != nil && intent.backup == nil {
                throw GuestprepError(
                    .journal, "step \(step) records an original for \(pathText) but no backup file", path: root.display(journal.journalPath)
                )
            }
            _ = try intent.original?.metadata()
            let currentHash: String?
            do {
                currentHash = try root.readFile(path).map { sha256Hex($0.contents) }
            } catch let error as GuestprepError where error.code == .fileTooLarge {
                currentHash = "larger than any file guestprep writes"  // matches neither hash: a conflict
            }
            let current: Bool = currentHash != nil
            if currentHash == intent.original?.sha256 { continue }  // never replaced, or already put back
            if currentHash != intent.new?.sha256 && !force {
                conflicts.append(current ? "\(pathText) (contents changed since)" : "\(pathText) (deleted since)")
                continue
            }
            pending.append((intent, path))
        }
        if !conflicts.isEmpty {
            throw GuestprepError(
                .modifiedSinceApply,
                "run \(journal.id) cannot be rolled back safely: \(conflicts.joined(separator: ", ")) no longer match what guestprep wrote; look at the changes, then use --force to restore the originals anyway"
            )
        }

        // Every backup is read and checked before the first file is touched: a damaged one stops
        // the rollback with the guest as it was, not half restored.
        var backups: [Int: [UInt8]] = [:]
        for (intent, _) in pending {
            if let original = intent.original, let backup = intent.backup, let step = intent.step {
                backups[step] = try journal.readBackup(backup, expected: original)
            }
        }

        var restored: [String] = []
        for (intent, path) in pending {
            if let original = intent.original, let step = intent.step, let contents = backups[step] {
                try root.replaceFile(path, contents: contents, metadata: try original.metadata())
            } else {
                try root.removeFile(path)
            }
            // A crash inside an atomic replace leaves its temporary file; it is ours to remove.
            try root.removeStaleTemporaries(beside: path)
            try FaultInjection.stepCompleted()
            var record = JournalRecord(.restored)
            record.step = intent.step
            record.path = intent.path
            try journal.append(record)
            restored.append(path.description)
        }
        var done = JournalRecord(.rolledBack)
        // A failed apply stays a failed apply, whoever finishes undoing it.
        done.reason = records.contains { $0.type == .failed } ? "apply-failed" : reason
        try journal.append(done)
        return Outcome(runID: journal.id, restored: restored, didWork: true)
    }
}
