import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import Testing

@testable import Rules

/// Which grub.cfg the regeneration writes: the one GRUB reads.
@Suite("grub.cfg regeneration target")
struct GrubRegenerationTests {
    func command(_ files: [String: String]) throws -> [String]? {
        let directory = try Support.scratch("grub-target")
        defer { Support.cleanUp(directory) }
        try Support.write("ID=rhel\nVERSION_ID=8.10\n", to: directory.appendingPathComponent("etc/os-release"))
        try Support.write("#!/bin/sh\n", to: directory.appendingPathComponent("usr/sbin/grub2-mkconfig"))
        try Support.must("chmod", ["755", directory.appendingPathComponent("usr/sbin/grub2-mkconfig").path])
        for (path, text) in files { try Support.write(text, to: directory.appendingPathComponent(path)) }
        let root = try GuestRoot(hostPath: directory.path)
        let context = RuleContext(root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root))
        return try GrubRegeneration.command(in: context)
    }

    @Test("UEFI RHEL 8: the full grub.cfg on the EFI system partition is the one written")
    func efiFullConfig() throws {
        let full = "### BEGIN /etc/grub.d/00_header ###\nset default=0\n### BEGIN /etc/grub.d/10_linux ###\n"
        #expect(
            try command(["boot/efi/EFI/redhat/grub.cfg": full, "boot/grub2/grub.cfg": full]) == [
                "grub2-mkconfig", "-o", "/boot/efi/EFI/redhat/grub.cfg",
            ])
    }

    @Test("UEFI RHEL 9 and SUSE: the ESP holds a stub that configfiles /boot/grub2/grub.cfg, which is written")
    func efiStub() throws {
        let stub = "search --no-floppy --fs-uuid --set=dev 1234\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n"
        #expect(
            try command(["boot/efi/EFI/redhat/grub.cfg": stub, "boot/grub2/grub.cfg": "### BEGIN ###\n"]) == [
                "grub2-mkconfig", "-o", "/boot/grub2/grub.cfg",
            ])
    }

    @Test("BIOS: /boot/grub2/grub.cfg; the fallback EFI/BOOT directory is not a vendor's")
    func bios() throws {
        #expect(
            try command(["boot/grub2/grub.cfg": "### BEGIN ###\n", "boot/efi/EFI/BOOT/grub.cfg": "set x=1\n"]) == [
                "grub2-mkconfig", "-o", "/boot/grub2/grub.cfg",
            ])
    }
}
