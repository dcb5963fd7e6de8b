import Apply
import BlockProbe
import Dialects
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Planning
import Testing

@testable import Rules

/// Boot disks as real images: an MBR carrying GRUB's own boot.img (Debian's grub-pc-bin), one with
/// zeroed boot code, one with LILO's name in it, a GPT whose ESP (sfdisk + mkfs.vfat) holds shim
/// and GRUB copied in with mtools.
enum BootImages {
    static let grubBootImage = "/usr/lib/grub/i386-pc/boot.img"
    static let rootUUID = FixtureGuest.rootUUID
    static let swapUUID = FixtureGuest.swapUUID

    /// Whether GRUB's boot.img and mtools are here (make deps installs both); tests that need them say so when not.
    static var available: Bool {
        let here = FileManager.default.fileExists(atPath: grubBootImage) && (try? Support.which("mcopy")) != nil
        if !here { print("NOTICE: \(grubBootImage) or mcopy missing (apt-get install grub-pc-bin mtools); boot image tests skipped") }
        return here
    }

    /// An MBR disk: ext4 / and swap, with `bootCode` written over the code area (first 440 bytes).
    static func mbr(at url: URL, bootCode: BootCode) throws -> URL {
        try DiskImage.mbr(
            at: url, primaries: [.init(sizeMiB: 16, content: .ext4(uuid: rootUUID)), .init(sizeMiB: 8, content: .swap(uuid: swapUUID))],
            logicals: [])
        switch bootCode {
        case .grub:
            try Support.must("dd", ["if=\(grubBootImage)", "of=\(url.path)", "bs=440", "count=1", "conv=notrunc", "status=none"])
        case .lilo:
            // LILO's first stage: a jump, then its signature where `strings` finds it.
            let code = [0xFA, 0xEB, 0x21, 0x01, 0xB4, 0x01] + Array("LILO".utf8) + [0x16, 0x06, 0x00, 0x00]
            let piece = url.deletingLastPathComponent().appendingPathComponent("lilo.bin")
            try Data(code).write(to: piece)
            try Support.must("dd", ["if=\(piece.path)", "of=\(url.path)", "bs=1", "conv=notrunc", "status=none"])
        case .zeroed:
            try Support.must("dd", ["if=/dev/zero", "of=\(url.path)", "bs=440", "count=1", "conv=notrunc", "status=none"])
        }
        return url
    }

    enum BootCode { case grub, lilo, zeroed }

    /// A GPT disk: 1 ESP (vfat, EFI/debian/shimx64.efi + grubx64.efi), 2 ext4 /, 3 swap.
    static func gptWithESP(at url: URL, shim: [UInt8], grub: [UInt8], fallback: Bool = false) throws -> URL {
        try DiskImage.gpt(
            at: url,
            partitions: [
                .init(sizeMiB: 33, content: .vfat(id: FixtureGuest.espID), type: BlockDevice.espGPTType),
                .init(sizeMiB: 16, content: .ext4(uuid: rootUUID)),
                .init(sizeMiB: 8, content: .swap(uuid: swapUUID)),
            ])
        let esp = "\(url.path)@@\(2048 * 512)"
        let scratch = url.deletingLastPathComponent()
        try Data(shim).write(to: scratch.appendingPathComponent("shimx64.efi"))
        try Data(grub).write(to: scratch.appendingPathComponent("grubx64.efi"))
        for directory in ["::/EFI", "::/EFI/debian"] + (fallback ? ["::/EFI/BOOT"] : []) {
            try Support.must("mmd", ["-i", esp, directory])
        }
        for name in ["shimx64.efi", "grubx64.efi"] {
            try Support.must("mcopy", ["-i", esp, scratch.appendingPathComponent(name).path, "::/EFI/debian/\(name)"])
        }
        if fallback {
            try Support.must("mcopy", ["-i", esp, scratch.appendingPathComponent("shimx64.efi").path, "::/EFI/BOOT/BOOTX64.EFI"])
        }
        return url
    }

