import Executor
import Foundation
import GuestFS
import GuestprepCore
import HostProcess
import Testing

/// A tiny offline guest: static busybox with applet links, a marker file, and the directories
/// the chroot executor mounts on.
struct PhonyGuest {
    static let busybox = "/bin/busybox"  // busybox-static: runs in a root without a libc
    static var available: Bool { FileManager.default.isExecutableFile(atPath: busybox) }
    static let applets = ["true", "false", "sh", "cat", "ls", "printf", "readlink", "sleep"]
    static let marker = "phony guest marker\n"

    let top: URL
    var root: URL { top.appendingPathComponent("root") }

    init(_ name: String, mountPoints: [String] = ["proc", "sys", "dev", "run"]) throws {
        top = try Support.scratch("executor-\(name)")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("bin"), withIntermediateDirectories: true)
        // Copied by cp, not by this process: a file this process holds open for writing would be
        // inherited by any child another test forks meanwhile, and exec of it fails with ETXTBSY
        // until that child execs.
        try Support.must("cp", [Self.busybox, root.appendingPathComponent("bin/busybox").path])
        for applet in Self.applets {
            try fm.createSymbolicLink(atPath: root.appendingPathComponent("bin/\(applet)").path, withDestinationPath: "busybox")
        }
        try Support.write(Self.marker, to: root.appendingPathComponent("etc/marker"))
        for directory in mountPoints {
            try fm.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
    }

    func executor() throws -> ChrootExecutor {
        ChrootExecutor(root: try GuestRoot(hostPath: root.path))
    }

    /// Mount points in the host's mount table at or below this guest's scratch directory.
    func hostMounts() throws -> [Mount] {
        try Mount.table("/proc/self/mountinfo").filter { $0.point == top.path || $0.point.hasPrefix(top.path + "/") }
    }
}

/// One line of a mountinfo table.
struct Mount: Equatable {
    var point: String
    var type: String
    var options: [String]

    static func table(_ path: String) throws -> [Mount] {
        try parse(Support.read(URL(fileURLWithPath: path)))
    }

