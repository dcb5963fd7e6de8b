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
        guard let (file, canonical, info) = try openRegularFile(path, doing: "reads") else { return nil }
        return GuestFileStream(file: file, path: canonical, shown: display(canonical), size: Int(info.st_size))
    }
}
