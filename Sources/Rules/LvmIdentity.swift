import BlockProbe
import Dialects
import GuestFS
import GuestprepCore

/// Keeps LVM finding the guest's physical volumes on new virtual disks: the RHEL 9+ devices file
/// lists PVs by hardware ids, and lvm.conf filters may accept PVs by hardware paths.
public struct LvmIdentity: Rule {
    public static let id = "lvm-identity"
    public static let summary = "Move aside LVM's devices file of hardware ids and rewrite lvm.conf filters that name /dev/sdX paths"
    public static let parameterNames: [String] = []

    static let lvmConf: GuestPath = "/etc/lvm/lvm.conf"
    static let devicesDirectory: GuestPath = "/etc/lvm/devices"
    static let filterKeys = ["global_filter", "filter"]

    public init(parameters: RuleParameters) throws {}
    public init() {}

    public func evaluate(in context: RuleContext) throws {
        let confFile = try context.read(Self.lvmConf)
        let conf = try confFile.map { try LvmConfFile(bytes: $0.contents, path: $0.path.description) }
        // lvm.conf devices/devicesfile: a file name in /etc/lvm/devices (lvm.conf(5)).
        let devicesFileName = conf?.setting("devicesfile", in: ["devices"])?.items.first?.text ?? "system.devices"
        guard !devicesFileName.isEmpty, !devicesFileName.contains("/") else {
            throw GuestprepError(
                .parse, "devices/devicesfile is '\(devicesFileName)', not a file name in /etc/lvm/devices",
                path: confFile?.path.description, line: conf?.setting("devicesfile", in: ["devices"])?.lineNumber)
        }
        let devicesPath = Self.devicesDirectory.appending(devicesFileName)
        let devicesFile = try context.read(devicesPath)
        let hasPV = context.devices.devices.contains { $0.type == "LVM2_member" }
        guard conf != nil || devicesFile != nil || hasPV else { return }

        var changed = false
        if let devicesFile {
            changed = try planDevicesFile(devicesFile, conf: conf, confPath: confFile?.path, in: context) || changed
        }
        if let confFile, let conf {
            changed = try planFilters(confFile, conf, in: context) || changed
        }
        if changed {
            // dracut's lvm module and initramfs-tools' lvm2 hook copy lvm.conf and the devices
            // file into the image; early boot activates the root VG with those copies.
            try InitramfsRegeneration.plan(
                in: context, rule: Self.id, why: "activates the volume groups with the new LVM configuration",
                reason: "the initramfs carries its own copy of lvm.conf and the LVM devices file", code: "lvm.initramfs-tool-missing")
        }
    }

    // MARK: The devices file (lvmdevices(8))

    /// Moves the devices file aside when it lists any PV by a hardware id. Chosen over
    /// `use_devicesfile = 0`: the distribution's setting stays, so on the destination
    /// `vgimportdevices -a` (or lvm2's own first-boot import) lists the PVs again by their new ids
    /// and LVM keeps ignoring disks that are not the guest's; turning the feature off would leave a
    /// stale file behind and the protection off for good.
    private func planDevicesFile(_ file: GuestFile, conf: LvmConfFile?, confPath: GuestPath?, in context: RuleContext) throws -> Bool {
        let shown = file.path.description
        if let use = conf?.setting("use_devicesfile", in: ["devices"]), use.items.first?.text == "0" {
            context.report(
                Finding(
                    rule: Self.id, code: "lvm.devices-file-unused", severity: .info,
                    message: "\(shown) exists, but devices/use_devicesfile = 0 turns it off, so LVM scans every disk; nothing to do",
                    path: confPath?.description, line: use.lineNumber))
            return false
        }
        let entries = LvmDevicesFile(bytes: file.contents).entries
        let bound = entries.filter { !LvmDevicesFile.stableIDTypes.contains($0.idType) }
        guard !bound.isEmpty else { return false }
        for entry in bound {
            context.report(
                Finding(
                    rule: Self.id, code: "lvm.devices-file", severity: .warning,
                    message:
                        "LVM knows PV \(entry.pvid ?? "?") (\(entry.deviceName ?? "no DEVNAME")) by IDTYPE=\(entry.idType) IDNAME=\(entry.idName), an id of the virtual disk that the destination's disk will not have: LVM would ignore the PV and its volume group would not be found; the file is moved aside so LVM scans every disk, then run vgimportdevices -a on the destination to list the PVs by their new ids",
                    path: shown, line: entry.lineNumber))
        }
        try context.proposeRenameAside(
            file.path, to: file.path.parent.appending(file.path.name + ".guestprep-moved"), rule: Self.id,
            reasons: [
                "lists \(bound.count) PV\(bound.count == 1 ? "" : "s") by hardware ids (\(Set(bound.map(\.idType)).sorted().joined(separator: ", "))) that change on new virtual hardware; without the file LVM scans every disk"
            ])
        return true
    }

    // MARK: filter and global_filter (lvm.conf(5) devices/filter)

