import Foundation
import GuestFS
import GuestprepCore

/// One line of `journal.jsonl`. The format is documented in backups/README.md and
/// backups/journal-record.schema.json; change all three together.
public struct JournalRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A run starts: what tool, playbook and root, and how many steps to expect.
        case begin
        /// About to change a file: the original's bytes are already saved and fsynced.
        case intent
        /// The file now holds the new state.
        case done
        /// Every step done and validated.
        case applied
        /// Apply failed; its completed steps are being rolled back.
        case failed
        /// A step's original is back in place.
        case restored
        /// Every step restored.
        case rolledBack = "rolled-back"
    }

    public var type: Kind
    public var time: String
    public var run: String?
    public var tool: String?
    public var playbook: String?
    public var root: String?
    public var steps: Int?
    /// On `begin`: every step the run will take, so a truncated or edited journal is caught.
    public var manifest: [ManifestStep]?
    public var step: Int?
    public var path: String?
    public var action: String?
    public var rules: [String]?
    /// State before the change; nil when the file did not exist.
    public var original: FileState?
    /// State after the change; nil when the change deletes the file.
    public var new: FileState?
    /// Backup of the original bytes, relative to the run directory.
    public var backup: String?
    /// Where a rename-aside moves the file.
    public var destination: String?
    /// Mode of a directory a create-directory step makes.
    public var mode: UInt32?
    /// The command a run-command step runs.
    public var command: CommandRecord?
    /// Exit status of a run-command step, on its `done` record.
    public var status: Int32?
    /// The end of what the command printed (stdout then stderr), on its `done` record.
    public var output: String?
    /// A run-command step that rewrites files: on `intent` each one's original and backup, on
    /// `done` each one's new state; rollback puts the originals back.
    public var rewritten: [RewrittenFile]?
    /// Why a run was rolled back: "requested" or "apply-failed".
    public var reason: String?
    /// What made an apply fail, on `failed`.
    public var error: String?

    public init(_ type: Kind) {
        self.type = type
        self.time = Self.now()
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// One planned step as the `begin` record lists it: enough to check every later record and the
/// guest against it.
public struct ManifestStep: Codable, Sendable, Equatable {
    public var step: Int
    public var action: String
    public var path: String?
    public var destination: String?
    /// `files/<step>.orig` when the step saves the original.
    public var backup: String?
    public var originalSHA256: String?
    public var newSHA256: String?
    public var command: CommandRecord?

    enum CodingKeys: String, CodingKey {
        case step, action, path, destination, backup, command
        case originalSHA256 = "original_sha256"
        case newSHA256 = "new_sha256"
    }

    public init(
        step: Int, action: String, path: String? = nil, destination: String? = nil, backup: String? = nil,
        originalSHA256: String? = nil, newSHA256: String? = nil, command: CommandRecord? = nil
    ) {
        self.step = step
        self.action = action
        self.path = path
        self.destination = destination
        self.backup = backup
        self.originalSHA256 = originalSHA256
        self.newSHA256 = newSHA256
        self.command = command
    }
}

/// A command in the journal: its argv, and how it is undone.
public struct CommandRecord: Codable, Sendable, Equatable {
    public var argv: [String]
    /// The command rollback runs to undo it; absent when it cannot be undone automatically.
    public var undo: [String]?
    /// How to undo it by hand, for commands without `undo`.
    public var manualUndo: String?
    /// Files the command rewrites (initramfs images), saved before it runs and restored by rollback.
    public var rewrites: [String]?

    enum CodingKeys: String, CodingKey {
        case argv, undo, rewrites
        case manualUndo = "manual_undo"
    }

    public init(argv: [String], undo: [String]? = nil, manualUndo: String? = nil, rewrites: [String]? = nil) {
        self.argv = argv
        self.undo = undo
        self.manualUndo = manualUndo
        self.rewrites = rewrites
    }
}

/// One file a command rewrites: its state before (nil: absent) with the backup of its bytes, and after.
public struct RewrittenFile: Codable, Sendable, Equatable {
    public var path: String
    public var original: FileState?
    /// `files/<step>.<n>.orig`, when there was an original.
    public var backup: String?
    public var new: FileState?

    public init(path: String, original: FileState? = nil, backup: String? = nil, new: FileState? = nil) {
        self.path = path
        self.original = original
        self.backup = backup
        self.new = new
    }
}

/// A file's identity in the journal: content hash, size, and the metadata rollback restores.
public struct FileState: Codable, Sendable, Equatable {
    public var sha256: String
    public var size: Int
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var xattrs: [XattrRecord]

    public struct XattrRecord: Codable, Sendable, Equatable {
        public var name: String
        public var value: String  // base64

        enum CodingKeys: String, CodingKey {
            case name
            case value = "value_base64"
        }
    }

    public init(contents: [UInt8], metadata: FileMetadata) {
        sha256 = sha256Hex(contents)
        size = contents.count
        mode = metadata.mode
        uid = metadata.uid
        gid = metadata.gid
        xattrs = metadata.xattrs.map { XattrRecord(name: $0.name, value: Data($0.value).base64EncodedString()) }
    }

    public func metadata() throws -> FileMetadata {
        FileMetadata(
            mode: mode, uid: uid, gid: gid,
            xattrs: try xattrs.map { record in
                guard let data = Data(base64Encoded: record.value) else {
                    throw GuestprepError(.journal, "extended attribute \(record.name) has a value that is not base64")
                }
                return ExtendedAttribute(name: record.name, value: Array(data))
            })
    }
}
