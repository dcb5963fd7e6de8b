import CProcessShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// A pipe whose two ends are each closed once, whichever way the spawn goes. Both ends are
/// close-on-exec from creation, so no process spawned meanwhile by another thread inherits them.
package final class PipePair {
    package private(set) var read: Int32
    package private(set) var write: Int32

    package init() throws {
        var fds: [Int32] = [-1, -1]
        guard guestprep_pipe_cloexec(&fds) == 0 else { throw GuestprepError.system("creating a pipe", path: nil) }
        read = fds[0]
        write = fds[1]
    }

    package func closeRead() {
        if read >= 0 {
            close(read)
            read = -1
        }
    }

    package func closeWrite() {
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
