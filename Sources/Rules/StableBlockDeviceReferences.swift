import BlockProbe
import Dialects
import GuestFS
import GuestprepCore

/// Rewrites block-device references that depend on hardware position (/dev/sda1, by-path, by-id)
/// to filesystem UUIDs found by libblkid, in fstab, crypttab and the hibernation resume device.
public struct StableBlockDeviceReferences: Rule {
    public static let id = "stable-block-device-references"
    public static let summary = "Rewrite /dev/sdX-style device names in fstab, crypttab and resume settings to UUID="
    public static let parameterNames = ["targets"]

    public enum Target: String, CaseIterable, Sendable {
        case fstab, crypttab, resume
    }

    static let fstab: GuestPath = "/etc/fstab"
    static let crypttab: GuestPath = "/etc/crypttab"
    static let initramfsResume: GuestPath = "/etc/initramfs-tools/conf.d/resume"
    static let defaultGrub: GuestPath = "/etc/default/grub"

    let targets: [Target]

    public init(parameters: RuleParameters) throws {
        let names = try parameters.list("targets", allowed: Target.allCases.map(\.rawValue), default: Target.allCases.map(\.rawValue))
        targets = names.compactMap(Target.init(rawValue:))
    }

    public init(targets: [Target] = Target.allCases) {
        self.targets = targets
    }

    public func evaluate(in context: RuleContext) throws {
        for target in targets {
            switch target {
            case .fstab: try rewriteFstab(context)
            case .crypttab: try rewriteCrypttab(context)
            case .resume:
                try rewriteInitramfsResume(context)
                try rewriteGrubResume(context)
            }
        }
    }

    // MARK: fstab

    func rewriteFstab(_ context: RuleContext) throws {
        guard let file = try context.read(Self.fstab) else { return }
        let shown = file.path.description
        var fstab = FstabFile(bytes: file.contents)
        var expected: [Int: String] = [:]
        var reasons: [String] = []
        for entry in fstab.entries {
            if entry.isMalformed {
                context.report(
                    Finding(
                        rule: Self.id, severity: .warning,
                        message: "not a valid fstab entry (needs at least source, mount point and type); left as it is",
                        path: shown, line: entry.lineNumber))
                continue
            }
            // A bind mount's source is a directory, whatever it looks like.
            if entry.hasOption("bind") || entry.hasOption("rbind") { continue }
            guard case .unstable(let device) = DeviceReference.classify(entry.source) else { continue }
            let expectedType = entry.type == "swap" ? "swap" : entry.type
            switch context.devices.resolveUUID(for: device, expectedType: expectedType) {
            case .resolved(let probed, let uuid):
                let reference = "UUID=\(uuid)"
                fstab.replaceSource(ofLine: entry.index, with: reference)
                expected[entry.lineNumber] = reference
                reasons.append(
                    "line \(entry.lineNumber): \(device) → \(reference) (\(probed.type ?? "unknown type") on \(entry.mountPoint))")
            case .refused(let why):
                // A device that is optional at boot does not stop the guest from coming up.
                let optional = entry.hasOption("noauto") || entry.hasOption("nofail")
                context.report(
                    Finding(
                        rule: Self.id, severity: optional ? .warning : .blocker,
                        message: "\(entry.mountPoint) is mounted by hardware path \(device), left unchanged: \(why)",
                        path: shown, line: entry.lineNumber))
            }
        }
        guard !expected.isEmpty else { return }
        try context.propose(
            Self.fstab, contents: fstab.bytes, rule: Self.id, reasons: reasons,
            validators: [
                UUIDReferenceValidator(expected: expected, devices: context.devices) { bytes in
                    Dictionary(FstabFile(bytes: bytes).entries.map { ($0.lineNumber, [$0.source]) }, uniquingKeysWith: { $1 })
                },
                FindmntVerifyValidator(isLive: context.isLive, lines: Array(expected.keys)),
            ])
    }

    // MARK: crypttab