    /// `id parent major:minor root point options [optional...] - type source super-options`
    static func parse(_ text: String) -> [Mount] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count > 6, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { return nil }
            return Mount(point: unescape(fields[4]), type: fields[dash + 1], options: fields[5].split(separator: ",").map(String.init))
        }
    }

    /// mountinfo writes space, tab, newline and backslash as \ooo.
    static func unescape(_ field: String) -> String {
        var bytes: [UInt8] = []
        var rest = Array(field.utf8)[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "\\"), rest.count >= 3, let value = UInt8(String(decoding: rest.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                rest = rest.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Processes on the host that are still in the mount namespace named `namespace` ("mnt:[…]").
func processes(inNamespace namespace: String) -> [String] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { $0.allSatisfy(\.isNumber) } ?? []
    return pids.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/mnt")) == namespace }
}

private let needsRootAndBusybox: ConditionTrait = .enabled(
    if: Support.isRoot && PhonyGuest.available, "needs root (namespaces, mounts) and busybox-static (make deps installs it)")

@Suite("Guest executor: chroot in a private mount namespace, and live")
struct ExecutorTests {
    @Test("true exits 0 and false is a result with status 1, not an error", needsRootAndBusybox)
    func exitStatus() throws {
        let guest = try PhonyGuest("status")
        defer { Support.cleanUp(guest.top) }
        let executor = try guest.executor()
        let yes = try executor.run(GuestCommand(["true"]))
        #expect(yes.succeeded && yes.status == 0 && !yes.wasSignaled)
        let no = try executor.run(GuestCommand(["/bin/false"]))
        #expect(no.status == 1 && !no.wasSignaled && !no.succeeded)
        #expect(try guest.hostMounts() == [])
    }

    @Test("a command the guest lacks is a thrown not-found error naming it", needsRootAndBusybox)
    func missingCommand() throws {
        let guest = try PhonyGuest("missing")
        defer { Support.cleanUp(guest.top) }
        let executor = try guest.executor()
        let bare = #expect(throws: GuestprepError.self) { try executor.run(GuestCommand(["dpkg-query", "-W"])) }
        #expect(bare?.code == .notFound)
        #expect(bare?.message.contains("\"dpkg-query\"") == true)
        let absolute = #expect(throws: GuestprepError.self) { try executor.run(GuestCommand(["/usr/bin/nothing-here"])) }
        #expect(absolute?.code == .notFound)
        #expect(absolute?.path == guest.root.path + "/usr/bin/nothing-here")
    }

    @Test("inside: / is the guest, with proc, sysfs (read-only), tmpfs /run and the host's /dev mounted", needsRootAndBusybox)
    func insideView() throws {
        let guest = try PhonyGuest("inside")
        defer { Support.cleanUp(guest.top) }
        let before = try guest.hostMounts()
        let executor = try guest.executor()

        let marker = try executor.run(GuestCommand(["cat", "/etc/marker"]))
        #expect(marker.stdout == PhonyGuest.marker)
        let listing = try executor.run(GuestCommand(["ls", "/"]))
        #expect(listing.stdout.split(separator: "\n") == ["bin", "dev", "etc", "proc", "run", "sys"])

        let table = try executor.run(GuestCommand(["cat", "/proc/self/mountinfo"]))
        #expect(table.succeeded, "\(table.stderr)")
        let mounts = Mount.parse(table.stdout)
        #expect(mounts.contains { $0.point == "/proc" && $0.type == "proc" })
        #expect(mounts.contains { $0.point == "/sys" && $0.type == "sysfs" && $0.options.contains("ro") })
        #expect(mounts.contains { $0.point == "/run" && $0.type == "tmpfs" })
        #expect(mounts.contains { $0.point == "/dev" })
        let null = try executor.run(GuestCommand(["ls", "/dev/null"]))
        #expect(null.succeeded, "the host's /dev is bound in: \(null.stderr)")

        // Nothing reached the host's mount table, and the guest's mount points are still empty.
        #expect(try guest.hostMounts() == before)
        #expect(try guest.hostMounts() == [])
        for directory in ["proc", "sys", "dev", "run"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: guest.root.appendingPathComponent(directory).path) == [])
        }
    }

    @Test("the command's mount namespace is gone once it exits", needsRootAndBusybox)
    func namespaceGone() throws {
        let guest = try PhonyGuest("namespace")
        defer { Support.cleanUp(guest.top) }
        let result = try guest.executor().run(GuestCommand(["readlink", "/proc/self/ns/mnt"]))
        let namespace = result.stdout.trimmingCharacters(in: .newlines)
        #expect(namespace.hasPrefix("mnt:["))
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        #expect(namespace != hostNamespace)
        #expect(processes(inNamespace: hostNamespace).contains(String(getpid())), "the scan finds a namespace's processes")
        #expect(processes(inNamespace: namespace) == [])
        #expect(try guest.hostMounts() == [])
    }

    @Test("a command killed by its timeout leaves no namespace and no mounts", needsRootAndBusybox)
    func timeoutKill() throws {
        let guest = try PhonyGuest("timeout")
        defer { Support.cleanUp(guest.top) }
        let started = ContinuousClock.now
        // The shell prints its namespace (stderr is unbuffered), then becomes a long sleep.
        let result = try guest.executor().run(
            GuestCommand(["sh", "-c", "readlink /proc/self/ns/mnt >&2; exec sleep 60"], timeout: .milliseconds(500)))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(result.timedOut && result.wasSignaled && result.status == SIGKILL)
        let namespace = result.stderr.trimmingCharacters(in: .newlines)
        #expect(namespace.hasPrefix("mnt:["), "\(result.stderr)")
        #expect(processes(inNamespace: namespace) == [])
        #expect(try guest.hostMounts() == [])
    }

    @Test("a guest on a shared mount: the command's mounts do not propagate back to the host", needsRootAndBusybox)
    func sharedMountStaysPrivate() throws {
        let guest = try PhonyGuest("shared")
        defer { Support.cleanUp(guest.top) }
        // A shared mount is a peer of its copy in a new namespace unless the child makes it private.
        try Support.must("mount", ["--bind", guest.top.path, guest.top.path])
        defer { _ = try? Support.run("umount", ["--recursive", guest.top.path]) }
        try Support.must("mount", ["--make-shared", guest.top.path])
        let before = try guest.hostMounts()
        #expect(before.map(\.point) == [guest.top.path])

        let result = try guest.executor().run(GuestCommand(["sh", "-c", "ls /dev/null && sleep 0.2"]))
        #expect(result.succeeded, "\(result.stderr)")
        #expect(try guest.hostMounts() == before)
    }

    @Test("a guest whose /dev is a symlink to /etc is refused, with nothing mounted", needsRootAndBusybox)
    func devSymlinkRefused() throws {
        let guest = try PhonyGuest("devlink", mountPoints: ["proc", "sys", "run"])
        defer { Support.cleanUp(guest.top) }
        try FileManager.default.createSymbolicLink(atPath: guest.root.appendingPathComponent("dev").path, withDestinationPath: "/etc")
        let hostEtc = try Mount.table("/proc/self/mountinfo").filter { $0.point == "/etc" }
        let error = #expect(throws: GuestprepError.self) { try guest.executor().run(GuestCommand(["true"])) }
        #expect(error?.code == .refused)
        #expect(error?.path == guest.root.path + "/dev")
        #expect(try guest.hostMounts() == [])
        #expect(try Mount.table("/proc/self/mountinfo").filter { $0.point == "/etc" } == hostEtc)
    }

    @Test("a guest without /proc is refused, naming it, and nothing is created", needsRootAndBusybox)
    func missingProcRefused() throws {
        let guest = try PhonyGuest("noproc", mountPoints: ["sys", "dev", "run"])
        defer { Support.cleanUp(guest.top) }
        let error = #expect(throws: GuestprepError.self) { try guest.executor().run(GuestCommand(["true"])) }
        #expect(error?.code == .notFound)
        #expect(error?.path == guest.root.path + "/proc")
        #expect(!FileManager.default.fileExists(atPath: guest.root.appendingPathComponent("proc").path))
        #expect(try guest.hostMounts() == [])
    }

    @Test("a setup failure in the child is an error with the step's path and errno", needsRootAndBusybox)
    func execFailureReported() throws {
        let guest = try PhonyGuest("noexec")
        defer { Support.cleanUp(guest.top) }
        try Support.write("not a program\n", to: guest.root.appendingPathComponent("bin/data"))
        let denied = #expect(throws: GuestprepError.self) { try guest.executor().run(GuestCommand(["/bin/data"])) }
        #expect(denied?.errorNumber == EACCES)
        #expect(denied?.path == guest.root.path + "/bin/data")
        #expect(denied?.cause?.contains("Permission denied") == true)

        // A script whose interpreter the guest lacks: execve says ENOENT for a file that exists.
        let script = guest.root.appendingPathComponent("bin/script")
        try Support.write("#!/usr/bin/python3\n", to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let noInterpreter = #expect(throws: GuestprepError.self) { try guest.executor().run(GuestCommand(["script"])) }
        #expect(noInterpreter?.errorNumber == ENOENT)
        #expect(noInterpreter?.message.contains("interpreter") == true)
        #expect(try guest.hostMounts() == [])
    }

    @Test("stdin reaches the command, and stdout and stderr come back byte for byte", needsRootAndBusybox)
    func streams() throws {
        let guest = try PhonyGuest("streams")
        defer { Support.cleanUp(guest.top) }
        let executor = try guest.executor()
        // Larger than a pipe buffer both ways, with bytes that are not UTF-8.
        let input = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) } + [0xff, 0xfe, 0x00]
        let echoed = try executor.run(GuestCommand(["cat"]), input: input)
        #expect(echoed.succeeded)
        #expect(echoed.stdoutBytes == input)

        let both = try executor.run(GuestCommand(["sh", "-c", #"printf 'out\377\n'; printf 'err\376' >&2; exit 3"#]))
        #expect(both.status == 3)
        #expect(both.stdoutBytes == Array("out".utf8) + [0xff, 0x0a])
        #expect(both.stderrBytes == Array("err".utf8) + [0xfe])
    }

    @Test("extra environment reaches the command over a minimal one")
    func environment() throws {
        let result = try LiveExecutor().run(GuestCommand(["env"], environment: ["GUESTPREP_TEST": "a b"]))
        #expect(result.stdout.split(separator: "\n").sorted() == ["GUESTPREP_TEST=a b", "LC_ALL=C", "PATH=\(ProcessEnvironment.path)"])
    }

    @Test("live: /bin/true runs on the host; false is a result; a missing command is an error")
    func live() throws {
        let executor = LiveExecutor()
        #expect(executor.mode == .live)
        #expect(try executor.run(GuestCommand(["/bin/true"])).succeeded)
        #expect(try executor.run(GuestCommand(["false"])).status == 1)
        let error = #expect(throws: GuestprepError.self) { try executor.run(GuestCommand(["no-such-tool-guestprep"])) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("no-such-tool-guestprep") == true)
    }

    @Test("the factory picks live for / and chroot for any other root")
    func factory() throws {
        #expect(GuestExecutors.make(for: try GuestRoot(hostPath: "/")).mode == .live)
        let top = try Support.scratch("executor-factory")
        defer { Support.cleanUp(top) }
        #expect(GuestExecutors.make(for: try GuestRoot(hostPath: top.path)).mode == .chroot(hostPath: top.path))
    }

    @Test("commands no executor can run are usage errors")
    func invalidCommands() throws {
        let executor = LiveExecutor(runner: RecordingRunner())
        for argv in [[], [""], ["bin/true"], ["true", "a\u{0}b"]] {
            let error = #expect(throws: GuestprepError.self) { try executor.run(GuestCommand(argv)) }
            #expect(error?.code == .usage, "\(argv)")
        }
    }

    @Test("a command round-trips through JSON with its timeout in seconds")
    func codable() throws {
        let command = GuestCommand(["dpkg-query", "-W"], environment: ["A": "1"], timeout: .milliseconds(2500))
        let json = try JSONEncoder().encode(command)
        #expect(String(decoding: json, as: UTF8.self).contains("\"timeoutSeconds\":2.5"))
        #expect(try JSONDecoder().decode(GuestCommand.self, from: json) == command)
        #expect(try JSONDecoder().decode(GuestCommand.self, from: Data(#"{"argv":["true"]}"#.utf8)) == GuestCommand(["true"]))
        #expect(GuestCommand(["echo", "it's here", "plain"]).description == #"echo 'it'\''s here' plain"#)
    }

    @Test("the process runner is injectable: a live executor runs through a recording fake")
    func injectableRunner() throws {
        let runner = RecordingRunner()
        let executor = GuestExecutors.make(for: try GuestRoot(hostPath: "/"), runner: runner)
        let result = try executor.run(
            GuestCommand(["dpkg-query", "-W", "-f=${Package}\n"], environment: ["X": "1"], timeout: .seconds(5)), input: [1, 2])
        #expect(result.stdout == "canned\n")
        #expect(
            runner.calls == [
                RecordingRunner.Call(
                    executable: "/fake/bin/dpkg-query", arguments: ["-W", "-f=${Package}\n"], input: [1, 2], environment: ["X": "1"],
                    timeout: .seconds(5))
            ])
        #expect(runner.lookups == ["dpkg-query"])
    }
}

@Suite("Executor's host process runner")
struct ExecutorRunnerTests {
    @Test("a timeout kills the process; output written before it is kept")
    func timeout() throws {
        let started = ContinuousClock.now
        let result = try SpawnProcessRunner().run("/bin/sh", ["-c", "echo early; exec sleep 60"], timeout: .milliseconds(300))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(result.timedOut && result.wasSignaled && result.status == SIGKILL)
        #expect(result.stdout == "early\n")
    }

    @Test("a process that never stops writing is still killed at its timeout")
    func chattyTimeout() throws {
        let started = ContinuousClock.now
        let result = try SpawnProcessRunner().run("/bin/sh", ["-c", "while :; do echo flood; done"], timeout: .milliseconds(300))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(result.timedOut && result.status == SIGKILL)
        #expect(result.stdout.hasPrefix("flood\n"))
    }

    @Test("a process that exits without reading its input neither stalls nor kills guestprep (SIGPIPE)")
    func unreadInput() throws {
        let result = try SpawnProcessRunner().run("/bin/true", [], input: [UInt8](repeating: 0x61, count: 4 << 20))
        #expect(result.succeeded)
    }

    @Test("a process that closes its output early is still reaped, and timed out if it keeps running")
    func closedOutput() throws {
        let result = try SpawnProcessRunner().run("/bin/sh", ["-c", "exec >&- 2>&-; sleep 60"], timeout: .milliseconds(300))
        #expect(result.timedOut && result.status == SIGKILL)
    }

    @Test("failing to start is an error with the path and errno")
    func spawnFailure() throws {
        let error = #expect(throws: GuestprepError.self) { try SpawnProcessRunner().run("/nonexistent/tool", []) }
        #expect(error?.path == "/nonexistent/tool")
        #expect(error?.errorNumber == ENOENT)
    }
}

/// A `ProcessRunner` that records what it is asked and answers with a canned result.
final class RecordingRunner: ProcessRunner, @unchecked Sendable {
    struct Call: Equatable {
        var executable: String
        var arguments: [String]
        var input: [UInt8]?
        var environment: [String: String]
        var timeout: Duration?
    }

    private let lock = NSLock()
    private var recordedCalls: [Call] = []
    private var recordedLookups: [String] = []

    var calls: [Call] { lock.withLock { recordedCalls } }
    var lookups: [String] { lock.withLock { recordedLookups } }

    func run(
        _ executable: String, _ arguments: [String], input: [UInt8]?, environment: [String: String], options: ProcessOptions
    ) throws -> ProcessResult {
        lock.withLock {
            recordedCalls.append(
                Call(executable: executable, arguments: arguments, input: input, environment: environment, timeout: options.timeout))
        }
        return ProcessResult(status: 0, wasSignaled: false, stdoutBytes: Array("canned\n".utf8), stderrBytes: [])
    }

    func find(_ name: String) -> String? {
        lock.withLock { recordedLookups.append(name) }
        return "/fake/bin/\(name)"
    }
}
