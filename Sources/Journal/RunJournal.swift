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
    /// The directory's name: the id, or a hidden staging name while the run is being created.
    let directoryName: String

    public var directory: GuestPath { Self.backupsDirectory.appending(directoryName) }
    public var journalPath: GuestPath { directory.appending("journal.jsonl") }

    public init(root: GuestRoot, id: String) {
        self.init(root: root, id: id, directoryName: id)
    }

    init(root: GuestRoot, id: String, directoryName: String) {
        self.root = root
        self.id = id
        self.directoryName = directoryName
    }

    /// A new run whose journal already holds `begin`. The run directory is built under a hidden
    /// staging name and renamed into place only once that record is durable, so a failure
    /// (a full disk, say) leaves no half-created run, and a run directory without a journal is
    /// damage, never "nothing happened". The caller holds the guest's lock.
    public static func create(root: GuestRoot, begin: (String) -> JournalRecord) throws -> RunJournal {
        try root.makeOwnDirectories(stateDirectory, mode: 0o700, in: stateDirectory)
        try root.makeOwnDirectories(backupsDirectory, mode: 0o700, in: stateDirectory)
        // A crash while a run was being created leaves its staging directory; nothing in the
        // guest was touched by it (changes start only once the run is in place).
        for name in try runNames(in: root) where name.hasPrefix(".") && name.hasSuffix(".new") {
            let id = String(name.dropFirst().dropLast(4))
            // Only a real directory is ours to clear; a symlink planted there is left alone.
            guard isRunID(id), case .directory = try root.entry(backupsDirectory.appending(name)) else { continue }
            RunJournal(root: root, id: id, directoryName: name).removeStaging()
        }
        var id = newRunID()
        // Two runs in the same second could draw the same suffix; never share a directory.
        while try root.exists(backupsDirectory.appending(id)) || root.exists(backupsDirectory.appending(".\(id).new")) {
            id = newRunID()
        }
        let staging = RunJournal(root: root, id: id, directoryName: ".\(id).new")
        do {
            try root.makeOwnDirectories(staging.directory, mode: 0o700, in: stateDirectory)
            try root.makeOwnDirectories(staging.directory.appending("files"), mode: 0o700, in: stateDirectory)
            try staging.append(begin(id))
            try root.renameDirectory(staging.directory, to: backupsDirectory.appending(id))
        } catch {
            staging.removeStaging()
            throw error
        }
        return RunJournal(root: root, id: id)
    }

    /// Best effort: the staging directory holds at most the begin record and an empty files/.
    private func removeStaging() {
        try? root.removeFile(journalPath)
        try? root.removeEmptyDirectory(directory.appending("files"))
        try? root.removeEmptyDirectory(directory)
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

    /// Names in the backups directory that can be guestprep's (ASCII); anything else an admin
    /// put there is not ours and is skipped rather than stopping every command.
    static func runNames(in root: GuestRoot) throws -> [String] {
        try root.listDirectoryBytes(backupsDirectory).filter { $0.allSatisfy { $0 < 0x80 } }.map { String(decoding: $0, as: UTF8.self) }
    }

    static func isRunID(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count == 21 else { return false }
        let digit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        let hex = { (b: UInt8) in digit(b) || (b >= 0x61 && b <= 0x66) }
        return bytes[0..<8].allSatisfy(digit) && bytes[8] == 0x54 && bytes[9..<15].allSatisfy(digit) && bytes[15] == 0x5A
            && bytes[16] == 0x2D && bytes[17...].allSatisfy(hex)
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
        guard let file = try root.readOwnFile(journalPath, limit: Self.journalLimit, in: Self.stateDirectory),
            let last = file.contents.last, last != UInt8(ascii: "\n")
        else { return }
        let keep = file.contents.lastIndex(of: UInt8(ascii: "\n")).map { file.contents.index(after: $0) } ?? 0
        try root.replaceOwnFile(journalPath, contents: Array(file.contents[..<keep]), metadata: file.metadata, in: Self.stateDirectory)
    }

    static let journalLimit = 64 << 20

    /// The backup path a step's original is saved under; the only form a journal may name.
    public static func backupName(step: Int) -> String { "files/\(step).orig" }

    /// Saves a step's original bytes (fsynced, 0600) and returns the path to record.
    /// The backup of the `index`th file a command step rewrites.
    public static func backupName(step: Int, rewritten index: Int) -> String { "files/\(step).\(index).orig" }

    public func saveBackup(step: Int, rewritten index: Int? = nil, contents: [UInt8]) throws -> String {
        let relative = index.map { Self.backupName(step: step, rewritten: $0) } ?? Self.backupName(step: step)
        try root.replaceOwnFile(
            directory.appending(relative), contents: contents, metadata: FileMetadata(mode: 0o600, uid: 0, gid: 0), in: Self.stateDirectory)
        try FaultInjection.stepCompleted()
        return relative
    }

    /// A backup's bytes, checked against the hash recorded for them: a damaged backup is an error,
    /// never silently "nothing to restore".
    public func readBackup(_ relative: String, expected: FileState) throws -> [UInt8] {
        let path = directory.appending(relative)
        // Sized by what was recorded (checked below), so a saved initramfs image is readable.
        guard let file = try root.readOwnFile(path, limit: max(GuestRoot.defaultSizeLimit, expected.size), in: Self.stateDirectory) else {
            throw GuestprepError(
                .journal, "backup \(relative) of run \(id) is missing; the original cannot be restored from it", path: root.display(path))
        }
        guard sha256Hex(file.contents) == expected.sha256 else {
            throw GuestprepError(
                .journal, "backup \(relative) of run \(id) does not match the sha256 recorded for it; refusing to restore damaged data",
                path: root.display(path))
        }
        return file.contents
    }

    /// Every record, in order, each decoded but not yet checked against the others. A last line
    /// without its newline was cut short by a crash mid-append, never acknowledged, and is
    /// ignored; damage anywhere else is an error.
    public func records() throws -> [JournalRecord] {
        guard let file = try root.readOwnFile(journalPath, limit: Self.journalLimit, in: Self.stateDirectory) else {
            throw GuestprepError(
                .journal, "run \(id) has no journal.jsonl (deleted?); what it changed cannot be known from it",
                path: root.display(journalPath))
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
                throw GuestprepError(
                    .journal, "journal record is damaged (not a record guestprep writes)", path: root.display(journalPath),
                    line: index + 1, cause: Self.describe(error))
            }
        }
        return records
    }

    /// A decoding error in words (never Swift's raw dump).
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted(let context):
            context.codingPath.isEmpty
                ? "not valid JSON" : "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) is invalid"
        default: "\(error)"
        }
    }

    /// The records, checked against each other and the begin record's manifest. Anything that
    /// does not add up is refused with the line it is on: rollback acts only on a journal that
    /// tells one consistent story.
    public func load() throws -> LoadedRun {
        let records = try records()
        return try JournalCheck(records: records, runID: id, shown: root.display(journalPath)).run()
    }
}

