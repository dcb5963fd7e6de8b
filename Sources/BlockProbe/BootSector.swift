import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// The first sector of a disk, as BIOS firmware loads it, and what boot code it holds.
public struct BootSector: Sendable, Equatable {
    /// What `dd if=DISK bs=512 count=1 | strings | grep -Eoi 'grub|lilo'` would say.
    public enum Loader: String, Sendable, Codable {
        case grub = "GRUB"
        case lilo = "LILO"
        /// Boot code without either name (syslinux, a Windows MBR, another loader).
        case other
        /// No boot code: the code area is all zero bytes, or there is no 0x55AA signature.
        case none
    }

    /// The first 512 bytes.
    public var bytes: [UInt8]
    public var loader: Loader
    /// The words `strings | grep -Eoi 'grub|lilo'` prints, in order ("GRUB", "lilo"…).
    public var markers: [String]
    /// A partition entry of type 0xEE: the MBR only protects a GPT (UEFI spec, "Protective MBR").
    public var isProtectiveMBR: Bool
    /// "EFI PART" at LBA 1 (512- or 4096-byte sectors).
    public var hasGPTHeader: Bool

    /// Boot code occupies the bytes before the disk signature and partition table (offset 440).
    static let codeArea = 0..<440

    /// Classifies the start of a disk: at least the first 512 bytes, and the GPT header's sector
    /// when present in `start` (bytes 512… or 4096…).
    public init(start: [UInt8]) {
        bytes = Array(start.prefix(512))
        let sector = bytes + [UInt8](repeating: 0, count: max(0, 512 - bytes.count))
        let signed = sector[510] == 0x55 && sector[511] == 0xAA
        isProtectiveMBR = signed && (0..<4).contains { sector[446 + $0 * 16 + 4] == 0xEE }
        hasGPTHeader = [512, 4096].contains { offset in
            start.count >= offset + 8 && start[offset..<(offset + 8)].elementsEqual("EFI PART".utf8)
        }
        markers = Self.markers(in: sector)
        if !signed || sector[Self.codeArea].allSatisfy({ $0 == 0 }) {
            loader = .none
        } else if let first = markers.first {
            loader = first.lowercased() == "grub" ? .grub : .lilo
        } else {
            loader = .other
        }
    }

    /// Reads the start of a whole disk (an image file or a device node): an unreadable disk is
    /// an error naming it and the cause, never "no boot code".
    public static func read(disk: BlockDevice) throws -> BootSector {
        if let failure = disk.readFailure {
            throw GuestprepError(.probe, "\(disk.name) could not be read to look at its boot code", path: disk.source, cause: failure)
        }
        let fd = open(disk.source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GuestprepError.system("opening \(disk.name) to read its boot sector", path: disk.source) }
        defer { close(fd) }
        let image = ImageFile(fd: fd, size: 0, path: disk.source, what: "disk \(disk.name)")
        let start = try image.read(at: 0, count: 4096 + 512)
        guard start.count >= 512 else {
            throw GuestprepError(
                .probe, "\(disk.name) is shorter than one sector (\(start.count) bytes), so it holds no boot sector", path: disk.source)
        }
        return BootSector(start: start)
    }

    /// `strings` (runs of at least 4 printable ASCII characters, tab included) filtered as by
    /// `grep -Eoi 'grub|lilo'`: each match, as spelt.
    static func markers(in sector: [UInt8]) -> [String] {
        func printable(_ byte: UInt8) -> Bool { (0x20...0x7E).contains(byte) || byte == 0x09 }
        var found: [String] = []
        var index = 0
        while index < sector.count {
            guard printable(sector[index]) else {
                index += 1
                continue
            }
            let start = index
            while index < sector.count, printable(sector[index]) { index += 1 }
            guard index - start >= 4 else { continue }
            let run = Array(sector[start..<index])
            var position = 0
            while position + 4 <= run.count {
                let word = String(decoding: run[position..<(position + 4)], as: UTF8.self)
                if ["grub", "lilo"].contains(word.lowercased()) {
                    found.append(word)
                    position += 4
                } else {
                    position += 1
                }
            }
        }
        return found
    }
}
