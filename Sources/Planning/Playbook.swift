import GuestprepCore
import Rules
import Yams

/// The text of one playbook file and where it came from; a saved plan keeps every file of an
/// `extends:` chain so apply can replay exactly what was planned.
public struct PlaybookDocument: Sendable, Codable, Equatable {
    /// How `extends:` named it ("aws", "../base.yaml"); empty for the playbook given itself.
    public var reference: String
    /// A file path, or "playbooks/NAME.yaml (built in)".
    public var source: String
    public var text: String

    public init(reference: String = "", source: String, text: String) {
        self.reference = reference
        self.source = source
        self.text = text
    }
}

/// An ordered list of rules with their parameters, read from YAML:
///
///     name: aws
///     description: …
///     extends: default          # optional: start from another playbook
///     destination:              # optional: what the target platform offers
///       platform: aws
///       firmware: [bios, uefi]
///       keeps-macs: false
///     rules:
///       - rule: stable-block-device-references
///         with:
///           targets: [fstab, crypttab, resume]
///       - rule: dhcp-to-static
///         enabled: false        # drop a rule the extended playbook runs
public struct Playbook: Sendable {
    public struct Step: Sendable {
        public var rule: any Rule
        public var ruleID: String
        public var line: Int

        public init(rule: any Rule, ruleID: String, line: Int) {
            self.rule = rule
            self.ruleID = ruleID
            self.line = line
        }
    }

    public var name: String
    public var description: String?
    /// Where it came from: a file path or "built-in".
    public var source: String
    public var steps: [Step]
    /// The YAML it was parsed from, kept so a saved plan can replay exactly this playbook.
    public var text: String
    /// The playbooks it extends, nearest first.
    public var parents: [PlaybookDocument]
    public var destination: Destination?

    public init(
        name: String, description: String? = nil, source: String, steps: [Step], text: String = "", parents: [PlaybookDocument] = [],
        destination: Destination? = nil
    ) {
        self.name = name
        self.description = description
        self.source = source
        self.steps = steps
        self.text = text
        self.parents = parents
        self.destination = destination
    }

    /// Finds the playbook an `extends:` names (a shipped name or a file), given the source of
    /// the playbook that names it.
    public typealias Resolver = (_ reference: String, _ from: String) throws -> PlaybookDocument

    static let topKeys = ["name", "description", "extends", "destination", "rules"]
    static let stepKeys = ["rule", "with", "enabled"]
    static let destinationKeys = ["platform", "firmware", "keeps-macs", "guest-agent", "dhcp-typical"]
    /// More would be a loop in all but name.
    static let maximumDepth = 8

    public static func parse(
        _ text: String, source: String,
        resolve: Resolver = { reference, from in
            throw GuestprepError(.playbook, "extends '\(reference)', and no other playbook can be loaded here", path: from)
        }
    ) throws -> Playbook {
        var parents: [PlaybookDocument] = []
        let merged = try resolved(PlaybookDocument(source: source, text: text), resolve: resolve, parents: &parents)
        var steps: [Step] = []
        for raw in merged.steps {
            let type = try ruleType(raw.id, source: raw.source, line: raw.line)
            let rule = try type.init(parameters: RuleParameters(values: raw.values, file: raw.source, rule: raw.id))
            steps.append(Step(rule: rule, ruleID: raw.id, line: raw.line))
        }
        return Playbook(
            name: merged.name, description: merged.description, source: source, steps: steps, text: text, parents: parents,
            destination: try merged.destination.map { try destination($0, source: merged.destinationSource) })
    }

    /// One file's contents before rules are built: what `extends:` merges.
    struct Parsed {
        struct RawStep {
            var id: String
            var values: [String: RuleParameters.Value]
            var enabled: Bool
            var line: Int
            var source: String
        }
        var name: String
        var description: String?
        var extends: (reference: String, line: Int)?
        var destination: [(key: String, value: RuleParameters.Value)]?
        var destinationSource: String
        var steps: [RawStep]
    }