/// A run's records after every consistency check passed.
public struct LoadedRun: Sendable {
    public var id: String
    public var records: [JournalRecord]
    public var manifest: [ManifestStep]

    public var begin: JournalRecord { records[0] }
    public func intent(step: Int) -> JournalRecord? { records.first { $0.type == .intent && $0.step == step } }
    public func isDone(step: Int) -> Bool { records.contains { $0.type == .done && $0.step == step } }
    public func isRestored(step: Int) -> Bool { records.contains { $0.type == .restored && $0.step == step } }

    /// A step the journal never recorded must not have happened. If its file already holds what
    /// the step writes (or was already moved aside), records were lost: the journal was cut
    /// short. Returns that in words, or nil when the guest agrees with the journal.
    public func lostRecords(in root: GuestRoot) throws -> String? {
        func hash(_ path: String) throws -> String? {
            do {
                return try root.readFile(GuestPath(path)).map { sha256Hex($0.contents) }
            } catch let error as GuestprepError where error.code == .fileTooLarge || error.code == .notRegularFile {
                return "not a file guestprep wrote"
            }
        }
        for planned in manifest where intent(step: planned.step) == nil {
            guard let path = planned.path else { continue }
            switch planned.action {
            case "create", "modify", "delete":
                let current = try hash(path)
                if current != planned.originalSHA256 && current == planned.newSHA256 {
                    return
                        "the journal has no record of step \(planned.step), yet \(path) holds what that step writes: the journal was cut short"
                }
            case "rename-aside":
                if let destination = planned.destination, try hash(path) == nil, try hash(destination) == planned.originalSHA256 {
                    return
                        "the journal has no record of step \(planned.step), yet \(path) was already moved to \(destination): the journal was cut short"
                }
            default:
                continue
            }
        }
        return nil
    }
}