    func rewriteCrypttab(_ context: RuleContext) throws {
        guard let file = try context.read(Self.crypttab) else { return }
        let shown = file.path.description
        var crypttab = CrypttabFile(bytes: file.contents)
        var expected: [Int: String] = [:]
        var reasons: [String] = []
        for entry in crypttab.entries {
            if entry.isMalformed {
                context.report(
                    Finding(
                        rule: Self.id, severity: .warning,
                        message: "not a valid crypttab entry (needs at least a name and a device); left as it is",
                        path: shown, line: entry.lineNumber))
                continue
            }
            guard case .unstable(let device) = DeviceReference.classify(entry.device) else { continue }
            let optional = entry.hasOption("noauto") || entry.hasOption("nofail")
            guard let expectedType = Self.headerType(of: entry) else {
                // Plain dm-crypt and one-time-key swap/tmp have no header: whatever UUID the device
                // shows now is stale data, overwritten at the next boot.
                let partUUID = context.devices.device(named: device)?.partUUID.map { " (its PARTUUID is \($0))" } ?? ""
                context.report(
                    Finding(
                        rule: Self.id, severity: .warning,
                        message:
                            "encrypted device \(entry.name) on hardware path \(device) uses plain or one-time-key encryption, which has no header to name by UUID; left unchanged: name it by PARTUUID= or /dev/disk/by-partuuid/\(partUUID)",
                        path: shown, line: entry.lineNumber))
                continue
            }
            switch context.devices.resolveUUID(for: device, expectedType: expectedType) {
            case .resolved(let probed, let uuid):
                let reference = "UUID=\(uuid)"
                crypttab.replaceDevice(ofLine: entry.index, with: reference)
                expected[entry.lineNumber] = reference
                reasons.append("line \(entry.lineNumber): \(device) → \(reference) (\(probed.type ?? "unknown type") for \(entry.name))")
            case .refused(let why):
                context.report(
                    Finding(
                        rule: Self.id, severity: optional ? .warning : .blocker,
                        message: "encrypted device \(entry.name) is opened from hardware path \(device), left unchanged: \(why)",
                        path: shown, line: entry.lineNumber))
            }
        }
        guard !expected.isEmpty else { return }
        try context.propose(
            Self.crypttab, contents: crypttab.bytes, rule: Self.id, reasons: reasons,
            validators: [
                UUIDReferenceValidator(expected: expected, devices: context.devices) { bytes in
                    Dictionary(CrypttabFile(bytes: bytes).entries.map { ($0.lineNumber, [$0.device]) }, uniquingKeysWith: { $1 })
                }
            ])
    }

    /// The signature libblkid must find on a crypttab device for UUID= to name it, or nil when the
    /// format has none (crypttab(5): plain, swap, tmp, random keys; TrueCrypt headers are encrypted).
    static func headerType(of entry: CrypttabFile.Entry) -> String? {
        let randomKeys = ["/dev/urandom", "/dev/random", "/dev/hw_random"]
        if entry.hasOption("plain") || entry.hasOption("swap") || entry.hasOption("tmp")
            || entry.hasOption("tcrypt") || randomKeys.contains(entry.keyFile)
        {
            return nil
        }
        return entry.hasOption("bitlk") ? "BitLocker" : "crypto_LUKS"
    }

    // MARK: resume device

