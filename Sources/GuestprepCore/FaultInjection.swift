#if canImport(Glibc)
    import Glibc
#endif

/// Test-only fault hooks, so tests can prove recovery from every point of an apply or rollback.
/// With `GUESTPREP_FAULT_KILL_AFTER_STEP=k` the process kills itself with SIGKILL right after its
/// k-th durable journal step; with `GUESTPREP_FAULT_FAIL_AFTER_STEP=k` that step throws instead.
/// Compiled into debug builds only: release binaries carry no such switch.
public enum FaultInjection {
    nonisolated(unsafe) private static var stepsTaken = 0

    /// Marks one durable step done; call only after the step is on disk.
    public static func stepCompleted() throws {
        #if DEBUG
            stepsTaken += 1
            if let limit = limit("GUESTPREP_FAULT_KILL_AFTER_STEP"), stepsTaken == limit {
                kill(getpid(), SIGKILL)
            }
            if let limit = limit("GUESTPREP_FAULT_FAIL_AFTER_STEP"), stepsTaken == limit {
                throw GuestprepError(.io, "injected failure after journal step \(limit) (GUESTPREP_FAULT_FAIL_AFTER_STEP)")
            }
        #endif
    }

    private static func limit(_ name: String) -> Int? {
        guard let raw = getenv(name) else { return nil }
        return Int(String(cString: raw))
    }
}

extension FaultInjection {
    /// Test-only: with `GUESTPREP_FAULT_FAIL_AT=<name>`, the named point throws an I/O error,
    /// so tests can prove that a failure to check surfaces as an error, never as "nothing to do".
    public static func failPoint(_ name: String) throws {
        #if DEBUG
            if let raw = getenv("GUESTPREP_FAULT_FAIL_AT"), String(cString: raw) == name {
                throw GuestprepError(
                    .io, "injected failure at \(name) (GUESTPREP_FAULT_FAIL_AT)", cause: "Input/output error (errno \(EIO))")
            }
        #endif
    }
}
