import Apply
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Initramfs
import Planning
import Rules
import Testing

/// initramfs-drivers on a real Debian root (debootstrap, linux-image-amd64, initramfs-tools):
/// images built by update-initramfs itself, read by guestprep, rebuilt through the chroot
/// executor, restored byte for byte by rollback.
///
/// debootstrap takes about nine minutes here (the network dominates), so the root is cached in
/// `cache` and made only when GUESTPREP_DEBOOTSTRAP=1 (`make test-debian-initramfs`); without the
/// cache and that variable the suite is skipped with this notice.
@Suite(
    "initramfs-drivers on a debootstrapped Debian",
    .enabled(
        if: Support.isRoot && (DebianRootCache.isCached || DebianRootCache.mayBuild),
        "needs root and a debootstrapped Debian in /var/cache/guestprep-tests (make test-debian-initramfs makes it; it needs a Debian mirror)"
    ))
struct DebianInitramfsTests {
    static func cachedRoot() throws -> URL { try DebianRootCache.root() }

    static func moduleNames(_ root: GuestRoot, _ image: GuestPath) throws -> Set<String> {
        let contents = try #require(try InitramfsReader.read(image, in: root))
        return Set(contents.modulePaths.compactMap(InitramfsImage.moduleName(ofPath:)))
    }

    @Test(
        "MODULES=list with only virtio: finding, fix, rebuilt image has ahci, nvme, hv_storvsc…; rollback restores the image byte for byte")
    func virtioOnlyImage() throws {
        let top = try Support.scratch("debian-initramfs")
        defer { Support.cleanUp(top) }
        let rootURL = top.appendingPathComponent("root")
        try Support.must("cp", ["-a", try Self.cachedRoot().path, rootURL.path])
        let root = try GuestRoot(hostPath: rootURL.path)
        let executor = ChrootExecutor(root: root)

        // An image that carries only the virtio drivers, built by the guest's own tools.
        let conf = rootURL.appendingPathComponent("etc/initramfs-tools/initramfs.conf")
        let text = try Support.read(conf).replacingOccurrences(of: "MODULES=most", with: "MODULES=list")
        try Support.write(text, to: conf)
        try Support.write("virtio_pci\nvirtio_blk\nvirtio_scsi\n", to: rootURL.appendingPathComponent("etc/initramfs-tools/modules"))
        let built = try executor.run(GuestCommand(["update-initramfs", "-u", "-k", "all"], timeout: .seconds(600)))
        #expect(built.succeeded, "\(String(decoding: built.stderrBytes, as: UTF8.self))")
        let release = try #require(try root.listDirectory("/lib/modules").first)
        let image = GuestPath("/boot/initrd.img-\(release)")
        let before = try #require(try root.readFile(image, limit: 1 << 30))
        let modulesBefore = try #require(try root.readFile("/etc/initramfs-tools/modules"))
        let virtioOnly = try Self.moduleNames(root, image)
        #expect(virtioOnly.isSuperset(of: ["virtio_pci", "virtio_blk", "virtio_scsi"]))
        #expect(virtioOnly.isDisjoint(with: ["ahci", "nvme", "hv_storvsc"]))

        let playbook = Playbook(
            name: "drivers", source: "drivers",
            steps: [
                .init(rule: BootSpaceCheck(), ruleID: BootSpaceCheck.id, line: 1),
                .init(rule: InitramfsDrivers(), ruleID: InitramfsDrivers.id, line: 2),
            ])
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: executor)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        let missing = try #require(plan.findings.first { $0.code == "initramfs.driver-missing" })
        for driver in ["ahci", "nvme", "hv_storvsc"] { #expect(missing.message.contains(driver)) }
        #expect(plan.changes.map(\.headline) == ["modify /etc/initramfs-tools/modules", "run-command update-initramfs -u -k all"])

        let outcome = try Applier(root: root, tool: "guestprep test", runner: executor).apply(plan.changes, playbook: "drivers")
        let rebuilt = try Self.moduleNames(root, image)
        #expect(rebuilt.isSuperset(of: ["ahci", "nvme", "hv_storvsc", "hv_vmbus", "vmw_pvscsi", "virtio_blk"]), "\(rebuilt.sorted())")
        let again = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: executor)
        #expect(!again.findings.contains { $0.code == "initramfs.driver-missing" })
        #expect(again.changes.isEmpty)

        _ = try Rollback(root: root, runner: executor).rollBack(runID: outcome.runID, force: false)
        let after = try #require(try root.readFile(image, limit: 1 << 30))
        #expect(after.contents == before.contents, "the image is back byte for byte")
        #expect(after.metadata == before.metadata)
        #expect(try root.readFile("/etc/initramfs-tools/modules")?.contents == modulesBefore.contents)

        // The journal, with the saved images recorded, is what the documented schema describes.
        let journal = rootURL.appendingPathComponent("var/lib/guestprep/backups/\(outcome.runID)/journal.jsonl").path
        let validator = Support.repository.appendingPathComponent("backups/validate_journal.py").path
        let checked = try Support.run("python3", [validator, journal])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
    }
}

/// The debootstrapped root, shared between test runs.
enum DebianRootCache {
    static let cache = URL(fileURLWithPath: "/var/cache/guestprep-tests/debian-bookworm-initramfs-tools")
    static var isCached: Bool { FileManager.default.fileExists(atPath: cache.appendingPathComponent("boot").path) }
    static var mayBuild: Bool { ProcessInfo.processInfo.environment["GUESTPREP_DEBOOTSTRAP"] == "1" }

    /// The cached root, made with debootstrap when missing (into a .partial directory, renamed when done).
    static func root() throws -> URL {
        if isCached { return cache }
        let partial = cache.appendingPathExtension("partial")
        Support.cleanUp(partial)
        try FileManager.default.createDirectory(at: cache.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Support.must(
            "debootstrap",
            ["--variant=minbase", "--include=linux-image-amd64,initramfs-tools", "bookworm", partial.path, "http://deb.debian.org/debian"])
        try FileManager.default.moveItem(at: partial, to: cache)
        return cache
    }

}