    /// What the ESP of `image` holds, copied into `root`/boot/efi as a mount would show it.
    static func mountESP(of image: URL, into root: URL) throws {
        let target = root.appendingPathComponent("boot/efi")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try Support.must("mcopy", ["-s", "-n", "-i", "\(image.path)@@\(2048 * 512)", "::/EFI", target.path])
    }

    /// A PE32+ image (MZ stub, PE header, optional header with 16 data directories); `signed`
    /// fills the Certificate Table entry as an Authenticode-signed image has it.
    static func peImage(signed: Bool) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 0x200)
        bytes[0] = UInt8(ascii: "M")
        bytes[1] = UInt8(ascii: "Z")
        bytes[0x3C] = 0x80
        bytes.replaceSubrange(0x80..<0x84, with: Array("PE\0\0".utf8))
        let optional = 0x80 + 24
        bytes[optional] = 0x0B
        bytes[optional + 1] = 0x02
        bytes[optional + 108] = 16  // NumberOfRvaAndSizes
        if signed {
            let certificate = optional + 112 + 4 * 8
            bytes[certificate + 1] = 0x01  // offset 0x100
            bytes[certificate + 4] = 0x40  // size 0x40
        }
        return bytes
    }

    /// A guest root: os-release and an fstab mounting / from sda2 (GPT) or sda1 (MBR).
    static func root(in directory: URL, gpt: Bool) throws -> URL {
        let root = directory.appendingPathComponent("root")
        try Support.write("ID=debian\nVERSION_ID=\"12\"\n", to: root.appendingPathComponent("etc/os-release"))
        let fstab =
            gpt
            ? "/dev/sda2 / ext4 errors=remount-ro 0 1\n/dev/sda1 /boot/efi vfat umask=0077 0 1\n"
            : "/dev/sda1 / ext4 errors=remount-ro 0 1\n"
        try Support.write(fstab, to: root.appendingPathComponent("etc/fstab"))
        return root
    }

    static func plan(_ root: URL, disks: [URL], rules: [(any Rule, String)], source: SourceInputs = SourceInputs()) throws -> Plan {
        let guest = try GuestRoot(hostPath: root.path)
        let devices = try DiskImageProbe.inventory(
            disks.enumerated().map { DiskMapping(guestName: "/dev/sd\(["a", "b"][$0.offset])", hostPath: $0.element.path) })
        let playbook = Playbook(
            name: "test", source: "test",
            steps: rules.enumerated().map { .init(rule: $0.element.0, ruleID: $0.element.1, line: $0.offset + 1) })
        return Planner.plan(
            root: guest, devices: devices, facts: try GuestFacts.gather(from: guest), playbook: playbook, source: source)
    }

    static func codes(_ plan: Plan) -> [String] { plan.findings.map { "\($0.severity.rawValue) \($0.code)" } }
}

@Suite("Boot sector and bootloader check on real disk images")
struct BootloaderTests {
    @Test("boot sectors read as dd | strings | grep -Eoi 'grub|lilo' reads them")
    func bootSectors() throws {
        guard BootImages.available else { return }
        let directory = try Support.scratch("boot-sectors")
        defer { Support.cleanUp(directory) }
        for (code, expected) in [(BootImages.BootCode.grub, BootSector.Loader.grub), (.lilo, .lilo), (.zeroed, .none)] {
            let image = try BootImages.mbr(at: directory.appendingPathComponent("\(code).img"), bootCode: code)
            let sector = try BootSector.read(disk: BlockDevice(name: "/dev/sda", source: image.path))
            #expect(sector.loader == expected, "\(code)")
            #expect(!sector.isProtectiveMBR && !sector.hasGPTHeader)
            // The same answer as the guide's pipeline.
            let pipeline = try Support.run(
                "/bin/sh", ["-c", "dd if='\(image.path)' bs=512 count=1 status=none | strings | grep -Eoi 'grub|lilo'"])
            #expect(sector.markers == pipeline.stdout.split(separator: "\n").map(String.init), "\(code)")
        }
        let gpt = try BootImages.gptWithESP(
            at: directory.appendingPathComponent("gpt.img"), shim: BootImages.peImage(signed: true), grub: BootImages.peImage(signed: false)
        )
        let sector = try BootSector.read(disk: BlockDevice(name: "/dev/sda", source: gpt.path))
        #expect(sector.isProtectiveMBR && sector.hasGPTHeader && sector.loader == .none)
    }

