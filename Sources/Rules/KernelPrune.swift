import Executor
import GuestFS
import GuestFacts
import GuestprepCore
import Kernels

#if canImport(Glibc)
    import Glibc
#endif

/// Removes old kernels so the destination's initramfs rebuild (one image per installed kernel)
/// fits in /boot: keeps the running or default kernel, the newest, and `keep` in total.
public struct KernelPrune: Rule {
    public static let id = "kernel-prune"
    public static let summary = "remove old kernel packages, keeping the running, default and newest ones"
    public static let parameterNames = ["keep"]

    public var keep: Int

    public init(parameters: RuleParameters) throws {
        keep = try parameters.integer("keep", in: 1...100, default: 2)
    }

    public init(keep: Int = 2) {
        self.keep = keep
    }

    /// A kernel that stays, and why.
    struct Kept {
        var kernel: InstalledKernel
        var why: String
    }

    public func evaluate(in context: RuleContext) throws {
        // A guest without any kernel (a container image, a chroot) has nothing to prune.
        guard Self.hasKernels(context) else { return }
        let inventory = try Self.inventory(context)
        Self.reportOrphans(inventory, context: context)
        guard let database = inventory.database else {
            context.report(
                Finding(
                    rule: Self.id, code: "kernels.no-package-database", severity: .info,
                    message: "no dpkg or rpm database in the guest: kernels are not pruned"))
            return
        }
        let packaged = inventory.kernels.filter(\.isPackaged)
        guard let newest = packaged.last else { return }
        var kept: [String: String] = [:]
        if let running = try Self.runningKernel(context, releases: packaged.map(\.release)) {
            kept[running.release] = running.why
        }
        if kept[newest.release] == nil { kept[newest.release] = "the newest installed" }
        for kernel in packaged.reversed() where kept.count < keep && kept[kernel.release] == nil {
            kept[kernel.release] = "one of the \(keep) newest (keep: \(keep))"
        }
        var removed: [InstalledKernel] = []
        var removedKeys: Set<String> = []
        for kernel in packaged where kept[kernel.release] == nil {
            let broken = inventory.dependencies.brokenBy(removing: removedKeys.union(kernel.packageKeys))
            if let first = broken.first {
                kept[kernel.release] = "\(first.package) depends on it (\(first.requirement))"
                context.report(
                    Finding(
                        rule: Self.id, code: "kernels.needed", severity: .info,
                        message:
                            "kernel \(kernel.release) stays: removing \(kernel.packages.map(\.name).joined(separator: ", ")) would break \(broken.map { "\($0.package) (needs \($0.requirement))" }.joined(separator: ", "))"
                    ))
                continue
            }
            removed.append(kernel)
            removedKeys.formUnion(kernel.packageKeys)
        }
        let keptText = packaged.filter { kept[$0.release] != nil }.map { "\($0.release) (\(kept[$0.release]!))" }
        guard !removed.isEmpty else {
            context.report(
                Finding(
                    rule: Self.id, code: "kernels.kept", severity: .info,
                    message: "nothing to prune: \(packaged.count) packaged kernel(s), all kept: \(keptText.joined(separator: ", "))"))
            return
        }
        try proposeRemoval(removed, database: database, kept: keptText, context: context)
        try planBootloaderRefresh(removed: removed.map(\.release), context: context)
    }

    /// Whether /boot or /lib/modules holds anything of a kernel.
    static func hasKernels(_ context: RuleContext) -> Bool {
        let paths = context.facts.kernels
        return !(paths.kernels.isEmpty && paths.initramfsImages.isEmpty && paths.moduleDirectories.isEmpty)
    }

    /// The inventory as the rule and the boot-space check read it; rpm's database through the
    /// guest executor.
    static func inventory(_ context: RuleContext) throws -> KernelInventory {
        let executor = context.executor
        return try KernelInventory.read(
            root: context.root, facts: context.facts,
            query: executor.map { executor in
                { argv in try Self.query(argv, executor: executor, root: context.root) }
            })
    }

    /// The kernels that stay after the removals this plan already holds, and those that go.
    static func plannedKernels(_ inventory: KernelInventory, context: RuleContext) -> (kept: [InstalledKernel], removed: [InstalledKernel])
    {
        let leaving = Set(context.changes.filter { $0.rules.contains(id) }.compactMap(\.command).flatMap(removedPackages))
        let removed = inventory.kernels.filter { kernel in
            kernel.isPackaged
                && kernel.packages.allSatisfy { package in
                    [package.name, "\(package.name)=\(package.version)", package.spelled(for: .rpm)].contains(where: leaving.contains)
                }
        }
        return (inventory.kernels.filter { kernel in !removed.contains { $0.release == kernel.release } }, removed)
    }

