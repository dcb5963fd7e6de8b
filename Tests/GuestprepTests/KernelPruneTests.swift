import Apply
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import Kernels
import Planning
import Rules
import Testing

/// kernel-prune and boot-space on guests with a real package database: packages built with
/// dpkg-deb (or rpmbuild), installed with the real dpkg (rpm), pruned through the chroot executor.
@Suite(
    "Kernel pruning with real package managers",
    .enabled(if: Support.isRoot && PhonyGuest.available, "needs root (chroot, namespaces) and busybox-static (make deps installs it)"))
struct KernelPruneTests {
    static func plan(_ guest: KernelGuest, keep: Int = 2) throws -> (GuestRoot, Plan) {
        let root = try guest.guestRoot()
        let playbook = Playbook(
            name: "kernels", source: "kernels",
            steps: [
                .init(rule: KernelPrune(keep: keep), ruleID: KernelPrune.id, line: 1),
                .init(rule: BootSpaceCheck(), ruleID: BootSpaceCheck.id, line: 2),
            ])
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: ChrootExecutor(root: root))
        return (root, plan)
    }

    static func debianKernel(_ abi: Int, _ version: String) -> DummyPackage {
        let release = "6.1.0-\(abi)-amd64"
        return DummyPackage(
            name: "linux-image-\(release)", version: version,
            files: [
                "boot/vmlinuz-\(release)": 8192, "boot/System.map-\(release)": 2048, "boot/config-\(release)": 1024,
                "lib/modules/\(release)/kernel/drivers/dummy.ko": 4096,
            ],
            // As initramfs-tools' postrm hook does: the image it generated goes with the kernel.
            postrm: "rm -f /boot/initrd.img-\(release)")
    }

    @Test("dpkg: the oldest kernel and its headers are purged; default, newest and a needed kernel stay; audit is clean")
    func dpkg() throws {
        let guest = try KernelGuest("dpkg", osRelease: "ID=debian\nVERSION_ID=12\n")
        defer { guest.cleanUp() }
        try guest.installDpkg()
        try guest.installDebs([
            Self.debianKernel(9, "6.1.27-1"), Self.debianKernel(10, "6.1.38-1"), Self.debianKernel(11, "6.1.38-4"),
            Self.debianKernel(13, "6.1.55-1"),
            DummyPackage(
                name: "linux-headers-6.1.0-9-amd64", version: "6.1.27-1", files: ["usr/src/linux-headers-6.1.0-9-amd64/Makefile": 512]),
            DummyPackage(name: "linux-image-amd64", version: "6.1.55-1", depends: "linux-image-6.1.0-13-amd64 (= 6.1.55-1)"),
            DummyPackage(name: "acme-driver-modules", version: "1.0", depends: "linux-image-6.1.0-10-amd64"),
        ])
        for abi in [9, 10, 11, 13] { try guest.write(KernelGuest.filler(20000), to: "boot/initrd.img-6.1.0-\(abi)-amd64") }
        // Leftovers no package owns: reported, never deleted.
        try guest.write(KernelGuest.filler(100), to: "boot/initrd.img-5.10.0-20-amd64")
        try guest.write("", to: "lib/modules/5.10.0-20-amd64/modules.dep")
        // The boot loader defaults to 6.1.0-11, an older kernel than the newest.
        try guest.write("GRUB_DEFAULT=saved\n", to: "etc/default/grub")
        try guest.write(
            "# GRUB Environment Block\nsaved_entry=gnulinux-advanced-1234>gnulinux-6.1.0-11-amd64-advanced-1234\n", to: "boot/grub/grubenv")
        let menu = [9, 10, 11, 13].map { "linux /vmlinuz-6.1.0-\($0)-amd64\n" }.joined()
        try guest.write(menu, to: "boot/grub/grub.cfg")
        try guest.write(
            "#!/bin/sh\nfor k in /boot/vmlinuz-*; do echo \"linux $k\"; done > /boot/grub/grub.cfg\n", to: "usr/sbin/update-grub",
            executable: true)

        let (root, plan) = try Self.plan(guest)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        #expect(
            plan.changes.compactMap(\.command).map(\.argv) == [
                ["dpkg", "--purge", "linux-image-6.1.0-9-amd64", "linux-headers-6.1.0-9-amd64"], ["update-grub"],
            ])
        #expect(plan.irreversibleChanges.count == 2)
        let codes = plan.findings.map(\.code)
        #expect(codes.contains("kernels.prune") && codes.contains("kernels.needed") && codes.contains("boot.space-ok"))
        #expect(
            plan.findings.filter { $0.code == "kernels.orphan-file" }.compactMap(\.path) == [
                "/boot/initrd.img-5.10.0-20-amd64"
            ])
        #expect(
            plan.findings.filter { $0.code == "kernels.orphan-modules" }.compactMap(\.path) == [
                "/lib/modules/5.10.0-20-amd64"
            ])
        let purge = try #require(plan.changes.first { $0.command?.argv.first == "dpkg" })
        #expect(purge.reasons.first?.contains("linux-image-6.1.0-9-amd64 6.1.27-1, linux-headers-6.1.0-9-amd64 6.1.27-1; frees") == true)
        #expect(purge.command?.manualUndo?.contains("linux-image-6.1.0-9-amd64=6.1.27-1 linux-headers-6.1.0-9-amd64=6.1.27-1") == true)
        #expect(plan.findings.first { $0.code == "kernels.needed" }?.message.contains("acme-driver-modules") == true)

        let outcome = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        let installed = try Support.must(
            "dpkg-query", ["--admindir", guest.root.path + "/var/lib/dpkg", "-W", "-f", "${Package} ${db:Status-Abbrev}\n"])
        #expect(
            installed.split(separator: "\n").filter { $0.hasSuffix("ii ") }.map { String($0.split(separator: " ")[0]) }.sorted() == [
                "acme-driver-modules", "linux-image-6.1.0-10-amd64", "linux-image-6.1.0-11-amd64", "linux-image-6.1.0-13-amd64",
                "linux-image-amd64",
            ])
        let audit = try Support.run("dpkg", ["--root", guest.root.path, "--audit"])
        #expect(audit.status == 0 && audit.stdout.isEmpty, "\(audit.stdout)\(audit.stderr)")
        for gone in [
            "boot/vmlinuz-6.1.0-9-amd64", "boot/initrd.img-6.1.0-9-amd64", "boot/System.map-6.1.0-9-amd64", "lib/modules/6.1.0-9-amd64",
            "usr/src/linux-headers-6.1.0-9-amd64",
        ] {
            #expect(!guest.exists(gone), "\(gone)")
        }
        for kept in [10, 11, 13] {
            #expect(guest.exists("boot/vmlinuz-6.1.0-\(kept)-amd64") && guest.exists("boot/initrd.img-6.1.0-\(kept)-amd64"))
            #expect(guest.exists("lib/modules/6.1.0-\(kept)-amd64/kernel/drivers/dummy.ko"))
        }
        #expect(guest.exists("boot/initrd.img-5.10.0-20-amd64") && guest.exists("lib/modules/5.10.0-20-amd64/modules.dep"))
        let menuAfter = try Support.read(guest.root.appendingPathComponent("boot/grub/grub.cfg"))
        #expect(!menuAfter.contains("6.1.0-9-amd64") && menuAfter.contains("vmlinuz-6.1.0-13-amd64"))

        // The journal says what went and how to bring it back; rollback says it cannot.
        let records = try RunJournal(root: root, id: outcome.runID).records()
        let purgeRecord = try #require(records.first { $0.type == .intent && $0.command?.argv.first == "dpkg" })
        #expect(purgeRecord.command?.manualUndo?.contains("dpkg -i (the .deb files of) linux-image-6.1.0-9-amd64=6.1.27-1") == true)
        let rolledBack = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        #expect(rolledBack.manualSteps.count == 2)
        #expect(
            rolledBack.manualSteps.contains {
                $0.contains("cannot be undone automatically") && $0.contains("linux-image-6.1.0-9-amd64=6.1.27-1")
            })
        #expect(try RunHistory.runs(in: root).map(\.state) == [.rolledBack])
        #expect(!guest.exists("boot/vmlinuz-6.1.0-9-amd64"))
    }

    @Test("dpkg: a guest with one kernel keeps it; nothing is planned")
    func lastKernel() throws {
        let guest = try KernelGuest("dpkg-one", osRelease: "ID=debian\n")
        defer { guest.cleanUp() }
        try guest.installDpkg()
        try guest.installDebs([Self.debianKernel(13, "6.1.55-1")])
        let (_, plan) = try Self.plan(guest, keep: 1)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        #expect(plan.changes.isEmpty)
        #expect(plan.findings.map(\.code).contains("kernels.kept"))
    }

    @Test(
        "rpm: rpm -e removes the oldest kernel's packages; a kernel an add-on module requires stays",
        .enabled(if: KernelGuest.rpmAvailable, "needs rpm and rpmbuild (Debian's rpm package; make deps installs it)"))
    func rpm() throws {
        let guest = try KernelGuest("rpm", osRelease: "ID=rocky\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=9.3\n")
        defer { guest.cleanUp() }
        try guest.installRPM()
        var packages: [DummyPackage] = []
        for build in ["70.13.1.el9_0", "162.6.1.el9_1", "362.8.1.el9_3"] {
            let release = "5.14.0-\(build).noarch"
            packages.append(
                DummyPackage(
                    name: "kernel-core", version: "5.14.0-\(build)",
                    files: ["boot/vmlinuz-\(release)": 8192, "lib/modules/\(release)/vmlinuz": 8192],
                    provides: "kernel-uname-r = \(release)"))
            packages.append(
                DummyPackage(
                    name: "kernel-modules", version: "5.14.0-\(build)", files: ["lib/modules/\(release)/kernel/dummy.ko": 4096],
                    depends: "kernel-uname-r = \(release)"))
        }
        packages.append(DummyPackage(name: "acme-kmod", version: "1.0-1", depends: "kernel-uname-r = 5.14.0-162.6.1.el9_1.noarch"))
        try guest.installRPMs(packages)
        for build in ["70.13.1.el9_0", "162.6.1.el9_1", "362.8.1.el9_3"] {
            try guest.write(KernelGuest.filler(30000), to: "boot/initramfs-5.14.0-\(build).noarch.img")
        }

        let (root, plan) = try Self.plan(guest, keep: 1)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        #expect(
            plan.changes.compactMap(\.command).map(\.argv) == [
                ["rpm", "-e", "kernel-core-5.14.0-70.13.1.el9_0.noarch", "kernel-modules-5.14.0-70.13.1.el9_0.noarch"]
            ])
        #expect(plan.findings.first { $0.code == "kernels.needed" }?.message.contains("acme-kmod") == true)

        _ = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        let left = try Support.must(
            "rpm", ["--root", guest.root.path, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\n"])
        #expect(
            left.split(separator: "\n").sorted() == [
                "acme-kmod-1.0-1", "kernel-core-5.14.0-162.6.1.el9_1", "kernel-core-5.14.0-362.8.1.el9_3",
                "kernel-modules-5.14.0-162.6.1.el9_1",
                "kernel-modules-5.14.0-362.8.1.el9_3",
            ])
        let verify = try Support.run("rpm", ["--root", guest.root.path, "--dbpath", "/var/lib/rpm", "-Va", "--nofiles"])
        #expect(verify.status == 0 && verify.stdout.isEmpty, "\(verify.stdout)\(verify.stderr)")
        // The dummy packages own the files, not the directories rpmbuild made for them.
        for gone in [
            "boot/vmlinuz-", "lib/modules/5.14.0-70.13.1.el9_0.noarch/vmlinuz", "lib/modules/5.14.0-70.13.1.el9_0.noarch/kernel/dummy.ko",
        ] {
            #expect(!guest.exists(gone.hasSuffix("-") ? gone + "5.14.0-70.13.1.el9_0.noarch" : gone), "\(gone)")
        }
        #expect(guest.exists("boot/vmlinuz-5.14.0-162.6.1.el9_1.noarch") && guest.exists("boot/vmlinuz-5.14.0-362.8.1.el9_3.noarch"))
    }
}