    @Test("an unreadable disk is an error, not 'no boot loader'")
    func unreadable() throws {
        #expect(throws: GuestprepError.self) {
            try BootSector.read(disk: BlockDevice(name: "/dev/sda", source: "/nonexistent/disk.img"))
        }
    }

    @Test("MBR with GRUB: info; LILO: warning; zeroed boot code on a BIOS guest: blocker")
    func mbrGuests() throws {
        guard BootImages.available else { return }
        let expected: [(BootImages.BootCode, [String])] = [
            (.grub, ["info bootloader.grub"]),
            (.lilo, ["warning bootloader.lilo"]),
            (.zeroed, ["blocker bootloader.none"]),
        ]
        for (code, codes) in expected {
            let directory = try Support.scratch("mbr-\(code)")
            defer { Support.cleanUp(directory) }
            let image = try BootImages.mbr(at: directory.appendingPathComponent("sda.img"), bootCode: code)
            let root = try BootImages.root(in: directory, gpt: false)
            let plan = try BootImages.plan(root, disks: [image], rules: [(Bootloader(), Bootloader.id)])
            #expect(BootImages.codes(plan) == codes, "\(code): \(plan.findings.map(\.message))")
            #expect(plan.findings.first?.location == "/dev/sda")
            #expect(plan.changes.isEmpty && plan.failures.isEmpty)
        }
    }

    @Test("GPT with an ESP holding shim and GRUB (copied in with mtools): the ESP and its loaders, and the missing fallback path")
    func gptGuest() throws {
        guard BootImages.available else { return }
        let directory = try Support.scratch("gpt-esp")
        defer { Support.cleanUp(directory) }
        let image = try BootImages.gptWithESP(
            at: directory.appendingPathComponent("sda.img"), shim: BootImages.peImage(signed: true), grub: BootImages.peImage(signed: false)
        )
        let root = try BootImages.root(in: directory, gpt: true)

        // The ESP not mounted in the root: said so.
        var plan = try BootImages.plan(root, disks: [image], rules: [(Bootloader(), Bootloader.id)])
        #expect(
            BootImages.codes(plan) == ["info bootloader.no-bios-code", "info bootloader.esp", "warning bootloader.esp-not-mounted"],
            "\(plan.findings.map(\.message))")

        try BootImages.mountESP(of: image, into: root)
        plan = try BootImages.plan(root, disks: [image], rules: [(Bootloader(), Bootloader.id)])
        #expect(
            BootImages.codes(plan) == [
                "info bootloader.no-bios-code", "info bootloader.esp", "info bootloader.efi-loaders", "warning bootloader.no-efi-fallback",
            ], "\(plan.findings.map(\.message))")
        let loaders = try #require(plan.findings.first { $0.code == "bootloader.efi-loaders" }).message
        #expect(loaders.contains("/boot/efi/EFI/debian/shimx64.efi (shim, signed)"))
        #expect(loaders.contains("/boot/efi/EFI/debian/grubx64.efi (grub)"))
    }

    @Test("offline without --disk: a warning that says what to pass")
    func noDisk() throws {
        let directory = try Support.scratch("no-disk")
        defer { Support.cleanUp(directory) }
        let root = try BootImages.root(in: directory, gpt: false)
        let plan = try BootImages.plan(root, disks: [], rules: [(Bootloader(), Bootloader.id), (Firmware(), Firmware.id)])
        #expect(BootImages.codes(plan) == ["warning bootloader.no-disk", "warning firmware.unknown"])
        #expect(plan.findings[0].message.contains("pass --disk NAME=IMAGE"))
    }

    @Test("PE images: a certificate table is a signature, none is not, and non-PE bytes are neither")
    func peSignatures() {
        #expect(PEImage.hasCertificateTable(BootImages.peImage(signed: true)))
        #expect(!PEImage.hasCertificateTable(BootImages.peImage(signed: false)))
        #expect(!PEImage.hasCertificateTable(Array("MZ but nothing else".utf8)))
        #expect(!PEImage.hasCertificateTable([]))
    }
}

