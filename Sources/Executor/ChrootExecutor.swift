import CProcessShim
import GuestFS
import GuestprepCore
import HostProcess

#if canImport(Glibc)
    import Glibc
#endif

/// Runs commands in an offline guest: chrooted into its root inside a private mount namespace
/// holding the host's /dev (bind) and fresh proc, sysfs (read-only) and tmpfs (/run) mounts.
/// The mounts exist only in that namespace, so the kernel removes them when the command exits,
/// however it exits. Needs root.
public struct ChrootExecutor: GuestExecutor {
    public let root: GuestRoot

    public init(root: GuestRoot) {
        self.root = root
    }

    public var mode: ExecutionMode { .chroot(hostPath: root.hostPath) }

    /// Where the command's mounts go; each must already be a real directory in the guest.
    static let mountPoints: [GuestPath] = ["/dev", "/proc", "/sys", "/run"]

    public func run(_ command: GuestCommand, input: [UInt8]?) throws -> GuestCommandResult {
        try command.validate()
        let directories = try Self.mountPoints.map(openMountPoint)
        let executable = try locate(command.program, searching: command.environment["PATH"] ?? ProcessEnvironment.path)
        let label = "`\(command)` in \(root.display(GuestPath("/")))"
        let argv = try CStrings(command.argv, what: "argument", label: label)
        let envp = try CStrings(
            ProcessEnvironment.minimal(plus: command.environment, label: label), what: "environment entry", label: label)
        let rootIdentity = try identity(of: root.openRootDirectory())
        let devIdentity = try identity(of: directories[0])

        let result = try ChildProcess.run(label: label, input: input, options: ProcessOptions(timeout: command.timeout)) { streams in
            let report = try PipePair()
            let pid = root.hostPath.withCString { rootPath in
                executable.description.withCString { path in
                    argv.withPointers { argvPointers in
                        envp.withPointers { envpPointers in
                            var request = guestprep_chroot_request(
                                root_path: rootPath, root: rootIdentity, dev: devIdentity, path: path, argv: argvPointers,
                                envp: envpPointers, stdin_fd: streams.input, stdout_fd: streams.output, stderr_fd: streams.error,
                                report_fd: report.write)
                            return guestprep_chroot_spawn(&request)
                        }
                    }
                }
            }
            guard pid > 0 else { throw GuestprepError.system("forking to run \(label)", path: root.hostPath) }
            report.closeWrite()
            guard let failure = try Self.readReport(report.read, label: label) else { return pid }
            Self.reap(pid)
            throw error(for: failure, executable: executable, label: label)
        }
        return result
    }

    /// What the child checks it reopened: descriptors from before its unshare belong to the host's
    /// mount namespace, where it can neither mount nor chroot.
    private func identity(of directory: GuestDirectory) throws -> guestprep_file_identity {
        var info = stat()
        guard directory.withDescriptor({ fstat($0, &info) }) == 0 else {
            throw GuestprepError.system("fstat", path: root.display(directory.path))
        }
        return guestprep_file_identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Opens a mount point without following a symlink there: the /dev bind mount goes through
    /// this descriptor, and the others are checked so a bad guest is refused before anything runs.
    private func openMountPoint(_ path: GuestPath) throws -> GuestDirectory {
        do {
            return try root.openDirectoryNoFollow(path)
        } catch var error as GuestprepError {
            error.message =
                "cannot run commands in this guest: \(path) must be a directory for guestprep to mount on (it creates nothing in the guest); it "
                + error.message
            throw error
        }
    }

    /// The guest path of the program: absolute as given, or found in the guest's PATH.
    private func locate(_ program: String, searching path: String) throws -> GuestPath {
        func isProgram(_ candidate: GuestPath) throws -> Bool {
            try root.exists(candidate) && !root.isDirectory(candidate)
        }
        if program.hasPrefix("/") {
            let candidate = GuestPath(program)
            guard try isProgram(candidate) else {
                throw GuestprepError(.notFound, "command \(program.debugDescription) not found in the guest", path: root.display(candidate))
            }
            return candidate
        }
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = GuestPath(String(directory)).appending(program)
            if try isProgram(candidate) { return candidate }
        }
        throw GuestprepError(
            .notFound, "command \(program.debugDescription) not found in the guest's PATH (\(path))", path: root.display(GuestPath("/")))
    }

    /// Nil when the child reached exec (the close-on-exec pipe closed without a word), else the
    /// step it failed at and its errno.
    private static func readReport(_ fd: Int32, label: String) throws -> guestprep_chroot_report? {
        var report = guestprep_chroot_report()
        let size = MemoryLayout<guestprep_chroot_report>.size
        while true {
            let got = withUnsafeMutableBytes(of: &report) { read(fd, $0.baseAddress, size) }
            if got < 0 && errno == EINTR { continue }
            if got == 0 { return nil }
            // Writes this small to a pipe are atomic: anything but the whole report is a broken child.
            guard got == size else { throw GuestprepError.system("reading the setup report of \(label)", path: nil) }
            return report
        }
    }

    private static func reap(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// A precise error for a setup step the child failed at, naming the place it concerns.
    private func error(for report: guestprep_chroot_report, executable: GuestPath, label: String) -> GuestprepError {
        let (operation, place): (String, String) =
            switch guestprep_chroot_step(UInt32(report.step)) {
            case GUESTPREP_STEP_UNSHARE: ("creating a private mount namespace (needs root) for \(label)", root.hostPath)
            case GUESTPREP_STEP_MAKE_PRIVATE: ("making the mounts of the new namespace private for \(label)", "/")
            case GUESTPREP_STEP_OPEN_ROOT: ("reopening the guest root in the new namespace for \(label)", root.hostPath)
            case GUESTPREP_STEP_OPEN_DEV: ("reopening the guest's /dev in the new namespace for \(label)", root.display(GuestPath("/dev")))
            case GUESTPREP_STEP_BIND_DEV: ("bind-mounting the host's /dev for \(label)", root.display(GuestPath("/dev")))
            case GUESTPREP_STEP_ENTER_ROOT, GUESTPREP_STEP_CHROOT, GUESTPREP_STEP_CHDIR:
                ("entering the guest root (chroot) for \(label)", root.hostPath)
            case GUESTPREP_STEP_MOUNT_PROC: ("mounting proc for \(label)", root.display(GuestPath("/proc")))
            case GUESTPREP_STEP_MOUNT_SYS: ("mounting sysfs for \(label)", root.display(GuestPath("/sys")))
            case GUESTPREP_STEP_MOUNT_RUN: ("mounting tmpfs for \(label)", root.display(GuestPath("/run")))
            case GUESTPREP_STEP_STDIO: ("connecting the standard streams of \(label)", root.display(executable))
            case GUESTPREP_STEP_EXEC: ("executing \(label)", root.display(executable))
            default: ("setting up \(label) (unknown step \(report.step))", root.hostPath)
            }
        var error = GuestprepError.system(operation, path: place, errno: report.error)
        if report.error == ESTALE {
            error.message += "; it was replaced while guestprep was starting the command, try again"
        }
        if guestprep_chroot_step(UInt32(report.step)) == GUESTPREP_STEP_EXEC {
            switch report.error {
            case ENOENT: error.message += "; the program's interpreter (#! line) or dynamic loader is missing in the guest"
            case ENOEXEC: error.message += "; the host kernel cannot run it (another architecture?)"
            default: break
            }
        }
        return error
    }
}
