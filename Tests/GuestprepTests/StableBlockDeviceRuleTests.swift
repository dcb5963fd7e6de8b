import BlockProbe
import Foundation
import GuestFS
import GuestprepCore
import HostProcess
import Planning
import Rules
import Testing

/// The fstab remediation on a fixture guest with a real disk image: input → plan → findings.
@Suite("stable-block-device-references")
struct StableBlockDeviceRuleTests {
    func plan(_ guest: FixtureGuest, targets: [StableBlockDeviceReferences.Target] = StableBlockDeviceReferences.Target.allCases) throws
        -> Plan
    {
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path)])
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [
                .init(rule: StableBlockDeviceReferences(targets: targets), ruleID: StableBlockDeviceReferences.id, line: 1)
            ])
        return try Planner.plan(root: root, devices: devices, playbook: playbook)
    }

    @Test("rewrites exactly the unstable sources, byte for byte elsewhere")
    func fstabGolden() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let plan = try plan(guest, targets: [.fstab])
        let change = try #require(plan.changes.first { $0.path == "/etc/fstab" })
        let expected = """
            # /etc/fstab: static file system information.
            #
            # <file system> <mount point>   <type>  <options>       <dump>  <pass>
            UUID=\(FixtureGuest.rootUUID)\t/\text4\terrors=remount-ro\t0\t1
            UUID=C0DE-F00D   /boot/efi   vfat   umask=0077   0   1
            UUID=\(FixtureGuest.swapUUID) none swap sw 0 0
            /dev/sda10 /srv ext4 defaults,nofail 0 2
            UUID=0a0a0a0a-0000-4000-8000-000000000001 /home ext4 defaults 0 2
            proc /proc proc defaults 0 0
            //nas/share\\040x /mnt/nas cifs guest,_netdev 0 0
            /dev/sr0 /media/cdrom udf,iso9660 user,noauto 0 0
            /srv/export /exports none bind 0 0
            """
        #expect(change.proposed == Array(expected.utf8))
        #expect(change.kind == .modify)
        #expect(change.reasons.count == 3)
        // sda10 is not sda1: unresolvable, and optional at boot, so a warning on its own line.
        let finding = try #require(plan.findings.first { $0.line == 7 })
        #expect(finding.severity == .warning)
        #expect(finding.path == "/etc/fstab")
        #expect(finding.message.contains("/dev/sda10"))
        #expect(plan.findings.filter { $0.severity == .blocker }.isEmpty)
    }

    @Test("an unresolvable device needed at boot is a blocker naming file and line; the line stays")
    func blockerWhenRequired() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write("/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1 /data xfs defaults 0 2\n", to: guest.file("etc/fstab"))
        let plan = try plan(guest, targets: [.fstab])
        let finding = try #require(plan.findings.first)
        #expect(finding.severity == .blocker)
        #expect(finding.location == "/etc/fstab:2")
        let change = try #require(plan.changes.first)
        #expect(
            String(decoding: change.proposed ?? [], as: UTF8.self)
                == "UUID=\(FixtureGuest.rootUUID) / ext4 defaults 0 1\n/dev/sdb1 /data xfs defaults 0 2\n")
    }

    @Test("a guest with nothing but /etc/fstab: the other targets' missing directories are not errors")
    func minimalGuest() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try FileManager.default.removeItem(at: guest.file("etc/initramfs-tools"))
        try FileManager.default.removeItem(at: guest.file("etc/default"))
        let plan = try plan(guest)
        #expect(plan.changes.map(\.path) == ["/etc/fstab"])
    }

    @Test("bind mounts, even of device-looking sources, are left alone")
    func bindMounts() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write("/dev/sda1 /srv/bound none bind 0 0\n/dev/sda1 /srv/r none rbind,ro 0 0\n", to: guest.file("etc/fstab"))
        let plan = try plan(guest, targets: [.fstab])
        #expect(plan.changes.isEmpty)
        #expect(plan.findings.isEmpty)
    }

    @Test("by-id references resolve when the disk is given under that name, and become UUID=")
    func byIDRewrite() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part1 / ext4 defaults 0 1\n", to: guest.file("etc/fstab"))
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([
            try DiskMapping(argument: "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001=\(guest.disk.path)")
        ])
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [
                .init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1)
            ])
        let plan = try Planner.plan(root: root, devices: devices, playbook: playbook)
        #expect(plan.changes.first?.proposed == Array("UUID=\(FixtureGuest.rootUUID) / ext4 defaults 0 1\n".utf8))
    }

    @Test("a device without a UUID and a UUID shared by a cloned disk are blockers at their lines; lines unchanged")
    func noUUIDAndCloned() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let empty = try DiskImage.gpt(
            at: guest.directory.appendingPathComponent("sdb.img"), partitions: [.init(sizeMiB: 2, content: .empty)])
        let clone = try DiskImage.wholeDisk(
            at: guest.directory.appendingPathComponent("sdc.img"), sizeMiB: 16, content: .ext4(uuid: FixtureGuest.rootUUID))
        let fstab = "/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1 /data ext4 defaults 0 2\n"
        try Support.write(fstab, to: guest.file("etc/fstab"))
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([
            DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path), DiskMapping(guestName: "/dev/sdb", hostPath: empty.path),
            DiskMapping(guestName: "/dev/sdc", hostPath: clone.path),
        ])
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [
                .init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1)
            ])
        let plan = try Planner.plan(root: root, devices: devices, playbook: playbook)
        #expect(plan.changes.isEmpty, "nothing resolvable: sda1's UUID is also on sdc")
        #expect(plan.findings.map(\.location) == ["/etc/fstab:1", "/etc/fstab:2"])
        #expect(plan.findings.allSatisfy { $0.severity == .blocker })
        #expect(plan.findings[0].message.contains("/dev/sdc"))
        #expect(plan.findings[1].message.contains("no recognisable filesystem"))
        #expect(try guest.read("etc/fstab") == fstab)
    }

    @Test("a type that contradicts the probed filesystem is refused")
    func typeMismatch() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        try Support.write("/dev/sda2 / ext4 defaults 0 1\n", to: guest.file("etc/fstab"))
        let plan = try plan(guest, targets: [.fstab])
        #expect(plan.changes.isEmpty)
        #expect(plan.findings.first?.message.contains("holds swap") == true)
    }

    @Test("resume device in initramfs-tools and on the grub command line")
    func resume() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let plan = try plan(guest, targets: [.resume])
        let resume = try #require(plan.changes.first { $0.path == "/etc/initramfs-tools/conf.d/resume" })
        #expect(resume.proposed == Array("RESUME=UUID=\(FixtureGuest.swapUUID)\n".utf8))
        let grub = try #require(plan.changes.first { $0.path == "/etc/default/grub" })
        #expect(
            String(decoding: grub.proposed ?? [], as: UTF8.self)
                == "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=UUID=\(FixtureGuest.swapUUID) splash\"\nGRUB_CMDLINE_LINUX=\"\"\n"
        )
        #expect(plan.findings.contains { $0.severity == .info && $0.message.contains("update-grub") })
    }

    @Test("crypttab: LUKS devices by their LUKS UUID; plain, swap and mistyped devices left with a finding")
    func crypttab() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let luksUUID = "12345678-1234-4234-8234-123456789abc"
        let disk = try DiskImage.gpt(
            at: guest.directory.appendingPathComponent("sdb.img"),
            partitions: [
                .init(sizeMiB: 4, content: .luks(uuid: luksUUID)),
                .init(sizeMiB: 2, content: .empty),
            ])
        try Support.write(
            """
            # <target> <source> <key> <options>
            data_crypt /dev/sdb1 none luks,discard
            cswap /dev/sdb2 /dev/urandom swap,cipher=aes-xts-plain64,size=256
            wrong /dev/sda1 none luks
            later /dev/sda1 none luks,noauto
            other /dev/sdq1 none luks

            """, to: guest.file("etc/crypttab"))
        let root = try GuestRoot(hostPath: guest.root.path)
        let devices = try DiskImageProbe.inventory([
            DiskMapping(guestName: "/dev/sda", hostPath: guest.disk.path), DiskMapping(guestName: "/dev/sdb", hostPath: disk.path),
        ])
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [
                .init(rule: StableBlockDeviceReferences(targets: [.crypttab]), ruleID: StableBlockDeviceReferences.id, line: 1)
            ])
        let plan = try Planner.plan(root: root, devices: devices, playbook: playbook)
        let change = try #require(plan.changes.first)
        #expect(
            String(decoding: change.proposed ?? [], as: UTF8.self).split(separator: "\n")[1]
                == "data_crypt UUID=\(luksUUID) none luks,discard")
        #expect(change.reasons.count == 1)
        let byLine = Dictionary(plan.findings.map { ($0.line ?? 0, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byLine[3]?.severity == .warning)
        #expect(byLine[3]?.message.contains("PARTUUID") == true)
        #expect(byLine[4]?.severity == .blocker)
        #expect(byLine[4]?.message.contains("holds ext4") == true)
        #expect(byLine[5]?.severity == .warning)
        #expect(byLine[6]?.severity == .blocker)
    }

    @Test(
        "reference classification",
        arguments: [
            ("/dev/sda1", true), ("/dev/sda", true), ("/dev/vdb2", true), ("/dev/hdc", true), ("/dev/xvda1", true),
            ("/dev/nvme0n1p2", true), ("/dev/nvme10n1", true), ("/dev/disk/by-path/pci-0000:00:1f.2-ata-1-part1", true),
            ("/dev/disk/by-id/ata-VBOX_HARDDISK_VB01-part2", true), ("/dev/disk/by-id/dm-uuid-LVM-abc", false),
            ("UUID=abc", false), ("LABEL=root", false), ("PARTUUID=3c8bd108-01", false), ("/dev/disk/by-uuid/abc", false),
            ("/dev/mapper/vg-root", false), ("/dev/md/0", false), ("/dev/md0", false), ("/dev/sr0", false), ("/dev/fd0", false),
            ("/dev/mmcblk0p1", false), ("/dev/sda1x", false), ("/dev/nvme0", false), ("tmpfs", false), ("server:/export", false),
        ])
    func classification(_ source: String, _ unstable: Bool) {
        let reference = DeviceReference.classify(source)
        if unstable {
            #expect(reference == .unstable(path: source))
        } else {
            #expect(reference != .unstable(path: source))
        }
    }

    @Test(
        "every corpus fstab plans without error, and each finding points at a real entry",
        .enabled(if: Support.corpusAvailable, "../shared/corpus is absent"))
    func corpusPlans() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        for file in Support.corpusFiles("fstab") {
            try Data(contentsOf: file).write(to: guest.file("etc/fstab"))
            let plan = try plan(guest, targets: [.fstab])
            let lines = TextLines.split(Array(try Data(contentsOf: file)))
            for finding in plan.findings {
                let line = try #require(finding.line, "\(file.lastPathComponent): finding without a line")
                #expect(line >= 1 && line <= lines.count)
            }
            for change in plan.changes {
                // Only the probed sda1..3 can resolve; every other byte is as in the corpus file.
                let before = lines
                let after = TextLines.split(change.proposed ?? [])
                #expect(before.count == after.count)
                for (old, new) in zip(before, after) where old != new {
                    #expect(new.text.hasPrefix("UUID="), "\(file.lastPathComponent): unexpected edit \(new.text)")
                }
            }
        }
    }
}
