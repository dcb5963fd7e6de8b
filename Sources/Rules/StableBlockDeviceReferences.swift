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
    static let kernelCommandLines = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"]
    /// Mount options whose value is a device path (btrfs(5), ext4(5), systemd.mount(5)).
    static let deviceOptions: Set<String> = [
        "device", "journal_path", "logdev", "rtdev", "x-systemd.requires", "x-systemd.after", "x-systemd.before",
        "x-systemd.mount-clone",
    ]

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
            case .fstab:
                try rewrite(Self.fstab, in: context, scan: Self.scanFstab, references: Self.fstabReferences) { expected in
                    [LibmountFstabValidator(expected: expected)]
                }
            case .crypttab:
                try rewrite(
                    Self.crypttab, in: context, scan: { Self.scanCrypttab($0, devices: context.devices) },
                    references: Self.crypttabReferences)
            case .resume:
                // Where the resume device is set depends on the family's boot path (GuestFacts' table).
                for file in context.facts.profile.resumeFiles {
                    switch file {
                    case Self.initramfsResume:
                        try rewrite(
                            file, in: context, scan: Self.scanInitramfsResume, references: Self.initramfsResumeReferences,
                            reminder:
                                "rebuild the initramfs inside the guest (update-initramfs -u -k all) so it resumes from the new RESUME")
                    case Self.defaultGrub:
                        try rewrite(
                            file, in: context, scan: Self.scanGrub, references: Self.grubResumeReferences,
                            reminder:
                                "regenerate the boot loader configuration inside the guest (update-grub, or grub2-mkconfig -o <grub.cfg>) so the kernel gets the new resume="
                        )
                    default:
                        continue
                    }
                }
            }
        }
    }

    // MARK: The one rewrite loop

    /// One place in a file that names a block device by a hardware path.
    struct DeviceSite {
        /// Index of the line in the file.
        var index: Int
        /// The bytes of the device name within the line's content; the rewrite replaces exactly these.
        var range: Range<Int>
        var device: String
        /// What libblkid must find there (the file's own claim), or nil to accept any type.
        var expectedType: String?
        /// A device the guest can boot without: a refusal is then a warning, not a blocker.
        var optionalAtBoot: Bool
        /// What the reference is for, as validators find it again after other edits to the file.
        var key: String
        /// What the reference is for, in findings: "/data is mounted".
        var role: String
        /// The first part of finding codes: "fstab", "crypttab", "resume".
        var domain: String
        /// The same, for the change's reasons: "on /data".
        var purpose: String
    }

    /// What a dialect scanner finds: sites to rewrite, and findings on lines it will not touch.
    struct Scan {
        var sites: [DeviceSite] = []
        var findings: [(line: Int, code: String, severity: Severity, message: String)] = []
    }

    /// Resolves every site to a UUID, reports those it cannot, rewrites the rest in place and
    /// proposes the file with validators that check each new reference after writing.
    private func rewrite(
        _ path: GuestPath, in context: RuleContext, scan: (GuestFile) -> Scan,
        references: @escaping UUIDReferenceValidator.Extractor, reminder: String? = nil,
        extraValidators: ([KeyedReference]) -> [any ChangeValidator] = { _ in [] }
    ) throws {
        guard let file = try context.read(path) else { return }
        let shown = file.path.description
        let scanned = scan(file)
        for finding in scanned.findings {
            context.report(
                Finding(
                    rule: Self.id, code: finding.code, severity: finding.severity, message: finding.message, path: shown, line: finding.line
                ))
        }
        var lines = TextLines.split(file.contents)
        var edits: [Int: [(range: Range<Int>, text: String)]] = [:]
        var expected: [KeyedReference] = []
        var reasons: [String] = []
        for site in scanned.sites {
            switch context.devices.resolveUUID(for: site.device, expectedType: site.expectedType) {
            case .resolved(let probed, let uuid):
                let reference = "UUID=\(uuid)"
                edits[site.index, default: []].append((site.range, reference))
                expected.append(KeyedReference(key: site.key, value: reference, line: site.index + 1))
                reasons.append("line \(site.index + 1): \(site.device) → \(reference) (\(probed.type ?? "unknown type") \(site.purpose))")
            case .unreadable(var error):
                error.path = shown
                error.line = site.index + 1
                throw error
            case .refused(let reason, let why):
                context.report(
                    Finding(
                        rule: Self.id, code: "\(site.domain).\(reason.rawValue)", severity: site.optionalAtBoot ? .warning : .blocker,
                        message: "\(site.role) by hardware path \(site.device), left unchanged: \(why)", path: shown, line: site.index + 1))
            }
        }
        guard !expected.isEmpty else { return }
        for (index, lineEdits) in edits {
            // Right to left, so earlier ranges stay valid as later text changes length.
            for edit in lineEdits.sorted(by: { $0.range.lowerBound > $1.range.lowerBound }) {
                lines[index] = lines[index].replacing(edit.range, with: Array(edit.text.utf8))
            }
        }
        try context.propose(
            path, contents: TextLines.join(lines), rule: Self.id, reasons: reasons,
            validators: [UUIDReferenceValidator(expected: expected, devices: context.devices, extract: references)]
                + extraValidators(expected))
        if let reminder {
            context.report(Finding(rule: Self.id, code: "resume.regenerate", severity: .info, message: reminder, path: shown))
        }
    }

    // MARK: fstab (fstab(5))

    static func scanFstab(_ file: GuestFile) -> Scan {
        var scan = Scan()
        for entry in FstabFile(bytes: file.contents).entries {
            if entry.isMalformed {
                scan.findings.append(
                    (
                        entry.lineNumber, "fstab.malformed", .warning,
                        "not a valid fstab entry, which mount skips (it needs a source, mount point and type, numeric dump and pass fields, no NUL bytes); left as it is"
                    ))
                continue
            }
            // A bind mount's source is a directory, whatever it looks like.
            if entry.hasOption("bind") || entry.hasOption("rbind") { continue }
            let optional = entry.hasOption("noauto") || entry.hasOption("nofail")
            // Options that name devices (btrfs device=, ext4 journal_path=, systemd's
            // x-systemd.requires=…) break the mount as surely as the source does.
            for option in entry.options {
                guard let equals = option.firstIndex(of: "=") else { continue }
                let name = option[..<equals]
                guard Self.deviceOptions.contains(String(name)),
                    case .unstable(let device) = DeviceReference.classify(String(option[option.index(after: equals)...]))
                else { continue }
                scan.findings.append(
                    (
                        entry.lineNumber, "fstab.option-device-name", optional ? .warning : .blocker,
                        "option \(name)= of \(entry.mountPoint) names \(device) by hardware path, and guestprep does not rewrite mount options; name it by a stable path (/dev/disk/by-uuid/…, /dev/disk/by-partuuid/…) by hand"
                    ))
            }
            guard case .unstable(let device) = DeviceReference.classify(entry.source) else { continue }
            scan.sites.append(
                DeviceSite(
                    index: entry.index, range: entry.sourceRange, device: device, expectedType: entry.type,
                    // The guest comes up without a device it need not mount at boot.
                    optionalAtBoot: optional, key: LibmountFstabValidator.key(target: entry.mountPoint, type: entry.type),
                    role: "\(entry.mountPoint) is mounted", domain: "fstab", purpose: "on \(entry.mountPoint)"))
        }
        return scan
    }

    static let fstabReferences: UUIDReferenceValidator.Extractor = { bytes in
        FstabFile(bytes: bytes).entries.map {
            KeyedReference(key: LibmountFstabValidator.key(target: $0.mountPoint, type: $0.type), value: $0.source, line: $0.lineNumber)
        }
    }

    // MARK: crypttab (crypttab(5))

    static func scanCrypttab(_ file: GuestFile, devices: DeviceInventory) -> Scan {
        var scan = Scan()
        for entry in CrypttabFile(bytes: file.contents).entries {
            if entry.isMalformed {
                scan.findings.append(
                    (
                        entry.lineNumber, "crypttab.malformed", .warning,
                        "not a valid crypttab entry (needs at least a name and a device); left as it is"
                    ))
                continue
            }
            guard case .unstable(let device) = DeviceReference.classify(entry.device) else { continue }
            guard let expectedType = headerType(of: entry) else {
                // Plain dm-crypt and one-time-key swap/tmp have no header: whatever UUID the device
                // shows now is stale data, overwritten at the next boot.
                let partUUID = devices.device(named: device)?.partUUID.map { " (its PARTUUID is \($0))" } ?? ""
                scan.findings.append(
                    (
                        entry.lineNumber, "crypttab.no-header", .warning,
                        "encrypted device \(entry.name) on hardware path \(device) uses plain or one-time-key encryption, which has no header to name by UUID; left unchanged: name it by PARTUUID= or /dev/disk/by-partuuid/\(partUUID)"
                    ))
                continue
            }
            scan.sites.append(
                DeviceSite(
                    index: entry.index, range: entry.deviceRange, device: device, expectedType: expectedType,
                    optionalAtBoot: entry.hasOption("noauto") || entry.hasOption("nofail"), key: crypttabKey(entry.name),
                    role: "encrypted device \(entry.name) is opened", domain: "crypttab", purpose: "for \(entry.name)"))
        }
        return scan
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

    /// A crypttab entry is found by its mapped name (crypttab(5) field 1).
    static func crypttabKey(_ name: String) -> String { "encrypted device \(name)" }

    static let crypttabReferences: UUIDReferenceValidator.Extractor = { bytes in
        CrypttabFile(bytes: bytes).entries.map { KeyedReference(key: crypttabKey($0.name), value: $0.device, line: $0.lineNumber) }
    }

    // MARK: resume device

    /// initramfs-tools: RESUME=/dev/sda2 (initramfs.conf(5)). A resume device that cannot be found
    /// delays boot but does not stop it, so refusals here are warnings.
    static func scanInitramfsResume(_ file: GuestFile) -> Scan {
        var scan = Scan()
        for assignment in ShellAssignmentsFile(bytes: file.contents).assignments where assignment.key == "RESUME" {
            guard case .unstable(let device) = DeviceReference.classify(assignment.value) else { continue }
            guard assignment.isSimple else {
                scan.findings.append(
                    (
                        assignment.lineNumber, "resume.quoted", .warning,
                        "RESUME uses shell quoting guestprep does not rewrite; set RESUME=UUID=<swap UUID> by hand"
                    ))
                continue
            }
            scan.sites.append(
                DeviceSite(
                    index: assignment.index, range: assignment.contentRange, device: device, expectedType: "swap",
                    optionalAtBoot: true, key: "RESUME", role: "the resume device (RESUME) is named", domain: "resume",
                    purpose: "for RESUME"))
        }
        return scan
    }

    static let initramfsResumeReferences: UUIDReferenceValidator.Extractor = { bytes in
        ShellAssignmentsFile(bytes: bytes).assignments.filter { $0.key == "RESUME" }.map {
            KeyedReference(key: "RESUME", value: $0.value, line: $0.lineNumber)
        }
    }

    /// resume= on the kernel command lines set in /etc/default/grub.
    static func scanGrub(_ file: GuestFile) -> Scan {
        var scan = Scan()
        let config = ShellAssignmentsFile(bytes: file.contents)
        for assignment in config.assignments where kernelCommandLines.contains(assignment.key) {
            let words = config.words(of: assignment)
            guard assignment.isSimple else {
                if words.contains(where: { $0.text.hasPrefix("resume=/dev/") }) {
                    scan.findings.append(
                        (
                            assignment.lineNumber, "resume.quoted", .warning,
                            "\(assignment.key) uses shell quoting guestprep does not rewrite; change resume= to UUID= by hand"
                        ))
                }
                continue
            }
            let prefix = "resume="
            for word in words where word.text.hasPrefix(prefix) {
                let value = String(word.text.dropFirst(prefix.count))
                guard case .unstable(let device) = DeviceReference.classify(value) else { continue }
                scan.sites.append(
                    DeviceSite(
                        index: assignment.index, range: (word.range.lowerBound + prefix.utf8.count)..<word.range.upperBound,
                        device: device, expectedType: "swap", optionalAtBoot: true, key: grubResumeKey(assignment.key),
                        role: "kernel parameter resume= in \(assignment.key) is set", domain: "resume",
                        purpose: "for resume= in \(assignment.key)"))
            }
        }
        return scan
    }

    /// resume= is found by the variable holding it.
    static func grubResumeKey(_ variable: String) -> String { "resume= in \(variable)" }

    static let grubResumeReferences: UUIDReferenceValidator.Extractor = { bytes in
        let parsed = ShellAssignmentsFile(bytes: bytes)
        var found: [KeyedReference] = []
        for assignment in parsed.assignments where kernelCommandLines.contains(assignment.key) {
            found += parsed.words(of: assignment).filter { $0.text.hasPrefix("resume=") }.map {
                KeyedReference(
                    key: grubResumeKey(assignment.key), value: String($0.text.dropFirst("resume=".count)), line: assignment.lineNumber)
            }
        }
        return found
    }
}
