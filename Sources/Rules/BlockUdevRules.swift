import GuestFS
import GuestprepCore
import Network

/// udev rules that name or link disks by hardware identity (vendor, model, serial, bus, path):
/// on the destination the disks have other identities, so the names and links vanish or land on
/// another disk. Reported as warnings; `comment-out: true` comments them out.
public struct BlockUdevRules: Rule {
    public static let id = "block-udev-rules"
    public static let summary = "Report (optionally comment out) udev rules naming disks by vendor, model, serial, bus or path"
    public static let parameterNames = ["comment-out"]

    /// Where admins and packages' generators put local rules (udev(7); /lib and /usr/lib hold the
    /// distribution's generic ones, which match by pattern).
    static let directories: [GuestPath] = ["/etc/udev/rules.d", "/run/udev/rules.d"]
    static let marker = "# guestprep (block-udev-rules): commented out, it names a disk by hardware identity the destination will not have:"

    let commentOut: Bool

    public init(parameters: RuleParameters) throws {
        commentOut = try parameters.choice("comment-out", allowed: ["true", "false"], default: "false") == "true"
    }

    public init(commentOut: Bool = false) {
        self.commentOut = commentOut
    }

    public func evaluate(in context: RuleContext) throws {
        for directory in Self.directories {
            for name in try context.listDirectory(directory) where name.hasSuffix(".rules") {
                let path = directory.appending(name)
                guard let file = try context.read(path) else { continue }
                try check(file, in: context)
            }
        }
    }

    private func check(_ file: GuestFile, in context: RuleContext) throws {
        var rules = UdevRulesFile(bytes: file.contents)
        let found = BlockUdevClassifier.classify(rules)
        var commented: [Int] = []
        var reasons: [String] = []
        for (rule, match) in found {
            let names = match.identity.map(\.description).joined(separator: ", ")
            let gate = match.gateLine.map { " (reached only through line \($0))" } ?? ""
            switch match.effect {
            case .naming, .ownership:
                let does = match.effect == .naming ? "names or links a disk" : "sets a disk's owner or mode"
                let fix =
                    commentOut
                    ? "commented out (comment-out: true)"
                    : "on the destination it will match nothing or another disk: rewrite it to match a filesystem or partition UUID (ENV{ID_FS_UUID}, ENV{ID_PART_ENTRY_UUID}), or set comment-out: true in the playbook to comment it out"
                context.report(
                    Finding(
                        rule: Self.id, code: match.effect == .naming ? "udev.block-hardware-name" : "udev.block-hardware-owner",
                        severity: .warning, message: "rule \(does) by hardware identity \(names)\(gate): \(fix)",
                        path: file.path.description, line: rule.lineNumber))
                if commentOut {
                    commented.append(rule.index)
                    reasons.append("line \(rule.lineNumber): commented out, matched \(names)")
                }
            case .other:
                context.report(
                    Finding(
                        rule: Self.id, code: "udev.block-hardware-match", severity: .info,
                        message:
                            "rule matches a disk by hardware identity \(names)\(gate) but names nothing; on the destination it will not apply (tuning such as timeouts or schedulers is lost)",
                        path: file.path.description, line: rule.lineNumber))
            }
        }
        guard !commented.isEmpty else { return }
        let kept = rules.rules.filter { !commented.contains($0.index) }.map(\.tokens)
        // Bottom up, so the indexes of rules above stay valid.
        for index in commented.sorted(by: >) { rules.commentOutRule(at: index, marker: Self.marker) }
        try context.propose(
            file.path, contents: rules.bytes, rule: Self.id, reasons: reasons,
            validators: [UdevRulesKeptValidator(kept: kept)])
    }
}

/// Which udev rules name block devices by hardware identity, and how.
public enum BlockUdevClassifier {
    public struct Match: Sendable, Equatable {
        public enum Effect: Sendable { case naming, ownership, other }
        public var effect: Effect
        /// The match tokens that pin the rule to a piece of hardware.
        public var identity: [UdevToken]
        /// The line of an earlier `…, GOTO=` rule whose identity match gates this one.
        public var gateLine: Int?
    }

    /// ATTRS{}/ATTR{} attributes that identify a disk (sysfs of SCSI, NVMe, virtio, Hyper-V devices).
    static let identityAttributes: Set<String> = [
        "vendor", "model", "serial", "wwid", "eui", "nguid", "device_id", "rev", "ID_VENDOR", "ID_MODEL", "ID_SERIAL",
    ]
    /// udev properties that identify a disk (from ata_id, scsi_id, path_id: udev's builtins).
    static let identityProperties: Set<String> = [
        "ID_SERIAL", "ID_SERIAL_SHORT", "ID_SCSI_SERIAL", "ID_WWN", "ID_WWN_WITH_EXTENSION", "ID_PATH", "ID_PATH_TAG", "ID_VENDOR",
        "ID_VENDOR_ID", "ID_MODEL", "ID_MODEL_ID", "ID_BUS",
    ]
    static let blockKernelPrefixes = ["sd", "vd", "hd", "xvd", "nvme", "sr", "dm-", "mmcblk"]

