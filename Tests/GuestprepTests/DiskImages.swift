import Foundation

/// Builds disk image files the way an installer would: a partition table written by sfdisk, and
/// real filesystems made by mkfs.ext4 -U, mkswap -U and mkfs.vfat -i (built in separate files and
/// copied in at their partition's offset, so neither root nor loop devices are needed).
struct DiskImage {
    enum Content {
        case ext4(uuid: String)
        case swap(uuid: String)
        case vfat(id: String)  // 8 hex digits, shown by blkid as XXXX-XXXX
        case luks(uuid: String)
        case empty
    }

    struct Partition {
        var sizeMiB: Int
        var content: Content
        var type: String = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    }

    /// A GPT disk image with the given partitions, 1 MiB aligned.
    @discardableResult
    static func gpt(at url: URL, partitions: [Partition]) throws -> URL {
        let total = partitions.reduce(2) { $0 + $1.sizeMiB } + 1
        try Support.must("truncate", ["-s", "\(total)M", url.path])
        var script = "label: gpt\n"
        var start = 2048
        var starts: [Int] = []
        for partition in partitions {
            script += "start=\(start), size=\(partition.sizeMiB * 2048), type=\(partition.type)\n"
            starts.append(start)
            start += partition.sizeMiB * 2048
        }
        try Support.must("sfdisk", ["-q", url.path], input: script)
        for (partition, start) in zip(partitions, starts) {
            try place(partition.content, sizeMiB: partition.sizeMiB, into: url, atSector: start)
        }
        return url
    }

    /// An MBR disk: primaries, then logical partitions inside an extended one (numbered from 5).
    @discardableResult
    static func mbr(at url: URL, primaries: [Partition], logicals: [Partition]) throws -> URL {
        let total = (primaries + logicals).reduce(2) { $0 + $1.sizeMiB } + logicals.count + 2
        try Support.must("truncate", ["-s", "\(total)M", url.path])
        var script = "label: dos\n"
        var start = 2048
        var placements: [(Partition, Int)] = []
        for partition in primaries {
            script += "start=\(start), size=\(partition.sizeMiB * 2048), type=83\n"
            placements.append((partition, start))
            start += partition.sizeMiB * 2048
        }
        if !logicals.isEmpty {
            script += "start=\(start), type=5\n"
            var logicalStart = start + 2048
            for partition in logicals {
                script += "start=\(logicalStart), size=\(partition.sizeMiB * 2048), type=83\n"
                placements.append((partition, logicalStart))
                logicalStart += partition.sizeMiB * 2048 + 2048
            }
        }
        try Support.must("sfdisk", ["-q", url.path], input: script)
        for (partition, start) in placements {
            try place(partition.content, sizeMiB: partition.sizeMiB, into: url, atSector: start)
        }
        return url
    }

    /// A filesystem on the whole image, no partition table (as on many cloud data disks).
    @discardableResult
    static func wholeDisk(at url: URL, sizeMiB: Int, content: Content) throws -> URL {
        try Support.must("truncate", ["-s", "\(sizeMiB)M", url.path])
        try format(url, content)
        return url
    }

    static func format(_ url: URL, _ content: Content) throws {
        switch content {
        case .ext4(let uuid): try Support.must("mkfs.ext4", ["-q", "-F", "-U", uuid, url.path])
        case .swap(let uuid): try Support.must("mkswap", ["-q", "-U", uuid, url.path])
        case .vfat(let id): try Support.must("mkfs.vfat", ["-i", id, url.path])
        case .luks(let uuid):
            let key = url.deletingLastPathComponent().appendingPathComponent(".key-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: key) }
            try Data("test key".utf8).write(to: key)
            try Support.must(
                "cryptsetup",
                [
                    "luksFormat", "--type", "luks1", "--batch-mode", "--uuid", uuid,
                    "--key-file", key.path, "--pbkdf-force-iterations", "1000", url.path,
                ])
        case .empty: break
        }
    }

    private static func place(_ content: Content, sizeMiB: Int, into image: URL, atSector sector: Int) throws {
        if case .empty = content { return }
        let piece = image.deletingLastPathComponent().appendingPathComponent(".piece-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: piece) }
        try Support.must("truncate", ["-s", "\(sizeMiB)M", piece.path])
        try format(piece, content)
        try Support.must("dd", ["if=\(piece.path)", "of=\(image.path)", "bs=512", "seek=\(sector)", "conv=notrunc", "status=none"])
    }
}
