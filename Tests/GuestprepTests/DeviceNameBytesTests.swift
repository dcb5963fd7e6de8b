import BlockProbe
import Foundation
import GuestFS
import GuestprepCore
import Planning
import Rules
import Testing

/// Device names are bytes, as the kernel, udev and libmount see them: two spellings that Swift's
/// `String ==` calls equal (canonical equivalence) are two devices.
@Suite("Device names compared as bytes")
struct DeviceNameBytesTests {
    static let kelvin = "\u{212A}"  // KELVIN SIGN, canonically equivalent to "K"

    @Test("an fstab line naming a by-id link with KELVIN SIGN is not rewritten to the disk named with K")
    func kelvinSignIsNotK() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let lookalike = "/dev/disk/by-id/ata-QEMU_HARDDISK_\(Self.kelvin)1-part1 / ext4 defaults 0 1\n"
        let exact = "/dev/disk/by-id/ata-QEMU_HARDDISK_K1-part2 none swap sw 0 0\n"
        try Support.write(lookalike + exact, to: guest.file("etc/fstab"))
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([try DiskMapping(argument: "/dev/disk/by-id/ata-QEMU_HARDDISK_K1=\(guest.disk.path)")])
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [.init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1)])
        let plan = try Planner.plan(root: root, devices: devices, playbook: playbook)

        let finding = try #require(plan.findings.first { $0.line == 1 })
        #expect(finding.severity == .blocker)
        #expect(finding.message.contains("not among the probed block devices"))
        // The exact spelling still resolves; the look-alike line stays byte for byte.
        let change = try #require(plan.changes.first { $0.path == "/etc/fstab" })
        #expect(change.proposed == Array((lookalike + "UUID=\(FixtureGuest.swapUUID) none swap sw 0 0\n").utf8))
    }

    @Test("the inventory matches names and UUIDs by bytes")
    func inventory() {
        let devices = DeviceInventory(devices: [
            BlockDevice(name: "/dev/disk/by-id/ata-K", source: "a.img", uuid: "abcdef01-0000-4000-8000-00000000000a"),
            BlockDevice(name: "/dev/disk/by-id/caf\u{e9}", source: "b.img", uuid: "k"),
        ])
        #expect(devices.device(named: "/dev/disk/by-id/ata-K")?.source == "a.img")
        #expect(devices.device(named: "/dev/disk/by-id/ata-\(Self.kelvin)") == nil)
        #expect(devices.device(named: "/dev/disk/by-id/cafe\u{301}") == nil)
        #expect(devices.device(namedBytes: Array("/dev/disk/by-id/caf\u{e9}".utf8))?.source == "b.img")
        // blkid ignores ASCII case in UUIDs, and nothing more: KELVIN SIGN lowercases to "k" in Unicode.
        #expect(devices.devices(withUUID: "ABCDEF01-0000-4000-8000-00000000000A").count == 1)
        #expect(devices.devices(withUUID: "K").count == 1)
        #expect(devices.devices(withUUID: Self.kelvin).isEmpty)
    }

    @Test("what was bytes that are not UTF-8 (now U+FFFD) is never matched")
    func replacementCharacter() throws {
        let name = "/dev/disk/by-id/ata-\u{FFFD}"
        let devices = DeviceInventory(devices: [BlockDevice(name: name, source: "a.img", uuid: "11111111-2222-4333-8444-555555555555")])
        guard case .refused(_, let why) = devices.resolveUUID(for: name) else {
            Issue.record("a name holding U+FFFD must not resolve")
            return
        }
        #expect(why.contains("not valid UTF-8"))
        #expect { try DiskMapping(argument: "\(name)=/x.img") } throws: { ($0 as? GuestprepError)?.code == .usage }
    }

    @Test("classification reads bytes, and only ASCII names are kernel disk names")
    func classify() {
        #expect(DeviceReference.classify("/dev/sda1") == .unstable(path: "/dev/sda1"))
        #expect(DeviceReference.classify("/dev/nvme0n1p2") == .unstable(path: "/dev/nvme0n1p2"))
        #expect(DeviceReference.classify("/dev/sda\u{301}") == .other)  // "a" + COMBINING ACUTE is not a letter a-z
        #expect(DeviceReference.classify("/dev/sd\u{0101}1") == .other)
        #expect(DeviceReference.classify("/dev/sda\u{0661}") == .other)  // ARABIC-INDIC DIGIT ONE
        #expect(DeviceReference.classify("/dev/disk/by-id/dm-uuid-x") == .stable)
        #expect(DeviceReference.classify("/dev/disk/by-id/ata-\(Self.kelvin)") == .unstable(path: "/dev/disk/by-id/ata-\(Self.kelvin)"))
        #expect(PartitionNaming.partition(1, of: "/dev/disk\u{0661}") == "/dev/disk\u{0661}1")  // not an ASCII digit: no "p"
    }
}
