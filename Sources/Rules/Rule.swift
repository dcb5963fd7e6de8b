import BlockProbe
import GuestFS
import GuestprepCore

/// A remediation: inspects the guest, reports findings, and proposes changes through its context.
/// Adding one means a new type conforming to this plus an entry in `RuleCatalog`; nothing else.
public protocol Rule: Sendable {
    /// Stable identifier used in playbooks, findings and changes, e.g. "stable-block-device-references".
    static var id: String { get }
    /// One line for `--help` and documentation.
    static var summary: String { get }
    /// Parameter names this rule accepts in a playbook; anything else is an error there.
    static var parameterNames: [String] { get }

    /// Builds the rule from playbook parameters, throwing a `.playbook` error for bad values.
    init(parameters: RuleParameters) throws

    /// Inspects the guest and records findings and proposed changes in `context`. Problems with
    /// the guest become findings; only failures to inspect at all are thrown.
    func evaluate(in context: RuleContext) throws
}

/// Parameters from a playbook entry, with the file and line each came from for error messages.
public struct RuleParameters: Sendable {
    public struct Value: Sendable {
        public enum Content: Sendable, Equatable {
            case scalar(String)
            case list([String])
        }
        public var content: Content
        public var line: Int

        public init(content: Content, line: Int) {
            self.content = content
            self.line = line
        }
    }

    public var values: [String: Value]
    public var file: String
    public var rule: String

    public init(values: [String: Value] = [:], file: String = "<built-in>", rule: String = "") {
        self.values = values
        self.file = file
        self.rule = rule
    }

    /// A list parameter whose items must come from `allowed`; `defaultValue` when absent.
    public func list(_ name: String, allowed: [String], default defaultValue: [String]) throws -> [String] {
        guard let value = values[name] else { return defaultValue }
        let items: [String]
        switch value.content {
        case .list(let list): items = list
        case .scalar(let scalar): items = [scalar]
        }
        for item in items where !allowed.contains(item) {
            throw GuestprepError(
                .playbook, "rule \(rule): \(name) has unknown item '\(item)'; allowed: \(allowed.joined(separator: ", "))", path: file,
                line: value.line)
        }
        return items
    }

    /// A scalar parameter whose value must be one of `allowed`.
    public func choice(_ name: String, allowed: [String], default defaultValue: String) throws -> String {
        guard let value = values[name] else { return defaultValue }
        guard case .scalar(let scalar) = value.content, allowed.contains(scalar) else {
            throw GuestprepError(
                .playbook, "rule \(rule): \(name) must be one of \(allowed.joined(separator: ", "))", path: file, line: value.line)
        }
        return scalar
    }
}

/// Checks a changed file's contents; run on the proposal while planning and again on the bytes
/// read back from the guest after writing.
public protocol ChangeValidator: Sendable {
    /// Throws a `.validation` error that names the file, line and problem.
    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws
}

/// One proposed change to the guest.
public struct Change: Sendable {
    public enum Action: String, Sendable, Codable {
        case modify, create, delete
        /// Runs a command in the guest; cannot be undone by restoring files.
        case command
    }

    /// Rules that contributed, in order.
    public var rules: [String]
    public var action: Action
    /// Canonical guest path (symlinks resolved inside the root); nil for commands.
    public var path: GuestPath?
    /// The file as it is now; nil when it does not exist.
    public var original: GuestFile?
    /// New contents; nil for deletions and commands.
    public var proposed: [UInt8]?
    /// Owner, mode and attributes for created files; modified files keep their own.
    public var metadata: FileMetadata?
    public var command: [String]?
    /// Why, line by line, e.g. "line 3: /dev/sda1 → UUID=… (ext4)".
    public var reasons: [String]
    public var validators: [any ChangeValidator]

    /// The unified diff shown to the admin.
    public func diff(label: String) -> String {
        UnifiedDiff.render(old: original?.contents, new: proposed, oldLabel: "a" + label, newLabel: "b" + label)
    }
}

/// What rules see and where they put their results. Reads see earlier rules' proposals, so
/// several rules can edit one file and the plan holds a single change for it.
public final class RuleContext {
    public let root: GuestRoot
    public let devices: DeviceInventory
    public private(set) var findings: [Finding] = []
    public private(set) var changes: [Change] = []
    private var changeIndex: [GuestPath: Int] = [:]

