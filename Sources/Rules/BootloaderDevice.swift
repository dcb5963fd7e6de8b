import BlockProbe
import Dialects
import GuestFS
import GuestprepCore

/// grub-pc remembers the disk it installs its boot code on (debconf `grub-pc/install_devices`,
/// `/boot/grub/device.map`) by a hardware id; on new virtual disks the next GRUB upgrade then
/// stops with "… does not exist, so cannot grub-install to it!".
public struct BootloaderDevice: Rule {
    public static let id = "bootloader-device"
    public static let summary = "Point grub-pc's install device (debconf, device.map) at the disk that holds /boot, or drop stale disks"
    public static let parameterNames: [String] = []

    static let debconf: GuestPath = "/var/cache/debconf/config.dat"
    static let deviceMap: GuestPath = "/boot/grub/device.map"
    static let question = "grub-pc/install_devices"

    public init(parameters: RuleParameters) throws {}
    public init() {}

    public func evaluate(in context: RuleContext) throws {
        let boot = try bootDisk(in: context)
        if let file = try context.read(Self.debconf) { try planDebconf(file, boot: boot, in: context) }
        if let file = try context.read(Self.deviceMap) { try planDeviceMap(file, boot: boot, in: context) }
    }

    /// Whether a device named in the guest's configuration will still name that disk: live, a
    /// name no probed device has is stale already; offline, any hardware name stays with the
    /// source's virtual hardware.
    private func isStale(_ device: String, in context: RuleContext) -> Bool {
        if context.isLive { return context.devices.device(named: device) == nil }
        if case .unstable = DeviceReference.classify(device) { return true }
        return false
    }

    // MARK: debconf (grub-pc's postinst reads grub-pc/install_devices)

    private func planDebconf(_ file: GuestFile, boot: BootDisk?, in context: RuleContext) throws {
        let shown = file.path.description
        let database = try DebconfDatabase(bytes: file.contents, path: shown)
        guard let record = database.record(named: Self.question), let value = record.field("Value") else { return }
        let listed = DebconfDatabase.items(of: value.value)
        var kept = listed.filter { !isStale($0, in: context) }
        let stale = listed.filter { isStale($0, in: context) }
        if stale.isEmpty {
            if context.isLive {
                for device in listed where DeviceReference.classify(device) != .stable {
                    context.report(
                        Finding(
                            rule: Self.id, code: "bootloader.install-device-hardware", severity: .info,
                            message:
                                "grub-pc installs its boot code on \(device), a hardware name of this system's disk; after the move run guestprep on the destination (or dpkg-reconfigure grub-pc) so GRUB upgrades find the new disk",
                            path: shown, line: value.lineNumber))
                }
            }
            return
        }
        // Only the running system's own disk is a name guestprep can verify; offline, how the
        // destination will name the disk is unknown, so the stale names are only dropped.
        var added: String?
        if context.isLive, let boot, !kept.contains(where: { context.devices.device(named: $0) == boot.disk }) {
            added = boot.installName
            kept.append(boot.installName)
        }
        for device in stale {
            let fix =
                added.map { "replaced by \($0), the disk that holds \(boot!.mountPoint)" }
                ?? "removed, so the next GRUB upgrade asks which disk to install on instead of failing on one that is gone (an unattended upgrade still stops there until it is set: run dpkg-reconfigure grub-pc, or guestprep, on the destination)"
            context.report(
                Finding(
                    rule: Self.id, code: "bootloader.install-device-stale", severity: .warning,
                    message:
                        "grub-pc installs its boot code on \(device), which \(context.isLive ? "is not among this system's disks" : "names the source's virtual hardware"): \(fix)",
                    path: shown, line: value.lineNumber))
        }
        let newValue = kept.joined(separator: ", ")
        let edited = try database.settingValue(newValue, of: Self.question, path: shown)
        try context.propose(
            file.path, contents: edited.bytes, rule: Self.id,
            reasons: ["\(Self.question): \(value.value.isEmpty ? "(empty)" : value.value) → \(newValue.isEmpty ? "(empty)" : newValue)"],
            validators: [DebconfValueValidator(record: Self.question, expected: newValue, records: database.records.map(\.name))])
    }

    // MARK: device.map (GRUB 2 probes BIOS drives itself without it)

