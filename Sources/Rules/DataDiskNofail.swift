import Dialects
import GuestFS
import GuestprepCore

/// On a cloud, disks can come back in another order, late, or not at all (a volume left
/// detached): an fstab data disk without `nofail` then stops the boot in the emergency shell.
/// Reported as a warning; `add-nofail: true` adds the option.
public struct DataDiskNofail: Rule {
    public static let id = "data-disk-nofail"
    public static let summary = "On cloud destinations, warn about fstab data disks without nofail (add-nofail: true adds it)"
    public static let parameterNames = ["add-nofail"]

    static let fstab: GuestPath = "/etc/fstab"
    /// Mounts the system needs to come up at all: nofail there would boot a broken system
    /// instead of stopping where the problem is.
    static let bootCritical: [String: String] = [
        "/": "the root filesystem",
        // systemd mounts /usr from the initramfs (systemd-fstab-generator --initrd): no boot without it.
        "/usr": "the initramfs mounts /usr before switching root; nothing runs without it",
        // Without them a kernel update writes into the empty directory beneath, and the boot
        // loader keeps booting the old files.
        "/boot": "kernel and initramfs updates would land in the directory under it, unseen by the boot loader",
        "/boot/efi": "boot loader updates would land in the directory under it, unseen by the firmware",
        "/efi": "boot loader updates would land in the directory under it, unseen by the firmware",
        // journald, the package database, systemd's state and most services' data.
        "/var": "journald, the package database and most services write there from early boot",
    ]
    /// fs_spec forms that name a block device; the rest (proc, tmpfs, server:/export, //nas/share)
    /// is not a disk that can come back late.
    static let deviceForms = ["UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=", "ID=", "/dev/"]

    let addNofail: Bool

    public init(parameters: RuleParameters) throws {
        addNofail = try parameters.choice("add-nofail", allowed: ["true", "false"], default: "false") == "true"
    }

    public init(addNofail: Bool = false) {
        self.addNofail = addNofail
    }

    public func evaluate(in context: RuleContext) throws {
        guard let destination = context.destination, destination.cloud != nil else {
            context.report(
                Finding(
                    rule: Self.id, code: "fstab.nofail-no-destination", severity: .info,
                    message:
                        "data disks are checked for nofail only for a cloud destination, where volumes can come back late or in another order: plan with --to PLATFORM"
                ))
            return
        }
        guard destination.cloud == true, let file = try context.read(Self.fstab) else { return }
        // Findings name guest paths, as every rule's do.
        let shown = file.path.description
        var table = FstabFile(bytes: file.contents)
        var reasons: [String] = []
        var expected: [KeyedReference] = []
        for entry in table.entries where Self.isDataDisk(entry) {
            let isSwap = entry.type == "swap"
            // A swap device that never comes costs the boot the device timeout (90 s), but swap.target
            // has no OnFailure=emergency.target as local-fs.target has: a delay, not a stop.
            let consequence =
                isSwap
                ? "the boot waits for it for the device timeout (90 s by default) each time" : "the boot stops in the emergency shell"
            let what = isSwap ? "swap on \(entry.source)" : "\(entry.mountPoint) (\(entry.source))"
            guard addNofail else {
                context.report(
                    Finding(
                        rule: Self.id, code: isSwap ? "fstab.swap-no-nofail" : "fstab.no-nofail", severity: isSwap ? .info : .warning,
                        message:
                            "\(what) has no nofail: on \(destination.platform) volumes can attach late or in another order, and if this one is missing \(consequence); add-nofail: true adds it",
                        path: shown, line: entry.lineNumber))
                continue
            }
            let fields = table.table.entries.first { $0.index == entry.index }?.fields ?? []
            guard fields.count >= 4 else {
                context.report(
                    Finding(
                        rule: Self.id, code: "fstab.no-options-field", severity: .warning,
                        message: "\(what) has no options field for nofail; add `defaults,nofail` (and dump and pass) by hand",
                        path: shown, line: entry.lineNumber))
                continue
            }
            // The field's own bytes stay (escapes included); only ",nofail" is added at its end.
            table.table.replaceField(3, ofLine: entry.index, with: fields[3].bytes + Array(",nofail".utf8))
            reasons.append("line \(entry.lineNumber): nofail for \(what), or if it attaches late or not at all \(consequence)")
            expected.append(
                KeyedReference(
                    key: LibmountFstabValidator.key(target: entry.mountPoint, type: entry.type), value: "nofail", line: entry.lineNumber))
        }
        guard !expected.isEmpty else { return }
        try context.propose(
            file.path, contents: table.bytes, rule: Self.id, reasons: reasons,
            validators: [LibmountFstabValidator(expected: []), NofailValidator(expected: expected)])
    }

    /// A disk mounted (or swapped on) at boot, not needed to boot, without nofail. x-systemd.device-timeout
    /// is left alone: with nofail the boot no longer waits, and a shorter timeout would only give
    /// up on a volume that attaches late.
    static func isDataDisk(_ entry: FstabFile.Entry) -> Bool {
        guard !entry.isMalformed, deviceForms.contains(where: { entry.source.hasPrefix($0) }) else { return false }
        // CD-ROMs are not data disks; bind mounts and noauto ones are not waited for.
        if entry.source.hasPrefix("/dev/sr") || entry.source == "/dev/cdrom" { return false }
        if entry.hasOption("nofail") || entry.hasOption("noauto") || entry.hasOption("bind") || entry.hasOption("rbind") { return false }
        // Network filesystems have their own ordering (_netdev, remote-fs.target).
        if entry.hasOption("_netdev") { return false }
        return entry.type == "swap" || bootCritical[entry.mountPoint] == nil
    }
}

/// Each planned entry, found by mount point and type after writing, carries nofail.
struct NofailValidator: ChangeValidator {
    let expected: [KeyedReference]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let entries = FstabFile(bytes: proposed).entries
        for reference in expected {
            let matching = entries.filter { LibmountFstabValidator.key(target: $0.mountPoint, type: $0.type) == reference.key }
            // Several swap entries share a key ("none"): as many of them carry nofail as were planned.
            let planned = expected.filter { $0.key == reference.key }.count
            guard matching.filter({ $0.hasOption("nofail") }).count >= planned else {
                throw GuestprepError(
                    .validation, "\(reference.key) has no nofail after writing (planned on line \(reference.line))", path: path,
                    line: matching.first?.lineNumber ?? reference.line)
            }
        }
    }
}
