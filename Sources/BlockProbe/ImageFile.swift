import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// An open disk image (or host block device) and its size, for the checks libblkid does not make:
/// libblkid reads a read error or a truncated image as "no signature here".
struct ImageFile {
    let fd: Int32
    let size: Int64
    let path: String
    /// "disk image for --disk vda", for messages.
    let what: String

    /// Reads the first and last 64 KiB of `range`, where the probers look, so a read error (EIO)
    /// is reported with its cause instead of being mistaken for an empty disk.
    func checkReadable(_ range: Range<Int64>) throws {
        let window: Int64 = 64 << 10
        var offsets = [range.lowerBound]
        if range.count > window { offsets.append(range.upperBound - window) }
        for offset in offsets {
            _ = try read(at: offset, count: Int(min(window, range.upperBound - offset)))
        }
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the image.
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, count - got, off_t(offset) + off_t(got)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw GuestprepError.system("reading \(what) at byte \(offset + Int64(got))", path: path)
            }
            if n == 0 { break }
            got += n
        }
        return Array(buffer[0..<got])
    }

    /// A partition the table places (partly) beyond the end of the image.
    func refusePastEnd(_ start: Int64, _ length: Int64, what part: String) throws {
        let (end, overflow) = start.addingReportingOverflow(length)
        guard overflow || end > size else { return }
        throw truncated(expected: overflow ? Int64.max : end, detail: "\(part) ends there")
    }

    /// A GPT disk cut short: libblkid then rejects the primary header (its last usable sector lies
    /// past the end) and finds no backup, so it would report no partitions at all. The primary
    /// header says where the disk ends: at its backup header (UEFI spec, "GPT Header", AlternateLBA).
    func refuseTruncatedGPT() throws {
        let mbr = try read(at: 0, count: 512)
        guard mbr.count == 512, mbr[510] == 0x55, mbr[511] == 0xAA else { return }
        // A protective MBR (an entry of type 0xEE) is what makes libblkid look for a GPT.
        guard (0..<4).contains(where: { mbr[446 + $0 * 16 + 4] == 0xEE }) else { return }
        for sectorSize: Int64 in [512, 4096] {
            let header = try read(at: sectorSize, count: 92)
            guard header.count == 92, header.starts(with: Array("EFI PART".utf8)) else { continue }
            let alternate = header[32..<40].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let sectors = alternate < UInt64(Int64.max) ? Int64(alternate) + 1 : Int64.max
            let (expected, overflow) = sectors.multipliedReportingOverflow(by: sectorSize)
            guard overflow || expected > size else { return }
            throw truncated(
                expected: overflow ? Int64.max : expected,
                detail: "its GPT places the backup header at sector \(alternate) of \(sectorSize) bytes")
        }
    }

    func truncated(expected: Int64, detail: String) -> GuestprepError {
        GuestprepError(
            .probe,
            "\(what): image ends at \(size) bytes, partition table expects \(expected) (\(detail)); the image is truncated "
                + "or incomplete, as after an interrupted copy or download: copy or convert it again",
            path: path)
    }
}