    static func query(_ argv: [String], executor: any GuestExecutor, root: GuestRoot) throws -> [UInt8] {
        let result = try executor.run(GuestCommand(argv, timeout: .seconds(300)))
        guard result.succeeded else {
            throw GuestprepError(
                .command, "`\(GuestCommand(argv))` failed in the guest with status \(result.status), so its packages could not be listed",
                path: root.display("/"), cause: String(decoding: result.stderrBytes.suffix(2048), as: UTF8.self))
        }
        return result.stdoutBytes
    }

    static func reportOrphans(_ inventory: KernelInventory, context: RuleContext) {
        let orphans: [(paths: [GuestPath], code: String, message: String)] = [
            (
                inventory.database == nil ? [] : inventory.unpackagedImages, "kernels.orphan-file",
                "kernel image that no package owns: left alone (and kept); remove it by hand if it is not needed"
            ),
            (
                inventory.orphanInitramfs, "kernels.orphan-file",
                "initramfs image without its kernel image: left alone; remove it by hand to free space in /boot"
            ),
            (
                inventory.orphanModules, "kernels.orphan-modules",
                "module directory without a kernel image or package: left alone; dracut --regenerate-all would try to build an image for it, so remove it by hand"
            ),
        ]
        for (paths, code, message) in orphans {
            for path in paths {
                context.report(Finding(rule: id, code: code, severity: .warning, message: message, path: path.description))
            }
        }
        for package in inventory.unsettledPackages {
            context.report(
                Finding(
                    rule: id, code: "kernels.package-unsettled", severity: .warning,
                    message:
                        "\(package.name) \(package.version) is not fully installed in the package database; guestprep does not remove it: finish or undo its installation in the guest"
                ))
        }
    }

    /// Live: `uname -r`. Offline: the boot loader's default entry.
    static func runningKernel(_ context: RuleContext, releases: [String]) throws -> (release: String, why: String)? {
        if context.isLive {
            var names = utsname()
            guard uname(&names) == 0 else { throw GuestprepError.system("uname", path: nil) }
            let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return (release, "running now (uname -r)")
        }
        return try BootDefault.find(root: context.root, releases: releases).map { ($0.release, "the boot loader's default (\($0.source))") }
    }

    /// Package tools per database, first found in the guest wins; each with the argv prefix, how
    /// it names a package, and how to put it back.
    struct Remover {
        var paths: [GuestPath]
        var argv: [String]
        var spell: (InstalledPackage) -> String
        var reinstall: String
    }

    static func removers(_ database: PackageDatabase, family: DistroFamily) -> [Remover] {
        switch database {
        case .dpkg:
            // apt-get also purges the siblings' configuration; plain dpkg when apt is not there.
            return [
                Remover(
                    paths: ["/usr/bin/apt-get"], argv: ["apt-get", "purge", "-y"], spell: \.name,
                    reinstall: "apt-get install"),
                Remover(
                    paths: ["/usr/bin/dpkg", "/bin/dpkg"], argv: ["dpkg", "--purge"], spell: \.name,
                    reinstall: "dpkg -i (the .deb files of)"),
            ]
        case .rpm:
            let rpmName: (InstalledPackage) -> String = { $0.spelled(for: .rpm) }
            // zypper names an exact version as name=version; dnf, yum and rpm take name-version.arch.
            let zypper = Remover(
                paths: ["/usr/bin/zypper"], argv: ["zypper", "--non-interactive", "remove"], spell: { "\($0.name)=\($0.version)" },
                reinstall: "zypper --non-interactive install")
            var tools = [
                Remover(paths: ["/usr/bin/dnf"], argv: ["dnf", "remove", "-y"], spell: rpmName, reinstall: "dnf install -y"),
                Remover(paths: ["/usr/bin/yum"], argv: ["yum", "remove", "-y"], spell: rpmName, reinstall: "yum install -y"),
                Remover(
                    paths: ["/usr/bin/rpm", "/bin/rpm"], argv: ["rpm", "-e"], spell: rpmName, reinstall: "rpm -i (the .rpm files of)"),
            ]
            if family == .suse { tools.insert(zypper, at: 0) }
            return tools
        }
    }

    /// The first of the database's package tools the guest has.
    static func remover(_ database: PackageDatabase, in context: RuleContext) throws -> Remover? {
        for tool in removers(database, family: context.facts.family) {
            if try tool.paths.contains(where: { try isExecutable($0, in: context) }) { return tool }
        }
        return nil
    }

    /// Which packages a removal command of this rule names (for the boot-space check).
    static func removedPackages(in step: CommandStep) -> [String] {
        let prefixes = removers(.dpkg, family: .debian).map(\.argv) + removers(.rpm, family: .suse).map(\.argv)
        guard let prefix = prefixes.first(where: { step.argv.starts(with: $0) }) else { return [] }
        return Array(step.argv.dropFirst(prefix.count))
    }

