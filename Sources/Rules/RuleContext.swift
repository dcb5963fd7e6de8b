import BlockProbe
import Executor
import GuestFS
import GuestFacts
import GuestprepCore
import Network

/// What rules see and where they put their results. Reads see earlier rules' proposals, so
/// several rules can edit one file and the plan holds a single change for it.
public final class RuleContext {
    public let root: GuestRoot
    public let devices: DeviceInventory
    public let facts: GuestFacts
    /// Runs read-only queries in the guest while planning (dpkg-query, rpm -q …); nil where no
    /// command can run (then a rule that needs one says so as an error).
    public let executor: (any GuestExecutor)?
    /// Live links and the admin's network hints, for the network rules.
    public let network: NetworkInputs
    /// The platform the guest moves to, when the playbook names one (`--to aws`).
    public let destination: Destination?
    /// What the admin said about the source VM (--vmx, --ovf).
    public let source: SourceInputs
    public private(set) var findings: [Finding] = []
    public private(set) var changes: [Change] = []
    public private(set) var setValidators: [any ChangeSetValidator] = []
    private var changeIndex: [GuestPath: Int] = [:]
    /// Directories created only because a proposed file needs them: dropped with their last file.
    private var automaticDirectories: Set<GuestPath> = []

    public init(
        root: GuestRoot, devices: DeviceInventory, facts: GuestFacts, executor: (any GuestExecutor)? = nil,
        network: NetworkInputs = NetworkInputs(), destination: Destination? = nil, source: SourceInputs = SourceInputs()
    ) {
        self.network = network
        self.destination = destination
        self.source = source
        self.root = root
        self.devices = devices
        self.facts = facts
        self.executor = executor
    }

    public var isLive: Bool { root.isLive }

    // MARK: Reading the guest as the plan would leave it

    /// A guest file as this plan would leave it so far (nil when missing or proposed for deletion).
    public func read(_ path: GuestPath) throws -> GuestFile? {
        let canonical = try plannedPath(path)
        if let index = changeIndex[canonical] {
            switch changes[index].action {
            case .write(_, let original, let contents, let metadata):
                return GuestFile(path: canonical, contents: contents, metadata: original?.metadata ?? metadata)
            case .delete, .renameAside, .createDirectory, .runCommand:
                return nil
            }
        }
        for change in changes {
            if case .renameAside(_, let original, let destination) = change.action, destination == canonical {
                return GuestFile(path: canonical, contents: original.contents, metadata: original.metadata)
            }
        }
        if try isPlannedDirectory(canonical.parent) && !(try root.isDirectory(canonical.parent)) { return nil }
        return try root.readFile(canonical)
    }

    /// Names in a guest directory as this plan would leave it (files proposed for creation
    /// included, files proposed for deletion or moved aside left out); empty when missing.
    public func listDirectory(_ path: GuestPath) throws -> [String] {
        let canonical = try plannedPath(path)
        var names = Set(try root.listDirectory(canonical))
        for change in changes {
            if case .renameAside(_, _, let destination) = change.action, destination.parent == canonical {
                names.insert(destination.name)
            }
            guard let changed = change.path, changed.parent == canonical else { continue }
            switch change.action {
            case .write, .createDirectory: names.insert(changed.name)
            case .delete, .renameAside: names.remove(changed.name)
            case .runCommand: break
            }
        }
        return names.sorted()
    }

    // MARK: Findings

    public func report(_ finding: Finding) {
        findings.append(finding)
    }

    // MARK: Proposals

