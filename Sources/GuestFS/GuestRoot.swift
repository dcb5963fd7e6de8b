#if canImport(Glibc)
import Glibc
#endif
import CGuestprepShim
import GuestprepCore

/// The one door to a guest's files. Every path is resolved inside the root: absolute symlinks are
/// re-rooted, relative ones and ".." can never climb above it, and each step is opened with
/// O_NOFOLLOW relative to the directory before it, so a symlink swapped in mid-walk fails instead
/// of leading out. (This is the walk openat2's RESOLVE_IN_ROOT does, written out so it works on
/// any kernel and is tested here.)
public final class GuestRoot: Sendable {
    /// The host directory given as `--root` ("/" for the live system).
    public let hostPath: String
    private let root: Descriptor

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
    }

    /// True when the root is the running system's own "/".
    public var isLive: Bool {
        var mine = stat(), host = stat()
        guard fstat(root.fd, &mine) == 0, stat("/", &host) == 0 else { return false }
        return mine.st_dev == host.st_dev && mine.st_ino == host.st_ino
    }

    /// How a guest path is shown to people: as the guest sees it, with the host root for context.
    public func display(_ path: GuestPath) -> String {
        isLive ? path.description : "\(hostPath.hasSuffix("/") ? String(hostPath.dropLast()) : hostPath)\(path)"
    }

    // MARK: Resolution

    /// Where a path leads inside the root: its canonical guest path, the directory holding it
    /// (an O_PATH descriptor) and its last component.
    struct Resolved {
        var canonical: GuestPath
        var parent: Descriptor?
        var name: String
        var exists: Bool
    }

    /// Resolves `path` inside the root. The last component may be missing when
    /// `allowMissingLeaf`; a missing directory on the way is always an error.
    func resolve(_ path: GuestPath, allowMissingLeaf: Bool = false) throws -> Resolved {
        var stack: [(name: String, dir: Descriptor)] = []
        var pending = path.components[...]
        var links = 0
        func currentFD() -> Int32 { stack.last?.dir.fd ?? root.fd }
        func currentParent() -> Descriptor? { stack.last?.dir }
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
            if fstatat(currentFD(), component, &info, AT_SYMLINK_NOFOLLOW) != 0 {
                let code = errno
                if code == ENOENT, isLast, allowMissingLeaf {
                    return Resolved(canonical: canonical(component), parent: currentParent(), name: component, exists: false)
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
                let target = try readLink(currentFD(), component, display: display(canonical(component)))
                if target.hasPrefix("/") { stack.removeAll() }  // absolute targets mean the guest's "/"
                let targetComponents = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                pending = (targetComponents + pending)[...]
                continue
            }
            if isLast {
                return Resolved(canonical: canonical(component), parent: currentParent(), name: component, exists: true)
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)), not a directory", path: display(canonical(component)))
            }
            let fd = guestprep_openat(currentFD(), component, guestprep_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
            guard fd >= 0 else {
                throw GuestprepError.system("opening directory", path: display(canonical(component)))
            }
            stack.append((component, Descriptor(fd)))
        }
        // The path named the root itself (or climbed back to it).
        return Resolved(canonical: canonical(nil), parent: nil, name: ".", exists: true)
    }

    private func readLink(_ dirFD: Int32, _ name: String, display: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlinkat(dirFD, name, &buffer, buffer.count - 1)
        guard length >= 0 else { throw GuestprepError.system("reading symbolic link", path: display) }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A readable directory descriptor for the resolved parent (O_PATH ones cannot be fsynced).
    private func openDirectory(_ parent: Descriptor?, display: String) throws -> Descriptor {
        let fd = guestprep_openat(parent?.fd ?? root.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening directory", path: display) }
        return Descriptor(fd)
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
        guard let parent = resolved.parent else { return true }
        var info = stat()
        guard fstatat(parent.fd, resolved.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw GuestprepError.system("looking up", path: display(resolved.canonical))
        }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    /// Reads a regular file, or returns nil when it does not exist. Refuses directories, device
    /// nodes, FIFOs and sockets without opening them, and files above `limit` bytes.
    public func readFile(_ path: GuestPath, limit: Int = GuestRoot.defaultSizeLimit) throws -> GuestFile? {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound {
            return nil
        }
        guard resolved.exists else { return nil }
        let shown = display(resolved.canonical)
        let parentFD = resolved.parent?.fd ?? root.fd
        var info = stat()
        guard fstatat(parentFD, resolved.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw GuestprepError.system("looking up", path: shown)
        }
        guard info.st_mode & S_IFMT == S_IFREG, resolved.parent != nil else {
            throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)); guestprep only reads and edits regular files", path: shown)
        }
        let fd = guestprep_openat(parentFD, resolved.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening", path: shown) }
        let file = Descriptor(fd)
        var opened = stat()
        guard fstat(file.fd, &opened) == 0 else { throw GuestprepError.system("fstat", path: shown) }
        guard opened.st_mode & S_IFMT == S_IFREG, opened.st_ino == info.st_ino, opened.st_dev == info.st_dev else {
            throw GuestprepError(.notRegularFile, "changed while being opened; try again", path: shown)
        }
        guard opened.st_size <= limit else {
            throw GuestprepError(.fileTooLarge, "is \(opened.st_size) bytes, over the \(limit)-byte limit for configuration files", path: shown)
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
                throw GuestprepError(.fileTooLarge, "grew past the \(limit)-byte limit while being read", path: shown)
            }
        }
        let metadata = FileMetadata(
            mode: UInt32(opened.st_mode & 0o7777), uid: opened.st_uid, gid: opened.st_gid,
            xattrs: try ExtendedAttributes.read(fd: file.fd, path: shown))
        return GuestFile(path: resolved.canonical, contents: contents, metadata: metadata)
    }

    /// Names in a directory (without "." and ".."), sorted; empty when the directory is missing.
    public func listDirectory(_ path: GuestPath) throws -> [String] {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound {
            return []
        }
        guard resolved.exists else { return [] }
        let shown = display(resolved.canonical)
        let fd = guestprep_openat(resolved.parent?.fd ?? root.fd, resolved.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening directory", path: shown) }
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw GuestprepError.system("opening directory", path: shown)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    // MARK: Writing

    /// Atomically replaces (or creates) a regular file: temp file in the same directory, contents,
    /// owner, mode and extended attributes set, fsync, rename over the target, fsync the directory.
    /// A reader sees the old file or the new one, never a mix, even across a power cut.
    public func replaceFile(_ path: GuestPath, contents: [UInt8], metadata: FileMetadata) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        guard let parent = resolved.parent else {
            throw GuestprepError(.notRegularFile, "is the guest root directory", path: display(path))
        }
        let shown = display(resolved.canonical)
        if resolved.exists {
            var info = stat()
            guard fstatat(parent.fd, resolved.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw GuestprepError.system("looking up", path: shown)
            }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)); guestprep only replaces regular files", path: shown)
            }
        }
        let dir = try openDirectory(parent, display: display(resolved.canonical.parent))
        let temp = Self.tempName(for: resolved.name)
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
        guard renameat(dir.fd, temp, dir.fd, resolved.name) == 0 else {
            throw GuestprepError.system("renaming temporary file over", path: shown)
        }
        renamed = true
        guard retryingEINTR({ fsync(dir.fd) }) == 0 else {
            throw GuestprepError.system("fsync of directory", path: display(resolved.canonical.parent))
        }
    }

    /// Removes a regular file and makes the removal durable.
    public func removeFile(_ path: GuestPath) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        guard resolved.exists else { return }
        guard let parent = resolved.parent else {
            throw GuestprepError(.notRegularFile, "is the guest root directory", path: display(path))
        }
        let shown = display(resolved.canonical)
        var info = stat()
        guard fstatat(parent.fd, resolved.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw GuestprepError.system("looking up", path: shown)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)); guestprep only removes regular files", path: shown)
        }
        let dir = try openDirectory(parent, display: display(resolved.canonical.parent))
        guard unlinkat(dir.fd, resolved.name, 0) == 0 else { throw GuestprepError.system("removing", path: shown) }
        guard retryingEINTR({ fsync(dir.fd) }) == 0 else {
            throw GuestprepError.system("fsync of directory", path: display(resolved.canonical.parent))
        }
    }

    /// Creates each missing directory of `path` with `mode`, durably.
    public func makeDirectories(_ path: GuestPath, mode: UInt32) throws {
        var current = GuestPath("/")
        for component in path.components {
            current = current.appending(component)
            let resolved = try resolve(current, allowMissingLeaf: true)
            let parentFD = resolved.parent?.fd ?? root.fd
            if resolved.exists {
                var info = stat()
                guard fstatat(parentFD, resolved.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw GuestprepError.system("looking up", path: display(resolved.canonical))
                }
                guard resolved.parent == nil || info.st_mode & S_IFMT == S_IFDIR else {
                    throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)), not a directory", path: display(resolved.canonical))
                }
                continue
            }
            guard mkdirat(parentFD, resolved.name, mode_t(mode)) == 0 || errno == EEXIST else {
                throw GuestprepError.system("creating directory", path: display(resolved.canonical))
            }
            let dir = try openDirectory(resolved.parent, display: display(resolved.canonical.parent))
            guard retryingEINTR({ fsync(dir.fd) }) == 0 else {
                throw GuestprepError.system("fsync of directory", path: display(resolved.canonical.parent))
            }
        }
    }

    /// Appends bytes to a regular file (creating it with `mode`) and fsyncs before returning:
    /// when this returns, the bytes survive a crash.
    public func appendDurably(_ path: GuestPath, _ bytes: [UInt8], mode: UInt32 = 0o600) throws {
        let resolved = try resolve(path, allowMissingLeaf: true)
        guard let parent = resolved.parent else {
            throw GuestprepError(.notRegularFile, "is the guest root directory", path: display(path))
        }
        let shown = display(resolved.canonical)
        let fd = guestprep_openat(parent.fd, resolved.name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw GuestprepError.system("opening for append", path: shown) }
        let file = Descriptor(fd)
        var info = stat()
        guard fstat(file.fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw GuestprepError(.notRegularFile, "is a \(fileKind(info.st_mode)); refusing to append", path: shown)
        }
        try writeAll(file.fd, bytes, path: shown)
        guard retryingEINTR({ fsync(file.fd) }) == 0 else { throw GuestprepError.system("fsync", path: shown) }
        if !resolved.exists {
            let dir = try openDirectory(parent, display: display(resolved.canonical.parent))
            guard retryingEINTR({ fsync(dir.fd) }) == 0 else {
                throw GuestprepError.system("fsync of directory", path: display(resolved.canonical.parent))
            }
        }
    }

    /// Takes an exclusive advisory lock on a lock file, failing at once if another process holds it.
    public func lockExclusively(_ path: GuestPath, holder: String) throws -> GuestLock {
        let resolved = try resolve(path, allowMissingLeaf: true)
        guard let parent = resolved.parent else {
            throw GuestprepError(.notRegularFile, "is the guest root directory", path: display(path))
        }
        let shown = display(resolved.canonical)
        let fd = guestprep_openat(parent.fd, resolved.name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw GuestprepError.system("opening lock file", path: shown) }
        let file = Descriptor(fd)
        if flock(file.fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK {
                var buffer = [UInt8](repeating: 0, count: 256)
                let got = buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, $0.count, 0) }
                let other = got > 0 ? String(decoding: buffer[0..<got], as: UTF8.self).trimmingTrailingNewlines : "another process"
                throw GuestprepError(.locked, "another guestprep apply or rollback is running on this guest (\(other)); wait for it to finish", path: shown)
            }
            throw GuestprepError.system("locking", path: shown)
        }
        _ = ftruncate(file.fd, 0)
        let note = Array("\(holder) pid \(getpid())\n".utf8)
        _ = note.withUnsafeBytes { pwrite(file.fd, $0.baseAddress, $0.count, 0) }
        return GuestLock(file)
    }

    private static func tempName(for name: String) -> String {
        // Stay well under NAME_MAX (255) whatever the target's name length.
        let stem = String(name.utf8.prefix(200)).map { String($0) } ?? "file"
        return ".\(stem).guestprep-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }
}

/// An advisory lock held until this value is released.
public final class GuestLock: Sendable {
    private let file: Descriptor

    init(_ file: Descriptor) { self.file = file }
}

extension String {
    var trimmingTrailingNewlines: String {
        var copy = self
        while copy.last == "\n" { copy.removeLast() }
        return copy
    }
}
