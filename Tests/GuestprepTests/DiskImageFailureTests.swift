import BlockProbe
import Foundation
import GuestprepCore
import Testing

/// Disks that cannot be what the admin meant: colliding names, truncated or unreadable images.
/// Each is an error that says so, never a probe that quietly finds "no filesystem".
@Suite("Disk images that are refused")
struct DiskImageFailureTests {
    static let uuid = "3f0f5cbb-6a1e-4b0e-9a55-0d6f1c2b7e11"

    func usageError(_ arguments: [String], naming names: [String]) throws -> Bool {
        do {
            _ = try DiskImageProbe.inventory(try arguments.map(DiskMapping.init(argument:)))
            return false
        } catch let error as GuestprepError {
            return error.code == .usage && names.allSatisfy { error.message.contains($0) }
        }
    }

    @Test(
        "a disk named like another disk's partition is refused, naming both",
        arguments: [
            ("vda", "vda1", "/dev/vda1"),
            ("nvme0n1", "nvme0n1p1", "/dev/nvme0n1p1"),
            ("/dev/disk/by-id/X", "/dev/disk/by-id/X-part1", "/dev/disk/by-id/X-part1"),
            ("mmcblk0", "mmcblk0p12", "/dev/mmcblk0p12"),
        ])
    func collidingNames(_ disk: String, _ other: String, _ both: String) throws {
        let directory = try Support.scratch("collide")
        defer { Support.cleanUp(directory) }
        let a = try DiskImage.wholeDisk(at: directory.appendingPathComponent("a.img"), sizeMiB: 16, content: .ext4(uuid: Self.uuid))
        let b = try DiskImage.wholeDisk(at: directory.appendingPathComponent("b.img"), sizeMiB: 1, content: .empty)
        let names = [both, a.path, b.path]
        #expect(try usageError(["\(disk)=\(a.path)", "\(other)=\(b.path)"], naming: names))
        #expect(try usageError(["\(other)=\(b.path)", "\(disk)=\(a.path)"], naming: names))
        #expect(try usageError(["\(disk)=\(a.path)", "\(other)=\(a.path)"], naming: [both]))
    }

    @Test("names that only look alike are separate disks")
    func distinctNames() throws {
        let directory = try Support.scratch("distinct")
        defer { Support.cleanUp(directory) }
        let a = try DiskImage.wholeDisk(at: directory.appendingPathComponent("a.img"), sizeMiB: 16, content: .ext4(uuid: Self.uuid))
        let b = try DiskImage.wholeDisk(at: directory.appendingPathComponent("b.img"), sizeMiB: 1, content: .empty)
        for (first, second) in [("nvme0n1", "nvme0n10"), ("sda", "sdaa"), ("/dev/disk/by-id/ata-K", "/dev/disk/by-id/ata-\u{212A}")] {
            let inventory = try DiskImageProbe.inventory([
                try DiskMapping(argument: "\(first)=\(a.path)"), try DiskMapping(argument: "\(second)=\(b.path)"),
            ])
            #expect(inventory.devices.count == 2, "\(first) and \(second)")
        }
        #expect(PartitionNaming.partitionNumber(of: "/dev/sda12", onDisk: "/dev/sda") == 12)
        #expect(PartitionNaming.partitionNumber(of: "/dev/sda01", onDisk: "/dev/sda") == nil)
        #expect(PartitionNaming.partitionNumber(of: "/dev/nvme0n12", onDisk: "/dev/nvme0n1") == nil)
        #expect(PartitionNaming.partition(1, of: "/dev/disk\u{0661}") == "/dev/disk\u{0661}1")  // not an ASCII digit: no "p"
        #expect { try DiskMapping(argument: "/dev/disk/by-id/ata-\u{FFFD}=/x.img") } throws: { ($0 as? GuestprepError)?.code == .usage }
    }

    func probeError(_ mapping: DiskMapping) -> GuestprepError? {
        do {
            _ = try DiskImageProbe.inventory([mapping])
            return nil
        } catch {
            return error as? GuestprepError
        }
    }

