import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// The one door to a guest's files. Every path is resolved inside the root: absolute symlinks are
/// re-rooted, relative ones and ".." can never climb above it, and each step is opened with
/// O_NOFOLLOW relative to the directory before it, so a symlink swapped in mid-walk fails instead
/// of leading out. (This is the walk openat2's RESOLVE_IN_ROOT does, written out so it works on
/// any kernel and is tested here.)
public final class GuestRoot: Sendable {
    /// The host directory given as `--root` ("/" for the live system).
    public let hostPath: String
    let root: Descriptor
    /// True when the root is the running system's own "/".
    public let isLive: Bool

    public static let maxSymlinks = 40
    /// Configuration files are small; anything bigger is not what we think it is.
    public static let defaultSizeLimit = 16 << 20

    public init(hostPath: String) throws {
        let fd = open(hostPath, guestprep_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw GuestprepError.system("opening guest root", path: hostPath)
        }
        // Absolute, so messages name the same place whatever the working directory.
        if let resolved = realpath(hostPath, nil) {
            self.hostPath = String(cString: resolved)
            free(resolved)
        } else {
            self.hostPath = hostPath
        }
        self.root = Descriptor(fd)
        var mine = stat()
        var host = stat()
        self.isLive = fstat(fd, &mine) == 0 && stat("/", &host) == 0 && mine.st_dev == host.st_dev && mine.st_ino == host.st_ino
    }

    /// How a guest path is shown to people: as the guest sees it, with the host root for context.
    public func display(_ path: GuestPath) -> String {
        isLive ? path.description : "\(hostPath.hasSuffix("/") ? String(hostPath.dropLast()) : hostPath)\(path)"
    }

    // MARK: Resolution

    /// Where a path leads inside the root: its canonical guest path, the directory holding it
    /// (an O_PATH descriptor; the root's own for top-level names) and its last component.
    struct Resolved {
        var canonical: GuestPath
        var parent: Descriptor
        var name: String
        var exists: Bool
        /// The path named the root directory itself.
        var isRoot: Bool
    }

