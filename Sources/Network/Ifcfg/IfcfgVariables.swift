import Dialects
import GuestFS
import GuestprepCore

/// The variables of one sourced-by-shell file (ifcfg, route, sysconfig), the last assignment of a
/// key winning as in the shell, each with its line.
struct IfcfgVariables {
    let path: GuestPath
    let file: ShellAssignmentsFile
    private let last: [String: ShellAssignmentsFile.Assignment]

    init(path: GuestPath, bytes: [UInt8]) {
        self.path = path
        file = ShellAssignmentsFile(bytes: bytes)
        var last: [String: ShellAssignmentsFile.Assignment] = [:]
        for assignment in file.assignments { last[assignment.key] = assignment }
        self.last = last
    }

    static func read(_ path: GuestPath, from files: any GuestFileReader) throws -> IfcfgVariables? {
        guard let file = try files.read(path) else { return nil }
        return IfcfgVariables(path: path, bytes: file.contents)
    }

    /// Keys in the order their last assignment appears.
    var keys: [String] { last.values.sorted { $0.index < $1.index }.map(\.key) }

    /// A value with surrounding blanks trimmed; nil when unset, empty, or an unterminated quote.
    subscript(key: String) -> String? {
        guard let assignment = last[key], assignment.isSimple || assignment.quote == nil else { return nil }
        let value = assignment.value.trimmingBlanks
        return value.isEmpty ? nil : value
    }

    func location(_ key: String) -> SourceLocation {
        SourceLocation(path, line: last[key]?.lineNumber)
    }

    func sourced<T: Sendable & Hashable>(_ key: String, _ parse: (String) -> T?) -> Sourced<T>? {
        guard let text = self[key], let value = parse(text) else { return nil }
        return Sourced(value, at: location(key))
    }

    /// Keys `PREFIX` followed by digits, by number (`DNS1`, `DNS2`, … `DNS10`).
    func numbered(_ prefix: String) -> [(number: Int, key: String)] {
        keys.compactMap { key in
            guard key.hasPrefix(prefix), let number = Int(key.dropFirst(prefix.count)), key.count > prefix.count,
                key.dropFirst(prefix.count).allSatisfy(\.isASCIIDigitCharacter)
            else { return nil }
            return (number, key)
        }.sorted { $0.number < $1.number }
    }

    static func isYes(_ value: String?) -> Bool {
        guard let value = value?.lowercased() else { return false }
        return ["yes", "true", "y", "t", "1", "on"].contains(value)
    }
}