    /// The document with everything it extends merged in: the parent's rules in the parent's
    /// order, each overridden key by key by the child's `with:`, the child's new rules after them,
    /// rules the child disables dropped; destination keys likewise.
    static func resolved(_ document: PlaybookDocument, resolve: Resolver, parents: inout [PlaybookDocument]) throws -> Parsed {
        var own = try parsedFile(document.text, source: document.source)
        guard let extends = own.extends else {
            own.steps = own.steps.filter(\.enabled)
            return own
        }
        if parents.count >= maximumDepth {
            throw GuestprepError(
                .playbook, "extends more than \(maximumDepth) playbooks deep; is there a loop?", path: document.source, line: extends.line)
        }
        let parentDocument = try resolve(extends.reference, document.source)
        if parentDocument.source == document.source || parents.contains(where: { $0.source == parentDocument.source }) {
            throw GuestprepError(
                .playbook, "extends '\(extends.reference)', which extends this playbook again (a loop)", path: document.source,
                line: extends.line)
        }
        parents.append(parentDocument)
        let parent = try resolved(parentDocument, resolve: resolve, parents: &parents)
        var steps = parent.steps
        for step in own.steps {
            if let index = steps.firstIndex(where: { $0.id == step.id }) {
                guard step.enabled else {
                    steps.remove(at: index)
                    continue
                }
                steps[index].values.merge(step.values) { _, child in child }
                steps[index].source = step.source
            } else if step.enabled {
                steps.append(step)
            }
        }
        own.steps = steps
        own.description = own.description ?? parent.description
        if let parentDestination = parent.destination {
            if own.destination == nil { own.destinationSource = parent.destinationSource }
            var merged = parentDestination
            for entry in own.destination ?? [] {
                if let index = merged.firstIndex(where: { $0.key == entry.key }) { merged[index] = entry } else { merged.append(entry) }
            }
            own.destination = merged
        }
        return own
    }

    static func ruleType(_ id: String, source: String, line: Int) throws -> any Rule.Type {
        guard let type = RuleCatalog.rule(id: id) else {
            let known = RuleCatalog.all.map { $0.id }.joined(separator: ", ")
            throw GuestprepError(.playbook, "unknown rule '\(id)'; known rules: \(known)", path: source, line: line)
        }
        return type
    }

