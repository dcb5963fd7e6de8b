import BlockProbe
import GuestFS
import GuestFacts
import GuestprepCore

/// Which boot loader the disk holding /boot starts: GRUB, LILO, other or none in its first
/// sector (as `dd … | strings | grep -Eoi 'grub|lilo'` tells, without spawning anything), and
/// on GPT the EFI system partition and the loaders in it. Reports only; changes nothing.
public struct Bootloader: Rule {
    public static let id = "bootloader"
    public static let summary = "Report the boot loader in the boot disk's MBR, and on GPT the EFI system partition's loaders"
    public static let parameterNames: [String] = []

    public init(parameters: RuleParameters) throws {}
    public init() {}

    public func evaluate(in context: RuleContext) throws {
        let boot = try BootPath.read(in: context)
        func report(_ code: String, _ severity: Severity, _ message: String, path: String? = nil, line: Int? = nil) {
            context.report(Finding(rule: Self.id, code: "bootloader.\(code)", severity: severity, message: message, path: path, line: line))
        }
        switch boot.disk {
        case .noDevices:
            report(
                "no-disk", .warning,
                "offline guest without --disk: the boot sector of the disk holding /boot cannot be read, so whether it has a boot loader is unknown; pass --disk NAME=IMAGE for the disk fstab mounts /boot (or /) from"
            )
        case .unknown(let why):
            report("disk-unknown", .warning, "cannot tell which disk holds the boot loader: \(why)")
        case .found(let disk, let holding, let mountPoint, _):
            guard let sector = boot.sector else { return }
            let table = boot.isGPT ? "GPT" : (disk.partitionTable == "dos" ? "MBR" : "unpartitioned")
            let holds = holding.map { "\(mountPoint) is on \($0.name), " } ?? ""
            let what = "\(holds)\(table) disk \(disk.name)"
            let biosCode: String
            switch sector.loader {
            case .grub, .lilo: biosCode = "\(sector.loader.rawValue) boot code in its first sector"
            case .other: biosCode = "boot code in its first sector that names neither GRUB nor LILO"
            case .none: biosCode = "no boot code in its first sector"
            }
            let uefi = boot.hasUEFIPath
            switch sector.loader {
            case .grub:
                report("grub", .info, "\(what): \(biosCode), so BIOS firmware starts GRUB", path: disk.name)
            case .lilo:
                report(
                    "lilo", .warning,
                    "\(what): \(biosCode). LILO finds the kernel by the disk blocks it recorded when /sbin/lilo last ran, so a copied or converted disk may not boot: run lilo inside the guest after the last change before migrating, or switch to GRUB (grub-install \(disk.name), update-grub)",
                    path: disk.name)
            case .other:
                report(
                    "other", uefi ? .info : .warning,
                    "\(what): \(biosCode); check that it loads this guest's boot loader (dd if=\(disk.name) bs=512 count=1 | strings)",
                    path: disk.name)
            case .none where uefi:
                report("no-bios-code", .info, "\(what): \(biosCode); the guest boots through UEFI only", path: disk.name)
            case .none:
                report(
                    "none", .blocker,
                    "\(what): \(biosCode) and no EFI system partition, so neither BIOS nor UEFI firmware can start it: install the boot loader on that disk inside the guest (grub-install \(disk.name), or grub2-install on RHEL/SUSE) and check the image given with --disk is the boot disk",
                    path: disk.name)
            }
            if boot.isGPT && sector.loader == .grub && boot.biosBootPartitions.isEmpty {
                report(
                    "no-bios-boot-partition", .warning,
                    "\(what): GRUB boot code on a GPT disk without a BIOS boot partition (type \(BlockDevice.biosBootGPTType)), where GRUB's core image would live; BIOS boot may fail: add a 1 MiB BIOS boot partition and run grub-install \(disk.name)",
                    path: disk.name)
            }
            for partition in boot.espPartitions {
                report(
                    "esp", .info,
                    "\(disk.name) has an EFI system partition: \(partition.name) (\(partition.type ?? "no filesystem")\(partition.uuid.map { " UUID=\($0)" } ?? ""))",
                    path: partition.name)
            }
        }
        reportLoaders(boot, context: context)
    }

    /// The loaders on the ESP as mounted in the guest, and the fallback path a new VM's firmware needs.
    private func reportLoaders(_ boot: BootPath, context: RuleContext) {
        func report(_ code: String, _ severity: Severity, _ message: String, path: String? = nil) {
            context.report(Finding(rule: Self.id, code: "bootloader.\(code)", severity: severity, message: message, path: path))
        }
        let loaders = boot.esp.loaders
        guard let mountPoint = boot.esp.mountPoint, !loaders.isEmpty else {
            if !boot.espPartitions.isEmpty {
                report(
                    "esp-not-mounted", .warning,
                    "the EFI system partition \(boot.espPartitions.map(\.name).joined(separator: ", ")) is not mounted in the guest root (no EFI/*/*.efi under \(EFISystemPartitionContents.mountPoints.map(\.description).joined(separator: ", "))), so its loaders could not be checked: mount it where the guest's fstab says (usually /boot/efi) and run again"
                )
            }
            return
        }
        let listed = loaders.map { loader in
            "\(loader.path) (\(loader.kind.rawValue)\(loader.isSigned ? ", signed" : ""))"
        }
        report("efi-loaders", .info, "EFI loaders on the EFI system partition mounted at \(mountPoint): \(listed.joined(separator: ", "))")
        if !loaders.contains(where: { $0.kind == .fallback }) {
            let first = loaders.first { $0.kind == .shim } ?? loaders.first { $0.kind == .grub } ?? loaders[0]
            report(
                "no-efi-fallback", .warning,
                "no fallback loader \(mountPoint)/EFI/BOOT/BOOTX64.EFI: a new VM's firmware has no boot entry for this disk and starts only that path. Copy \(first.path) there (Debian: grub-install --force-extra-removable; RHEL: the shim-x64 package installs it), or create a boot entry on the destination",
                path: mountPoint.description)
        }
    }
}
