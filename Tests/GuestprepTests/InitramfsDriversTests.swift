import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Planning
import Rules
import Testing

@testable import GuestprepCLI

/// initramfs-drivers on small fixture guests (Tests/Fixtures/initramfs-drivers/<case>/{input,expected}):
/// a kernel's modules.dep and modules.builtin, and an image made here with cpio and gzip.
@Suite("initramfs-drivers rule")
struct InitramfsDriversTests {
    static let release = "6.1.0-9-amd64"
    static let fixtures = Support.repository.appendingPathComponent("Tests/Fixtures/initramfs-drivers")

    /// A guest from the case's input tree, with one kernel whose modules directory has every
    /// shipped platform's driver except `lacking`, ata_piix built in, and an image holding `inImage`.
    static func guest(
        _ name: String, osRelease: String, image: String, builder: String, inImage: [String] = ["virtio_blk", "xen-blkfront"],
        lacking: [String] = []
    ) throws -> URL {
        let top = try Support.scratch("initramfs-drivers")
        let root = top.appendingPathComponent("root")
        try Support.must("cp", ["-a", fixtures.appendingPathComponent("\(name)/input").path, root.path])
        try Support.write(osRelease, to: root.appendingPathComponent("etc/os-release"))
        try Support.write("kernel", to: root.appendingPathComponent("boot/vmlinuz-\(release)"))
        let modules = root.appendingPathComponent("lib/modules/\(release)")
        let dep = InitramfsDrivers.allPlatformDrivers.filter { !lacking.contains($0) && $0 != "ata_piix" }.map {
            "kernel/drivers/\($0).ko.xz:\n"
        }
        try Support.write(dep.joined(), to: modules.appendingPathComponent("modules.dep"))
        try Support.write("kernel/drivers/ata/ata_piix.ko\n", to: modules.appendingPathComponent("modules.builtin"))
        try Support.write("#!/bin/sh\n", to: root.appendingPathComponent(builder))
        try Support.must("chmod", ["755", root.appendingPathComponent(builder).path])
        let tree = top.appendingPathComponent("image")
        for module in inImage {
            try Support.write("m", to: tree.appendingPathComponent("usr/lib/modules/\(release)/kernel/drivers/\(module).ko"))
        }
        try Support.write("#!/bin/sh\n", to: tree.appendingPathComponent("init"))
        try Support.must(
            "sh", ["-c", "cd \(tree.path) && find . | cpio -o -H newc --quiet | gzip -c > \(root.path)/boot/\(image)"])
        return top
    }

    static let debian = "ID=debian\nVERSION_ID=12\n"
    static let rhel = "ID=rhel\nVERSION_ID=9.4\nID_LIKE=\"fedora\"\n"

    /// An rpm guest whose database holds no kernel package (the fixture's kernel is unpackaged).
    struct EmptyRPMDatabase: GuestExecutor {
        var mode: ExecutionMode { .chroot(hostPath: "/nonexistent") }
        func run(_ command: GuestCommand, input: [UInt8]?) throws -> GuestCommandResult {
            GuestCommandResult(status: 0, wasSignaled: false, stdoutBytes: [], stderrBytes: [])
        }
    }

