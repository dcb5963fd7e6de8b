import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// guestprep's own files in the guest (lock, journal, backups): never reached through a symlink,
/// never a hard link, device node or FIFO.
///
/// Where the state directory sits is the guest's business: the directories *above* it (`/var`,
/// `/var/lib`) are resolved like any guest path, so a guest whose `/var` is a symlink to
/// `/data/var` keeps its state there, still confined to the root. From the state directory down,
/// every directory must be a real one, opened with O_NOFOLLOW relative to the one before, and each
/// file is opened with O_NOFOLLOW in that verified directory: a symlink or hard link planted there
/// (`lock -> ../../../etc/fstab`) is refused instead of carrying guestprep's write to a guest file.
extension GuestRoot {
    /// Where guestprep keeps its lock and run journals in every guest.
    public static let stateDirectory: GuestPath = "/var/lib/guestprep"

    /// Opens the directory `directory` (the state directory or one inside it) through real
    /// directories only; creates missing ones (with `mode`, durably) when `create` is set.
    /// Returns nil when it is missing and not created.
    func openOwnDirectory(_ directory: GuestPath, in stateDirectory: GuestPath, create mode: UInt32? = nil) throws -> (
        fd: Descriptor, canonical: GuestPath
    )? {
        guard !stateDirectory.components.isEmpty, !stateDirectory.components.contains(".."),
            !directory.components.contains(".."), directory.components.starts(with: stateDirectory.components)
        else {
            throw GuestprepError(
                .refused, "is not inside guestprep's state directory \(stateDirectory); guestprep keeps its own files only there",
                path: display(directory))
        }
        // Above the state directory: the guest's own layout, symlinks followed inside the root.
        let above = stateDirectory.parent
        var current: Descriptor
        var canonical: GuestPath
        if above.components.isEmpty {
            current = root
            canonical = "/"
        } else {
            if mode != nil { try makeDirectories(above, mode: 0o755) }
            let resolved: Resolved
            do {
                resolved = try resolve(above, allowMissingLeaf: true)
            } catch let error as GuestprepError where error.code == .notFound && mode == nil {
                return nil
            }
            guard resolved.exists else { return nil }
            canonical = resolved.canonical
            if resolved.isRoot {
                current = root
            } else {
                let fd = guestprep_openat(resolved.parent.fd, resolved.name, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
                guard fd >= 0 else { throw GuestprepError.system("opening directory", path: display(canonical)) }
                current = Descriptor(fd)
            }
        }
        // From the state directory down: real directories only.
        for component in directory.components.dropFirst(above.components.count) {
            canonical = canonical.appending(component)
            var info = stat()
            if fstatat(current.fd, component, &info, AT_SYMLINK_NOFOLLOW) != 0 {
                guard errno == ENOENT else { throw GuestprepError.system("looking up", path: display(canonical)) }
                guard let mode else { return nil }
                guard mkdirat(current.fd, component, mode_t(mode)) == 0 || errno == EEXIST else {
                    throw GuestprepError.system("creating directory", path: display(canonical))
                }
                try fsyncDirectory(try openDirectory(current, display: display(canonical.parent)), of: canonical)
                guard fstatat(current.fd, component, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw GuestprepError.system("looking up", path: display(canonical))
                }
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw GuestprepError(
                    .notRegularFile,
                    "is a \(fileKind(info.st_mode)), not a directory; guestprep keeps its own state only in real directories "
                        + "(remove it, or move it aside, and run again)",
                    path: display(canonical))
            }
            // O_NOFOLLOW: a symlink swapped in since the check fails here instead of being followed.
            let fd = guestprep_openat(current.fd, component, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
            guard fd >= 0 else { throw GuestprepError.system("opening directory", path: display(canonical)) }
            current = Descriptor(fd)
        }
        return (current, canonical)
    }

    /// The status of `name` in `dir` without following a symlink; nil when it does not exist.
    /// Anything there must be a regular file with one link: guestprep's own files have no other name.
    private func ownFileStatus(_ dir: Descriptor, _ name: String, path: GuestPath) throws -> stat? {
        var info = stat()
        guard fstatat(dir.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw GuestprepError.system("looking up", path: display(path))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw GuestprepError(
                .notRegularFile,
                "is a \(fileKind(info.st_mode)), not a regular file; guestprep's own files are plain files "
                    + "(something else was put there: remove it, or move it aside, and run again)",
                path: display(path))
        }
        guard info.st_nlink == 1 else {
            throw GuestprepError(
                .notRegularFile,
                "has \(info.st_nlink) hard links; guestprep's own files have no other name, since a write to it would change "
                    + "the other file too (remove this name and run again)",
                path: display(path))
        }
        return info
    }

    /// Opens one of guestprep's own files for writing in place (journal, lock), creating it with
    /// `mode` (O_EXCL, so nothing can be slipped in between the check and the open).
    private func openOwnFile(_ path: GuestPath, flags: Int32, mode: UInt32, in stateDirectory: GuestPath) throws -> (
        file: Descriptor, dir: Descriptor, canonical: GuestPath, created: Bool
    ) {
        guard case (let dir, let parent)? = try openOwnDirectory(path.parent, in: stateDirectory) else {
            throw GuestprepError(.notFound, "no such directory", path: display(path.parent))
        }
        let canonical = parent.appending(path.name)
        for attempt in 1...2 {
            let before = try ownFileStatus(dir, path.name, path: canonical)
            let create = before == nil ? O_CREAT | O_EXCL : 0
            let fd = guestprep_openat(dir.fd, path.name, flags | create | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode_t(mode))
            if fd < 0 && errno == EEXIST && attempt == 1 { continue }  // another process created it first
            guard fd >= 0 else { throw GuestprepError.system("opening", path: display(canonical)) }
            let file = Descriptor(fd)
            try requireSameRegularFile(file.fd, as: before, singleLink: true, path: canonical)
            return (file, dir, canonical, before == nil)
        }
        throw GuestprepError(.io, "could not open after two attempts", path: display(canonical))
    }

    /// Creates each missing directory of `path` (the state directory or one inside it) with `mode`,
    /// durably; the ones above the state directory as `makeDirectories` does (0755). Refuses a
    /// symlink, or anything but a directory, from the state directory down.
    public func makeOwnDirectories(_ path: GuestPath, mode: UInt32 = 0o700, in stateDirectory: GuestPath = GuestRoot.stateDirectory)
        throws
    {
        _ = try openOwnDirectory(path, in: stateDirectory, create: mode)
    }

    /// Reads one of guestprep's own files (a journal, a backup), or returns nil when it or its
    /// directory does not exist. Refuses symlinks, hard links and anything but a regular file.
    public func readOwnFile(
        _ path: GuestPath, limit: Int = GuestRoot.defaultSizeLimit, in stateDirectory: GuestPath = GuestRoot.stateDirectory
    ) throws -> GuestFile? {
        guard case (let dir, let parent)? = try openOwnDirectory(path.parent, in: stateDirectory) else { return nil }
        let canonical = parent.appending(path.name)
        guard let before = try ownFileStatus(dir, path.name, path: canonical) else { return nil }
        let fd = guestprep_openat(dir.fd, path.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening", path: display(canonical)) }
        let file = Descriptor(fd)
        try requireSameRegularFile(file.fd, as: before, singleLink: true, path: canonical)
        return try readOpenedFile(
            file, path: canonical, limit: limit,
            advice: "guestprep never writes its own files this large, so this is not one it wrote; move the run's directory "
                + "aside (guestprep will then not see that run) and run again")
    }

    /// Atomically replaces (or creates) one of guestprep's own files, as `replaceFile` does, in a
    /// directory reached through real directories only; an existing file there must be a plain one.
    /// Its directory must exist (`makeOwnDirectories`).
    public func replaceOwnFile(
        _ path: GuestPath, contents: [UInt8], metadata: FileMetadata = FileMetadata(mode: 0o600, uid: 0, gid: 0),
        in stateDirectory: GuestPath = GuestRoot.stateDirectory
    ) throws {
        guard case (let dir, let parent)? = try openOwnDirectory(path.parent, in: stateDirectory) else {
            throw GuestprepError(.notFound, "no such directory", path: display(path.parent))
        }
        let canonical = parent.appending(path.name)
        _ = try ownFileStatus(dir, path.name, path: canonical)
        let readable = try openDirectory(dir, display: display(parent))
        try replaceAtomically(in: readable, name: path.name, path: canonical, contents: contents, metadata: metadata)
    }

    /// Appends bytes to one of guestprep's own files (creating it with `mode`) and fsyncs before
    /// returning: when this returns, the bytes survive a crash. `path` must lie inside
    /// `stateDirectory`; see the type's note for what is refused.
    public func appendDurably(
        _ path: GuestPath, _ bytes: [UInt8], mode: UInt32 = 0o600, in stateDirectory: GuestPath = GuestRoot.stateDirectory
    ) throws {
        let (file, dir, canonical, created) = try openOwnFile(path, flags: O_WRONLY | O_APPEND, mode: mode, in: stateDirectory)
        let shown = display(canonical)
        try writeAll(file.fd, bytes, path: shown)
        guard retryingEINTR({ fsync(file.fd) }) == 0 else { throw GuestprepError.system("fsync", path: shown) }
        if created {
            try fsyncDirectory(try openDirectory(dir, display: display(canonical.parent)), of: canonical)
        }
    }

    /// Takes an exclusive advisory lock on a lock file inside `stateDirectory`, failing if another
    /// process still holds it after `patience` seconds. The short wait covers a lock released a
    /// moment ago whose open file a forked child of the releasing process still shares until it execs.
    public func lockExclusively(
        _ path: GuestPath, holder: String, patience: Double = 2, in stateDirectory: GuestPath = GuestRoot.stateDirectory
    ) throws -> GuestLock {
        let (file, _, canonical, _) = try openOwnFile(path, flags: O_RDWR, mode: 0o600, in: stateDirectory)
        let shown = display(canonical)
        var waited = 0.0
        while flock(file.fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK && waited < patience {
                usleep(50_000)
                waited += 0.05
                continue
            }
            if errno == EWOULDBLOCK {
                var buffer = [UInt8](repeating: 0, count: 256)
                var got = buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, $0.count, 0) }
                while got > 0 && buffer[got - 1] == UInt8(ascii: "\n") { got -= 1 }
                // The holder's note is text another process wrote: shown escaped.
                let other = got > 0 ? TerminalText.escape(buffer[0..<got]) : "another process"
                throw GuestprepError(
                    .locked, "another guestprep apply or rollback is running on this guest (\(other)); wait for it to finish", path: shown)
            }
            throw GuestprepError.system("locking", path: shown)
        }
        // Who holds it, for the message another process prints.
        _ = ftruncate(file.fd, 0)
        let note = Array("\(holder) pid \(getpid())\n".utf8)
        _ = note.withUnsafeBytes { pwrite(file.fd, $0.baseAddress, $0.count, 0) }
        return GuestLock(file)
    }
}