    private func planFilters(_ file: GuestFile, _ conf: LvmConfFile, in context: RuleContext) throws -> Bool {
        let shown = file.path.description
        var edits: [(range: Range<Int>, text: String)] = []
        var expected: [LvmConfValidator.Expectation] = []
        var reasons: [String] = []
        for key in Self.filterKeys {
            guard let setting = conf.setting(key, in: ["devices"]) else { continue }
            var items = setting.items.map(\.text)
            for (position, item) in setting.items.enumerated() where item.isString {
                guard let pattern = LvmFilterPattern(item.text), let named = pattern.hardwareName else { continue }
                let verb = pattern.accepts ? "accepts" : "rejects"
                guard let path = named.literalPath else {
                    context.report(
                        Finding(
                            rule: Self.id, code: "lvm.filter-pattern", severity: pattern.accepts ? .blocker : .warning,
                            message:
                                "devices/\(key) \(verb) devices by the pattern \(item.text), which names hardware paths that change on the destination (a disk can come back as another name, or another disk under this one); guestprep rewrites only exact paths of probed PVs, so name the PVs by \"a|^/dev/disk/by-id/lvm-pv-uuid-<PV UUID>$|\" (pvs -o pv_name,pv_uuid) by hand",
                            path: shown, line: item.lineNumber))
                    continue
                }
                guard let device = context.devices.device(named: path), device.type == "LVM2_member",
                    let uuid = device.uuid, !uuid.isEmpty, context.devices.devices(withUUID: uuid).count == 1
                else {
                    let why: String
                    if let device = context.devices.device(named: path) {
                        why =
                            device.type == "LVM2_member"
                            ? "its PV UUID is missing or carried by another probed device too (a cloned disk)"
                            : "it holds \(device.type ?? "no recognisable signature"), not an LVM PV (check --disk)"
                    } else {
                        why = "it is not among the probed block devices (offline: pass --disk NAME=IMAGE for the disk that holds it)"
                    }
                    context.report(
                        Finding(
                            rule: Self.id, code: "lvm.filter-device-name", severity: pattern.accepts ? .blocker : .warning,
                            message:
                                "devices/\(key) \(verb) \(path) by hardware path, left unchanged: \(why); name the PV by \"\(pattern.action)|^/dev/disk/by-id/lvm-pv-uuid-<PV UUID>$|\" by hand",
                            path: shown, line: item.lineNumber))
                    continue
                }
                let rewritten = "\(pattern.action)|^/dev/disk/by-id/lvm-pv-uuid-\(uuid)$|"
                edits.append((item.range, LvmConfFile.quoted(rewritten)))
                items[position] = rewritten
                reasons.append("line \(item.lineNumber): devices/\(key) \(item.text) → \(rewritten) (the PV on \(path), by its LVM UUID)")
            }
            if items != setting.items.map(\.text) { expected.append(.init(section: ["devices"], key: key, items: items)) }
        }
        guard !edits.isEmpty else { return false }
        let edited = try conf.replacing(edits, path: shown)
        try context.propose(
            file.path, contents: edited.bytes, rule: Self.id, reasons: reasons, validators: [LvmConfValidator(expected: expected)])
        return true
    }
}

/// One item of an lvm.conf filter: `a` or `r`, a delimiter, a regular expression, the delimiter.
struct LvmFilterPattern {
    var action: Character
    var regex: String

    init?(_ text: String) {
        guard let first = text.first, first == "a" || first == "r", text.count >= 3 else { return nil }
        let delimiter = text[text.index(after: text.startIndex)]
        guard text.last == delimiter else { return nil }
        action = first
        regex = String(text.dropFirst(2).dropLast())
    }

    var accepts: Bool { action == "a" }

    /// What the regex names when it names hardware: an exact path (`^/dev/sda2$`, `/dev/vdb`)
    /// or a pattern; nil when it names nothing hardware-bound (`.*`, `/dev/mapper/`, lvm-pv-uuid).
    var hardwareName: (literalPath: String?, pattern: String)? {
        var body = Substring(regex)
        if body.hasPrefix("^") { body = body.dropFirst() }
        if body.hasSuffix("$") { body = body.dropLast() }
        let metacharacters = Set(".*+?[](){}|\\^$")
        if !body.contains(where: metacharacters.contains) {
            let literal = String(body)
            if case .unstable = DeviceReference.classify(literal) { return (literal, regex) }
            // LVM matches unanchored: "sda" alone names /dev/sda and its partitions.
            if !literal.hasPrefix("/"), DeviceReference.isKernelDiskName(Substring(literal)) { return (nil, regex) }
            return nil
        }
        let hardwarePrefixes = ["/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd", "/dev/nvme", "/dev/disk/by-path/"]
        if hardwarePrefixes.contains(where: { regex.contains($0) }) { return (nil, regex) }
        if let range = regex.range(of: "/dev/disk/by-id/") {
            let id = regex[range.upperBound...]
            if !["dm-", "md-", "lvm-pv-uuid-"].contains(where: { id.hasPrefix($0) }) { return (nil, regex) }
        }
        return nil
    }
}

/// After writing lvm.conf: the file parses on its own, and each setting the rule planned holds
/// exactly the planned items (found by section and key, not by line).
struct LvmConfValidator: ChangeValidator {
    struct Expectation: Sendable {
        var section: [String]
        var key: String
        var items: [String]
    }
    let expected: [Expectation]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let parsed = try LvmConfFile(bytes: proposed, path: path)
        for expectation in expected {
            let name = (expectation.section + [expectation.key]).joined(separator: "/")
            guard let setting = parsed.setting(expectation.key, in: expectation.section) else {
                throw GuestprepError(.validation, "\(name) is missing after the rewrite", path: path)
            }
            guard setting.items.map(\.text) == expectation.items else {
                throw GuestprepError(
                    .validation,
                    "\(name) holds \(setting.items.map(\.text)) after the rewrite, expected \(expectation.items)",
                    path: path, line: setting.lineNumber)
            }
        }
    }
}
