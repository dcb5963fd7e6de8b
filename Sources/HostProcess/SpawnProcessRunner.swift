import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// The real runner: posix_spawn and waitpid. (Foundation's Process polls for the child's exit,
/// which costs tens of milliseconds per run.)
public struct SpawnProcessRunner: ProcessRunner {
    public init() {}

    public func find(_ name: String) -> String? {
        guard !name.isEmpty, !name.contains("/") else { return nil }
        for directory in ProcessEnvironment.path.split(separator: ":") {
            let path = "\(directory)/\(name)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    public func run(
        _ executable: String, _ arguments: [String], input: [UInt8]?, environment: [String: String], options: ProcessOptions
    ) throws -> ProcessResult {
        let argv = try CStrings([executable] + arguments, what: "argument", label: executable)
        let envp = try CStrings(
            ProcessEnvironment.minimal(plus: environment, label: executable), what: "environment entry", label: executable)
        return try ChildProcess.run(label: executable, input: input, options: options) { streams in
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, streams.input, 0)
            posix_spawn_file_actions_adddup2(&actions, streams.output, 1)
            posix_spawn_file_actions_adddup2(&actions, streams.error, 2)

            // Default signal handling and an empty mask in the child, whatever this thread has:
            // an ignored SIGPIPE, say, would be inherited across exec.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var all = sigset_t()
            sigfillset(&all)
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigdefault(&attributes, &all)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

            var pid: pid_t = 0
            let spawned = argv.withPointers { argvPointers in
                envp.withPointers { envpPointers in
                    posix_spawn(&pid, executable, &actions, &attributes, argvPointers, envpPointers)
                }
            }
            guard spawned == 0 else { throw GuestprepError.system("running", path: executable, errno: spawned) }
            return pid
        }
    }
}
