import BlockProbe
import Dialects
import GuestFS
import GuestFacts
import GuestprepCore

/// Firmware a destination offers, and what a guest can boot with.
public typealias FirmwareMode = Destination.Firmware

extension Destination.Firmware: Comparable {
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// How the guest boots, read once for the bootloader and firmware checks: the disk holding
/// /boot, its boot sector, its EFI system partition and the loaders mounted from it.
struct BootPath {
    /// Where the disk holding /boot was looked for, and what came of it.
    enum Disk {
        /// No devices were probed (offline without --disk).
        case noDevices
        /// The disk could not be told; the words say why and what to do.
        case unknown(String)
        case found(disk: BlockDevice, holding: BlockDevice?, mountPoint: String, fstabLine: Int?)
    }

    var disk: Disk
    /// The boot sector of the disk, when one was found.
    var sector: BootSector?
    /// EFI system partitions on that disk (by partition type).
    var espPartitions: [BlockDevice]
    /// GPT BIOS boot partitions on that disk (GRUB's core image on a BIOS-booted GPT disk).
    var biosBootPartitions: [BlockDevice]
    var esp: EFISystemPartitionContents

    /// Reads the guest's boot path. An unreadable disk is an error (thrown).
    static func read(in context: RuleContext) throws -> BootPath {
        let disk = try locateDisk(in: context)
        var sector: BootSector?
        var partitions: [BlockDevice] = []
        if case .found(let whole, _, _, _) = disk {
            sector = try BootSector.read(disk: whole)
            partitions = context.devices.devices.filter { $0.disk.map { whole.allNames.contains($0) } ?? false }
        }
        return BootPath(
            disk: disk, sector: sector, espPartitions: partitions.filter(\.isEFISystemPartition),
            biosBootPartitions: partitions.filter { $0.partitionType?.uppercased() == BlockDevice.biosBootGPTType },
            esp: try EFISystemPartitionContents.read(from: context.root))
    }

    /// A GPT disk (protective MBR and GPT header).
    var isGPT: Bool { sector.map { $0.isProtectiveMBR && $0.hasGPTHeader } ?? false }

    /// The guest has a UEFI boot path: an ESP on the boot disk, or loaders where the ESP mounts.
    var hasUEFIPath: Bool { !espPartitions.isEmpty || !esp.loaders.isEmpty }

    /// What the guest's disks can boot with, as far as they show it (empty: nothing to go on).
    var capabilities: Set<FirmwareMode> {
        var modes: Set<FirmwareMode> = []
        if let sector, sector.loader != .none { modes.insert(.bios) }
        // An ESP whose contents are not mounted in the root is taken at its word: firmware
        // would try it. Its loaders decide Secure Boot.
        if hasUEFIPath && (esp.mountPoint == nil || !esp.loaders.isEmpty) { modes.insert(.uefi) }
        if esp.loaders.contains(where: { $0.kind == .shim && $0.isSigned }) { modes.insert(.uefiSecureBoot) }
        return modes
    }

    /// The device fstab mounts at /boot (or at / when /boot is not separate), and its disk.
    static func locateDisk(in context: RuleContext) throws -> Disk {
        guard !context.devices.devices.isEmpty else { return .noDevices }
        guard let fstab = try context.read("/etc/fstab") else {
            return .unknown("the guest has no /etc/fstab to say which device holds /boot")
        }
        let entries = FstabFile(bytes: fstab.contents).entries.filter { !$0.isMalformed }
        guard let entry = entries.last(where: { $0.mountPoint == "/boot" }) ?? entries.last(where: { $0.mountPoint == "/" }) else {
            return .unknown("/etc/fstab mounts nothing at /boot or /")
        }
        guard let device = resolve(entry.source, in: context.devices) else {
            return .unknown(
                "\(entry.mountPoint) is mounted from \(entry.source) (/etc/fstab:\(entry.lineNumber)), which is none of the probed devices; pass --disk NAME=IMAGE for the disk that holds it"
            )
        }
        if let parent = device.disk {
            guard let whole = context.devices.device(named: parent) else {
                return .unknown("\(device.name) is a partition of \(parent), which was not probed")
            }
            return .found(disk: whole, holding: device, mountPoint: entry.mountPoint, fstabLine: entry.lineNumber)
        }
        // A filesystem on a whole disk; a logical device (LVM, RAID, dm-crypt) has no boot code of its own.
        guard case .unstable = DeviceReference.classify(device.name) else {
            return .unknown(
                "\(entry.mountPoint) is on \(device.name), a logical device (LVM, RAID or dm-crypt), so which disk holds the boot loader cannot be told from it; put /boot on a partition, or check the boot disk by hand (dd if=/dev/DISK bs=512 count=1 | strings | grep -Eoi 'grub|lilo')"
            )
        }
        return .found(disk: device, holding: device, mountPoint: entry.mountPoint, fstabLine: entry.lineNumber)
    }

    /// The probed device an fstab source names (UUID=, LABEL=, PARTUUID=, their /dev/disk links, a path).
    static func resolve(_ source: String, in devices: DeviceInventory) -> BlockDevice? {
        let tags: [(String, String, (BlockDevice) -> String?)] = [
            ("UUID=", "/dev/disk/by-uuid/", \.uuid), ("LABEL=", "/dev/disk/by-label/", \.label),
            ("PARTUUID=", "/dev/disk/by-partuuid/", \.partUUID),
        ]
        for (tag, link, value) in tags {
            let prefix = source.hasPrefix(tag) ? tag : source.hasPrefix(link) ? link : nil
            guard let prefix else { continue }
            let wanted = String(source.dropFirst(prefix.count)).lowercased()
            let matches = devices.devices.filter { value($0)?.lowercased() == wanted }
            return matches.count == 1 ? matches[0] : nil
        }
        return devices.device(named: source)
    }
}