    /// Proposes new contents for a file, creating it (and any directory it needs) when missing.
    /// No-op when nothing changes.
    public func propose(
        _ path: GuestPath, contents: [UInt8], rule: String, reasons: [String],
        validators: [any ChangeValidator] = [], metadata: FileMetadata = .newConfigFile
    ) throws {
        let canonical = try plannedPath(path)
        if let index = changeIndex[canonical] {
            var change = changes[index]
            let original: GuestFile?
            switch change.action {
            case .write(_, let before, _, _): original = before
            case .delete(_, let before): original = before
            case .renameAside, .createDirectory, .runCommand:
                throw GuestprepError(
                    .refused, "rule \(rule) proposes writing \(canonical), which another rule \(change.kind.rawValue)s",
                    path: root.display(canonical))
            }
            change.action = .write(path: canonical, original: original, contents: contents, metadata: original?.metadata ?? metadata)
            if !change.rules.contains(rule) { change.rules.append(rule) }
            change.reasons += reasons
            change.validators += validators
            if original?.contents == contents {
                removeChange(at: index)
            } else {
                changes[index] = change
            }
            return
        }
        let original = try read(canonical)
        guard original?.contents != contents else { return }
        if original == nil { try proposeMissingDirectories(of: canonical, rule: rule) }
        append(
            Change(
                rules: [rule],
                action: .write(path: canonical, original: original, contents: contents, metadata: original?.metadata ?? metadata),
                reasons: reasons, validators: validators))
    }

    /// Proposes removing a file; nothing when it does not exist. Removing a file this plan was
    /// going to create just drops that proposal.
    public func proposeDeletion(_ path: GuestPath, rule: String, reasons: [String]) throws {
        let canonical = try plannedPath(path)
        if let index = changeIndex[canonical] {
            var change = changes[index]
            guard case .write(_, let original, _, _) = change.action else {
                throw GuestprepError(
                    .refused, "rule \(rule) proposes deleting \(canonical), which another rule \(change.kind.rawValue)s",
                    path: root.display(canonical))
            }
            guard let original else {
                removeChange(at: index)
                return
            }
            change.action = .delete(path: canonical, original: original)
            change.validators = []  // they check contents, and there will be none
            if !change.rules.contains(rule) { change.rules.append(rule) }
            change.reasons += reasons
            changes[index] = change
            return
        }
        guard let original = try root.readFile(canonical) else { return }
        append(Change(rules: [rule], action: .delete(path: canonical, original: original), reasons: reasons))
    }

    /// Proposes moving a file to `destination` (on the same filesystem), creating the
    /// destination's directory when missing. Nothing when the file does not exist.
    public func proposeRenameAside(_ path: GuestPath, to destination: GuestPath, rule: String, reasons: [String]) throws {
        let canonical = try plannedPath(path)
        let target = try plannedPath(destination)
        if let index = changeIndex[canonical] {
            throw GuestprepError(
                .refused, "rule \(rule) proposes moving \(canonical) aside, which another rule \(changes[index].kind.rawValue)s",
                path: root.display(canonical))
        }
        guard let original = try root.readFile(canonical) else { return }
        guard try read(target) == nil, changeIndex[target] == nil, !(try root.exists(target)) else {
            throw GuestprepError(
                .refused, "cannot move \(canonical) aside to \(target): something is already there", path: root.display(target))
        }
        try proposeMissingDirectories(of: target, rule: rule)
        append(Change(rules: [rule], action: .renameAside(path: canonical, original: original, destination: target), reasons: reasons))
    }

    /// Proposes creating a directory (and its missing parents), with the family's mode by default.
    public func proposeDirectory(_ path: GuestPath, mode: UInt32? = nil, rule: String, reasons: [String]) throws {
        let canonical = try plannedPath(path)
        if try isPlannedDirectory(canonical) { return }
        try proposeMissingDirectories(of: canonical, rule: rule)
        append(
            Change(
                rules: [rule], action: .createDirectory(path: canonical, mode: mode ?? facts.profile.configDirectoryMode),
                reasons: reasons))
    }

    /// Proposes running a command in the guest (after every file change before it in the plan).
    public func proposeCommand(_ step: CommandStep, rule: String, reasons: [String]) {
        // The same command from two rules runs once, rewriting what either declared, and at the
        // later rule's place: after every file either rule changes (an initramfs rebuilt before
        // a later rule's modules list is written would not carry those modules).
        if let index = changes.firstIndex(where: { $0.command?.argv == step.argv && $0.command?.undo == step.undo }) {
            var change = changes[index]
            if case .runCommand(var merged) = change.action {
                for path in step.rewrites where !merged.rewrites.contains(path) { merged.rewrites.append(path) }
                change.action = .runCommand(merged)
            }
            if !change.rules.contains(rule) { change.rules.append(rule) }
            change.reasons += reasons
            changes.remove(at: index)
            changeIndex = [:]
            for (position, kept) in changes.enumerated() {
                if let path = kept.path { changeIndex[path] = position }
            }
            append(change)
            return
        }
        append(Change(rules: [rule], action: .runCommand(step), reasons: reasons))
    }

