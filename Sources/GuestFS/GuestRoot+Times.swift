import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

extension GuestRoot {
    /// When a guest file was last modified (seconds since the epoch), without following a
    /// symlink in its last component; nil when it does not exist.
    public func modificationTime(_ path: GuestPath) throws -> Int64? {
        guard !path.components.isEmpty, let directory = try directoryDescriptor(path.parent) else { return nil }
        var info = stat()
        guard fstatat(directory.fd, path.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw GuestprepError.system("looking up", path: display(path))
        }
        return Int64(info.st_mtim.tv_sec)
    }
}