@Suite("Firmware check against what the destination offers")
struct FirmwareTests {
    /// (boot disk, supports) → findings.
    @Test("BIOS-only, UEFI-only and Secure Boot capable guests against destinations offering less")
    func matrix() throws {
        guard BootImages.available else { return }
        let directory = try Support.scratch("firmware")
        defer { Support.cleanUp(directory) }
        let grubMBR = try BootImages.mbr(at: directory.appendingPathComponent("grub.img"), bootCode: .grub)
        let gpt = try BootImages.gptWithESP(
            at: directory.appendingPathComponent("gpt.img"), shim: BootImages.peImage(signed: true), grub: BootImages.peImage(signed: false)
        )
        let unsignedGPT = try BootImages.gptWithESP(
            at: directory.appendingPathComponent("gpt-unsigned.img"), shim: BootImages.peImage(signed: false),
            grub: BootImages.peImage(signed: false))
        let mbrRoot = try BootImages.root(in: directory.appendingPathComponent("mbr"), gpt: false)
        let gptRoot = try BootImages.root(in: directory.appendingPathComponent("gpt"), gpt: true)
        try BootImages.mountESP(of: gpt, into: gptRoot)
        let unsignedRoot = try BootImages.root(in: directory.appendingPathComponent("unsigned"), gpt: true)
        try BootImages.mountESP(of: unsignedGPT, into: unsignedRoot)

        let cases: [(URL, URL, Set<FirmwareMode>?, String)] = [
            (mbrRoot, grubMBR, nil, "info firmware.supported"),
            (mbrRoot, grubMBR, [.bios, .uefi], "info firmware.supported"),
            (mbrRoot, grubMBR, [.uefi, .uefiSecureBoot], "blocker firmware.unsupported"),
            (gptRoot, gpt, [.bios], "blocker firmware.unsupported"),
            (gptRoot, gpt, [.uefiSecureBoot], "info firmware.supported"),
            (unsignedRoot, unsignedGPT, [.uefiSecureBoot], "blocker firmware.unsupported"),
            (unsignedRoot, unsignedGPT, [.bios, .uefi], "info firmware.supported"),
        ]
        for (root, image, supports, expected) in cases {
            let plan = try BootImages.plan(root, disks: [image], rules: [(Firmware(supports: supports), Firmware.id)])
            #expect(
                BootImages.codes(plan) == [expected],
                "\(image.lastPathComponent) \(String(describing: supports)): \(plan.findings.map(\.message))")
        }
        // The fix names what the guest lacks for what the destination offers.
        let blocked = try BootImages.plan(gptRoot, disks: [gpt], rules: [(Firmware(supports: [.bios]), Firmware.id)])
        #expect(blocked.findings.first?.message.contains("grub-install --target=i386-pc") == true)
    }

    @Test("supports: comes from the playbook, else from the destination playbook's firmware:")
    func parameters() throws {
        let playbook = try Playbook.parse(
            "name: t\ndestination:\n  platform: t\n  firmware: [uefi]\nrules:\n  - rule: firmware\n", source: "t.yaml")
        let rule = try #require(playbook.steps.first?.rule as? Firmware)
        #expect(rule.supports == nil)
        let explicit = try Firmware(
            parameters: RuleParameters(values: ["supports": .init(content: .list([.scalar("bios")]), line: 3)], rule: "firmware"))
        #expect(explicit.supports == [.bios])
        #expect(throws: GuestprepError.self) {
            try Firmware(parameters: RuleParameters(values: ["supports": .init(content: .scalar("efi"), line: 3)], rule: "firmware"))
        }
    }
}