    public init(root: GuestRoot, devices: DeviceInventory) {
        self.root = root
        self.devices = devices
    }

    public var isLive: Bool { root.isLive }

    /// A guest file as this plan would leave it so far (nil when missing or proposed for deletion).
    public func read(_ path: GuestPath) throws -> GuestFile? {
        let canonical: GuestPath
        do {
            canonical = try root.canonicalPath(path)
        } catch let error as GuestprepError where error.code == .notFound {
            return nil  // a directory on the way is missing, so the file is too
        }
        if let index = changeIndex[canonical] {
            let change = changes[index]
            guard let proposed = change.proposed else { return nil }
            return GuestFile(path: canonical, contents: proposed, metadata: change.original?.metadata ?? change.metadata ?? .newConfigFile)
        }
        return try root.readFile(canonical)
    }

    public func report(_ finding: Finding) {
        findings.append(finding)
    }

    /// Proposes new contents for a file (creating it when missing). No-op when nothing changes.
    public func propose(
        _ path: GuestPath, contents: [UInt8], rule: String, reasons: [String],
        validators: [any ChangeValidator] = [], metadata: FileMetadata = .newConfigFile
    ) throws {
        let canonical: GuestPath
        do {
            canonical = try root.canonicalPath(path)
        } catch let error as GuestprepError where error.code == .notFound {
            throw GuestprepError(.refused, "cannot propose creating \(path): its directory does not exist in the guest", path: error.path)
        }
        if let index = changeIndex[canonical] {
            changes[index].proposed = contents
            if !changes[index].rules.contains(rule) { changes[index].rules.append(rule) }
            changes[index].reasons += reasons
            changes[index].validators += validators
            if changes[index].original == nil {
                changes[index].action = .create
            } else if changes[index].original?.contents == contents {
                removeChange(at: index)
            } else {
                changes[index].action = .modify
            }
            return
        }
        let original = try root.readFile(canonical)
        guard original?.contents != contents else { return }
        if original == nil, try !root.isDirectory(canonical.parent) {
            throw GuestprepError(
                .refused, "cannot propose creating \(canonical): its directory does not exist in the guest", path: root.display(canonical))
        }
        changeIndex[canonical] = changes.count
        changes.append(
            Change(
                rules: [rule], action: original == nil ? .create : .modify, path: canonical, original: original,
                proposed: contents, metadata: original == nil ? metadata : nil, command: nil,
                reasons: reasons, validators: validators))
    }

    /// Proposes removing a file; nothing when it does not exist. Removing a file this plan was
    /// going to create just drops that proposal.
    public func proposeDeletion(_ path: GuestPath, rule: String, reasons: [String]) throws {
        let canonical = try root.canonicalPath(path)
        if let index = changeIndex[canonical] {
            guard changes[index].original != nil else {
                removeChange(at: index)
                return
            }
            changes[index].proposed = nil
            changes[index].action = .delete
            changes[index].validators = []  // they check contents, and there will be none
            if !changes[index].rules.contains(rule) { changes[index].rules.append(rule) }
            changes[index].reasons += reasons
            return
        }
        guard let original = try root.readFile(canonical) else { return }
        changeIndex[canonical] = changes.count
        changes.append(
            Change(
                rules: [rule], action: .delete, path: canonical, original: original, proposed: nil,
                metadata: nil, command: nil, reasons: reasons, validators: []))
    }

    /// Names in a guest directory as this plan would leave it (files proposed for creation
    /// included, files proposed for deletion left out); empty when the directory is missing.
    public func listDirectory(_ path: GuestPath) throws -> [String] {
        let canonical: GuestPath
        do {
            canonical = try root.canonicalPath(path)
        } catch let error as GuestprepError where error.code == .notFound {
            return []
        }
        var names = Set(try root.listDirectory(canonical))
        for change in changes {
            guard let changed = change.path, changed.parent == canonical else { continue }
            if change.proposed == nil { names.remove(changed.name) } else { names.insert(changed.name) }
        }
        return names.sorted()
    }

    /// Drops a proposal (for example when its validation failed while planning).
    public func withdraw(_ path: GuestPath) {
        if let index = changeIndex[path] { removeChange(at: index) }
    }

    private func removeChange(at index: Int) {
        changes.remove(at: index)
        changeIndex = [:]
        for (position, change) in changes.enumerated() {
            if let path = change.path { changeIndex[path] = position }
        }
    }
}
