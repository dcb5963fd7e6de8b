import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// An open guest directory (an O_PATH descriptor) for code that must hand a directory to the
/// kernel by descriptor rather than by path; closed when the value goes away.
public final class GuestDirectory: Sendable {
    /// The directory's canonical path inside the guest.
    public let path: GuestPath
    private let descriptor: Descriptor

    init(path: GuestPath, descriptor: Descriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Lends the raw descriptor for the duration of `body`; it stays owned by this value.
    public func withDescriptor<Result>(_ body: (Int32) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(descriptor.fd) }
    }
}

extension GuestRoot {
    /// The guest root directory itself.
    public func openRootDirectory() throws -> GuestDirectory {
        let root = try resolve(GuestPath("/"))
        let fd = guestprep_openat(root.parent.fd, ".", guestprep_O_PATH | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening guest root", path: hostPath) }
        return GuestDirectory(path: GuestPath("/"), descriptor: Descriptor(fd))
    }

    /// Opens a directory whose last component must itself be a directory, not a symlink to one
    /// (symlinks above it resolve inside the root as everywhere else). Used for mount points,
    /// where a planted symlink could otherwise point a mount at another place.
    public func openDirectoryNoFollow(_ path: GuestPath) throws -> GuestDirectory {
        guard let leaf = path.components.last else { return try openRootDirectory() }
        guard leaf != ".." else {
            throw GuestprepError(.usage, "names a parent directory; give the directory itself", path: display(path))
        }
        let parentPath = try canonicalPath(path.parent)
        let parent = try resolve(parentPath)
        let parentFD =
            parent.isRoot
            ? guestprep_openat(parent.parent.fd, ".", guestprep_O_PATH | O_DIRECTORY | O_CLOEXEC, 0)
            : guestprep_openat(parent.parent.fd, parent.name, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard parentFD >= 0 else { throw GuestprepError.system("opening directory", path: display(parentPath)) }
        let parentDirectory = Descriptor(parentFD)
        let canonical = parentPath.appending(leaf)
        var info = stat()
        guard fstatat(parentDirectory.fd, leaf, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { throw GuestprepError(.notFound, "no such directory", path: display(canonical)) }
            throw GuestprepError.system("looking up", path: display(canonical))
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            break
        case S_IFLNK:
            throw GuestprepError(.refused, "is a symbolic link, not a directory; refusing to follow it", path: display(canonical))
        default:
            throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)), not a directory", path: display(canonical))
        }
        // O_NOFOLLOW|O_DIRECTORY: a symlink swapped in since the check fails with ENOTDIR.
        let fd = guestprep_openat(parentDirectory.fd, leaf, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening directory", path: display(canonical)) }
        return GuestDirectory(path: canonical, descriptor: Descriptor(fd))
    }
}