    @Test("a truncated GPT image says where it ends and where its partition table says it should")
    func truncatedGPT() throws {
        let directory = try Support.scratch("truncated-gpt")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.gpt(
            at: directory.appendingPathComponent("disk.img"),
            partitions: [.init(sizeMiB: 16, content: .ext4(uuid: Self.uuid)), .init(sizeMiB: 8, content: .empty)])
        let full = try FileManager.default.attributesOfItem(atPath: image.path)[.size] as? Int ?? 0
        try Support.must("truncate", ["-s", "10M", image.path])
        let error = try #require(probeError(DiskMapping(guestName: "/dev/vda", hostPath: image.path)))
        #expect(error.code == .probe)
        #expect(error.path == image.path)
        #expect(error.message.contains("--disk /dev/vda"))
        #expect(error.message.contains("image ends at 10485760 bytes, partition table expects \(full)"))
        #expect(error.message.contains("truncated"))
    }

    @Test("an MBR partition reaching past the end of the image is refused")
    func truncatedMBR() throws {
        let directory = try Support.scratch("truncated-mbr")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.mbr(
            at: directory.appendingPathComponent("disk.img"),
            primaries: [.init(sizeMiB: 16, content: .ext4(uuid: Self.uuid))], logicals: [.init(sizeMiB: 8, content: .empty)])
        try Support.must("truncate", ["-s", "12M", image.path])
        let error = try #require(probeError(DiskMapping(guestName: "/dev/sda", hostPath: image.path)))
        // Partition 1 starts at 1 MiB and is 16 MiB long.
        #expect(error.message.contains("image ends at 12582912 bytes, partition table expects 17825792 (partition 1 ends there)"))
    }

    @Test("an empty image is refused")
    func emptyImage() throws {
        let directory = try Support.scratch("empty")
        defer { Support.cleanUp(directory) }
        let image = directory.appendingPathComponent("empty.img")
        try Support.must("truncate", ["-s", "0", image.path])
        let error = try #require(probeError(DiskMapping(guestName: "/dev/sda", hostPath: image.path)))
        #expect(error.message.contains("empty (0 bytes)"))
    }

    @Test(
        "a read error is an error with the path and its cause",
        .enabled(if: FileManager.default.fileExists(atPath: "/sys/class/net/lo/speed"), "needs sysfs"))
    func readError() throws {
        // Reading this sysfs attribute of the loopback interface fails with EINVAL: a real read error
        // from the kernel on a regular file, where a disk would give EIO.
        let path = "/sys/class/net/lo/speed"
        guard (try? String(contentsOfFile: path, encoding: .utf8)) == nil else { return }
        let error = try #require(probeError(DiskMapping(guestName: "/dev/sda", hostPath: path)))
        #expect(error.path == path)
        #expect(error.message.contains("reading disk image for --disk /dev/sda at byte 0"))
        #expect(error.errorNumber == EINVAL)
        #expect(error.cause?.contains("Invalid argument") == true)
    }

    @Test(
        "an image guestprep may not read is an error naming it, not an empty disk",
        .enabled(if: Support.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to drop to nobody"))
    func unreadable() throws {
        let directory = try Support.scratch("unreadable")
        defer { Support.cleanUp(directory) }
        #expect(chmod(directory.path, 0o755) == 0)
        let guest = directory.appendingPathComponent("root")
        try Support.write("ID=debian\n", to: guest.appendingPathComponent("etc/os-release"))
        let image = try DiskImage.wholeDisk(at: directory.appendingPathComponent("disk.img"), sizeMiB: 16, content: .ext4(uuid: Self.uuid))
        #expect(chmod(image.path, 0o600) == 0)
        let result = try Support.run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", Support.binary, "inspect", "--root", guest.path, "--disk",
                "sda=\(image.path)",
            ])
        #expect(result.status == 1)
        #expect(result.stderr.contains(image.path))
        #expect(result.stderr.contains("Permission denied"))
        #expect(!result.stderr.contains("no recognisable"))
    }
}
