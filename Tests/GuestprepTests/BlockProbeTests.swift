import BlockProbe
import Foundation
import Rules
import Testing

/// Real partition tables and filesystems in image files, probed by the real libblkid.
@Suite("Probing disk images with libblkid")
struct BlockProbeTests {
    static let rootUUID = "3f0f5cbb-6a1e-4b0e-9a55-0d6f1c2b7e11"
    static let swapUUID = "8c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"

    @Test("GPT partitions: ext4, swap and vfat UUIDs, labels and PARTUUIDs as blkid reports them")
    func gptImage() throws {
        let directory = try Support.scratch("probe")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.gpt(
            at: directory.appendingPathComponent("disk.img"),
            partitions: [
                .init(sizeMiB: 33, content: .vfat(id: "1234ABCD")),
                .init(sizeMiB: 16, content: .ext4(uuid: Self.rootUUID)),
                .init(sizeMiB: 8, content: .swap(uuid: Self.swapUUID)),
                .init(sizeMiB: 2, content: .empty),
            ])
        let inventory = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: image.path)])
        #expect(inventory.devices.map(\.name) == ["/dev/sda", "/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sda4"])
        #expect(inventory.device(named: "/dev/sda1")?.type == "vfat")
        #expect(inventory.device(named: "/dev/sda1")?.uuid == "1234-ABCD")
        #expect(inventory.device(named: "/dev/sda2")?.type == "ext4")
        #expect(inventory.device(named: "/dev/sda2")?.uuid == Self.rootUUID)
        #expect(inventory.device(named: "/dev/sda3")?.type == "swap")
        #expect(inventory.device(named: "/dev/sda3")?.uuid == Self.swapUUID)
        #expect(inventory.device(named: "/dev/sda4")?.uuid == nil)

        // PARTUUIDs agree with what sfdisk wrote in the table.
        let table = try Support.must("sfdisk", ["--part-uuid", image.path, "2"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(inventory.device(named: "/dev/sda2")?.partUUID?.uppercased() == table.uppercased())
    }

    @Test("NVMe and by-id names for partitions; one image under two names is one disk")
    func naming() throws {
        let directory = try Support.scratch("naming")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.gpt(
            at: directory.appendingPathComponent("disk.img"),
            partitions: [
                .init(sizeMiB: 16, content: .ext4(uuid: Self.rootUUID))
            ])
        let inventory = try DiskImageProbe.inventory([
            try DiskMapping(argument: "nvme0n1=\(image.path)"),
            try DiskMapping(argument: "/dev/disk/by-id/virtio-serial42=\(image.path)"),
        ])
        #expect(inventory.device(named: "/dev/nvme0n1p1")?.uuid == Self.rootUUID)
        #expect(inventory.device(named: "/dev/disk/by-id/virtio-serial42-part1")?.uuid == Self.rootUUID)
        #expect(inventory.devices(withUUID: Self.rootUUID).count == 1)
        #expect(PartitionNaming.partition(3, of: "/dev/sda") == "/dev/sda3")
        #expect(PartitionNaming.partition(12, of: "/dev/mmcblk0") == "/dev/mmcblk0p12")
    }

    @Test("MBR logical partitions are numbered from 5; the extended container is not probed")
    func mbrLogical() throws {
        let directory = try Support.scratch("mbr")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.mbr(
            at: directory.appendingPathComponent("disk.img"),
            primaries: [.init(sizeMiB: 16, content: .ext4(uuid: Self.rootUUID))],
            logicals: [.init(sizeMiB: 8, content: .swap(uuid: Self.swapUUID))])
        let inventory = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/hda", hostPath: image.path)])
        #expect(inventory.device(named: "/dev/hda1")?.uuid == Self.rootUUID)
        #expect(inventory.device(named: "/dev/hda5")?.uuid == Self.swapUUID)
        #expect(inventory.device(named: "/dev/hda2") == nil)
    }

    @Test("a whole-disk filesystem is the disk itself")
    func wholeDisk() throws {
        let directory = try Support.scratch("whole")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.wholeDisk(
            at: directory.appendingPathComponent("data.img"), sizeMiB: 16, content: .ext4(uuid: Self.rootUUID))
        let inventory = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/vdb", hostPath: image.path)])
        #expect(inventory.devices.count == 1)
        #expect(inventory.device(named: "/dev/vdb")?.uuid == Self.rootUUID)
        #expect(inventory.device(named: "/dev/vdb")?.type == "ext4")
    }

    @Test("cloned disks: a UUID on two devices is refused, naming both")
    func duplicateUUIDs() throws {
        let directory = try Support.scratch("dup")
        defer { Support.cleanUp(directory) }
        let first = try DiskImage.wholeDisk(at: directory.appendingPathComponent("a.img"), sizeMiB: 16, content: .ext4(uuid: Self.rootUUID))
        let second = try DiskImage.wholeDisk(
            at: directory.appendingPathComponent("b.img"), sizeMiB: 16, content: .ext4(uuid: Self.rootUUID))
        let inventory = try DiskImageProbe.inventory([
            DiskMapping(guestName: "/dev/sda", hostPath: first.path), DiskMapping(guestName: "/dev/sdb", hostPath: second.path),
        ])
        #expect(inventory.devices(withUUID: Self.rootUUID).count == 2)
        guard case .refused(_, let why) = inventory.resolveUUID(for: "/dev/sda") else {
            Issue.record("a shared UUID must be refused")
            return
        }
        #expect(why.contains("/dev/sda") && why.contains("/dev/sdb") && why.contains("2 probed devices"))
    }

    @Test("unresolvable, empty and mistyped devices are refused with the reason")
    func refusals() throws {
        let directory = try Support.scratch("refuse")
        defer { Support.cleanUp(directory) }
        let image = try DiskImage.gpt(
            at: directory.appendingPathComponent("disk.img"),
            partitions: [
                .init(sizeMiB: 8, content: .swap(uuid: Self.swapUUID)),
                .init(sizeMiB: 2, content: .empty),
            ])
        let inventory = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: image.path)])
        guard case .refused(_, let missing) = inventory.resolveUUID(for: "/dev/sdc1") else {
            Issue.record("sdc1 is not probed")
            return
        }
        #expect(missing.contains("not among the probed block devices"))
        guard case .refused(_, let empty) = inventory.resolveUUID(for: "/dev/sda2") else {
            Issue.record("sda2 is empty")
            return
        }
        #expect(empty.contains("no recognisable filesystem"))
        guard case .refused(_, let typed) = inventory.resolveUUID(for: "/dev/sda1", expectedType: "ext4") else {
            Issue.record("swap is not ext4")
            return
        }
        #expect(typed.contains("holds swap"))
        #expect(
            inventory.resolveUUID(for: "/dev/sda1", expectedType: "swap")
                == .resolved(device: inventory.device(named: "/dev/sda1")!, uuid: Self.swapUUID))
    }

    @Test("--disk arguments are checked")
    func diskArguments() throws {
        #expect(try DiskMapping(argument: "sda=/x.img").guestName == "/dev/sda")
        #expect(throws: (any Error).self) { try DiskMapping(argument: "sda") }
        #expect(throws: (any Error).self) { try DiskMapping(argument: "=/x.img") }
        #expect(throws: (any Error).self) { try DiskMapping(argument: "sda=") }
        #expect(throws: (any Error).self) {
            try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: "/nonexistent.img")])
        }
    }
}

