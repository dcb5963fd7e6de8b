import GuestFS
import GuestprepCore

/// How one part of an initramfs image is stored.
public enum InitramfsCompression: String, Sendable, CaseIterable {
    case none, gzip, xz, zstd, lz4

    /// Recognised by the leading bytes, as the kernel's decompress_method() does.
    static func detect(_ bytes: ArraySlice<UInt8>) -> InitramfsCompression? {
        let signatures: [(InitramfsCompression, [UInt8])] = [
            (.none, Array("070701".utf8)), (.none, Array("070702".utf8)),
            (.gzip, [0x1F, 0x8B]), (.gzip, [0x1F, 0x9E]),
            (.xz, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]),
            (.zstd, [0x28, 0xB5, 0x2F, 0xFD]),
            (.lz4, LZ4LegacyDecompressor.magic),
        ]
        return signatures.first { bytes.starts(with: $0.1) }?.0
    }

    func decompressor() throws -> any Decompressor {
        switch self {
        case .none: preconditionFailure("plain archives are not decompressed")
        case .gzip: try GzipDecompressor()
        case .xz: try XzDecompressor()
        case .zstd: try ZstdDecompressor()
        case .lz4: LZ4LegacyDecompressor()
        }
    }
}

/// What an initramfs image holds: the paths of every archive in it, front to back.
public struct InitramfsImage: Sendable, Equatable {
    /// One archive (or run of archives) stored one way: an early-microcode cpio, then the main one.
    public struct Segment: Sendable, Equatable {
        public var compression: InitramfsCompression
        /// Where it starts in the file.
        public var offset: Int
        /// Entries in it (trailers not counted).
        public var entries: Int
    }

    public var segments: [Segment]
    /// Entry paths without a leading "./" or "/", in archive order.
    public var paths: [String]

    /// Kernel modules in the image (`*.ko`, `*.ko.xz`, `*.ko.zst`, `*.ko.gz`), by path.
    public var modulePaths: [String] { paths.filter { Self.moduleName(ofPath: $0) != nil } }

    /// "ahci" for ".../ahci.ko.zst"; nil for anything that is not a module file. Names are kept
    /// as written: compare them with `KernelModuleName` rules (`-` and `_` are the same).
    public static func moduleName(ofPath path: String) -> String? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in [".ko", ".ko.xz", ".ko.zst", ".ko.gz"] where name.hasSuffix(suffix) && name.count > suffix.count {
            return String(name.dropLast(suffix.count))
        }
        return nil
    }
}

/// Reads initramfs images in process, streaming: the kernel's own format (initramfs buffer
/// format, Documentation/driver-api/early-userspace/buffer-format.rst): cpio "newc"/"crc"
/// archives one after the other, each plain or compressed, with zero padding between them.
public enum InitramfsReader {
    /// Bounds, so a damaged or hostile image cannot exhaust memory or time.
    public static let maxEntries = 1_000_000
    public static let maxNameBytes = 4096
    public static let maxPlainBytes = 4 << 30

    /// Reads the image at `path`; nil when there is no file there.
    public static func read(_ path: GuestPath, in root: GuestRoot) throws -> InitramfsImage? {
        guard let file = try root.openForReading(path) else { return nil }
        return try read(file)
    }

