import GuestFS
import GuestprepCore

/// A command a change runs in the guest: explicit argv, never a shell string.
public struct CommandStep: Sendable, Codable, Equatable {
    public var argv: [String]
    /// What it does, in words for the plan ("rebuild the initramfs of every kernel").
    public var effect: String
    /// The command that undoes it, when there is one: rollback runs it. Nil makes the command
    /// irreversible, listed and confirmed separately.
    public var undo: [String]?
    /// For an irreversible command: how an admin undoes it by hand; recorded in the journal.
    public var manualUndo: String?
    /// Files the command rewrites (an initramfs rebuild's images): apply saves each in the
    /// journal before the command runs, and rollback puts them back, which undoes the command.
    public var rewrites: [GuestPath]

    public init(argv: [String], effect: String, undo: [String]? = nil, manualUndo: String? = nil, rewrites: [GuestPath] = []) {
        self.argv = argv
        self.effect = effect
        self.undo = undo
        self.manualUndo = manualUndo
        self.rewrites = rewrites
    }

    enum CodingKeys: String, CodingKey {
        case argv, effect, undo, manualUndo, rewrites
    }

    // Plans saved before `rewrites` existed have none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        argv = try container.decode([String].self, forKey: .argv)
        effect = try container.decode(String.self, forKey: .effect)
        undo = try container.decodeIfPresent([String].self, forKey: .undo)
        manualUndo = try container.decodeIfPresent(String.self, forKey: .manualUndo)
        rewrites = try container.decodeIfPresent([GuestPath].self, forKey: .rewrites) ?? []
    }

    /// An undo command, or the rewritten files' backups, undo it.
    public var isReversible: Bool { undo != nil || !rewrites.isEmpty }
}

/// One proposed change to the guest: a closed set of typed actions.
public struct Change: Sendable {
    public enum Action: Sendable {
        /// New contents for a file; `original` is nil when the file is created.
        case write(path: GuestPath, original: GuestFile?, contents: [UInt8], metadata: FileMetadata)
        case delete(path: GuestPath, original: GuestFile)
        /// Moves the file to `destination`, a name the distribution's tools do not read (network
        /// tools read every `ifcfg-*` in their directory, so renaming in place is not enough).
        case renameAside(path: GuestPath, original: GuestFile, destination: GuestPath)
        /// A directory another change needs; rollback removes it if guestprep created it.
        case createDirectory(path: GuestPath, mode: UInt32)
        case runCommand(CommandStep)
    }

    /// The name of each action in plans, JSON and the journal.
    public enum Kind: String, Sendable, Codable {
        case create, modify, delete
        case renameAside = "rename-aside"
        case createDirectory = "create-directory"
        case runCommand = "run-command"
    }

    /// Rules that contributed, in order.
    public var rules: [String]
    public var action: Action
    /// Why, line by line, e.g. "line 3: /dev/sda1 → UUID=… (ext4)".
    public var reasons: [String]
    public var validators: [any ChangeValidator]

    public init(rules: [String], action: Action, reasons: [String], validators: [any ChangeValidator] = []) {
        self.rules = rules
        self.action = action
        self.reasons = reasons
        self.validators = validators
    }

    public var kind: Kind {
        switch action {
        case .write(_, let original, _, _): original == nil ? .create : .modify
        case .delete: .delete
        case .renameAside: .renameAside
        case .createDirectory: .createDirectory
        case .runCommand: .runCommand
        }
    }

    /// The guest path the change acts on; nil for commands.
    public var path: GuestPath? {
        switch action {
        case .write(let path, _, _, _), .delete(let path, _), .renameAside(let path, _, _), .createDirectory(let path, _): path
        case .runCommand: nil
        }
    }

    /// The file as it is now, for changes to a file.
    public var original: GuestFile? {
        switch action {
        case .write(_, let original, _, _): original
        case .delete(_, let original), .renameAside(_, let original, _): original
        case .createDirectory, .runCommand: nil
        }
    }

