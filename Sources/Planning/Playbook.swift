import GuestprepCore
import Rules
import Yams

/// An ordered list of rules with their parameters, read from YAML:
///
///     name: default
///     description: …
///     rules:
///       - rule: stable-block-device-references
///         with:
///           targets: [fstab, crypttab, resume]
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

    public init(name: String, description: String? = nil, source: String, steps: [Step], text: String = "") {
        self.name = name
        self.description = description
        self.source = source
        self.steps = steps
        self.text = text
    }

    static let topKeys = ["name", "description", "rules"]
    static let stepKeys = ["rule", "with"]

    public static func parse(_ text: String, source: String) throws -> Playbook {
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
        guard let rulesNode = mapping["rules"] else {
            throw GuestprepError(.playbook, "missing 'rules' (a list of rules to run, in order)", path: source, line: root.mark?.line)
        }
        guard let sequence = rulesNode.sequence else {
            throw GuestprepError(.playbook, "'rules' must be a list", path: source, line: rulesNode.mark?.line)
        }
        var steps: [Step] = []
        for item in sequence {
            let line = item.mark?.line ?? 0
            guard let stepMapping = item.mapping else {
                throw GuestprepError(.playbook, "each rule entry is a mapping with 'rule' and optional 'with'", path: source, line: line)
            }
            try checkKeys(stepMapping, allowed: stepKeys, what: "rule entry", source: source)
            guard let id = stepMapping["rule"]?.scalar?.string else {
                throw GuestprepError(.playbook, "rule entry without 'rule: <id>'", path: source, line: line)
            }
            guard let type = RuleCatalog.rule(id: id) else {
                let known = RuleCatalog.all.map { $0.id }.joined(separator: ", ")
                throw GuestprepError(
                    .playbook, "unknown rule '\(id)'; known rules: \(known)", path: source, line: stepMapping["rule"]?.mark?.line ?? line)
            }
            if steps.contains(where: { $0.ruleID == id }) {
                throw GuestprepError(
                    .playbook, "rule '\(id)' is listed twice; list it once with all its parameters", path: source, line: line)
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
            let rule = try type.init(parameters: RuleParameters(values: values, file: source, rule: id))
            steps.append(Step(rule: rule, ruleID: id, line: line))
        }
        return Playbook(name: name, description: mapping["description"]?.scalar?.string, source: source, steps: steps, text: text)
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
