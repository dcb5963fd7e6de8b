import GuestFS
import GuestprepCore
import Kernels

/// The kernel the guest runs (live) or boots by default (offline) is the newest installed, and,
/// live with apt, no newer one waits in the package cache: the guide asks to update the kernel
/// and reboot before migrating, so the destination boots a kernel already proven on the source.
public struct KernelCurrentCheck: Rule {
    public static let id = "kernel-current"
    public static let summary = "check the running (or default) kernel is the newest installed, and live whether a newer one is available"
    public static let parameterNames: [String] = []

    public init(parameters: RuleParameters) throws {}
    public init() {}

    public func evaluate(in context: RuleContext) throws {
        guard KernelPrune.hasKernels(context) else { return }
        let inventory = try KernelPrune.inventory(context)
        guard let newest = inventory.newest else { return }
        let boot = "/boot"
        if let running = try KernelPrune.runningKernel(context, releases: inventory.kernels.map(\.release)) {
            if !inventory.kernels.contains(where: { $0.release == running.release }) {
                context.report(
                    Finding(
                        rule: Self.id, code: "kernel.running-not-installed", severity: .warning,
                        message:
                            "the running kernel \(running.release) is no longer installed (its package or /boot image is gone; newest installed: \(newest.release)): reboot into \(newest.release) before migrating, so the guest is known to boot with it",
                        path: boot))
            } else if running.release != newest.release {
                let live = context.isLive
                context.report(
                    Finding(
                        rule: Self.id, code: "kernel.reboot-pending", severity: .warning,
                        message: live
                            ? "the running kernel \(running.release) is older than the newest installed, \(newest.release): a reboot is pending; reboot before migrating, so the destination does not boot an untried kernel"
                            : "the boot loader's default kernel \(running.release) (\(running.why)) is older than the newest installed, \(newest.release); make the newest the default (grub-set-default, or GRUB_DEFAULT) and boot it once before migrating, or remove it if it is not wanted",
                        path: boot))
            }
        }
        try checkAvailable(inventory, in: context)
    }

    /// Live and with apt only: `apt-cache policy` on the kernel meta-packages reads the local
    /// package cache, no network. Anything else is said, not guessed.
    private func checkAvailable(_ inventory: KernelInventory, in context: RuleContext) throws {
        func skip(_ why: String) {
            context.report(
                Finding(
                    rule: Self.id, code: "kernel.update-not-checked", severity: .info,
                    message:
                        "whether a newer kernel is available was not checked: \(why); update the guest's kernel and reboot before migrating"
                ))
        }
        guard context.isLive else { return skip("that is read from the running system's package cache only (offline guest)") }
        guard inventory.database == .dpkg else {
            return skip(
                "only apt's local cache tells without the network, and this guest uses \(inventory.database?.rawValue ?? "no package database")"
            )
        }
        guard let executor = context.executor, try KernelPrune.isExecutable("/usr/bin/apt-cache", in: context) else {
            return skip("apt-cache is not available in the guest")
        }
        let kernelPackages = Set(inventory.kernels.flatMap(\.packages).map(\.name))
        let metas = try context.installedPackages().entries.map(\.package.name).filter {
            $0.hasPrefix("linux-image-") && !kernelPackages.contains($0)
        }
        guard !metas.isEmpty else {
            return skip("no kernel meta-package (linux-image-amd64, linux-image-generic …) is installed to follow new kernels")
        }
        let output = try KernelPrune.query(["apt-cache", "policy"] + metas, executor: executor, root: context.root)
        for policy in Self.parsePolicy(String(decoding: output, as: UTF8.self)) {
            guard let installed = policy.installed, let candidate = policy.candidate,
                PackageVersion.compareDpkg(candidate, installed) > 0
            else { continue }
            context.report(
                Finding(
                    rule: Self.id, code: "kernel.update-available", severity: .warning,
                    message:
                        "apt's package cache has \(policy.package) \(candidate) (installed: \(installed)), a newer kernel: install it and reboot before migrating (apt-get install --only-upgrade \(policy.package), then reboot); the cache is as new as the last apt-get update (see repos-updated)",
                    path: "/var/lib/dpkg/status"))
        }
    }

    struct Policy: Equatable {
        var package: String
        var installed: String?
        var candidate: String?
    }

    /// `apt-cache policy` output: a `name:` line, then `  Installed: v` and `  Candidate: v`
    /// (`(none)` when there is none), then the version table.
    static func parsePolicy(_ text: String) -> [Policy] {
        var result: [Policy] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if !line.hasPrefix(" "), line.hasSuffix(":") {
                result.append(Policy(package: String(line.dropLast())))
                continue
            }
            let words = line.split(separator: " ")
            guard words.count == 2, !result.isEmpty else { continue }
            let value = words[1] == "(none)" ? nil : String(words[1])
            switch words[0] {
            case "Installed:": result[result.count - 1].installed = value
            case "Candidate:": result[result.count - 1].candidate = value
            default: break
            }
        }
        return result
    }
}