    /// Registers a check over the whole planned set of files (once per `id`).
    public func addSetValidator(_ validator: any ChangeSetValidator) {
        if !setValidators.contains(where: { $0.id == validator.id }) { setValidators.append(validator) }
    }

    /// Drops a proposal (for example when its validation failed while planning).
    public func withdraw(_ path: GuestPath) {
        if let index = changeIndex[path] { removeChange(at: index) }
    }

    /// Runs one rule's evaluation; if it throws, everything it proposed or reported is dropped,
    /// so a rule that failed half-way leaves no half-made change behind.
    public func evaluating(_ body: () throws -> Void) throws {
        let saved = (findings, changes, setValidators, changeIndex, automaticDirectories)
        do {
            try body()
        } catch {
            (findings, changes, setValidators, changeIndex, automaticDirectories) = saved
            throw error
        }
    }

    // MARK: Paths and bookkeeping

    /// The canonical guest path (symlinks resolved inside the root) of a path whose directories
    /// may not exist yet; missing components are taken as written.
    func plannedPath(_ path: GuestPath) throws -> GuestPath {
        guard !path.components.contains("..") else {
            throw GuestprepError(.refused, "rules name guest paths without '..', got \(path)")
        }
        var existing = path
        var tail: [String] = []
        while true {
            do {
                let canonical = try root.canonicalPath(existing)
                return GuestPath(components: canonical.components + tail)
            } catch let error as GuestprepError where error.code == .notFound && !existing.components.isEmpty {
                tail.insert(existing.name, at: 0)
                existing = existing.parent
            }
        }
    }

    private func isPlannedDirectory(_ path: GuestPath) throws -> Bool {
        if let index = changeIndex[path], case .createDirectory = changes[index].action { return true }
        return try root.isDirectory(path)
    }

    /// Adds create-directory changes for every missing directory above `path`, outermost first.
    private func proposeMissingDirectories(of path: GuestPath, rule: String) throws {
        var prefix = GuestPath("/")
        for component in path.parent.components {
            prefix = prefix.appending(component)
            if try isPlannedDirectory(prefix) { continue }
            switch try root.entry(prefix) {
            case .missing: break
            case .directory: continue
            default:
                throw GuestprepError(
                    .refused, "\(path) needs \(prefix) to be a directory, but it is something else in the guest", path: root.display(prefix)
                )
            }
            automaticDirectories.insert(prefix)
            append(
                Change(
                    rules: [rule], action: .createDirectory(path: prefix, mode: facts.profile.configDirectoryMode),
                    reasons: ["needed for \(path)"]))
        }
    }

    private func append(_ change: Change) {
        if let path = change.path { changeIndex[path] = changes.count }
        changes.append(change)
    }

    private func removeChange(at index: Int) {
        changes.remove(at: index)
        // A directory made only for files no longer proposed is not needed either (nor, in
        // turn, the directories made only for it).
        var pruned = true
        while pruned {
            var needed = Set(changes.compactMap { $0.kind == .createDirectory ? nil : $0.path?.parent })
            for change in changes {
                if case .renameAside(_, _, let destination) = change.action { needed.insert(destination.parent) }
            }
            for change in changes where change.kind == .createDirectory { if let path = change.path { needed.insert(path.parent) } }
            let unneeded = Set(
                changes.compactMap { change -> GuestPath? in
                    guard let path = change.path, change.kind == .createDirectory, automaticDirectories.contains(path) else { return nil }
                    return needed.contains(path) ? nil : path
                })
            automaticDirectories.subtract(unneeded)
            changes.removeAll { change in change.kind == .createDirectory && change.path.map(unneeded.contains) == true }
            pruned = !unneeded.isEmpty
        }
        changeIndex = [:]
        for (position, change) in changes.enumerated() {
            if let path = change.path { changeIndex[path] = position }
        }
    }
}