    /// What the file at `path` holds afterwards (nil: no file there).
    public var proposed: [UInt8]? {
        if case .write(_, _, let contents, _) = action { return contents }
        return nil
    }

    public var command: CommandStep? {
        if case .runCommand(let step) = action { return step }
        return nil
    }

    /// Commands without an undo cannot be rolled back: the plan lists them apart and apply asks
    /// for them separately.
    public var isIrreversible: Bool { command.map { !$0.isReversible } ?? false }

    /// Whether it changes a file's contents (as opposed to directories and commands).
    public var touchesFile: Bool {
        switch action {
        case .write, .delete, .renameAside: true
        case .createDirectory, .runCommand: false
        }
    }

    /// The unified diff as bytes, exactly as `patch` needs it; empty for directories and commands.
    public func diffBytes(label: String) -> [UInt8] {
        switch action {
        case .write(_, let original, let contents, _):
            UnifiedDiff.renderBytes(old: original?.contents, new: contents, oldLabel: "a" + label, newLabel: "b" + label)
        case .delete(_, let original):
            UnifiedDiff.renderBytes(old: original.contents, new: nil, oldLabel: "a" + label, newLabel: "b" + label)
        case .renameAside, .createDirectory, .runCommand: []
        }
    }

    /// The unified diff as text for display (bytes that are not UTF-8 become U+FFFD here; use
    /// `diffBytes` where the exact bytes matter).
    public func diff(label: String) -> String {
        String(decoding: diffBytes(label: label), as: UTF8.self)
    }

    /// One line naming the change: "modify /etc/fstab", "run-command update-initramfs -u".
    public var headline: String {
        switch action {
        case .renameAside(let path, _, let destination): "\(kind.rawValue) \(path) → \(destination)"
        case .createDirectory(let path, let mode): "\(kind.rawValue) \(path) (mode \(String(mode, radix: 8)))"
        case .runCommand(let step): "\(kind.rawValue) \(step.argv.joined(separator: " "))"
        default: "\(kind.rawValue) \(path?.description ?? "")"
        }
    }
}

/// Checks a changed file's contents; run on the proposal while planning and again on the bytes
/// read back from the guest after writing. It checks what the change means (the entry for /boot
/// names UUID=…), never line numbers, so other rules' edits to the same file cannot upset it.
public protocol ChangeValidator: Sendable {
    /// Throws a `.validation` error naming the file, line and problem when the contents are
    /// wrong; any other error means the check itself could not be done.
    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws
}

/// Checks files that are only valid together (netplan's merged YAML, udev rules with their
/// .link files), once every rule has proposed its changes.
public protocol ChangeSetValidator: Sendable {
    /// Identifies the check, so rules that register it twice get it once.
    var id: String { get }
    /// Throws a `.validation` error when the files as planned are wrong together.
    func validate(_ files: PlannedFiles) throws
}

/// Guest files as the plan would leave them: what set validators read.
public struct PlannedFiles: Sendable {
    public let root: GuestRoot
    let overrides: [GuestPath: [UInt8]?]

    public init(root: GuestRoot, changes: [Change]) {
        self.root = root
        var overrides: [GuestPath: [UInt8]?] = [:]
        for change in changes where change.touchesFile {
            guard let path = change.path else { continue }
            overrides[path] = .some(change.proposed)
            if case .renameAside(_, let original, let destination) = change.action {
                overrides[destination] = .some(original.contents)
            }
        }
        self.overrides = overrides
    }

    /// The file's contents after the plan, or nil when it will not exist.
    public func contents(_ path: GuestPath) throws -> [UInt8]? {
        let canonical = (try? root.canonicalPath(path)) ?? path
        if let override = overrides[canonical] { return override }
        return try root.readFile(canonical)?.contents
    }

    /// Paths the plan changes.
    public var changedPaths: [GuestPath] { overrides.keys.sorted() }
}
