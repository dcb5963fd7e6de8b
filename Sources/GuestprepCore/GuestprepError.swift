#if canImport(Glibc)
    import Glibc
#endif

/// The one error currency: what went wrong, where, why, and what to do next. An error is a
/// failure of guestprep to do or check something; what is wrong with the guest is a `Finding`.
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
        /// Proposed contents that do not mean what the rule intended: a finding, not a failure.
        case validation
        case refused
        case notFound = "not-found"
        /// The root does not look like an installed guest (or is only half mounted).
        case notAGuest = "not-a-guest"
        /// A saved plan no longer matches the guest.
        case stalePlan = "stale-plan"
        /// A command run in the guest failed.
        case command
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var line: Int?
    /// Underlying cause in words, e.g. `strerror` text of a failed syscall.
    public var cause: String?
    /// The errno of a failed syscall, when that is the cause.
    public var errorNumber: Int32?
    /// The error this one wraps, kept for callers that match on it.
    public var underlying: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, path: String? = nil, line: Int? = nil, cause: String? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.line = line
        self.cause = cause
        self.underlying = underlying
    }

    /// An error from a failed syscall, carrying `strerror(errno)` and the errno itself.
    public static func system(_ operation: String, path: String?, errno code: Int32 = Glibc.errno) -> GuestprepError {
        var error = GuestprepError(.io, "\(operation) failed", path: path, cause: "\(String(cString: strerror(code))) (errno \(code))")
        error.errorNumber = code
        return error
    }

    /// Any error as a `GuestprepError`, keeping the original as `underlying`.
    public static func wrapping(_ error: any Error, as code: Code = .io, _ message: String? = nil) -> GuestprepError {
        if let known = error as? GuestprepError, message == nil { return known }
        return GuestprepError(code, message ?? "\(error)", cause: message == nil ? nil : "\(error)", underlying: error)
    }

    public static func == (lhs: GuestprepError, rhs: GuestprepError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.path == rhs.path && lhs.line == rhs.line
            && lhs.cause == rhs.cause && lhs.errorNumber == rhs.errorNumber
    }

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
