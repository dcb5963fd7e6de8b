import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// Directory creation, removal and renames, each durable when it returns (the parent
/// directories are fsynced), for the typed changes beyond rewriting a file.
extension GuestRoot {
    /// Creates one directory whose parent exists; refuses when anything is already there, so a
    /// directory guestprep records as "created" is one it really created.
    public func createDirectory(_ path: GuestPath, mode: UInt32) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        let shown = display(resolved.canonical)
        guard !resolved.exists, !resolved.isRoot else {
            throw GuestprepError(.refused, "already exists; it was missing when the plan was made: run guestprep plan again", path: shown)
        }
        guard mkdirat(resolved.parent.fd, resolved.name, mode_t(mode)) == 0 else {
            throw GuestprepError.system("creating directory", path: shown)
        }
        // mkdir's mode is reduced by the umask; the plan promised this mode exactly.
        let created = guestprep_openat(resolved.parent.fd, resolved.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard created >= 0 else { throw GuestprepError.system("opening new directory", path: shown) }
        let directory = Descriptor(created)
        guard fchmod(directory.fd, mode_t(mode)) == 0 else { throw GuestprepError.system("setting mode of", path: shown) }
        guard retryingEINTR({ fsync(directory.fd) }) == 0 else { throw GuestprepError.system("fsync", path: shown) }
        try fsyncDirectory(try openDirectory(resolved.parent, display: display(resolved.canonical.parent)), of: resolved.canonical)
    }

    /// Removes an empty directory; a missing one is fine (already removed). A directory that is
    /// not empty is refused: something else now lives in it.
    public func removeEmptyDirectory(_ path: GuestPath) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        guard resolved.exists else { return }
        let shown = display(resolved.canonical)
        guard !resolved.isRoot, try status(resolved).st_mode & S_IFMT == S_IFDIR else {
            throw GuestprepError(.notRegularFile, "is not a directory; refusing to remove it", path: shown)
        }
        let parent = try openDirectory(resolved.parent, display: display(resolved.canonical.parent))
        guard unlinkat(parent.fd, resolved.name, AT_REMOVEDIR) == 0 else {
            if errno == ENOTEMPTY || errno == EEXIST {
                throw GuestprepError(
                    .modifiedSinceApply, "is not empty: files were put there since guestprep created it; move them away first", path: shown)
            }
            throw GuestprepError.system("removing directory", path: shown)
        }
        try fsyncDirectory(parent, of: resolved.canonical)
    }

    /// Moves a regular file to a new name that must not exist yet (renameat2 RENAME_NOREPLACE),
    /// within one filesystem, durably.
    public func moveFile(_ source: GuestPath, to destination: GuestPath) throws {
        let from = try resolve(source, allowMissingLeaf: true)
        let to = try resolve(destination, allowMissingLeaf: true)
        let shownFrom = display(from.canonical)
        let shownTo = display(to.canonical)
        guard from.exists else { throw GuestprepError(.notFound, "no such file to move", path: shownFrom) }
        _ = try requireRegularFile(from, doing: "moves")
        guard !to.exists else {
            throw GuestprepError(.refused, "already exists; refusing to move \(from.canonical) over it", path: shownTo)
        }
        let fromDirectory = try openDirectory(from.parent, display: display(from.canonical.parent))
        let toDirectory = try openDirectory(to.parent, display: display(to.canonical.parent))
        guard guestprep_renameat_noreplace(fromDirectory.fd, from.name, toDirectory.fd, to.name) == 0 else {
            if errno == EXDEV {
                throw GuestprepError(
                    .refused, "cannot be moved to \(to.canonical): another filesystem; the destination must be on the same one",
                    path: shownFrom)
            }
            throw GuestprepError.system("moving to \(to.canonical)", path: shownFrom)
        }
        try fsyncDirectory(toDirectory, of: to.canonical)
        try fsyncDirectory(fromDirectory, of: from.canonical)
    }
}

extension GuestRoot {
    /// Renames a directory to a name that must not exist yet, durably: how a journal directory
    /// appears only once its first record is on disk.
    public func renameDirectory(_ source: GuestPath, to destination: GuestPath) throws {
        let from = try resolve(source, allowMissingLeaf: true)
        let to = try resolve(destination, allowMissingLeaf: true)
        guard from.exists, !from.isRoot, try status(from).st_mode & S_IFMT == S_IFDIR else {
            throw GuestprepError(.notFound, "no such directory to rename", path: display(from.canonical))
        }
        let fromDirectory = try openDirectory(from.parent, display: display(from.canonical.parent))
        let toDirectory = try openDirectory(to.parent, display: display(to.canonical.parent))
        guard guestprep_renameat_noreplace(fromDirectory.fd, from.name, toDirectory.fd, to.name) == 0 else {
            throw GuestprepError.system("renaming to \(to.canonical)", path: display(from.canonical))
        }
        try fsyncDirectory(toDirectory, of: to.canonical)
    }
}
