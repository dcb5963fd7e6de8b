import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a host tool (findmnt, …) with arguments, never through a shell, and captures its output.
/// Spawned with posix_spawn and reaped with waitpid: Foundation's Process polls for the child's
/// exit, which costs tens of milliseconds per run.
public enum HostCommand {
    public struct Result: Sendable {
        /// The exit status, or the signal number when the tool was killed by one.
        public var status: Int32
        public var wasSignaled: Bool
        public var stdout: String
        public var stderr: String
    }

    /// The tool's path if it is installed in the usual system directories.
    public static func find(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let path = "\(directory)/\(name)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    /// Runs `executable` with a minimal environment (C locale, system PATH) plus `environment`,
    /// feeding it `input` (or nothing) on stdin. `discardingStdout` sends stdout to /dev/null, for
    /// tools whose report can be huge when only their stderr matters.
    public static func run(
        _ executable: String, _ arguments: [String], input: [UInt8]? = nil,
        environment: [String: String] = [:], discardingStdout: Bool = false
    ) throws -> Result {
        let stdinPipe = try Pipe2()
        let stdoutPipe = try Pipe2()
        let stderrPipe = try Pipe2()
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devNull >= 0 else { throw GuestprepError.system("opening", path: "/dev/null") }
        defer { close(devNull) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input == nil ? devNull : stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, discardingStdout ? devNull : stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)

        let env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"].merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        stdinPipe.closeRead()
        stdoutPipe.closeWrite()
        stderrPipe.closeWrite()
        guard spawned == 0 else {
            throw GuestprepError.system("running", path: executable, errno: spawned)
        }

        if let input {
            // Tools here read little; a closed pipe (EPIPE) just means the tool did not want it.
            var offset = 0
            while offset < input.count {
                let written = input.withUnsafeBytes { write(stdinPipe.write, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 { if errno == EINTR { continue } else { break } }
                offset += written
            }
        }
        stdinPipe.closeWrite()

        let (out, err) = drain(discardingStdout ? nil : stdoutPipe.read, stderrPipe.read)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw GuestprepError.system("waiting for", path: executable) }
        }
        let signal = status & 0x7f
        return Result(
            status: signal == 0 ? (status >> 8) & 0xff : signal, wasSignaled: signal != 0,
            stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    /// Reads both pipes to their end together, so neither can fill up and stall the tool.
    private static func drain(_ first: Int32?, _ second: Int32) -> ([UInt8], [UInt8]) {
        var buffers: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: first ?? -1, events: Int16(POLLIN), revents: 0), pollfd(fd: second, events: Int16(POLLIN), revents: 0)]
        var chunk = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    buffers[index] += chunk[0..<got]
                } else if got == 0 || errno != EINTR {
                    fds[index].fd = -1  // end of file (or a broken pipe): done with this one
                }
            }
        }
        return (buffers[0], buffers[1])
    }
}

/// A pipe whose two ends are closed once, whichever way the spawn goes.
private final class Pipe2 {
    private(set) var read: Int32
    private(set) var write: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw GuestprepError.system("creating a pipe", path: nil) }
        read = fds[0]
        write = fds[1]
        // Not inherited by other children; posix_spawn's dup2 gives the child its own copies.
        _ = fcntl(read, F_SETFD, FD_CLOEXEC)
        _ = fcntl(write, F_SETFD, FD_CLOEXEC)
    }

    func closeRead() {
        if read >= 0 {
            close(read)
            read = -1
        }
    }
    func closeWrite() {
        if write >= 0 {
            close(write)
            write = -1
        }
    }

    deinit {
        closeRead()
        closeWrite()
    }
}
