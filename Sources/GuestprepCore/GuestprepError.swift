#if canImport(Glibc)
    import Glibc
#endif

/// The one error currency: what went wrong, where, why, and what to do next.
public struct GuestprepError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable categories; callers match on these, never on message text.
    public enum Code: String, Sendable, Codable {
        case usage
        case escapesRoot = "escapes-root"
        case notRegularFile = "not-regular-file"
        case fileTooLarge = "file-too-large"
        case io
        case parse
        case playbook
        case probe
        case journal
        case locked
        case interruptedRun = "interrupted-run"
        case modifiedSinceApply = "modified-since-apply"
        case validation
        case refused
        case notFound = "not-found"
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var line: Int?
    /// Underlying cause, e.g. `strerror` text of a failed syscall.
    public var cause: String?

    public init(_ code: Code, _ message: String, path: String? = nil, line: Int? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.line = line
        self.cause = cause
    }

    /// An error from a failed syscall, carrying `strerror(errno)` and the errno itself.
    public static func system(_ operation: String, path: String?, errno code: Int32 = Glibc.errno) -> GuestprepError {
        var error = GuestprepError(.io, "\(operation) failed", path: path, cause: "\(String(cString: strerror(code))) (errno \(code))")
        error.errorNumber = code
        return error
    }

    /// The errno of a failed syscall, when that is the cause.
    public var errorNumber: Int32?

    public var description: String {
        var location = ""
        if let path {
            location = path
            if let line { location += ":\(line)" }
            location += ": "
        }
        var text = location + message
        if let cause { text += ": \(cause)" }
        return text
    }
}
