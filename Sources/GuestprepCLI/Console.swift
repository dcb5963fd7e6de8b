import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where commands print and whom they ask: the real terminal, or what a test provides.
public protocol Console: Sendable {
    func out(_ text: String)
    func err(_ text: String)
    /// Whether stdin is a terminal a person can answer a question on.
    var isInteractive: Bool { get }
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
                return  // nowhere left to report a broken stdout
            }
            offset += written
        }
    }

    public var isInteractive: Bool { isatty(STDIN_FILENO) == 1 }

    public func readLine() -> String? { Swift.readLine() }
}

/// The console commands use; tests swap in their own around a run.
public enum CommandEnvironment {
    @TaskLocal public static var console: any Console = StandardConsole()
}

extension Console {
    /// Asks a yes/no question; anything but y/yes (including end of input) is no.
    func confirm(_ question: String) -> Bool {
        out("\(question) [y/N] ")
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else {
            out("\n")
            return false
        }
        return answer == "y" || answer == "yes"
    }
}