    /// initramfs-tools: RESUME=/dev/sda2 (man initramfs.conf(5)).
    func rewriteInitramfsResume(_ context: RuleContext) throws {
        guard let file = try context.read(Self.initramfsResume) else { return }
        let shown = file.path.description
        var config = ShellAssignmentsFile(bytes: file.contents)
        var expected: [Int: String] = [:]
        var reasons: [String] = []
        for assignment in config.assignments where assignment.key == "RESUME" {
            guard case .unstable(let device) = DeviceReference.classify(assignment.value) else { continue }
            guard assignment.isSimple else {
                context.report(
                    Finding(
                        rule: Self.id, severity: .warning,
                        message: "RESUME uses shell quoting guestprep does not rewrite; set RESUME=UUID=<swap UUID> by hand",
                        path: shown, line: assignment.lineNumber))
                continue
            }
            switch context.devices.resolveUUID(for: device, expectedType: "swap") {
            case .resolved(_, let uuid):
                let reference = "UUID=\(uuid)"
                config.replace(assignment.contentRange, inLine: assignment.index, with: reference)
                expected[assignment.lineNumber] = reference
                reasons.append("line \(assignment.lineNumber): RESUME \(device) → \(reference)")
            case .refused(let why):
                context.report(
                    Finding(
                        rule: Self.id, severity: .warning,
                        message: "resume device \(device) left unchanged (hibernation resume may fail, boot waits for it): \(why)",
                        path: shown, line: assignment.lineNumber))
            }
        }
        guard !expected.isEmpty else { return }
        try context.propose(
            Self.initramfsResume, contents: config.bytes, rule: Self.id, reasons: reasons,
            validators: [
                UUIDReferenceValidator(expected: expected, devices: context.devices) { bytes in
                    Dictionary(
                        ShellAssignmentsFile(bytes: bytes).assignments.filter { $0.key == "RESUME" }
                            .map { ($0.lineNumber, [$0.value]) }, uniquingKeysWith: { $1 })
                }
            ])
        context.report(
            Finding(
                rule: Self.id, severity: .info,
                message: "rebuild the initramfs inside the guest (update-initramfs -u -k all) so it resumes from the new RESUME",
                path: shown))
    }

    /// resume= on the kernel command line set in /etc/default/grub.
    func rewriteGrubResume(_ context: RuleContext) throws {
        guard let file = try context.read(Self.defaultGrub) else { return }
        let shown = file.path.description
        var config = ShellAssignmentsFile(bytes: file.contents)
        var expected: [Int: String] = [:]
        var reasons: [String] = []
        let cmdlineKeys = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"]
        for assignment in config.assignments where cmdlineKeys.contains(assignment.key) {
            let words = config.words(of: assignment)
            guard assignment.isSimple else {
                if words.contains(where: { $0.text.hasPrefix("resume=/dev/") }) {
                    context.report(
                        Finding(
                            rule: Self.id, severity: .warning,
                            message: "\(assignment.key) uses shell quoting guestprep does not rewrite; change resume= to UUID= by hand",
                            path: shown, line: assignment.lineNumber))
                }
                continue
            }
            // Right to left, so earlier ranges stay valid as later words change length.
            var replacements: [(Range<Int>, String)] = []
            for word in words where word.text.hasPrefix("resume=") {
                let value = String(word.text.dropFirst("resume=".count))
                guard case .unstable(let device) = DeviceReference.classify(value) else { continue }
                switch context.devices.resolveUUID(for: device, expectedType: "swap") {
                case .resolved(_, let uuid):
                    let reference = "UUID=\(uuid)"
                    replacements.append((word.range, "resume=\(reference)"))
                    expected[assignment.lineNumber] = reference
                    reasons.append("line \(assignment.lineNumber): \(assignment.key) resume=\(device) → resume=\(reference)")
                case .refused(let why):
                    context.report(
                        Finding(
                            rule: Self.id, severity: .warning,
                            message: "kernel parameter resume=\(device) left unchanged: \(why)",
                            path: shown, line: assignment.lineNumber))
                }
            }
            for (range, text) in replacements.reversed() {
                config.replace(range, inLine: assignment.index, with: text)
            }
        }
        guard !expected.isEmpty else { return }
        try context.propose(
            Self.defaultGrub, contents: config.bytes, rule: Self.id, reasons: reasons,
            validators: [
                UUIDReferenceValidator(expected: expected, devices: context.devices) { bytes in
                    let parsed = ShellAssignmentsFile(bytes: bytes)
                    var found: [Int: [String]] = [:]
                    for assignment in parsed.assignments where cmdlineKeys.contains(assignment.key) {
                        found[assignment.lineNumber, default: []] += parsed.words(of: assignment)
                            .filter { $0.text.hasPrefix("resume=") }.map { String($0.text.dropFirst("resume=".count)) }
                    }
                    return found
                }
            ])
        context.report(
            Finding(
                rule: Self.id, severity: .info,
                message:
                    "regenerate the boot loader configuration inside the guest (update-grub, or grub2-mkconfig -o <grub.cfg>) so the kernel gets the new resume=",
                path: shown))
    }
}
