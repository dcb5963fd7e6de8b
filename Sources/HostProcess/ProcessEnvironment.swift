import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// The environment every command starts from, host tool or guest command alike.
public enum ProcessEnvironment {
    /// The system directories, searched in this order.
    public static let path = "/usr/sbin:/usr/bin:/sbin:/bin"

    /// `NAME=value` entries: the C locale (output that parsers can rely on) and `path`, then
    /// `extra`. `label` names the command in the error for a name that cannot be a variable.
    public static func minimal(plus extra: [String: String], label: String) throws -> [String] {
        if let bad = extra.keys.first(where: { $0.isEmpty || $0.contains("=") }) {
            throw GuestprepError(.usage, "environment variable name \(bad.debugDescription) is empty or contains '='", path: label)
        }
        return ["PATH": path, "LC_ALL": "C"].merging(extra) { $1 }
            .sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }
    }
}

/// NUL-terminated copies of strings for a C argv or envp, freed when the value goes away.
/// A string holding NUL cannot be passed to a program intact, so it is refused.
package final class CStrings {
    private let pointers: [UnsafeMutablePointer<CChar>?]

    package init(_ strings: [String], what: String, label: String) throws {
        if let bad = strings.first(where: { $0.utf8.contains(0) }) {
            throw GuestprepError(.usage, "\(what) \(bad.debugDescription) contains a NUL byte, which no program can receive", path: label)
        }
        pointers = strings.map { strdup($0) } + [nil]
    }

    /// The NULL-terminated array, valid during `body`.
    package func withPointers<Result>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> Result) rethrows -> Result {
        try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    deinit { pointers.forEach { free($0) } }
}
