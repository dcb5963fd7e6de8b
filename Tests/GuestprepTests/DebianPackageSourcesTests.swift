import Apply
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import Planning
import Rules
import Testing

/// Issue 7 end to end on a real Debian: the cached debootstrapped root (see DebianRootCache) with
/// the installer's `deb cdrom:` line and two older kernel packages, planned, applied through the
/// chroot executor (apt-get purges inside the guest) and rolled back.
@Suite(
    "Package sources and kernels on a debootstrapped Debian",
    .enabled(
        if: Support.isRoot && (DebianRootCache.isCached || DebianRootCache.mayBuild),
        "needs root and a debootstrapped Debian in /var/cache/guestprep-tests (make test-debian-initramfs makes it; it needs a Debian mirror)"
    ))
struct DebianPackageSourcesTests {
    @Test(
        "deb cdrom: commented out, the oldest of three kernels purged by apt-get in the guest; rollback restores the files and says what it cannot"
    )
    func cdromAndKernels() throws {
        let guest = try KernelGuest("debian-sources", osRelease: "ID=debian\n")
        defer { guest.cleanUp() }
        Support.cleanUp(guest.root)
        try Support.must("cp", ["-a", try DebianRootCache.root().path, guest.root.path])
        let sources = guest.root.appendingPathComponent("etc/apt/sources.list")
        let cdrom = "deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 DVD Binary-1 20240210-11:28]/ bookworm contrib main\n"
        try Support.write(cdrom + (try Support.read(sources)), to: sources)
        let sourcesBefore = try Data(contentsOf: sources)
        // Two kernels older than the one debootstrap installed (6.1.0-50, 6.1.176-1).
        try guest.installDebs([KernelPruneTests.debianKernel(40, "6.1.150-1"), KernelPruneTests.debianKernel(45, "6.1.160-1")])
        for abi in [40, 45] { try guest.write(KernelGuest.filler(20000), to: "boot/initrd.img-6.1.0-\(abi)-amd64") }

        let root = try guest.guestRoot()
        let executor = ChrootExecutor(root: root)
        let playbook = Playbook(
            name: "sources", source: "sources",
            steps: [
                .init(rule: MediaRepositories(), ruleID: MediaRepositories.id, line: 1),
                .init(rule: KernelPrune(keep: 2), ruleID: KernelPrune.id, line: 2),
                .init(rule: BootSpaceCheck(), ruleID: BootSpaceCheck.id, line: 3),
            ])
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: executor)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        #expect(plan.blockers.isEmpty, "\(plan.blockers)")
        let commands = plan.changes.compactMap(\.command).map(\.argv)
        #expect(commands == [["apt-get", "purge", "-y", "linux-image-6.1.0-40-amd64"]], "\(commands)")
        #expect(plan.findings.contains { $0.code == "repos.media-disabled" && $0.path == "/etc/apt/sources.list" && $0.line == 1 })

        let outcome = try Applier(root: root, tool: "guestprep test", runner: executor).apply(plan)
        let listed = try Support.read(sources)
        #expect(listed.contains("# deb cdrom:") && listed.contains("\ndeb http://deb.debian.org/debian bookworm main"))
        let installed = try Support.must(
            "dpkg-query", ["--admindir", guest.root.path + "/var/lib/dpkg", "-W", "-f", "${Package} ${db:Status-Abbrev}\n"])
        let images = installed.split(separator: "\n").filter { $0.hasPrefix("linux-image-") && $0.hasSuffix("ii ") }
            .map { String($0.split(separator: " ")[0]) }.sorted()
        #expect(images == ["linux-image-6.1.0-45-amd64", "linux-image-6.1.0-50-amd64", "linux-image-amd64"])
        #expect(!guest.exists("boot/vmlinuz-6.1.0-40-amd64") && !guest.exists("lib/modules/6.1.0-40-amd64"))
        let audit = try Support.run("dpkg", ["--root", guest.root.path, "--audit"])
        #expect(audit.status == 0 && audit.stdout.isEmpty, "\(audit.stdout)\(audit.stderr)")
        // Nothing left to do.
        let again = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: executor)
        #expect(again.changes.isEmpty, "\(again.changes.map(\.headline))")

        let rolledBack = try Rollback(root: root, runner: executor).rollBack(runID: outcome.runID, force: false)
        #expect(try Data(contentsOf: sources) == sourcesBefore, "sources.list is back byte for byte")
        #expect(rolledBack.manualSteps.contains { $0.contains("linux-image-6.1.0-40-amd64=6.1.150-1") })
        #expect(try RunHistory.runs(in: root).map(\.state) == [.rolledBack])
    }

    @Test("--online: apt-get update runs in the guest and the repository it cannot reach is a warning naming it")
    func onlineRefresh() throws {
        let top = try Support.scratch("debian-online")
        defer { Support.cleanUp(top) }
        let rootURL = top.appendingPathComponent("root")
        try Support.must("cp", ["-a", try DebianRootCache.root().path, rootURL.path])
        // Nothing listens on port 9 of the loopback: refused at once, no network needed.
        try Support.write("deb http://127.0.0.1:9/debian bookworm main\n", to: rootURL.appendingPathComponent("etc/apt/sources.list"))
        let root = try GuestRoot(hostPath: rootURL.path)
        let playbook = Playbook(
            name: "online", source: "online", steps: [.init(rule: RepositoryFreshness(), ruleID: RepositoryFreshness.id, line: 1)])
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: ChrootExecutor(root: root), source: SourceInputs(online: true))
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        let failed = try #require(plan.findings.first { $0.code == "repos.refresh-failed" }, "\(plan.findings)")
        #expect(failed.severity == .warning && failed.message.contains("http://127.0.0.1:9/debian bookworm"))
        #expect(plan.changes.isEmpty)
    }
}