    /// Resolves `path` inside the root. The last component may be missing when
    /// `allowMissingLeaf`; a missing directory on the way is always an error.
    func resolve(_ path: GuestPath, allowMissingLeaf: Bool = false) throws -> Resolved {
        var stack: [(name: String, dir: Descriptor)] = []
        var pending = path.components[...]
        var links = 0
        func current() -> Descriptor { stack.last?.dir ?? root }
        func canonical(_ leaf: String?) -> GuestPath {
            GuestPath(components: stack.map(\.name) + (leaf.map { [$0] } ?? []))
        }

        while let component = pending.first {
            pending = pending.dropFirst()
            if component == "." { continue }
            if component == ".." {
                if !stack.isEmpty { stack.removeLast() }  // ".." at the root stays at the root
                continue
            }
            let isLast = pending.isEmpty
            var info = stat()
            if fstatat(current().fd, component, &info, AT_SYMLINK_NOFOLLOW) != 0 {
                let code = errno
                if code == ENOENT, isLast, allowMissingLeaf {
                    return Resolved(canonical: canonical(component), parent: current(), name: component, exists: false, isRoot: false)
                }
                if code == ENOENT {
                    throw GuestprepError(.notFound, "no such file or directory", path: display(canonical(component)))
                }
                throw GuestprepError.system("looking up", path: display(canonical(component)), errno: code)
            }
            if info.st_mode & S_IFMT == S_IFLNK {
                links += 1
                guard links <= Self.maxSymlinks else {
                    throw GuestprepError(.escapesRoot, "too many levels of symbolic links while resolving \(path)", path: display(path))
                }
                let target = try readLink(current().fd, component, display: display(canonical(component)))
                if target.hasPrefix("/") { stack.removeAll() }  // absolute targets mean the guest's "/"
                let targetComponents = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                pending = (targetComponents + pending)[...]
                continue
            }
            if isLast {
                return Resolved(canonical: canonical(component), parent: current(), name: component, exists: true, isRoot: false)
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw GuestprepError(
                    .notRegularFile, "is a \(fileKind(info.st_mode)), not a directory", path: display(canonical(component)))
            }
            let fd = guestprep_openat(current().fd, component, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
            guard fd >= 0 else {
                throw GuestprepError.system("opening directory", path: display(canonical(component)))
            }
            stack.append((component, Descriptor(fd)))
        }
        // The path named the root itself (or climbed back to it).
        return Resolved(canonical: canonical(nil), parent: root, name: ".", exists: true, isRoot: true)
    }

    private func readLink(_ dirFD: Int32, _ name: String, display: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlinkat(dirFD, name, &buffer, buffer.count - 1)
        guard length >= 0 else { throw GuestprepError.system("reading symbolic link", path: display) }
        let bytes = buffer[0..<length].map { UInt8(bitPattern: $0) }
        // Decoding lossily would turn the target into another name (U+FFFD), which may exist.
        guard let target = String(validating: bytes, as: UTF8.self) else {
            throw GuestprepError(
                .refused,
                "is a symbolic link whose target is not valid UTF-8 (\(TerminalText.escape(bytes))); guestprep cannot follow it exactly",
                path: display)
        }
        return target
    }

    /// A readable directory descriptor for the resolved parent (O_PATH ones cannot be fsynced).
    func openDirectory(_ parent: Descriptor, display: String) throws -> Descriptor {
        let fd = guestprep_openat(parent.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening directory", path: display) }
        return Descriptor(fd)
    }

    func fsyncDirectory(_ dir: Descriptor, of path: GuestPath) throws {
        guard retryingEINTR({ fsync(dir.fd) }) == 0 else {
            throw GuestprepError.system("fsync of directory", path: display(path.parent))
        }
    }

    /// The status of what a resolved path names, without following a symlink there.
    func status(_ resolved: Resolved) throws -> stat {
        var info = stat()
        guard fstatat(resolved.parent.fd, resolved.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw GuestprepError.system("looking up", path: display(resolved.canonical))
        }
        return info
    }

    /// Refuses anything but a regular file, before it is opened: opening a device node or FIFO
    /// can have effects of its own.
    func requireRegularFile(_ resolved: Resolved, doing what: String) throws -> stat {
        guard !resolved.isRoot else {
            throw GuestprepError(.notRegularFile, "is the guest root directory", path: display(resolved.canonical))
        }
        let info = try status(resolved)
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw GuestprepError(
                .notRegularFile, "is a \(fileKind(info.st_mode)); guestprep only \(what) regular files", path: display(resolved.canonical))
        }
        return info
    }

    /// Checks that the descriptor just opened is the regular file that was checked before opening
    /// (nothing swapped in between) and, for files guestprep writes in place, that it has no
    /// other name: writing to a hard link would change another file too.
    func requireSameRegularFile(_ fd: Int32, as before: stat?, singleLink: Bool, path: GuestPath) throws {
        var opened = stat()
        guard fstat(fd, &opened) == 0 else { throw GuestprepError.system("fstat", path: display(path)) }
        guard opened.st_mode & S_IFMT == S_IFREG else {
            throw GuestprepError(.notRegularFile, "is a \(fileKind(opened.st_mode)); refusing to touch it", path: display(path))
        }
        if let before, opened.st_ino != before.st_ino || opened.st_dev != before.st_dev {
            throw GuestprepError(.notRegularFile, "changed while being opened; try again", path: display(path))
        }
        if singleLink && opened.st_nlink != 1 {
            throw GuestprepError(
                .notRegularFile, "has \(opened.st_nlink) hard links; guestprep writes its own files only when they have no other name",
                path: display(path))
        }
    }

    /// The canonical location a path resolves to inside the root (symlinks followed).
    public func canonicalPath(_ path: GuestPath) throws -> GuestPath {
        try resolve(path, allowMissingLeaf: true).canonical
    }

    // MARK: Reading

    /// Whether anything (file, directory, …) exists at the path after resolution.
    public func exists(_ path: GuestPath) throws -> Bool {
        do {
            return try resolve(path, allowMissingLeaf: true).exists
        } catch let error as GuestprepError where error.code == .notFound {
            return false
        }
    }

    /// Whether the path resolves to a directory inside the root.
    public func isDirectory(_ path: GuestPath) throws -> Bool {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound || error.code == .notRegularFile {
            return false
        }
        guard resolved.exists else { return false }
        if resolved.isRoot { return true }
        return try status(resolved).st_mode & S_IFMT == S_IFDIR
    }

    /// Reads a regular file, or returns nil when it does not exist. Refuses directories, device
    /// nodes, FIFOs and sockets without opening them, and files above `limit` bytes.
    public func readFile(_ path: GuestPath, limit: Int = GuestRoot.defaultSizeLimit) throws -> GuestFile? {
        guard let (file, canonical, _) = try openRegularFile(path, doing: "reads and edits") else { return nil }
        return try readOpenedFile(
            file, path: canonical, limit: limit,
            advice: "guestprep only edits configuration files up to \(Self.sizeText(limit)). If this really is configuration, "
                + "trim it (stale entries, long comment blocks) and run again; if it is not, something else sits at this path "
                + "in the guest (check that --root is the guest's root directory)")
    }

    /// Opens a regular file for reading, or returns nil when it does not exist; anything else
    /// there is refused without being opened.
    func openRegularFile(_ path: GuestPath, doing what: String) throws -> (file: Descriptor, canonical: GuestPath, info: stat)? {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound {
            return nil
        }
        guard resolved.exists else { return nil }
        let info = try requireRegularFile(resolved, doing: what)
        let fd = guestprep_openat(resolved.parent.fd, resolved.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening", path: display(resolved.canonical)) }
        let file = Descriptor(fd)
        try requireSameRegularFile(file.fd, as: info, singleLink: false, path: resolved.canonical)
        return (file, resolved.canonical, info)
    }

    /// The bytes and metadata of an opened regular file, refusing more than `limit` bytes with a
    /// message that names the size, the limit and `advice` (what to do about it).
    func readOpenedFile(_ file: Descriptor, path: GuestPath, limit: Int, advice: String) throws -> GuestFile {
        let shown = display(path)
        var opened = stat()
        guard fstat(file.fd, &opened) == 0 else { throw GuestprepError.system("fstat", path: shown) }
        guard opened.st_size <= limit else {
            throw GuestprepError(
                .fileTooLarge, "is \(Self.sizeText(Int(opened.st_size))), over the \(Self.sizeText(limit)) limit: \(advice)", path: shown)
        }
        var contents: [UInt8] = []
        contents.reserveCapacity(Int(opened.st_size))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(file.fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw GuestprepError.system("read", path: shown)
            }
            if got == 0 { break }
            contents += chunk[0..<got]
            guard contents.count <= limit else {
                throw GuestprepError(.fileTooLarge, "grew past the \(Self.sizeText(limit)) limit while being read: \(advice)", path: shown)
            }
        }
        let metadata = FileMetadata(
            mode: UInt32(opened.st_mode & 0o7777), uid: opened.st_uid, gid: opened.st_gid,
            xattrs: try ExtendedAttributes.read(fd: file.fd, path: shown))
        return GuestFile(path: path, contents: contents, metadata: metadata)
    }

    /// "16 MiB" for whole mebibytes, "20000000 bytes (19.1 MiB)" otherwise, so both the exact
    /// number and its scale are there to read.
    static func sizeText(_ bytes: Int) -> String {
        let mebibyte = 1 << 20
        if bytes >= mebibyte && bytes % mebibyte == 0 { return "\(bytes / mebibyte) MiB" }
        if bytes < mebibyte { return "\(bytes) bytes" }
        let tenths = (bytes * 10 + mebibyte / 2) / mebibyte
        return "\(bytes) bytes (\(tenths / 10).\(tenths % 10) MiB)"
    }

    /// Names in a directory (without "." and ".."), sorted by their bytes; empty when the directory
    /// is missing. A name that is not valid UTF-8 is an error naming it (escaped): decoded lossily
    /// it would become another name, which may exist too. `listDirectoryBytes` returns every name.
    public func listDirectory(_ path: GuestPath) throws -> [String] {
        try listDirectoryBytes(path).map { bytes in
            guard let name = String(validating: bytes, as: UTF8.self) else {
                throw GuestprepError(
                    .refused,
                    "holds an entry whose name is not valid UTF-8 (\(TerminalText.escape(bytes))); guestprep cannot name it exactly: rename or remove it, then run again",
                    path: display(path))
            }
            return name
        }
    }

    /// Names in a directory as the bytes `readdir` returned (without "." and ".."), sorted
    /// bytewise; empty when the directory is missing.
    public func listDirectoryBytes(_ path: GuestPath) throws -> [[UInt8]] {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound {
            return []
        }
        guard resolved.exists else { return [] }
        let shown = display(resolved.canonical)
        let fd =
            resolved.isRoot
            ? guestprep_openat(root.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
            : guestprep_openat(resolved.parent.fd, resolved.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening directory", path: shown) }
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw GuestprepError.system("opening directory", path: shown)
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    // MARK: Writing

    /// Atomically replaces (or creates) a regular file: temp file in the same directory, contents,
    /// owner, mode and extended attributes set, fsync, rename over the target, fsync the directory.
    /// A reader sees the old file or the new one, never a mix, even across a power cut.
    public func replaceFile(_ path: GuestPath, contents: [UInt8], metadata: FileMetadata) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        if resolved.exists || resolved.isRoot {
            _ = try requireRegularFile(resolved, doing: "replaces")
        }
        let dir = try openDirectory(resolved.parent, display: display(resolved.canonical.parent))
        try replaceAtomically(in: dir, name: resolved.name, path: resolved.canonical, contents: contents, metadata: metadata)
    }

    /// The atomic replace itself, in an open (readable) directory: temp file beside the target,
    /// bytes, owner, mode, xattrs, fsync, rename over the target, fsync the directory.
    func replaceAtomically(in dir: Descriptor, name: String, path: GuestPath, contents: [UInt8], metadata: FileMetadata) throws {
        let shown = display(path)
        let temp = Self.tempName(for: name)
        let fd = guestprep_openat(dir.fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw GuestprepError.system("creating temporary file beside", path: shown) }
        var renamed = false
        defer { if !renamed { unlinkat(dir.fd, temp, 0) } }
        do {
            let file = Descriptor(fd)
            try writeAll(file.fd, contents, path: shown)
            guard fchown(file.fd, metadata.uid, metadata.gid) == 0 else {
                throw GuestprepError.system("setting owner \(metadata.uid):\(metadata.gid) on temporary file for", path: shown)
            }
            // After chown, which clears setuid/setgid bits.
            guard fchmod(file.fd, mode_t(metadata.mode)) == 0 else {
                throw GuestprepError.system("setting mode on temporary file for", path: shown)
            }
            try ExtendedAttributes.replace(fd: file.fd, with: metadata.xattrs, path: shown)
            guard retryingEINTR({ fsync(file.fd) }) == 0 else { throw GuestprepError.system("fsync", path: shown) }
        }
        guard renameat(dir.fd, temp, dir.fd, name) == 0 else {
            throw GuestprepError.system("renaming temporary file over", path: shown)
        }
        renamed = true
        try fsyncDirectory(dir, of: path)
    }

    /// Removes a regular file and makes the removal durable.
    public func removeFile(_ path: GuestPath) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        guard resolved.exists else { return }
        _ = try requireRegularFile(resolved, doing: "removes")
        let dir = try openDirectory(resolved.parent, display: display(resolved.canonical.parent))
        guard unlinkat(dir.fd, resolved.name, 0) == 0 else { throw GuestprepError.system("removing", path: display(resolved.canonical)) }
        try fsyncDirectory(dir, of: resolved.canonical)
    }

    /// Removes temporary files that a killed `replaceFile` left beside `path` (they carry this
    /// tool's own name pattern, so nothing else can match).
    /// Whether `name` is a temporary file an atomic replace of `target` makes beside it.
    public static func isTemporary(_ name: String, of target: String) -> Bool {
        Array(name.utf8).starts(with: Array(".\(tempStem(for: target)).guestprep-".utf8))
    }

    public func removeStaleTemporaries(beside path: GuestPath) throws {
        let canonical = try canonicalPath(path)
        // Bytes, not String.hasPrefix: under canonical equivalence another file whose name only
        // looks like ours would match. Other names in the directory, UTF-8 or not, are not ours.
        let prefix = Array(".\(Self.tempStem(for: canonical.name)).guestprep-".utf8)
        for bytes in try listDirectoryBytes(canonical.parent) where bytes.starts(with: prefix) {
            guard let name = String(validating: bytes, as: UTF8.self) else { continue }
            let resolved = try resolve(canonical.parent.appending(name), allowMissingLeaf: true)
            guard resolved.exists, try status(resolved).st_mode & S_IFMT == S_IFREG else { continue }
            try removeFile(resolved.canonical)
        }
    }

    /// Creates each missing directory of `path`, durably: the last one with `mode`, the ones
    /// above it with `ancestorMode` (like `mkdir -p`, so services in the guest can still
    /// traverse /var and /var/lib).
    public func makeDirectories(_ path: GuestPath, mode: UInt32, ancestorMode: UInt32 = 0o755) throws {
        var current = GuestPath("/")
        for (index, component) in path.components.enumerated() {
            current = current.appending(component)
            let resolved: Resolved
            do {
                resolved = try resolve(current, allowMissingLeaf: true)
            } catch var error as GuestprepError where error.code == .notFound {
                // Only a symlink on the way can lead somewhere missing: say which path it broke.
                error.message =
                    "cannot create \(path) inside the guest: \(current) leads through a symbolic link to something the guest lacks"
                throw error
            }
            if resolved.exists {
                let isDirectory = try resolved.isRoot || status(resolved).st_mode & S_IFMT == S_IFDIR
                guard isDirectory else {
                    throw GuestprepError(.notRegularFile, "is not a directory", path: display(resolved.canonical))
                }
                continue
            }
            let wanted = index == path.components.count - 1 ? mode : ancestorMode
            guard mkdirat(resolved.parent.fd, resolved.name, mode_t(wanted)) == 0 || errno == EEXIST else {
                throw GuestprepError.system("creating directory", path: display(resolved.canonical))
            }
            let dir = try openDirectory(resolved.parent, display: display(resolved.canonical.parent))
            try fsyncDirectory(dir, of: resolved.canonical)
        }
    }

    private static func tempName(for name: String) -> String {
        ".\(tempStem(for: name)).guestprep-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// The target's name in its temporaries: at most 200 bytes, to stay well under NAME_MAX (255).
    private static func tempStem(for name: String) -> String {
        String(name.utf8.prefix(200)) ?? "file"
    }
}

/// An advisory lock held until this value is released.
public final class GuestLock: Sendable {
    private let file: Descriptor

    init(_ file: Descriptor) { self.file = file }

    // flock belongs to the open file description: a child forked meanwhile (a command runner, a
    // chroot helper that has not exec'd yet) shares it, and closing our descriptor alone would
    // leave the lock held until that child execs. Unlocking releases it for every sharer.
    deinit { flock(file.fd, LOCK_UN) }
}
