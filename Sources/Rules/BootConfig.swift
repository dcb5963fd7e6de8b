import BlockProbe
import Dialects
import GuestFS
import GuestprepCore

/// `root=` and `resume=` naming a disk by hardware path on the kernel command lines, and
/// `GRUB_DISABLE_LINUX_UUID=true` (which makes grub-mkconfig write `root=/dev/…`). Fixes
/// /etc/default/grub (UUID= of the probed device; the setting commented out) and plans the
/// regeneration of grub.cfg; reports generated files and other sources with the fix.
public struct BootConfig: Rule {
    public static let id = "boot-config"
    public static let summary = "root=/resume= by device name on kernel command lines, GRUB_DISABLE_LINUX_UUID=true"
    public static let parameterNames: [String] = []

    static let disableUUID = "GRUB_DISABLE_LINUX_UUID"
    /// Kept at the start of the commented-out line, so an admin sees who did it and why.
    static let disableMarker = "# disabled by guestprep (boot-config), so grub.cfg names the root by UUID: "
    /// Generated grub.cfg files and the commands in them that start a Linux kernel.
    static let grubConfigs: [GuestPath] = ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"]
    static let linuxCommands: Set<String> = ["linux", "linux16", "linuxefi", "kernel"]

    public init(parameters: RuleParameters) throws {}
    public init() {}

    public func evaluate(in context: RuleContext) throws {
        let (fixed, edited) = try fixDefaultGrub(in: context)
        var regenerates = false
        // Whichever rule changed /etc/default/grub, grub.cfg must follow; a missing tool is
        // reported here only for this rule's edits (the others remind of it themselves).
        if let original = try context.root.readFile(KernelCommandLine.defaultGrub),
            let planned = try context.read(KernelCommandLine.defaultGrub), planned.contents != original.contents
        {
            regenerates = try GrubRegeneration.plan(
                in: context, rule: Self.id, why: "the kernel gets the command line as planned in /etc/default/grub", reportMissing: edited)
        }
        try reportGenerated(in: context, regenerates: regenerates && fixed)
        try reportBLS(in: context)
        try reportKernelCmdline(in: context)
    }

    // MARK: /etc/default/grub

