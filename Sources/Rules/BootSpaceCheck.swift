import GuestFS
import GuestprepCore
import Kernels

/// Checks that /boot can hold the initramfs images the destination rebuilds for every kernel
/// that stays (after any pruning this plan does).
public struct BootSpaceCheck: Rule {
    public static let id = "boot-space"
    public static let summary = "check /boot has room for rebuilding every kept kernel's initramfs"
    public static let parameterNames: [String] = []

    public init(parameters: RuleParameters) throws {}
    public init() {}

    public func evaluate(in context: RuleContext) throws {
        func sized(_ kernels: [InstalledKernel]) throws -> [(kernel: InstalledKernel, bytes: Int, files: Int)] {
            try kernels.map { kernel in
                let files = try BootFiles.files(of: kernel.release, root: context.root)
                return (kernel, files.reduce(0) { $0 + $1.bytes }, files.count)
            }
        }
        guard KernelPrune.hasKernels(context) else { return }
        let inventory = try KernelPrune.inventory(context)
        let (kept, removed) = KernelPrune.plannedKernels(inventory, context: context)
        var largest: (path: GuestPath, bytes: Int)?
        for image in context.facts.kernels.initramfsImages {
            if case .regularFile(let size, _) = try context.root.entry(image), size > (largest?.bytes ?? -1) { largest = (image, size) }
        }
        let space = try context.root.fileSystemSpace("/boot")
        let removedSizes = try sized(removed)
        let freed = removedSizes.reduce(0) { $0 + $1.bytes }
        let freedFiles = removedSizes.reduce(0) { $0 + $1.files }
        // Findings name guest paths; errors name host paths (GuestRoot.display).
        let shown = "/boot"
        func estimate(kernels: Int, extraBytes: Int, extraInodes: Int) -> BootSpaceEstimate {
            BootSpaceEstimate(
                largestInitramfs: largest?.bytes ?? 0, kernels: kernels, freeBytes: space.freeBytes + freed + extraBytes,
                freeInodes: space.freeInodes + freedFiles + extraInodes, totalInodes: space.totalInodes)
        }
        let now = estimate(kernels: kept.count, extraBytes: 0, extraInodes: 0)
        let basis =
            largest.map {
                "largest initramfs \(byteText($0.bytes)) (\($0.path)) × \(kept.count) kernel(s) + \(BootSpaceEstimate.marginPercent)% for added drivers"
            }
            ?? "no initramfs in /boot to size from"
        let pruning = removed.isEmpty ? "" : ", counting the \(byteText(freed)) the planned kernel removal frees"
        if largest == nil {
            context.report(
                Finding(
                    rule: Self.id, code: "boot.no-initramfs", severity: .info,
                    message:
                        "no initramfs image in /boot to estimate the destination's rebuild from; only the \(byteText(BootSpaceEstimate.floorBytes)) floor is checked",
                    path: shown))
        }
        if now.isShortOfSpace {
            context.report(
                Finding(
                    rule: Self.id, code: "boot.space-short", severity: .blocker,
                    message:
                        "the destination's initramfs rebuild needs \(byteText(now.neededBytes)) free (\(basis), at least \(byteText(BootSpaceEstimate.floorBytes))) but \(byteText(now.freeBytes)) is free\(pruning); \(advice(kept: try sized(kept), estimate: estimate))",
                    path: shown))
        }
        if now.isShortOfInodes {
            context.report(
                Finding(
                    rule: Self.id, code: "boot.inodes-short", severity: .blocker,
                    message:
                        "the destination's initramfs rebuild needs \(now.neededInodes) free inodes (\(BootSpaceEstimate.inodesPerKernel) per kernel) but \(now.freeInodes) are free\(pruning); remove files from /boot or make its filesystem with more inodes",
                    path: shown))
        }
        if !now.isShortOfSpace && !now.isShortOfInodes {
            context.report(
                Finding(
                    rule: Self.id, code: "boot.space-ok", severity: .info,
                    message:
                        "room for the destination's initramfs rebuild: \(byteText(now.neededBytes)) needed (\(basis)), \(byteText(now.freeBytes)) free\(pruning)",
                    path: shown))
        }
    }

    /// How many more kernels must go, oldest first, for the rebuild to fit: each frees its /boot
    /// files and needs no image of its own.
    private func advice(
        kept: [(kernel: InstalledKernel, bytes: Int, files: Int)],
        estimate: (_ kernels: Int, _ extraBytes: Int, _ extraInodes: Int) -> BootSpaceEstimate
    ) -> String {
        var extraBytes = 0
        var extraInodes = 0
        for count in 1..<max(kept.count, 1) {
            extraBytes += kept[count - 1].bytes
            extraInodes += kept[count - 1].files
            if !estimate(kept.count - count, extraBytes, extraInodes).isShortOfSpace {
                return
                    "\(count) more kernel(s) must go (oldest first: \(kept.prefix(count).map(\.kernel.release).joined(separator: ", "))), or /boot must grow"
            }
        }
        return "even one kernel would not fit: grow /boot (or move it onto the root filesystem) before migrating"
    }
}
