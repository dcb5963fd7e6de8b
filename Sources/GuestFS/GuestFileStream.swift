import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// A guest file opened for reading in chunks: for images (an initramfs is tens of MiB) that are
/// read once from front to back and never edited.
public final class GuestFileStream {
    private let file: Descriptor
    /// The canonical guest path, for messages.
    public let path: GuestPath
    /// How the path is shown to people (with the host root offline).
    public let shown: String
    /// The size when opened.
    public let size: Int
    /// Bytes read so far: the file offset of the next byte `read` returns.
    public private(set) var offset = 0

    init(file: Descriptor, path: GuestPath, shown: String, size: Int) {
        self.file = file
        self.path = path
        self.shown = shown
        self.size = size
    }

    /// Reads up to `count` bytes; empty at the end of the file.
    public func read(upTo count: Int) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: count)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(file.fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw GuestprepError.system("read at offset \(offset)", path: shown)
            }
            offset += got
            chunk.removeSubrange(got...)
            return chunk
        }
    }
}

extension GuestRoot {
    /// Opens a regular file for reading in chunks, or returns nil when it does not exist.
    public func openForReading(_ path: GuestPath) throws -> GuestFileStream? {
        let resolved: Resolved
        do {
            resolved = try resolve(path, allowMissingLeaf: true)
        } catch let error as GuestprepError where error.code == .notFound {
            return nil
        }
        guard resolved.exists else { return nil }
        let info = try requireRegularFile(resolved, doing: "reads")
        let fd = guestprep_openat(resolved.parent.fd, resolved.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw GuestprepError.system("opening", path: display(resolved.canonical)) }
        let file = Descriptor(fd)
        try requireSameRegularFile(file.fd, as: info, singleLink: false, path: resolved.canonical)
        return GuestFileStream(file: file, path: resolved.canonical, shown: display(resolved.canonical), size: Int(info.st_size))
    }
}
