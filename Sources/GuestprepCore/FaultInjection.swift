#if canImport(Glibc)
import Glibc
#endif

/// Test-only crash hook: with `GUESTPREP_FAULT_AFTER_STEP=k` the process kills itself with SIGKILL
/// right after its k-th durable journal step, so tests can prove rollback from every crash point.
/// Compiled into debug builds only; release binaries carry no such switch.
public enum FaultInjection {
    nonisolated(unsafe) private static var stepsTaken = 0

    /// Marks one durable step done; call only after the step is on disk.
    public static func stepCompleted() {
        #if DEBUG
        guard let raw = getenv("GUESTPREP_FAULT_AFTER_STEP"), let limit = Int(String(cString: raw)) else { return }
        stepsTaken += 1
        if stepsTaken == limit {
            kill(getpid(), SIGKILL)
        }
        #endif
    }
}