    /// Rewrites what it can; returns whether /etc/default/grub, as planned, leaves grub-mkconfig
    /// nothing that names a device by hardware path, and whether this rule changed it.
    private func fixDefaultGrub(in context: RuleContext) throws -> (clean: Bool, edited: Bool) {
        guard let file = try context.read(KernelCommandLine.defaultGrub) else { return (true, false) }
        let shown = file.path.description
        var config = ShellAssignmentsFile(bytes: file.contents)
        var edits: [(index: Int, range: Range<Int>, text: String)] = []
        var expected: [KeyedReference] = []
        var reasons: [String] = []
        var clean = true
        for assignment in config.assignments {
            if assignment.key == Self.disableUUID, assignment.value == "true" || !assignment.isSimple {
                guard assignment.isSimple else {
                    clean = false
                    report(
                        context, "disable-uuid-quoted", .blocker,
                        "\(Self.disableUUID) uses shell quoting guestprep does not rewrite; delete the line by hand so grub-mkconfig writes root=UUID=",
                        path: shown, line: assignment.lineNumber)
                    continue
                }
                edits.append((assignment.index, 0..<0, Self.disableMarker))
                reasons.append(
                    "line \(assignment.lineNumber): \(Self.disableUUID)=true commented out, so grub-mkconfig names the root filesystem by UUID="
                )
                continue
            }
            guard assignment.key.hasPrefix("GRUB_CMDLINE_LINUX") else { continue }
            let parameters = KernelCommandLine.hardwareDeviceParameters(in: config.words(of: assignment))
            guard !parameters.isEmpty else { continue }
            guard assignment.isSimple else {
                clean = false
                report(
                    context, "quoted", .blocker,
                    "\(assignment.key) names \(parameters.map { "\($0.name)=\($0.device)" }.joined(separator: ", ")) with shell quoting guestprep does not rewrite; change it to UUID= by hand",
                    path: shown, line: assignment.lineNumber)
                continue
            }
            for parameter in parameters {
                let isRoot = parameter.name == "root"
                switch context.devices.resolveUUID(for: parameter.device, expectedType: isRoot ? nil : "swap") {
                case .resolved(let device, let uuid):
                    let reference = "UUID=\(uuid)"
                    edits.append((assignment.index, parameter.valueRange, reference))
                    expected.append(
                        KeyedReference(
                            key: KernelCommandLine.key(parameter.name, in: assignment.key), value: reference, line: assignment.lineNumber))
                    reasons.append(
                        "line \(assignment.lineNumber): \(parameter.name)=\(parameter.device) → \(parameter.name)=\(reference) (\(device.type ?? "unknown type") in \(assignment.key))"
                    )
                case .refused(let reason, let why):
                    clean = false
                    // stable-block-device-references already said this about resume= on this line.
                    let line = assignment.lineNumber
                    if !isRoot, context.findings.contains(where: { $0.path == shown && $0.line == line && $0.code.hasPrefix("resume.") }) {
                        continue
                    }
                    report(
                        context, "\(parameter.name)-\(reason.rawValue)", isRoot ? .blocker : .warning,
                        "kernel parameter \(parameter.name)= in \(assignment.key) names \(parameter.device) by hardware path, left unchanged: \(why)",
                        path: shown, line: assignment.lineNumber)
                case .unreadable(var error):
                    error.path = shown
                    error.line = assignment.lineNumber
                    throw error
                }
            }
        }
        guard !edits.isEmpty else { return (clean, false) }
        // Right to left within a line, so earlier ranges stay valid.
        for edit in edits.sorted(by: { ($0.index, $0.range.lowerBound) > ($1.index, $1.range.lowerBound) }) {
            config.replace(edit.range, inLine: edit.index, with: edit.text)
        }
        try context.propose(
            KernelCommandLine.defaultGrub, contents: config.bytes, rule: Self.id, reasons: reasons,
            validators: [
                UUIDReferenceValidator(expected: expected, devices: context.devices, extract: Self.grubReferences),
                GrubUUIDNamingValidator(),
            ])
        return (clean, true)
    }

    static let grubReferences: UUIDReferenceValidator.Extractor = { bytes in
        let parsed = ShellAssignmentsFile(bytes: bytes)
        var found: [KeyedReference] = []
        for assignment in parsed.assignments where assignment.key.hasPrefix("GRUB_CMDLINE_LINUX") {
            for field in parsed.words(of: assignment) {
                for name in KernelCommandLine.deviceParameters where field.text.hasPrefix(name + "=") {
                    found.append(
                        KeyedReference(
                            key: KernelCommandLine.key(name, in: assignment.key), value: String(field.text.dropFirst(name.count + 1)),
                            line: assignment.lineNumber))
                }
            }
        }
        return found
    }

    // MARK: Files generated or read elsewhere

    /// grub.cfg `linux` lines: regenerated from /etc/default/grub, never edited.
    private func reportGenerated(in context: RuleContext, regenerates: Bool) throws {
        for path in Self.grubConfigs {
            guard let file = try context.read(path) else { continue }
            for (index, line) in TextLines.split(file.contents).enumerated() {
                let fields = line.fields()
                guard let command = fields.first, Self.linuxCommands.contains(command.text) else { continue }
                for parameter in KernelCommandLine.hardwareDeviceParameters(in: Array(fields.dropFirst())) {
                    let isRoot = parameter.name == "root"
                    let what = "the generated \(path) starts a kernel with \(parameter.name)=\(parameter.device), a hardware path"
                    if regenerates {
                        report(
                            context, "generated-device-name", .info, "\(what); the planned regeneration rewrites it from /etc/default/grub",
                            path: path.description, line: index + 1)
                    } else {
                        report(
                            context, "generated-device-name", isRoot ? .blocker : .warning,
                            "\(what): regenerate it inside the guest (update-grub, or grub2-mkconfig -o \(path)) once /etc/default/grub names no device by hardware path and does not set \(Self.disableUUID)=true\(Self.uuidHint(parameter, context))",
                            path: path.description, line: index + 1)
                    }
                }
            }
        }
    }