    static func isExecutable(_ path: GuestPath, in context: RuleContext) throws -> Bool {
        guard let file = try context.read(path) else { return false }
        return file.metadata.mode & 0o111 != 0
    }

    private func proposeRemoval(_ removed: [InstalledKernel], database: PackageDatabase, kept: [String], context: RuleContext) throws {
        let tools = Self.removers(database, family: context.facts.family)
        let chosen = try Self.remover(database, in: context)
        let packages = removed.flatMap(\.packages)
        var reasons: [String] = []
        for kernel in removed {
            let boot = try BootFiles.bytes(of: kernel.release, root: context.root)
            let installed = kernel.packages.compactMap(\.installedBytes).reduce(0, +)
            reasons.append(
                "kernel \(kernel.release): \(kernel.packages.map { "\($0.name) \($0.version)" }.joined(separator: ", ")); frees \(byteText(boot)) in /boot, \(byteText(installed)) installed in all"
            )
        }
        reasons.append("kept: \(kept.joined(separator: ", "))")
        guard let tool = chosen else {
            context.report(
                Finding(
                    rule: Self.id, code: "kernels.no-package-tool", severity: .warning,
                    message:
                        "old kernels could go (\(reasons.joined(separator: "; "))), but none of \(tools.map { $0.argv[0] }.joined(separator: ", ")) is in the guest; remove them with the guest's package manager"
                ))
            return
        }
        let names = packages.map(tool.spell)
        let reinstall = "\(tool.reinstall) \(packages.map { "\($0.name)=\($0.version)" }.joined(separator: " "))"
        context.report(
            Finding(
                rule: Self.id, code: "kernels.prune", severity: .info,
                message: "\(removed.count) old kernel(s) will be removed: \(reasons.joined(separator: "; "))",
                path: "/boot"))
        context.proposeCommand(
            CommandStep(
                argv: tool.argv + names,
                effect:
                    "remove old kernels \(removed.map(\.release).joined(separator: ", ")): \(packages.map { "\($0.name) \($0.version)" }.joined(separator: ", "))",
                undo: nil,
                manualUndo: "the packages are gone; to bring them back, reinstall them in the guest: \(reinstall)"),
            rule: Self.id, reasons: reasons)
    }

    /// grub.cfg files that still name a removed kernel are regenerated after the removal (the
    /// kernels' postrm hooks usually do it, but not in every guest: zz-update-grub runs only
    /// when update-grub is there, and a grub.cfg in an unusual place is never touched).
    private func planBootloaderRefresh(removed: [String], context: RuleContext) throws {
        for config: GuestPath in ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"] {
            guard let file = try context.read(config) else { continue }
            let text = String(decoding: file.contents, as: UTF8.self)
            let stale = removed.filter { text.contains("vmlinuz-\($0)") || text.contains("vmlinux-\($0)") }
            guard !stale.isEmpty else { continue }
            let candidates: [(GuestPath, [String])] = [
                ("/usr/sbin/update-grub", ["update-grub"]),
                ("/usr/sbin/grub2-mkconfig", ["grub2-mkconfig", "-o", config.description]),
                ("/usr/sbin/grub-mkconfig", ["grub-mkconfig", "-o", config.description]),
            ]
            var found: [String]?
            for (path, argv) in candidates where found == nil {
                if try Self.isExecutable(path, in: context), config == "/boot/grub/grub.cfg" || argv[0] != "update-grub" { found = argv }
            }
            guard let argv = found else {
                context.report(
                    Finding(
                        rule: Self.id, code: "kernels.bootloader-stale", severity: .warning,
                        message:
                            "names kernels that will be removed (\(stale.joined(separator: ", "))) and no grub-mkconfig is in the guest; after apply, run `grub-mkconfig -o \(config)` (or `grub2-mkconfig -o \(config)`) in the guest",
                        path: config.description))
                continue
            }
            context.proposeCommand(
                CommandStep(
                    argv: argv, effect: "regenerate \(config) so no entry names a removed kernel", undo: nil,
                    manualUndo: "after reinstalling the kernels, run \(argv.joined(separator: " ")) again"),
                rule: Self.id, reasons: ["\(config) names \(stale.joined(separator: ", ")), removed by this plan"])
        }
        for name in try context.listDirectory("/boot/loader/entries") where name.hasSuffix(".conf") {
            let path = GuestPath("/boot/loader/entries").appending(name)
            guard let file = try context.read(path) else { continue }
            let text = String(decoding: file.contents, as: UTF8.self)
            for release in removed where text.contains("vmlinuz-\(release)") {
                context.report(
                    Finding(
                        rule: Self.id, code: "kernels.bls-entry", severity: .info,
                        message:
                            "boot entry for kernel \(release), which will be removed: the package's scripts delete it (kernel-install remove); if it is still there after apply, delete it",
                        path: path.description))
            }
        }
    }
}
