import Foundation
import GuestprepCore
import HostProcess

#if canImport(Glibc)
    import Glibc
#endif

/// Where commands print and whom they ask: the real terminal, or what a test provides.
public protocol Console: Sendable {
    func out(_ text: String)
    func err(_ text: String)
    /// Whether stdin is a terminal a person can answer a question on.
    var isInteractive: Bool { get }
    /// Whether stdout is a terminal, where colour may be used.
    var isOutputTerminal: Bool { get }
    func readLine() -> String?
}

public struct StandardConsole: Console {
    public init() {}

    public func out(_ text: String) { Self.write(text, to: STDOUT_FILENO) }

    public func err(_ text: String) { Self.write(text, to: STDERR_FILENO) }

    private static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                OutputFailure.record(fd: fd, errno: errno)
                return
            }
            offset += written
        }
    }

    public var isInteractive: Bool { isatty(STDIN_FILENO) == 1 }

    public var isOutputTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    public func readLine() -> String? { Swift.readLine() }
}

/// The first failed write to stdout or stderr (a full disk, a closed pipe): the command's
/// exit status must say the output was lost, even when the work itself succeeded.
public enum OutputFailure {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var first: (fd: Int32, errno: Int32)?

    static func record(fd: Int32, errno code: Int32) {
        lock.withLock { if first == nil { first = (fd, code) } }
    }

    /// "writing to standard output failed: No space left on device", once anything failed.
    public static var message: String? {
        lock.withLock {
            first.map {
                "writing to standard \($0.fd == STDOUT_FILENO ? "output" : "error") failed: \(String(cString: strerror($0.errno)))"
            }
        }
    }
}

/// What commands talk to: the console and the process runner; tests swap in their own around a run.
public enum CommandEnvironment {
    @TaskLocal public static var console: any Console = StandardConsole()
    @TaskLocal public static var runner: any ProcessRunner = SpawnProcessRunner()
}

extension Console {
    /// Consoles that are not a terminal (tests, pipes) get no colour.
    public var isOutputTerminal: Bool { false }

    /// Prints text for people, with control bytes and invalid UTF-8 from guest files escaped so
    /// they cannot move the cursor, clear the screen or forge a prompt.
    func show(_ text: String) {
        out(TerminalText.escape(text, keeping: [.tab, .newline]))
    }

    /// The same on stderr.
    func warn(_ text: String) {
        err(TerminalText.escape(text, keeping: [.tab, .newline]))
    }

    /// Asks a yes/no question; anything but y/yes (including end of input) is no.
    func confirm(_ question: String) -> Bool {
        show("\(question) [y/N] ")
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else {
            out("\n")
            return false
        }
        return answer == "y" || answer == "yes"
    }
}
