import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// Free space and inodes of one filesystem, as statvfs(3) reports them to an unprivileged user
/// (root's reserved blocks are left out: the guest's tools should not need them).
public struct FileSystemSpace: Sendable, Equatable {
    public var totalBytes: Int
    public var freeBytes: Int
    /// Zero on filesystems without an inode limit (btrfs, vfat), which never run out of them.
    public var totalInodes: Int
    public var freeInodes: Int

    public init(totalBytes: Int, freeBytes: Int, totalInodes: Int, freeInodes: Int) {
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
        self.totalInodes = totalInodes
        self.freeInodes = freeInodes
    }
}

extension GuestRoot {
    /// statvfs of the filesystem holding a guest directory (symlinks resolved inside the root),
    /// through an O_PATH descriptor: an offline guest's /boot is whatever is mounted at that
    /// path under the root. A missing directory is a not-found error.
    public func fileSystemSpace(_ path: GuestPath) throws -> FileSystemSpace {
        guard let directory = try directoryDescriptor(path) else {
            throw GuestprepError(.notFound, "is not a directory in the guest, so its free space cannot be measured", path: display(path))
        }
        var info = statvfs()
        guard retryingEINTR({ fstatvfs(directory.fd, &info) }) == 0 else {
            throw GuestprepError.system("measuring free space (statvfs) of", path: display(path))
        }
        let fragment = Int(info.f_frsize)
        return FileSystemSpace(
            totalBytes: Int(info.f_blocks) * fragment, freeBytes: Int(info.f_bavail) * fragment, totalInodes: Int(info.f_files),
            freeInodes: Int(info.f_favail))
    }
}