/// The consistency rules of a journal (backups/README.md, "Integrity").
struct JournalCheck {
    var records: [JournalRecord]
    var runID: String
    var shown: String

    func fail(_ line: Int?, _ message: String) -> GuestprepError {
        GuestprepError(
            .journal, "journal of run \(runID) is inconsistent: \(message); refusing to act on it", path: shown, line: line)
    }

    func run() throws -> LoadedRun {
        guard let begin = records.first else { throw fail(nil, "it holds no records (emptied?)") }
        guard begin.type == .begin else { throw fail(1, "the first record is \(begin.type.rawValue), not begin") }
        guard begin.run == runID else { throw fail(1, "begin names run \(begin.run ?? "none"), but the directory is \(runID)") }
        let manifest: [ManifestStep]
        if let listed = begin.manifest {
            guard listed.count == begin.steps else { throw fail(1, "begin lists \(listed.count) steps but says \(begin.steps ?? 0)") }
            manifest = listed
        } else if begin.tool?.hasPrefix("guestprep 0.1.") == true {
            manifest = Self.legacyManifest(records)
        } else {
            throw fail(1, "begin does not list its steps")
        }
        for (index, entry) in manifest.enumerated() {
            guard entry.step == index + 1 else { throw fail(1, "the manifest's steps are not numbered 1…\(manifest.count)") }
            try checkFields(entry, line: 1)
        }
        var intents: Set<Int> = []
        var lastIntent = 0
        for (offset, record) in records.enumerated().dropFirst() {
            let line = offset + 1
            switch record.type {
            case .begin:
                throw fail(line, "a second begin record")
            case .intent:
                guard let step = record.step, step >= 1, step <= manifest.count else {
                    throw fail(line, "intent for step \(record.step.map(String.init) ?? "none"), which the manifest does not list")
                }
                guard !intents.contains(step) else { throw fail(line, "step \(step) is recorded twice") }
                guard step > lastIntent else { throw fail(line, "step \(step) comes after step \(lastIntent)") }
                let planned = manifest[step - 1]
                guard record.action == planned.action, record.path == planned.path, record.destination == planned.destination,
                    record.backup == planned.backup, record.command == planned.command,
                    record.original?.sha256 == planned.originalSHA256, record.new?.sha256 == planned.newSHA256
                else {
                    throw fail(line, "step \(step) does not match what the begin record planned for it")
                }
                for state in [record.original, record.new].compactMap({ $0 }) {
                    guard state.mode <= 0o7777 else { throw fail(line, "mode \(state.mode) is not a permission mode") }
                    guard Self.isSHA256(state.sha256) else { throw fail(line, "a sha256 that is not 64 hex digits") }
                }
                if let mode = record.mode, mode > 0o7777 { throw fail(line, "mode \(mode) is not a permission mode") }
                if record.rewritten?.map(\.path) != planned.command?.rewrites {
                    throw fail(line, "step \(step) saves other files than the begin record says its command rewrites")
                }
                for (index, file) in (record.rewritten ?? []).enumerated()
                where file.backup != file.original.map({ _ in RunJournal.backupName(step: step, rewritten: index + 1) }) {
                    throw fail(
                        line, "step \(step)'s backup of \(file.path) is not \(RunJournal.backupName(step: step, rewritten: index + 1))")
                }
                intents.insert(step)
                lastIntent = step
            case .done, .restored:
                guard let step = record.step, intents.contains(step) else {
                    throw fail(line, "\(record.type.rawValue) for step \(record.step.map(String.init) ?? "none") before its intent")
                }
            case .applied:
                let done = Set(records[..<offset].filter { $0.type == .done }.compactMap(\.step))
                guard intents.count == manifest.count, done.count == manifest.count else {
                    throw fail(line, "applied, but not every planned step is recorded as done (truncated?)")
                }
            case .failed, .rolledBack:
                continue
            }
        }
        return LoadedRun(id: runID, records: records, manifest: manifest)
    }

    /// Runs written by guestprep 0.1 have no manifest: their intents (files only, written in
    /// order) stand for it, so their history stays readable and they can still be rolled back.
    /// What the manifest adds, noticing a journal cut short, is not available for them.
    static func legacyManifest(_ records: [JournalRecord]) -> [ManifestStep] {
        records.filter { $0.type == .intent }.compactMap { intent in
            guard let step = intent.step, let action = intent.action else { return nil }
            return ManifestStep(
                step: step, action: action, path: intent.path, backup: intent.backup, originalSHA256: intent.original?.sha256,
                newSHA256: intent.new?.sha256)
        }
    }

