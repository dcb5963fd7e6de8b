import Dialects
import GuestFS
import GuestprepCore

/// multipathd on a guest that moves: a root or /boot on a multipath map named after the source's
/// WWIDs is not assembled on new disks, and `find_multipaths no|greedy` claims the destination's
/// single-path disks.
public struct Multipath: Rule {
    public static let id = "multipath"
    public static let summary = "Report root or /boot on multipath maps; set find_multipaths yes where it would claim single-path disks"
    public static let parameterNames = ["find-multipaths"]

    static let conf: GuestPath = "/etc/multipath.conf"
    static let bindings: GuestPath = "/etc/multipath/bindings"
    static let units = ["multipathd.service", "multipathd.socket"]
    /// multipath.conf(5) find_multipaths: these multipath every non-blacklisted disk, one path or not.
    static let claimingModes: Set<String> = ["no", "off", "greedy"]

    /// `yes` rewrites find_multipaths; `keep` only reports. Without the parameter: `yes` when
    /// the destination is a cloud (every disk there has one path), else `keep`.
    let findMultipaths: String?

    public init(parameters: RuleParameters) throws {
        if parameters.values["find-multipaths"] == nil {
            findMultipaths = nil
        } else {
            findMultipaths = try parameters.choice("find-multipaths", allowed: ["keep", "yes"], default: "keep")
        }
    }

    public init(findMultipaths: String? = nil) {
        self.findMultipaths = findMultipaths
    }

    public func evaluate(in context: RuleContext) throws {
        let enabled = Self.units.contains { context.facts.enabledUnits.contains($0) }
        let confFile = try context.read(Self.conf)
        guard enabled || confFile != nil else { return }
        if enabled { try checkBootOnMultipath(in: context) }
        guard let confFile else { return }
        let shown = confFile.path.description
        let conf = try MultipathConfFile(bytes: confFile.contents, path: shown)
        guard let mode = conf.setting("find_multipaths", in: ["defaults"]), Self.claimingModes.contains(mode.value) else { return }
        let fix = findMultipaths ?? (context.destination?.cloud == true ? "yes" : "keep")
        guard fix == "yes" else {
            context.report(
                Finding(
                    rule: Self.id, code: "multipath.find-multipaths", severity: context.destination?.cloud == true ? .blocker : .warning,
                    message:
                        "find_multipaths \(mode.value) makes multipath claim every disk it is not blacklisted from, single-path virtual disks too: on the destination it may take the root disk (or its LVM PV) away from the system; set find_multipaths yes (the rule's find-multipaths: yes does it)",
                    path: shown, line: mode.lineNumber))
            return
        }
        // Not a blacklist entry or disabling multipathd: `yes` still assembles real multipath
        // LUNs (two paths, or a WWID in /etc/multipath/wwids) and leaves single-path disks alone.
        let edited = try conf.setting(
            "find_multipaths", in: "defaults", to: "yes",
            comment: ["guestprep multipath: was \(mode.value), which claims single-path virtual disks on the destination"], path: shown)
        context.report(
            Finding(
                rule: Self.id, code: "multipath.find-multipaths", severity: .info,
                message: "find_multipaths \(mode.value) would claim the destination's single-path disks: set to yes", path: shown,
                line: mode.lineNumber))
        try context.propose(
            confFile.path, contents: edited.bytes, rule: Self.id,
            reasons: ["line \(mode.lineNumber): find_multipaths \(mode.value) → yes"], validators: [FindMultipathsValidator()])
        try InitramfsRegeneration.plan(
            in: context, rule: Self.id, why: "runs multipath with find_multipaths yes",
            reason: "the initramfs carries its own copy of multipath.conf", code: "multipath.initramfs-tool-missing")
    }

    /// Root or /boot mounted from a multipath map (by alias, user_friendly_names mpathN or its dm uuid).
    private func checkBootOnMultipath(in context: RuleContext) throws {
        guard let fstab = try context.read("/etc/fstab") else { return }
        let aliases = try context.read(Self.bindings).map { MultipathBindings(bytes: $0.contents).aliases } ?? [:]
        for entry in FstabFile(bytes: fstab.contents).entries where !entry.isMalformed && ["/", "/boot"].contains(entry.mountPoint) {
            let source = entry.source
            var map: String?
            // dm-uuid-mpath-<wwid>, and dm-uuid-part1-mpath-<wwid> for a partition on the map.
            if source.hasPrefix("/dev/disk/by-id/dm-uuid-"), source.contains("mpath-") {
                map = source
            } else if source.hasPrefix("/dev/mapper/") {
                let name = String(source.dropFirst("/dev/mapper/".count))
                // A partition map is "<alias>-part1" (kpartx) or "<alias>p1" on older releases.
                let base = name.split(separator: "-part").first.map(String.init) ?? name
                if aliases[base] != nil || aliases[name] != nil || name.hasPrefix("mpath") { map = name }
            }
            guard let map else { continue }
            context.report(
                Finding(
                    rule: Self.id, code: "multipath.boot-on-multipath", severity: .blocker,
                    message:
                        "\(entry.mountPoint) is mounted from the multipath map \(map), and multipathd is enabled: the map is tied to the source disk's WWID, which the destination's virtual disk will not have, so \(entry.mountPoint) would not be found; mount it by UUID= of its filesystem, and blacklist or disable multipath if the destination has no multipath storage, then rebuild the initramfs",
                    path: fstab.path.description, line: entry.lineNumber))
        }
    }
}

/// After writing multipath.conf: it parses alone and defaults/find_multipaths is yes.
struct FindMultipathsValidator: ChangeValidator {
    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let parsed = try MultipathConfFile(bytes: proposed, path: path)
        guard parsed.setting("find_multipaths", in: ["defaults"])?.value == "yes" else {
            throw GuestprepError(.validation, "defaults/find_multipaths is not yes after the edit", path: path)
        }
    }
}