    /// Each rule that matches hardware identity in a block context, with what it does.
    public static func classify(_ file: UdevRulesFile) -> [(rule: UdevRule, match: Match)] {
        var result: [(UdevRule, Match)] = []
        var blockGate = false
        var identityGate: (line: Int, tokens: [UdevToken])?
        for rule in file.rules {
            let identity = rule.tokens.filter(isIdentity)
            let jumps = rule.tokens.contains { $0.key == "GOTO" }
            let isNet = rule.tokens.contains { ["SUBSYSTEM", "SUBSYSTEMS"].contains($0.key) && $0.value.contains("net") }
            if jumps {
                // `SUBSYSTEM!="block", GOTO="end"`: the rest of the file is about block devices.
                if rule.tokens.contains(where: { $0.key == "SUBSYSTEM" && $0.operator == .notEqual && $0.value.contains("block") }) {
                    blockGate = true
                }
                if !identity.isEmpty && identityGate == nil { identityGate = (rule.lineNumber, identity) }
            }
            guard !isNet, blockGate || isBlockRule(rule) else { continue }
            let assigns = { (keys: Set<String>) in rule.tokens.contains { keys.contains($0.key) && !$0.operator.isMatch } }
            let effect: Match.Effect =
                assigns(["NAME", "SYMLINK"]) ? .naming : assigns(["OWNER", "GROUP", "MODE"]) ? .ownership : .other
            if !identity.isEmpty {
                // A GOTO-only gate names nothing itself.
                if jumps && effect == .other { continue }
                result.append((rule, Match(effect: effect, identity: identity, gateLine: nil)))
            } else if let gate = identityGate, effect != .other {
                result.append((rule, Match(effect: effect, identity: gate.tokens, gateLine: gate.line)))
            }
        }
        return result
    }

    /// A block device rule by its own matches: SUBSYSTEM=="block", a disk DEVTYPE, a disk kernel name.
    static func isBlockRule(_ rule: UdevRule) -> Bool {
        rule.tokens.contains { token in
            guard token.operator == .equal else { return false }
            switch token.key {
            case "SUBSYSTEM": return token.value.contains("block")
            case "ENV" where token.attribute == "DEVTYPE": return token.value.contains("disk") || token.value.contains("partition")
            case "KERNEL": return blockKernelPrefixes.contains { token.value.hasPrefix($0) }
            default: return false
            }
        }
    }

    /// Paths and kernel names pin a device only when spelt out exactly: `ENV{ID_PATH}=="pci-*"`
    /// or `KERNEL=="sd*"` is a whole class of devices, `ENV{ID_PATH}=="pci-0000:00:1f.2-ata-1"` one slot.
    static let exactOnlyProperties: Set<String> = ["ID_PATH", "ID_PATH_TAG"]

    /// A match that pins one piece of hardware: a value with literal text (not only `?*`-style
    /// globs) of an identifying key, such as a vendor (`Msft`), a model prefix or a serial.
    static func isIdentity(_ token: UdevToken) -> Bool {
        guard token.operator.isMatch else { return false }
        let globs: Set<Character> = ["*", "?", "[", "]", "|", "!"]
        let literal = token.value.contains { !globs.contains($0) }
        let exact = !token.value.isEmpty && !token.value.contains(where: globs.contains)
        switch token.key {
        case "ATTRS", "ATTR": return literal && identityAttributes.contains(token.attribute ?? "")
        case "ENV" where exactOnlyProperties.contains(token.attribute ?? ""): return exact
        case "ENV": return literal && identityProperties.contains(token.attribute ?? "")
        case "KERNELS", "RESULT", "DRIVERS": return literal
        case "KERNEL", "DEVPATH": return exact
        default: return false
        }
    }
}

/// After commenting out: every rule not commented out is still there, token for token, in order.
struct UdevRulesKeptValidator: ChangeValidator {
    let kept: [[UdevToken]]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let parsed = UdevRulesFile(bytes: proposed)
        let now = parsed.rules.map(\.tokens)
        guard now == kept else {
            let line = zip(parsed.rules, kept).first { $0.0.tokens != $0.1 }?.0.lineNumber
            throw GuestprepError(
                .validation, "the rules left active are not the ones planned (\(now.count) rules, expected \(kept.count))", path: path,
                line: line)
        }
    }
}