    public static func read(_ file: GuestFileStream) throws -> InitramfsImage {
        let raw = ByteSource { try file.read(upTo: 1 << 16) }
        var image = InitramfsImage(segments: [], paths: [])
        func damaged(_ message: String) -> GuestprepError {
            GuestprepError(.parse, "is not an initramfs guestprep can read: \(message)", path: file.shown)
        }
        while true {
            try raw.skipZeros()
            let head = try raw.peek(6)
            if head.isEmpty { break }
            let offset = raw.position
            guard let compression = InitramfsCompression.detect(head) else {
                throw damaged("at offset \(offset), bytes \(hex(head)) start neither a cpio archive nor gzip, xz, zstd or lz4 data")
            }
            var segment = InitramfsImage.Segment(compression: compression, offset: offset, entries: 0)
            if compression == .none {
                segment.entries = try readArchive(raw, into: &image.paths, where: { "offset \($0)" }, damaged: damaged)
            } else {
                let decoder = try compression.decompressor()
                var plainBytes = 0
                let plain = ByteSource {
                    do {
                        while let bytes = try decoder.produce(from: raw) {
                            plainBytes += bytes.count
                            guard plainBytes <= maxPlainBytes else {
                                throw DamagedData(message: "it decompresses to more than \(maxPlainBytes >> 30) GiB")
                            }
                            if !bytes.isEmpty { return bytes }
                        }
                        return []
                    } catch let error as DamagedData {
                        throw damaged(
                            "the \(compression.rawValue) data at offset \(offset) fails at offset \(raw.position): \(error.message)")
                    }
                }
                let place = { (position: Int) in "offset \(position) of the \(compression.rawValue) data at offset \(offset)" }
                while true {
                    try plain.skipZeros()
                    if try plain.isAtEnd { break }
                    segment.entries += try readArchive(plain, into: &image.paths, where: place, damaged: damaged)
                }
            }
            image.segments.append(segment)
        }
        guard !image.segments.isEmpty else { throw damaged("it is empty") }
        return image
    }

    /// Reads one cpio archive up to its trailer, appending entry paths; returns how many.
    private static func readArchive(
        _ source: ByteSource, into paths: inout [String], where place: (Int) -> String, damaged: (String) -> GuestprepError
    ) throws -> Int {
        var count = 0
        while true {
            let at = source.position
            guard let header = try source.read(110) else {
                throw damaged("it ends at \(place(source.position)) inside a cpio header (truncated?)")
            }
            let magic = String(decoding: header[0..<6], as: UTF8.self)
            guard magic == "070701" || magic == "070702" else {
                throw damaged("the cpio header at \(place(at)) has magic \(hex(header[0..<6])), not 070701 or 070702")
            }
            // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
            let fields = try (0..<13).map { index in
                let text = header[(6 + 8 * index)..<(14 + 8 * index)]
                guard let value = Int(String(decoding: text, as: UTF8.self), radix: 16) else {
                    throw damaged("the cpio header at \(place(at)) has a field that is not hexadecimal: \(hex(text))")
                }
                return value
            }
            let fileSize = fields[6]
            let nameSize = fields[11]
            guard nameSize >= 1, nameSize <= maxNameBytes else {
                throw damaged("the cpio header at \(place(at)) gives a name of \(nameSize) bytes")
            }
            guard let nameBytes = try source.read(nameSize) else {
                throw damaged("it ends at \(place(source.position)) inside the name of the cpio entry at \(place(at))")
            }
            guard nameBytes.last == 0 else { throw damaged("the name of the cpio entry at \(place(at)) does not end in a NUL byte") }
            let name = String(decoding: nameBytes.dropLast(), as: UTF8.self)
            // Header plus name, then the data, each padded to four bytes.
            guard try source.skip(padding(source.position)) else {
                throw damaged("it ends at \(place(source.position)) after the name '\(name)'")
            }
            if name == "TRAILER!!!" { return count }
            guard try source.skip(fileSize), try source.skip(padding(source.position)) else {
                throw damaged("it ends at \(place(source.position)) inside the data of '\(name)' (\(fileSize) bytes)")
            }
            paths.append(normalized(name))
            count += 1
            guard paths.count <= maxEntries else { throw damaged("it holds more than \(maxEntries) entries") }
        }
    }

    private static func padding(_ position: Int) -> Int { (4 - position % 4) % 4 }

    private static func normalized(_ name: String) -> String {
        var name = Substring(name)
        if name.hasPrefix("./") { name = name.dropFirst(2) }
        while name.hasPrefix("/") { name = name.dropFirst() }
        return String(name)
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined(
            separator: " ")
    }
}
