import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// Files on the host that the admin names (saved plans): never inside the guest, so they go
/// through plain syscalls rather than `GuestRoot`.
enum HostFiles {
    /// Writes `bytes` to `path` (0600, replacing a regular file there, never following a
    /// symlink) and fsyncs it.
    static func writeNew(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw GuestprepError.system("creating", path: path) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw GuestprepError.system("writing", path: path)
            }
            offset += written
        }
        guard fsync(fd) == 0 else { throw GuestprepError.system("fsync", path: path) }
    }

    /// Reads a host file of at most `limit` bytes.
    static func read(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GuestprepError.system("opening", path: path) }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw GuestprepError.system("reading", path: path)
            }
            if got == 0 { return contents }
            contents += chunk[0..<got]
            guard contents.count <= limit else { throw GuestprepError(.fileTooLarge, "is larger than \(limit) bytes", path: path) }
        }
    }
}