/// The live system's devices through libudev enumeration; needs root for a loop device.
@Suite("Live devices through libudev")
struct LiveProbeTests {
    @Test("every block device sysfs lists is enumerated")
    func matchesSysfs() throws {
        let inventory = try LiveDeviceProbe.inventory()
        let sysfs = try FileManager.default.contentsOfDirectory(atPath: "/sys/class/block").filter { name in
            let size = (try? String(contentsOfFile: "/sys/class/block/\(name)/size", encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            return size != nil && size != "0" && FileManager.default.fileExists(atPath: "/dev/\(name)")
        }
        let names = Set(inventory.devices.map(\.name))
        for name in sysfs { #expect(names.contains("/dev/\(name)"), "libudev missed /dev/\(name)") }
    }

    @Test("a loop device over a real ext4 image is found with its UUID", .enabled(if: Support.isRoot, "needs root for losetup"))
    func loopDevice() throws {
        let directory = try Support.scratch("loop")
        defer { Support.cleanUp(directory) }
        let uuid = "5a5a5a5a-1111-4222-8333-444455556666"
        let image = try DiskImage.wholeDisk(at: directory.appendingPathComponent("loop.img"), sizeMiB: 16, content: .ext4(uuid: uuid))
        let attached = try Support.run("losetup", ["--find", "--show", image.path])
        try #require(attached.status == 0, "losetup failed: \(attached.stderr)")
        let node = attached.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? Support.run("losetup", ["-d", node]) }
        let inventory = try LiveDeviceProbe.inventory()
        let device = try #require(inventory.device(named: node))
        #expect(device.uuid == uuid)
        #expect(device.type == "ext4")
        #expect(device.source == node)

        // The same device given as a guest disk with --disk: host block devices work like images.
        let mapped = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/vdc", hostPath: node)])
        #expect(mapped.device(named: "/dev/vdc")?.uuid == uuid)
    }
}