    static func plan(_ top: URL, rule: InitramfsDrivers = InitramfsDrivers(), destination: Destination? = nil) throws -> Plan {
        let root = try GuestRoot(hostPath: top.appendingPathComponent("root").path)
        let playbook = Playbook(
            name: "drivers", source: "drivers", steps: [.init(rule: rule, ruleID: InitramfsDrivers.id, line: 1)], destination: destination)
        return Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: EmptyRPMDatabase())
    }

    /// Every file of the expected tree is what the plan writes there.
    static func expectGolden(_ plan: Plan, case name: String) throws {
        let expected = fixtures.appendingPathComponent("\(name)/expected")
        let files = FileManager.default.enumerator(atPath: expected.path)?.allObjects.compactMap { $0 as? String } ?? []
        var checked = 0
        for relative in files where !relative.isEmpty {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: expected.appendingPathComponent(relative).path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            let change = try #require(plan.changes.first { $0.path == GuestPath("/" + relative) }, "no change to /\(relative)")
            #expect(change.proposed == Array(try Data(contentsOf: expected.appendingPathComponent(relative))), "/\(relative)")
            checked += 1
        }
        #expect(checked > 0)
    }

    @Test("initramfs-tools: the missing drivers are listed in /etc/initramfs-tools/modules; the rebuild saves the image")
    func initramfsToolsList() throws {
        let top = try Self.guest(
            "debian-modules-list", osRelease: Self.debian, image: "initrd.img-\(Self.release)", builder: "usr/sbin/update-initramfs")
        defer { Support.cleanUp(top) }
        let plan = try Self.plan(top)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        let missing = try #require(plan.findings.first { $0.code == "initramfs.driver-missing" })
        #expect(missing.message.contains("initrd.img-\(Self.release) lacks virtio_pci, virtio_scsi, nvme, ahci, hv_vmbus, hv_storvsc"))
        #expect(!missing.message.contains("ata_piix"), "built in")
        #expect(!plan.findings.contains { $0.code == "initramfs.driver-unavailable" })
        try Self.expectGolden(plan, case: "debian-modules-list")
        let rebuild = try #require(plan.changes.last?.command)
        #expect(rebuild.argv == ["update-initramfs", "-u", "-k", "all"])
        #expect(rebuild.rewrites == [GuestPath("/boot/initrd.img-\(Self.release)")])
        #expect(rebuild.isReversible)
    }

    @Test("initramfs-tools, method most: MODULES= is set where it is set last (a conf.d file), losslessly")
    func initramfsToolsMost() throws {
        let top = try Self.guest(
            "debian-most", osRelease: Self.debian, image: "initrd.img-\(Self.release)", builder: "usr/sbin/update-initramfs")
        defer { Support.cleanUp(top) }
        let plan = try Self.plan(top, rule: InitramfsDrivers(method: .most))
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        try Self.expectGolden(plan, case: "debian-most")
        #expect(!plan.changes.contains { $0.path == "/etc/initramfs-tools/initramfs.conf" })
    }

    @Test("dracut: a 90-guestprep.conf drop-in with add_drivers+=; dracut --regenerate-all saves the image")
    func dracut() throws {
        let top = try Self.guest("rhel-dracut", osRelease: Self.rhel, image: "initramfs-\(Self.release).img", builder: "usr/bin/dracut")
        defer { Support.cleanUp(top) }
        let plan = try Self.plan(top)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        try Self.expectGolden(plan, case: "rhel-dracut")
        let rebuild = try #require(plan.changes.last?.command)
        #expect(rebuild.argv == ["dracut", "-f", "--regenerate-all"])
        #expect(rebuild.rewrites == [GuestPath("/boot/initramfs-\(Self.release).img")])
    }

    @Test("a kernel without a driver the destination needs is a blocker; nothing to add when the image has the rest")
    func customKernel() throws {
        let top = try Self.guest(
            "debian-modules-list", osRelease: Self.debian, image: "initrd.img-\(Self.release)", builder: "usr/sbin/update-initramfs",
            inImage: ["hv_vmbus", "nvme"], lacking: ["hv_storvsc"])
        defer { Support.cleanUp(top) }
        let plan = try Self.plan(top, destination: Destination(platform: "azure", drivers: ["hv_vmbus", "hv_storvsc", "nvme"]))
        let blocker = try #require(plan.findings.first { $0.code == "initramfs.driver-unavailable" })
        #expect(blocker.severity == .blocker)
        #expect(blocker.message.contains("has no hv_storvsc"))
        #expect(plan.changes.isEmpty)
    }

    @Test("the built-in driver list is the union of every shipped destination's drivers")
    func unionOfPlatforms() throws {
        var union: Set<String> = []
        for name in PlaybookLibrary.destinations {
            union.formUnion(try PlaybookLibrary.load(name).destination?.drivers ?? [])
        }
        #expect(Set(InitramfsDrivers.allPlatformDrivers) == union)
        #expect(InitramfsDrivers.allPlatformDrivers.count == union.count)
    }
}