    /// Boot Loader Specification entries: `options` lines, kept by grubby / kernel-install.
    private func reportBLS(in context: RuleContext) throws {
        for name in try context.listDirectory(KernelCommandLine.blsEntries) where name.hasSuffix(".conf") {
            let path = KernelCommandLine.blsEntries.appending(name)
            guard let file = try context.read(path) else { continue }
            for (index, line) in TextLines.split(file.contents).enumerated() {
                let fields = line.fields()
                guard fields.first?.text == "options" else { continue }
                for parameter in KernelCommandLine.hardwareDeviceParameters(in: Array(fields.dropFirst())) {
                    let uuid = Self.resolvedUUID(parameter, context)
                    report(
                        context, "bls-device-name", parameter.name == "root" ? .blocker : .warning,
                        "boot entry \(name) starts the kernel with \(parameter.name)=\(parameter.device), a hardware path: run grubby --update-kernel=ALL --args=\"\(parameter.name)=\(uuid.map { "UUID=\($0)" } ?? "UUID=<UUID of \(parameter.device)>")\" inside the guest (and change /etc/kernel/cmdline the same way, if it exists)",
                        path: path.description, line: index + 1)
                }
            }
        }
    }

    /// /etc/kernel/cmdline: what kernel-install(8) writes into new boot entries and UKIs.
    private func reportKernelCmdline(in context: RuleContext) throws {
        guard let file = try context.read(KernelCommandLine.kernelCmdline) else { return }
        for (index, line) in TextLines.split(file.contents).enumerated() {
            for parameter in KernelCommandLine.hardwareDeviceParameters(in: line.fields()) {
                let uuid = Self.resolvedUUID(parameter, context)
                report(
                    context, "kernel-cmdline-device-name", parameter.name == "root" ? .blocker : .warning,
                    "\(parameter.name)=\(parameter.device) names a device by hardware path: change it to \(parameter.name)=\(uuid.map { "UUID=\($0)" } ?? "UUID=<UUID of \(parameter.device)>") in /etc/kernel/cmdline, then reinstall the kernels' boot entries (kernel-install add, or grubby --update-kernel=ALL --args=…)",
                    path: file.path.description, line: index + 1)
            }
        }
    }

    static func resolvedUUID(_ parameter: KernelCommandLine.DeviceParameter, _ context: RuleContext) -> String? {
        if case .resolved(_, let uuid) = context.devices.resolveUUID(
            for: parameter.device, expectedType: parameter.name == "root" ? nil : "swap")
        {
            return uuid
        }
        return nil
    }

    static func uuidHint(_ parameter: KernelCommandLine.DeviceParameter, _ context: RuleContext) -> String {
        resolvedUUID(parameter, context).map { " (\(parameter.device) is UUID=\($0))" } ?? ""
    }

    private func report(_ context: RuleContext, _ code: String, _ severity: Severity, _ message: String, path: String, line: Int?) {
        context.report(Finding(rule: Self.id, code: "boot-config.\(code)", severity: severity, message: message, path: path, line: line))
    }
}

/// After writing /etc/default/grub: no `GRUB_DISABLE_LINUX_UUID=true` is left in effect.
struct GrubUUIDNamingValidator: ChangeValidator {
    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        for assignment in ShellAssignmentsFile(bytes: proposed).assignments
        where assignment.key == BootConfig.disableUUID && assignment.value == "true" {
            throw GuestprepError(
                .validation, "\(BootConfig.disableUUID)=true is still set after rewriting", path: path, line: assignment.lineNumber)
        }
    }
}
