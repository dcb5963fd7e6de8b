import Foundation
import GuestFS
import GuestprepCore

/// The write-ahead journal of one run, kept inside the guest so it travels with it:
/// `/var/lib/guestprep/backups/<run-id>/journal.jsonl` plus `files/<step>.orig` backups.
public struct RunJournal: Sendable {
    public static let stateDirectory: GuestPath = "/var/lib/guestprep"
    public static let backupsDirectory: GuestPath = "/var/lib/guestprep/backups"
    public static let lockFile: GuestPath = "/var/lib/guestprep/lock"

    public let root: GuestRoot
    public let id: String

    var directory: GuestPath { Self.backupsDirectory.appending(id) }
    var journalPath: GuestPath { directory.appending("journal.jsonl") }

    /// A new run: creates its directory (0700, as the state and backups directories are).
    /// The caller holds the guest's lock, so no other run is being created meanwhile.
    public static func create(root: GuestRoot) throws -> RunJournal {
        var journal = RunJournal(root: root, id: newRunID())
        // Two runs in the same second could draw the same suffix; never share a directory.
        while try root.exists(journal.directory) {
            journal = RunJournal(root: root, id: newRunID())
        }
        try root.makeOwnDirectories(stateDirectory, mode: 0o700, in: stateDirectory)
        try root.makeOwnDirectories(backupsDirectory, mode: 0o700, in: stateDirectory)
        try root.makeOwnDirectories(journal.directory, mode: 0o700, in: stateDirectory)
        try root.makeOwnDirectories(journal.directory.appending("files"), mode: 0o700, in: stateDirectory)
        return journal
    }

    public init(root: GuestRoot, id: String) {
        self.root = root
        self.id = id
    }

    /// Sortable by time: 20261127T143434Z-1a2b.
    static func newRunID() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return formatter.string(from: Date()) + "-" + String(repeating: "0", count: 4 - suffix.count) + suffix
    }

    /// Appends one record and fsyncs it: when this returns, the record survives a crash.
    public func append(_ record: JournalRecord) throws {
        try discardPartialLastLine()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(record))
        bytes.append(UInt8(ascii: "\n"))
        try root.appendDurably(journalPath, bytes, in: Self.stateDirectory)
        try FaultInjection.stepCompleted()
    }

    /// A crash mid-append can leave a last line without its newline. It was never acknowledged,
    /// so it goes (atomically) before anything is appended after it; otherwise the next record
    /// would be glued to it and the whole journal would read as damaged.
    func discardPartialLastLine() throws {
        guard let file = try root.readOwnFile(journalPath, limit: 64 << 20, in: Self.stateDirectory),
            let last = file.contents.last, last != UInt8(ascii: "\n")
        else { return }
        let keep = file.contents.lastIndex(of: UInt8(ascii: "\n")).map { file.contents.index(after: $0) } ?? 0
        try root.replaceOwnFile(journalPath, contents: Array(file.contents[..<keep]), metadata: file.metadata, in: Self.stateDirectory)
    }

    /// Saves a step's original bytes (fsynced, 0600) and returns the path to record.
    public func saveBackup(step: Int, contents: [UInt8]) throws -> String {
        let relative = "files/\(step).orig"
        try root.replaceOwnFile(
            directory.appending(relative), contents: contents, metadata: FileMetadata(mode: 0o600, uid: 0, gid: 0), in: Self.stateDirectory)
        try FaultInjection.stepCompleted()
        return relative
    }

    /// A backup's bytes, checked against the hash recorded for them: a damaged backup is an error,
    /// never silently "nothing to restore".
    public func readBackup(_ relative: String, expected: FileState) throws -> [UInt8] {
        guard let file = try root.readOwnFile(directory.appending(relative), in: Self.stateDirectory) else {
            throw GuestprepError(
                .journal, "backup \(relative) of run \(id) is missing; the original cannot be restored from it",
                path: root.display(directory.appending(relative)))
        }
        guard sha256Hex(file.contents) == expected.sha256 else {
            throw GuestprepError(
                .journal, "backup \(relative) of run \(id) does not match the sha256 recorded for it; refusing to restore damaged data",
                path: root.display(directory.appending(relative)))
        }
        return file.contents
    }

    /// Every record, in order. A last line without its newline was cut short by a crash mid-append,
    /// never acknowledged, and is ignored; damage anywhere else is an error.
    public func records() throws -> [JournalRecord] {
        guard let file = try root.readOwnFile(journalPath, limit: 64 << 20, in: Self.stateDirectory) else {
            throw GuestprepError(.journal, "run \(id) has no journal", path: root.display(journalPath))
        }
        let lines = TextLines.split(file.contents)
        let decoder = JSONDecoder()
        var records: [JournalRecord] = []
        for (index, line) in lines.enumerated() {
            // Each record is written with its newline in one write(); without it, the write was
            // cut short and never acknowledged, even if the bytes happen to parse.
            if line.terminator.isEmpty { break }
            do {
                records.append(try decoder.decode(JournalRecord.self, from: Data(line.content)))
            } catch {
                throw GuestprepError(.journal, "journal record is damaged: \(error)", path: root.display(journalPath), line: index + 1)
            }
        }
        return records
    }
}

/// What a run's journal says happened.
public struct RunSummary: Sendable, Equatable, Encodable {
    public enum State: String, Sendable, Codable {
        case applied
        case rolledBack = "rolled-back"
        case failedRolledBack = "failed-rolled-back"
        /// Stopped mid-way (crash, kill, power loss): `guestprep rollback` finishes the job.
        case interrupted
    }

    public var id: String
    public var started: String
    public var state: State
    public var playbook: String
    public var files: [String]

    public init(id: String, records: [JournalRecord]) {
        self.id = id
        started = records.first?.time ?? ""
        playbook = records.first?.playbook ?? ""
        files = records.filter { $0.type == .intent }.compactMap(\.path)
        if let last = records.last(where: { $0.type == .rolledBack }) {
            state = last.reason == "apply-failed" ? .failedRolledBack : .rolledBack
        } else if records.contains(where: { $0.type == .failed || $0.type == .restored }) {
            state = .interrupted
        } else if records.contains(where: { $0.type == .applied }) {
            state = .applied
        } else {
            state = .interrupted
        }
    }
}

public enum RunHistory {
    /// Every run recorded in the guest, oldest first.
    public static func runs(in root: GuestRoot) throws -> [RunSummary] {
        var runs: [RunSummary] = []
        for name in try root.listDirectory(RunJournal.backupsDirectory) {
            let journal = RunJournal(root: root, id: name)
            // Stray files an admin left beside the runs are not runs.
            guard try root.isDirectory(journal.directory) else { continue }
            // A directory without a journal is a run that crashed before its first record:
            // nothing in the guest was touched.
            guard try root.exists(journal.journalPath) else { continue }
            runs.append(RunSummary(id: name, records: try journal.records()))
        }
        // By start time (ids only order by the second), then id.
        return runs.sorted { ($0.started, $0.id) < ($1.started, $1.id) }
    }
}