    static let actions: Set<String> = ["create", "modify", "delete", "rename-aside", "create-directory", "run-command"]

    /// Paths must be absolute guest paths without "..", backups exactly `files/<step>.orig`.
    func checkFields(_ entry: ManifestStep, line: Int) throws {
        guard Self.actions.contains(entry.action) else {
            throw fail(line, "step \(entry.step) has action \(entry.action), which guestprep never writes")
        }
        for path in [entry.path, entry.destination].compactMap({ $0 }) {
            guard path.hasPrefix("/"), !GuestPath(path).components.contains("..") else {
                throw fail(line, "step \(entry.step) names \(path), which is not an absolute guest path")
            }
        }
        if let backup = entry.backup, backup != RunJournal.backupName(step: entry.step) {
            throw fail(
                line, "step \(entry.step)'s backup is \(backup); backups of a step are only ever \(RunJournal.backupName(step: entry.step))"
            )
        }
        for hash in [entry.originalSHA256, entry.newSHA256].compactMap({ $0 }) where !Self.isSHA256(hash) {
            throw fail(line, "step \(entry.step) has a sha256 that is not 64 hex digits")
        }
        guard entry.path != nil || entry.command != nil else { throw fail(line, "step \(entry.step) names neither a path nor a command") }
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
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
        /// Unfinished while another guestprep holds the guest's lock: at work right now.
        case running
        /// The journal does not add up (edited, truncated, deleted): `problem` says how.
        case damaged
    }

    public var id: String
    public var started: String
    public var state: State
    public var playbook: String
    public var files: [String]
    /// For damaged runs: what is wrong with the journal.
    public var problem: String?

    public init(id: String, records: [JournalRecord], busy: Bool = false) {
        self.id = id
        started = records.first?.time ?? ""
        playbook = records.first?.playbook ?? ""
        files = records.filter { $0.type == .intent }.compactMap { $0.path ?? $0.command?.argv.joined(separator: " ") }
        if let last = records.last(where: { $0.type == .rolledBack }) {
            state = last.reason == "apply-failed" ? .failedRolledBack : .rolledBack
        } else if !records.contains(where: { $0.type == .failed || $0.type == .restored })
            && records.contains(where: { $0.type == .applied })
        {
            state = .applied
        } else {
            state = busy ? .running : .interrupted
        }
    }

    public static func damaged(id: String, problem: String) -> RunSummary {
        var summary = RunSummary(id: id, records: [])
        summary.state = .damaged
        summary.problem = problem
        return summary
    }

    /// The guest may be between states: nothing new should start on top of it.
    public var isUnfinished: Bool { state == .interrupted || state == .damaged || state == .running }
}

public enum RunHistory {
    /// Every run recorded in the guest, oldest first. A damaged journal makes that one run
    /// `damaged`, never the whole history unreadable. `holdingLock`: the caller holds the
    /// guest's lock, so unfinished runs cannot be running elsewhere.
    public static func runs(in root: GuestRoot, holdingLock: Bool = false) throws -> [RunSummary] {
        let busy = holdingLock ? false : try root.isLockHeld(RunJournal.lockFile)
        var runs: [RunSummary] = []
        // Hidden names are runs still being created (or left by a crash before their first
        // record: nothing in the guest was touched); other names are not guestprep's.
        for name in try RunJournal.runNames(in: root) where RunJournal.isRunID(name) {
            let journal = RunJournal(root: root, id: name)
            // Stray files an admin left beside the runs are not runs.
            guard try root.isDirectory(journal.directory) else { continue }
            do {
                let run = try journal.load()
                let summary = RunSummary(id: name, records: run.records, busy: busy)
                if summary.state == .interrupted, let lost = try run.lostRecords(in: root) {
                    runs.append(.damaged(id: name, problem: "\(root.display(journal.journalPath)): \(lost)"))
                } else {
                    runs.append(summary)
                }
            } catch let error as GuestprepError where [.journal, .notRegularFile, .fileTooLarge].contains(error.code) {
                runs.append(.damaged(id: name, problem: "\(error)"))
            }
        }
        // By start time (ids only order by the second), then id.
        return runs.sorted { ($0.started, $0.id) < ($1.started, $1.id) }
    }
}
