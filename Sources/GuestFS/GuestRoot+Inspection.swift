import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// What a guest path names, looked at without following a symlink in its last component.
public enum GuestEntry: Sendable, Equatable {
    case missing
    case regularFile(size: Int, links: Int)
    case directory
    /// A symbolic link and its target text, exactly as stored.
    case symlink(target: String)
    /// A device node, FIFO or socket.
    case special(String)
}

extension GuestRoot {
    /// An O_PATH descriptor of a guest directory (following symlinks inside the root), or nil
    /// when it does not exist.
    func directoryDescriptor(_ path: GuestPath) throws -> Descriptor? {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound {
            return nil
        }
        guard resolved.exists else { return nil }
        if resolved.isRoot { return resolved.parent }
        let fd = guestprep_openat(resolved.parent.fd, resolved.name, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard fd >= 0 else {
            if errno == ENOTDIR { return nil }
            throw GuestprepError.system("opening directory", path: display(resolved.canonical))
        }
        return Descriptor(fd)
    }

    /// What `path` names, without following a symlink at its last component (as lstat(2)).
    public func entry(_ path: GuestPath) throws -> GuestEntry {
        guard !path.components.isEmpty else { return .directory }
        guard let directory = try directoryDescriptor(path.parent) else { return .missing }
        var info = stat()
        guard fstatat(directory.fd, path.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return .missing }
            throw GuestprepError.system("looking up", path: display(path))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regularFile(size: Int(info.st_size), links: Int(info.st_nlink))
        case S_IFDIR: return .directory
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlinkat(directory.fd, path.name, &buffer, buffer.count - 1)
            guard length >= 0 else { throw GuestprepError.system("reading symbolic link", path: display(path)) }
            return .symlink(target: String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        default: return .special(fileKind(info.st_mode))
        }
    }

    /// Whether a directory (symlinks inside the root followed) exists and has no entries.
    public func isEmptyDirectory(_ path: GuestPath) throws -> Bool {
        guard try isDirectory(path) else { return false }
        return try listDirectory(path).isEmpty
    }
}

extension GuestRoot {
    /// Whether another open file holds a `flock` on this lock file (another guestprep apply or
    /// rollback at work). A missing lock file, or anything but a plain file, is not held.
    public func isLockHeld(_ path: GuestPath) throws -> Bool {
        guard case .regularFile = try entry(path), let directory = try directoryDescriptor(path.parent) else { return false }
        let fd = guestprep_openat(directory.fd, path.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening", path: display(path)) }
        let file = Descriptor(fd)
        if flock(file.fd, LOCK_SH | LOCK_NB) == 0 {
            flock(file.fd, LOCK_UN)
            return false
        }
        guard errno == EWOULDBLOCK else { throw GuestprepError.system("probing the lock on", path: display(path)) }
        return true
    }
}