    static func parsedFile(_ text: String, source: String) throws -> Parsed {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw GuestprepError(.playbook, "not valid YAML: \(Self.problem(error))", path: source, line: Self.line(error))
        }
        guard let root, let mapping = root.mapping else {
            throw GuestprepError(
                .playbook, "a playbook is a mapping with name, description and rules", path: source, line: root?.mark?.line)
        }
        try checkKeys(mapping, allowed: topKeys, what: "playbook", source: source)
        guard let name = mapping["name"]?.scalar?.string, !name.isEmpty else {
            throw GuestprepError(.playbook, "missing 'name'", path: source, line: root.mark?.line)
        }
        var extends: (String, Int)? = nil
        if let node = mapping["extends"] {
            guard let reference = node.scalar?.string, !reference.isEmpty else {
                throw GuestprepError(
                    .playbook, "'extends' names one playbook (a shipped name or a file)", path: source, line: node.mark?.line)
            }
            extends = (reference, node.mark?.line ?? 0)
        }
        var destination: [(key: String, value: RuleParameters.Value)]? = nil
        if let node = mapping["destination"] {
            guard let entries = node.mapping else {
                throw GuestprepError(.playbook, "'destination' must be a mapping", path: source, line: node.mark?.line)
            }
            try checkKeys(entries, allowed: destinationKeys, what: "destination", source: source)
            destination = try entries.map { key, value in
                (key.scalar?.string ?? "", RuleParameters.Value(content: try content(of: value, source: source), line: key.mark?.line ?? 0))
            }
        }
        guard let rulesNode = mapping["rules"] else {
            if extends != nil {
                return Parsed(
                    name: name, description: mapping["description"]?.scalar?.string, extends: extends, destination: destination,
                    destinationSource: source, steps: [])
            }
            throw GuestprepError(.playbook, "missing 'rules' (a list of rules to run, in order)", path: source, line: root.mark?.line)
        }
        guard let sequence = rulesNode.sequence else {
            throw GuestprepError(.playbook, "'rules' must be a list", path: source, line: rulesNode.mark?.line)
        }
        var steps: [Parsed.RawStep] = []
        for item in sequence {
            let line = item.mark?.line ?? 0
            guard let stepMapping = item.mapping else {
                throw GuestprepError(.playbook, "each rule entry is a mapping with 'rule' and optional 'with'", path: source, line: line)
            }
            try checkKeys(stepMapping, allowed: stepKeys, what: "rule entry", source: source)
            guard let id = stepMapping["rule"]?.scalar?.string else {
                throw GuestprepError(.playbook, "rule entry without 'rule: <id>'", path: source, line: line)
            }
            let type = try ruleType(id, source: source, line: stepMapping["rule"]?.mark?.line ?? line)
            if steps.contains(where: { $0.id == id }) {
                throw GuestprepError(
                    .playbook, "rule '\(id)' is listed twice; list it once with all its parameters", path: source, line: line)
            }
            var enabled = true
            if let node = stepMapping["enabled"] {
                guard let flag = node.scalar?.string, ["true", "false"].contains(flag) else {
                    throw GuestprepError(.playbook, "'enabled' is true or false", path: source, line: node.mark?.line)
                }
                enabled = flag == "true"
            }
            var values: [String: RuleParameters.Value] = [:]
            if let with = stepMapping["with"] {
                guard let parameters = with.mapping else {
                    throw GuestprepError(
                        .playbook, "'with' must be a mapping of parameter names to values", path: source, line: with.mark?.line)
                }
                for (key, value) in parameters {
                    let keyLine = key.mark?.line ?? line
                    guard let parameter = key.scalar?.string, type.parameterNames.contains(parameter) else {
                        let accepted = type.parameterNames.isEmpty ? "none" : type.parameterNames.joined(separator: ", ")
                        throw GuestprepError(
                            .playbook, "rule \(id) has no parameter '\(key.scalar?.string ?? "?")'; it accepts: \(accepted)", path: source,
                            line: keyLine)
                    }
                    values[parameter] = RuleParameters.Value(content: try content(of: value, source: source), line: keyLine)
                }
            }
            steps.append(Parsed.RawStep(id: id, values: values, enabled: enabled, line: line, source: source))
        }
        return Parsed(
            name: name, description: mapping["description"]?.scalar?.string, extends: extends, destination: destination,
            destinationSource: source, steps: steps)
    }

    /// The destination block as the rules read it; every value checked.
    static func destination(_ entries: [(key: String, value: RuleParameters.Value)], source: String) throws -> Destination {
        func fail(_ key: String, _ message: String) -> GuestprepError {
            GuestprepError(.playbook, "destination \(key) \(message)", path: source, line: entries.first { $0.key == key }?.value.line)
        }
        func scalar(_ key: String) throws -> String? {
            guard let entry = entries.last(where: { $0.key == key }) else { return nil }
            guard case .scalar(let text) = entry.value.content else { throw fail(key, "must be a plain value") }
            return text
        }
        func flag(_ key: String) throws -> Bool? {
            guard let text = try scalar(key) else { return nil }
            guard ["true", "false"].contains(text) else { throw fail(key, "must be true or false") }
            return text == "true"
        }
        func list(_ key: String) throws -> [String]? {
            guard let entry = entries.last(where: { $0.key == key }) else { return nil }
            switch entry.value.content {
            case .scalar(let text): return [text]
            case .list(let items):
                return try items.map { item in
                    guard case .scalar(let text) = item else { throw fail(key, "must be a list of plain values") }
                    return text
                }
            case .map: throw fail(key, "must be a list")
            }
        }
        guard let platform = try scalar("platform"), !platform.isEmpty else {
            throw GuestprepError(.playbook, "destination needs 'platform' (aws, azure, …)", path: source, line: entries.first?.value.line)
        }
        let firmware = try list("firmware").map { names in
            try names.map { name in
                guard let kind = Destination.Firmware(rawValue: name) else {
                    throw fail(
                        "firmware", "has '\(name)'; allowed: \(Destination.Firmware.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return kind
            }
        }
        return Destination(
            platform: platform, firmware: firmware, keepsMACs: try flag("keeps-macs"), guestAgents: try list("guest-agent") ?? [],
            dhcpTypical: try flag("dhcp-typical"))
    }

    /// Plain values, lists and mappings of them, nested; keys keep the playbook's order.
    private static func content(of node: Node, source: String) throws -> RuleParameters.Value.Content {
        if let scalar = node.scalar { return .scalar(scalar.string) }
        if let sequence = node.sequence {
            return .list(try sequence.map { try content(of: $0, source: source) })
        }
        if let mapping = node.mapping {
            var pairs: [(key: String, value: RuleParameters.Value.Content)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw GuestprepError(.playbook, "mapping keys must be plain values", path: source, line: key.mark?.line)
                }
                if pairs.contains(where: { $0.key == name }) {
                    throw GuestprepError(.playbook, "key '\(name)' appears twice", path: source, line: key.mark?.line)
                }
                pairs.append((name, try content(of: value, source: source)))
            }
            return .map(pairs)
        }
        throw GuestprepError(.playbook, "parameter values are plain values, lists or mappings", path: source, line: node.mark?.line)
    }

    private static func checkKeys(_ mapping: Node.Mapping, allowed: [String], what: String, source: String) throws {
        for key in mapping.keys {
            guard let name = key.scalar?.string, allowed.contains(name) else {
                throw GuestprepError(
                    .playbook, "unknown \(what) key '\(key.scalar?.string ?? "?")'; expected one of: \(allowed.joined(separator: ", "))",
                    path: source, line: key.mark?.line)
            }
        }
    }

    private static func line(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func problem(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }
}
