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
    /// the guest become findings; a failure to inspect is thrown, and becomes an error for this
    /// rule alone (its partial proposals are dropped, the other rules still run).
    func evaluate(in context: RuleContext) throws
}

/// Parameters from a playbook entry, with the file and line each came from for error messages.
public struct RuleParameters: Sendable {
    public struct Value: Sendable {
        public indirect enum Content: Sendable, Equatable {
            case scalar(String)
            case list([Content])
            /// Keys in the playbook's order (per-interface settings, say).
            case map([(key: String, value: Content)])

            public static func == (lhs: Content, rhs: Content) -> Bool {
                switch (lhs, rhs) {
                case (.scalar(let a), .scalar(let b)): a == b
                case (.list(let a), .list(let b)): a == b
                case (.map(let a), .map(let b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
                default: false
                }
            }

            var scalar: String? {
                if case .scalar(let text) = self { return text }
                return nil
            }
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

    private func error(_ name: String, _ message: String) -> GuestprepError {
        GuestprepError(.playbook, "rule \(rule): \(name) \(message)", path: file, line: values[name]?.line)
    }

    /// A list parameter whose items must come from `allowed`; `defaultValue` when absent.
    public func list(_ name: String, allowed: [String]? = nil, default defaultValue: [String]) throws -> [String] {
        guard let value = values[name] else { return defaultValue }
        let items: [String]
        switch value.content {
        case .list(let list):
            items = try list.map { item in
                guard let text = item.scalar else { throw error(name, "must be a list of plain values") }
                return text
            }
        case .scalar(let scalar): items = [scalar]
        case .map: throw error(name, "must be a list, not a mapping")
        }
        if let allowed {
            for item in items where !allowed.contains(item) {
                throw error(name, "has unknown item '\(item)'; allowed: \(allowed.joined(separator: ", "))")
            }
        }
        return items
    }

    /// A scalar parameter whose value must be one of `allowed`.
    public func choice(_ name: String, allowed: [String], default defaultValue: String) throws -> String {
        guard let value = values[name] else { return defaultValue }
        guard let scalar = value.content.scalar, allowed.contains(scalar) else {
            throw error(name, "must be one of \(allowed.joined(separator: ", "))")
        }
        return scalar
    }

    /// A whole number parameter within `range`.
    public func integer(_ name: String, in range: ClosedRange<Int>, default defaultValue: Int) throws -> Int {
        guard let value = values[name] else { return defaultValue }
        guard let scalar = value.content.scalar, let number = Int(scalar), range.contains(number) else {
            throw error(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A mapping parameter of plain values (`eth0: 10.0.0.5/24`), in playbook order; empty when absent.
    public func map(_ name: String) throws -> [(key: String, value: String)] {
        guard let value = values[name] else { return [] }
        guard case .map(let pairs) = value.content else { throw error(name, "must be a mapping of names to values") }
        return try pairs.map { pair in
            guard let text = pair.value.scalar else { throw error(name, "entry '\(pair.key)' must be a plain value") }
            return (pair.key, text)
        }
    }

    /// A mapping parameter whose values are mappings (`eth0: {address: …, gateway: …}`).
    public func nestedMap(_ name: String) throws -> [(key: String, value: [(key: String, value: String)])] {
        guard let value = values[name] else { return [] }
        guard case .map(let pairs) = value.content else { throw error(name, "must be a mapping") }
        return try pairs.map { pair in
            guard case .map(let inner) = pair.value else { throw error(name, "entry '\(pair.key)' must be a mapping") }
            return (
                pair.key,
                try inner.map { entry in
                    guard let text = entry.value.scalar else { throw error(name, "\(pair.key).\(entry.key) must be a plain value") }
                    return (entry.key, text)
                }
            )
        }
    }
}