    private func planDeviceMap(_ file: GuestFile, boot: BootDisk?, in context: RuleContext) throws {
        let shown = file.path.description
        let map = GrubDeviceMap(bytes: file.contents)
        let stale = map.entries.filter { isStale($0.device, in: context) }
        guard !stale.isEmpty else { return }
        for entry in stale {
            context.report(
                Finding(
                    rule: Self.id, code: "bootloader.device-map-stale", severity: .warning,
                    message:
                        "device.map maps \(entry.drive) to \(entry.device), which \(context.isLive ? "is not among this system's disks" : "names the source's virtual hardware"): commented out, so grub-install works out the BIOS drive itself",
                    path: shown, line: entry.lineNumber))
        }
        let edited = map.commentingOut(Set(stale.map(\.index)), marker: "# guestprep bootloader-device: disk left behind by the migration")
        let remaining = map.entries.filter { entry in !stale.contains(entry) }.map(\.device)
        try context.propose(
            file.path, contents: edited.bytes, rule: Self.id,
            reasons: stale.map { "line \($0.lineNumber): \($0.drive) \($0.device) commented out" },
            validators: [DeviceMapValidator(expected: remaining)])
    }

    // MARK: Which disk holds /boot

    struct BootDisk {
        var disk: BlockDevice
        var mountPoint: String
        /// How grub-pc itself names it: the first /dev/disk/by-id link, else the kernel name.
        var installName: String
    }

    /// The probed whole disk whose partition fstab mounts on /boot (or /), when that can be told.
    private func bootDisk(in context: RuleContext) throws -> BootDisk? {
        guard let fstab = try context.read("/etc/fstab") else { return nil }
        let entries = FstabFile(bytes: fstab.contents).entries.filter { !$0.isMalformed }
        guard let entry = entries.last(where: { $0.mountPoint == "/boot" }) ?? entries.last(where: { $0.mountPoint == "/" }),
            let partition = Self.device(for: entry.source, in: context.devices)
        else { return nil }
        for disk in context.devices.devices where disk != partition {
            let owns = disk.allNames.contains { diskName in
                partition.allNames.contains { PartitionNaming.partitionNumber(of: $0, onDisk: diskName) != nil }
            }
            guard owns else { continue }
            let installName = disk.allNames.filter { $0.hasPrefix("/dev/disk/by-id/") }.sorted().first ?? disk.name
            return BootDisk(disk: disk, mountPoint: entry.mountPoint, installName: installName)
        }
        return nil
    }

    /// The probed device an fstab source names: UUID=/PARTUUID= (exactly one carrier) or a path.
    static func device(for source: String, in devices: DeviceInventory) -> BlockDevice? {
        for (tag, prefix) in [("UUID=", "/dev/disk/by-uuid/")] {
            for lead in [tag, prefix] where source.hasPrefix(lead) {
                let matches = devices.devices(withUUID: String(source.dropFirst(lead.count)))
                return matches.count == 1 ? matches[0] : nil
            }
        }
        for lead in ["PARTUUID=", "/dev/disk/by-partuuid/"] where source.hasPrefix(lead) {
            let wanted = source.dropFirst(lead.count).lowercased()
            let matches = devices.devices.filter { $0.partUUID?.lowercased() == wanted }
            return matches.count == 1 ? matches[0] : nil
        }
        return devices.device(named: source)
    }
}

/// After writing config.dat: it parses alone, every record is still there, and the question
/// holds the planned value.
struct DebconfValueValidator: ChangeValidator {
    let record: String
    let expected: String
    let records: [String]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let parsed = try DebconfDatabase(bytes: proposed, path: path)
        guard parsed.records.map(\.name) == records else {
            throw GuestprepError(.validation, "the debconf records changed beyond \(record)", path: path)
        }
        guard let value = parsed.record(named: record)?.field("Value"), value.value == expected else {
            throw GuestprepError(.validation, "\(record) does not hold '\(expected)' after the edit", path: path)
        }
    }
}

/// After writing device.map: exactly the planned entries are still active.
struct DeviceMapValidator: ChangeValidator {
    let expected: [String]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let devices = GrubDeviceMap(bytes: proposed).entries.map(\.device)
        guard devices == expected else {
            throw GuestprepError(.validation, "device.map maps \(devices) after the edit, expected \(expected)", path: path)
        }
    }
}
