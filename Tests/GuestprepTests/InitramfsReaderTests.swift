import Foundation
import GuestFS
import GuestprepCore
import Initramfs
import Testing

/// The initramfs reader on images made here with the real cpio, gzip, xz, zstd and lz4, with and
/// without an uncompressed early-microcode archive in front, and on damaged copies of them.
@Suite("Initramfs reader")
struct InitramfsReaderTests {
    static let compressors: [InitramfsCompression: String] = [
        .none: "cat", .gzip: "gzip -9 -c", .xz: "xz --check=crc32 -c", .zstd: "zstd -q -c", .lz4: "lz4 -l -q -c",
    ]

    static let mainFiles = [
        "init", "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/ata/ahci.ko",
        "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/nvme/host/nvme.ko.xz",
        "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/block/virtio_blk.ko.zst",
        "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/scsi/hv_storvsc.ko.gz",
        "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/block/xen-blkfront.ko", "usr/lib/modules/6.1.0-9-amd64/modules.dep",
    ]

    /// A scratch directory holding `initrd.img`: an optional early cpio, then the main cpio compressed.
    static func makeImage(_ compression: InitramfsCompression, early: Bool, format: String = "newc") throws -> URL {
        let directory = try Support.scratch("initramfs")
        for (index, file) in mainFiles.enumerated() {
            // Sizes that are not multiples of four, so padding is exercised; one big incompressible file.
            let size = index == 1 ? 300_000 : 1 + index * 37
            var bytes = [UInt8](repeating: UInt8(index), count: size)
            if index == 1 { for offset in bytes.indices { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 2_654_435_761 >> 13) } }
            let url = directory.appendingPathComponent("main/\(file)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        try Support.write("GenuineIntel microcode\n", to: directory.appendingPathComponent("early/kernel/x86/microcode/GenuineIntel.bin"))
        let image = directory.appendingPathComponent("initrd.img").path
        var script = "set -e; : > \(image)\n"
        if early { script += "(cd \(directory.path)/early && find . | sort | cpio -o -H newc --quiet) >> \(image)\n" }
        script +=
            "(cd \(directory.path)/main && find . | sort | cpio -o -H \(format) --quiet) | \(compressors[compression]!) >> \(image)\n"
        try Support.must("sh", ["-c", script])
        return directory
    }

    static func read(_ directory: URL) throws -> InitramfsImage? {
        try InitramfsReader.read("/initrd.img", in: GuestRoot(hostPath: directory.path))
    }

    @Test(
        "every compression, with and without an early-microcode cpio in front",
        arguments: InitramfsCompression.allCases, [false, true])
    func compressions(_ compression: InitramfsCompression, early: Bool) throws {
        let directory = try Self.makeImage(compression, early: early)
        defer { Support.cleanUp(directory) }
        let image = try #require(try Self.read(directory))
        #expect(image.segments.map(\.compression) == (early ? [.none, compression] : [compression]))
        if early {
            #expect(Array(image.paths.prefix(4)) == [".", "kernel", "kernel/x86", "kernel/x86/microcode"])
            #expect(image.paths.contains("kernel/x86/microcode/GenuineIntel.bin"))
        }
        for file in Self.mainFiles { #expect(image.paths.contains(file)) }
        #expect(
            Set(image.modulePaths.compactMap(InitramfsImage.moduleName(ofPath:))) == [
                "ahci", "nvme", "virtio_blk", "hv_storvsc", "xen-blkfront",
            ])
    }

    @Test("the crc variant of newc reads the same")
    func crcFormat() throws {
        let directory = try Self.makeImage(.gzip, early: true, format: "crc")
        defer { Support.cleanUp(directory) }
        let image = try #require(try Self.read(directory))
        #expect(image.modulePaths.count == 5)
    }

    @Test("no file: nil")
    func missing() throws {
        let directory = try Support.scratch("initramfs")
        defer { Support.cleanUp(directory) }
        #expect(try Self.read(directory) == nil)
    }

    /// Reading must fail with a parse error that names the image and an offset.
    static func expectDamaged(_ directory: URL, mentioning words: [String]) {
        do {
            _ = try read(directory)
            Issue.record("a damaged image was read without complaint")
        } catch let error as GuestprepError {
            #expect(error.code == .parse)
            #expect(error.path == directory.appendingPathComponent("initrd.img").path)
            #expect(error.message.contains("offset"), "\(error)")
            for word in words { #expect(error.message.contains(word), "\(error)") }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    static func rewrite(_ directory: URL, _ edit: (inout [UInt8]) -> Void) throws {
        let url = directory.appendingPathComponent("initrd.img")
        var bytes = [UInt8](try Data(contentsOf: url))
        edit(&bytes)
        try Data(bytes).write(to: url)
    }

    @Test("a truncated image is an error naming the file and offset", arguments: InitramfsCompression.allCases)
    func truncated(_ compression: InitramfsCompression) throws {
        let directory = try Self.makeImage(compression, early: true)
        defer { Support.cleanUp(directory) }
        try Self.rewrite(directory) { $0.removeLast($0.count / 3) }
        Self.expectDamaged(directory, mentioning: [])
    }

    @Test("corrupt compressed data is an error naming the compression", arguments: [InitramfsCompression.gzip, .xz, .zstd, .lz4])
    func corrupt(_ compression: InitramfsCompression) throws {
        let directory = try Self.makeImage(compression, early: false)
        defer { Support.cleanUp(directory) }
        try Self.rewrite(directory) { bytes in
            for offset in stride(from: 64, to: bytes.count - 64, by: 97) { bytes[offset] ^= 0x5A }
        }
        Self.expectDamaged(directory, mentioning: [compression.rawValue])
    }

    @Test("bytes that start no known archive: an error quoting them")
    func unknownFormat() throws {
        let directory = try Self.makeImage(.none, early: false)
        defer { Support.cleanUp(directory) }
        try Self.rewrite(directory) { $0.replaceSubrange(0..<6, with: Array("BZh91A".utf8)) }
        Self.expectDamaged(directory, mentioning: ["42 5a 68", "offset 0"])
    }

    @Test("a cpio header with a bad field: an error naming its offset")
    func badHeader() throws {
        let directory = try Self.makeImage(.none, early: false)
        defer { Support.cleanUp(directory) }
        try Self.rewrite(directory) { $0.replaceSubrange(6..<14, with: Array("zzzzzzzz".utf8)) }
        Self.expectDamaged(directory, mentioning: ["not hexadecimal", "offset 0"])
    }
}
