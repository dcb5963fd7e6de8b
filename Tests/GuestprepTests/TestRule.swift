import Rules

/// A rule written for a test: only its id and evaluation matter, so the rest has defaults.
protocol TestRule: Rule {
    init()
}

extension TestRule {
    static var summary: String { "test rule" }
    static var parameterNames: [String] { [] }
    init(parameters: RuleParameters) { self.init() }
}
