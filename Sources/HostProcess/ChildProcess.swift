import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// The parent's half of running a child process, whoever starts it: its stdio on pipes, stdin
/// fed and stdout/stderr drained together (so no pipe fills up and stalls it), a timeout, reaping.
package enum ChildProcess {
    /// The child's ends of its standard streams, for the spawner to install as fds 0, 1 and 2.
    package struct Streams: Sendable {
        package let input: Int32
        package let output: Int32
        package let error: Int32
    }

    /// How long the pipes are still read after a timeout kill, in case a process the child
    /// started keeps them open.
    static let graceAfterKill = Duration.seconds(1)

    /// Makes the pipes, calls `spawn` with the child's ends (it returns the child's pid, or
    /// throws having reaped any child it started), then exchanges data with the child until it
    /// closes its output, and reaps it. `label` names the process in errors.
    package static func run(
        label: String, input: [UInt8]?, options: ProcessOptions, spawn: (Streams) throws -> pid_t
    ) throws -> ProcessResult {
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devNull >= 0 else { throw GuestprepError.system("opening", path: "/dev/null") }
        defer { close(devNull) }
        let stdinPipe = try input.map { _ in try PipePair() }
        let stdoutPipe = try options.discardingStdout ? nil : PipePair()
        let stderrPipe = try PipePair()

        let pid = try spawn(
            Streams(input: stdinPipe?.read ?? devNull, output: stdoutPipe?.write ?? devNull, error: stderrPipe.write))
        // The child has its own copies; ours would keep the pipes from ever reaching end of file.
        stdinPipe?.closeRead()
        stdoutPipe?.closeWrite()
        stderrPipe.closeWrite()

        let deadline = options.timeout.map { ContinuousClock.now + $0 }
        var exchange = Exchange(pid: pid, deadline: deadline)
        let (out, err) = exchange.run(input: input, stdin: stdinPipe, stdout: stdoutPipe, stderr: stderrPipe)
        let status = try reap(pid, label: label, exchange: &exchange)
        let signal = status & 0x7f
        return ProcessResult(
            status: signal == 0 ? (status >> 8) & 0xff : signal, wasSignaled: signal != 0, timedOut: exchange.killed,
            stdoutBytes: out, stderrBytes: err)
    }

    /// Waits for the child, killing it at the deadline if it outlives its output pipes.
    private static func reap(_ pid: pid_t, label: String, exchange: inout Exchange) throws -> Int32 {
        var status: Int32 = 0
        while true {
            let options = exchange.deadline != nil && !exchange.killed ? WNOHANG : 0
            let reaped = waitpid(pid, &status, options)
            if reaped == pid { return status }
            if reaped < 0 {
                guard errno == EINTR else { throw GuestprepError.system("waiting for", path: label) }
                continue
            }
            // Still running, with a deadline: look again shortly.
            if let remaining = exchange.remaining, remaining > .zero {
                _ = poll(nil, 0, min(10, Exchange.milliseconds(remaining)))
            } else {
                exchange.kill()
            }
        }
    }
}

/// Moves bytes between the parent and the child's pipes until the child is done with them.
private struct Exchange {
    let pid: pid_t
    let deadline: ContinuousClock.Instant?
    private(set) var killed = false
    private var graceEnd: ContinuousClock.Instant?

    init(pid: pid_t, deadline: ContinuousClock.Instant?) {
        self.pid = pid
        self.deadline = deadline
    }

    /// Time left before the next thing to do (the kill, or giving up after it); nil for never.
    var remaining: Duration? {
        (graceEnd ?? deadline).map { $0 - ContinuousClock.now }
    }

    /// A poll timeout: rounded up, 0 when already past, capped instead of overflowing.
    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        guard duration > .zero else { return 0 }
        guard seconds < Int64(Int32.max / 1000) else { return Int32.max }
        return Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    mutating func kill() {
        guard !killed else { return }
        _ = Glibc.kill(pid, SIGKILL)
        killed = true
        graceEnd = ContinuousClock.now + ChildProcess.graceAfterKill
    }

    mutating func run(input: [UInt8]?, stdin: PipePair?, stdout: PipePair?, stderr: PipePair) -> ([UInt8], [UInt8]) {
        var buffers: [[UInt8]] = [[], []]
        var fds = [
            pollfd(fd: stdin?.write ?? -1, events: Int16(POLLOUT), revents: 0),
            pollfd(fd: stdout?.read ?? -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stderr.read, events: Int16(POLLIN), revents: 0),
        ]
        let pipes = [stdin, stdout, stderr]
        func finish(_ index: Int) {
            if index == 0 { pipes[0]?.closeWrite() } else { pipes[index]?.closeRead() }
            fds[index].fd = -1
        }
        let input = input ?? []
        var offset = 0
        if let stdin {
            // Never block on a child that does not read: the stall would stop the draining too.
            _ = fcntl(stdin.write, F_SETFL, fcntl(stdin.write, F_GETFL) | O_NONBLOCK)
            if input.isEmpty { finish(0) }
        }
        // A child that exits without reading its input turns our next write into SIGPIPE, which
        // would kill guestprep: block it on this thread and discard any we raise.
        let sigpipe = SigpipeGuard()
        defer { sigpipe.restore() }

        var chunk = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            // Checked before every poll, not only when one times out: a child that never stops
            // writing keeps poll from ever timing out.
            if let left = remaining, left <= .zero {
                if killed { break }  // something the child started still holds the pipes
                kill()
                if fds[0].fd >= 0 { finish(0) }
                continue
            }
            let ready = poll(&fds, nfds_t(fds.count), remaining.map { Self.milliseconds($0) } ?? -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 { continue }
            if fds[0].fd >= 0 && fds[0].revents != 0 {
                let written = input.withUnsafeBytes { write(fds[0].fd, $0.baseAddress! + offset, $0.count - offset) }
                if written > 0 {
                    offset += written
                    if offset == input.count { finish(0) }
                } else if written < 0 && errno != EINTR && errno != EAGAIN {
                    finish(0)  // the child closed its stdin (EPIPE): it did not want the rest
                }
            }
            for index in 1...2 where fds[index].fd >= 0 && fds[index].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    buffers[index - 1] += chunk[0..<got]
                } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                    finish(index)
                }
            }
        }
        for index in fds.indices where fds[index].fd >= 0 { finish(index) }
        return (buffers[0], buffers[1])
    }
}

/// Blocks SIGPIPE on the calling thread while it writes to a child's stdin, then discards one the
/// writes raised (a SIGPIPE from a write is sent to the writing thread).
private struct SigpipeGuard {
    private var previous = sigset_t()
    private let wasPending: Bool

    init() {
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        var pending = sigset_t()
        sigpending(&pending)
        wasPending = sigismember(&pending, SIGPIPE) == 1
    }

    func restore() {
        var pending = sigset_t()
        sigpending(&pending)
        if !wasPending && sigismember(&pending, SIGPIPE) == 1 {
            var only = sigset_t()
            sigemptyset(&only)
            sigaddset(&only, SIGPIPE)
            var now = timespec()
            _ = sigtimedwait(&only, nil, &now)
        }
        var previous = previous
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}
