import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Kernels
import Planning
import Rules
import Testing

/// The boot-space check on a real ext4 /boot: an image made by mkfs.ext4 (no reserved blocks, so
/// every free block counts), loop-mounted at the guest's /boot and filled to a known level.
@Suite("Boot space on a real filesystem", .enabled(if: Support.isRoot, "needs root to loop-mount an ext4 image"))
struct BootSpaceTests {
    @Test("three 30 MiB images on a 200 MiB /boot: short, and one more kernel must go; statvfs agrees with stat -f")
    func shortOfSpace() throws {
        let top = try Support.scratch("boot-space")
        defer { Support.cleanUp(top) }
        let root = top.appendingPathComponent("root")
        let boot = root.appendingPathComponent("boot")
        try FileManager.default.createDirectory(at: boot, withIntermediateDirectories: true)
        try Support.write("ID=debian\n", to: root.appendingPathComponent("etc/os-release"))
        let image = top.appendingPathComponent("boot.img").path
        try Support.must("truncate", ["-s", "200M", image])
        try Support.must("mkfs.ext4", ["-q", "-F", "-m", "0", image])
        try Support.must("mount", ["-o", "loop", image, boot.path])
        defer { _ = try? Support.run("umount", [boot.path]) }
        for abi in [9, 10, 11] {
            try Support.must("dd", ["if=/dev/zero", "of=\(boot.path)/vmlinuz-6.1.0-\(abi)-amd64", "bs=1M", "count=1", "status=none"])
            try Support.must("dd", ["if=/dev/zero", "of=\(boot.path)/initrd.img-6.1.0-\(abi)-amd64", "bs=1M", "count=30", "status=none"])
        }
        try Support.must("sync", [])

        let guest = try GuestRoot(hostPath: root.path)
        let space = try guest.fileSystemSpace("/boot")
        let statf = try Support.must("stat", ["-f", "-c", "%a %S %d", boot.path]).split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(space.freeBytes == statf[0] * statf[1])
        #expect(space.freeInodes == statf[2])

        let plan = Planner.plan(
            root: guest, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: guest),
            playbook: Playbook(name: "b", source: "b", steps: [.init(rule: BootSpaceCheck(), ruleID: BootSpaceCheck.id, line: 1)]))
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        let short = try #require(plan.findings.first { $0.code == "boot.space-short" })
        #expect(short.severity == .blocker)
        #expect(short.path == "/boot", "findings name guest paths")
        #expect(short.message.contains("needs 112.5 MiB free"))
        #expect(short.message.contains("1 more kernel(s) must go (oldest first: 6.1.0-9-amd64)"))
        #expect(plan.verdict == .blocked)

        // One kernel's files gone: 2 × 30 MiB × 1.25 = 75 MiB, so the 100 MiB floor is what must fit.
        for name in ["vmlinuz-6.1.0-9-amd64", "initrd.img-6.1.0-9-amd64"] {
            try FileManager.default.removeItem(at: boot.appendingPathComponent(name))
        }
        let after = Planner.plan(
            root: guest, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: guest),
            playbook: Playbook(name: "b", source: "b", steps: [.init(rule: BootSpaceCheck(), ruleID: BootSpaceCheck.id, line: 1)]))
        #expect(after.findings.map(\.code) == ["boot.space-ok"])
    }
}
