import Dialects
import GuestFS
import GuestFacts
import GuestprepCore
import Initramfs
import Kernels

/// Makes every kept kernel's initramfs carry the storage drivers the destination boots from:
/// reads each image, adds what is missing in the guest's own initramfs system, rebuilds.
public struct InitramfsDrivers: Rule {
    public static let id = "initramfs-drivers"
    public static let summary = "make each kept kernel's initramfs carry the drivers the destination needs at boot"
    public static let parameterNames = ["initramfs-tools-method"]

    /// Every shipped destination's `drivers:`, for plans without `--to` (a test keeps this equal
    /// to the union of playbooks/*.yaml).
    public static let allPlatformDrivers = [
        "virtio_pci", "virtio_blk", "virtio_scsi", "nvme", "ahci", "ata_piix", "hv_vmbus", "hv_storvsc", "xen-blkfront", "vmw_pvscsi",
        "mptspi", "mptsas",
    ]

    static let initramfsToolsModules: GuestPath = "/etc/initramfs-tools/modules"
    static let initramfsToolsConf: GuestPath = "/etc/initramfs-tools/initramfs.conf"
    static let initramfsToolsConfD: GuestPath = "/etc/initramfs-tools/conf.d"
    static let dracutDropIn: GuestPath = "/etc/dracut.conf.d/90-guestprep.conf"

    /// initramfs-tools: list the drivers in /etc/initramfs-tools/modules (exact, any MODULES=),
    /// or switch MODULES= to `most` (every storage driver, a bigger image).
    public enum InitramfsToolsMethod: String, Sendable, CaseIterable {
        case modules, most
    }

    public var method: InitramfsToolsMethod

    public init(method: InitramfsToolsMethod = .modules) { self.method = method }

    public init(parameters: RuleParameters) throws {
        let value = try parameters.choice(
            "initramfs-tools-method", allowed: InitramfsToolsMethod.allCases.map(\.rawValue), default: InitramfsToolsMethod.modules.rawValue
        )
        method = InitramfsToolsMethod(rawValue: value) ?? .modules
    }

    public func evaluate(in context: RuleContext) throws {
        guard KernelPrune.hasKernels(context) else { return }
        let needed = context.destination.map(\.drivers).flatMap { $0.isEmpty ? nil : $0 } ?? Self.allPlatformDrivers
        let target = context.destination.map { "\($0.platform)" } ?? "the destinations guestprep knows"
        let kept = KernelPrune.plannedKernels(try KernelPrune.inventory(context), context: context).kept
        var missing: [String] = []
        var images: [GuestPath] = []
        for kernel in kept {
            guard let directory = kernel.moduleDirectory else {
                context.report(
                    Finding(
                        rule: Self.id, code: "initramfs.no-modules", severity: .warning,
                        message: "kernel \(kernel.release) has no modules directory, so its drivers cannot be checked"))
                continue
            }
            let modules = try KernelModules.read(directory, root: context.root)
            let absent = needed.filter { !modules.has($0) }
            if !absent.isEmpty {
                // A destination that needs them cannot boot this kernel; without --to only some might.
                context.report(
                    Finding(
                        rule: Self.id, code: "initramfs.driver-unavailable", severity: context.destination == nil ? .warning : .blocker,
                        message:
                            "kernel \(kernel.release) has no \(absent.joined(separator: ", ")) (neither in \(directory) nor built in), which \(target) need(s) at boot; install a kernel that has them (a distribution kernel) before migrating",
                        path: directory.description))
            }
            guard let image = try kernel.initramfs.first(where: { try context.root.exists($0) }) else {
                context.report(
                    Finding(
                        rule: Self.id, code: "initramfs.no-image", severity: .info,
                        message:
                            "kernel \(kernel.release) has no initramfs in /boot, so there is none to check; if it boots from one, make it with the guest's own tool"
                    ))
                continue
            }
            images.append(image)
            guard let contents = try InitramfsReader.read(image, in: context.root) else { continue }
            let inImage = Set(contents.modulePaths.compactMap { KernelModules.name(ofPath: Substring($0)) })
            let lacking = needed.filter { modules.has($0) && !modules.isBuiltin($0) && !inImage.contains(KernelModules.normalized($0)) }
            guard !lacking.isEmpty else { continue }
            context.report(
                Finding(
                    rule: Self.id, code: "initramfs.driver-missing", severity: .warning,
                    message:
                        "\(image.name) lacks \(lacking.joined(separator: ", ")), which \(target) need(s) to reach the root disk: the moved guest would stop in the initramfs shell",
                    path: image.description))
            for driver in lacking where !missing.contains(driver) { missing.append(driver) }
        }
        guard !missing.isEmpty else { return }
        let why = "carries \(missing.joined(separator: ", "))"
        switch context.facts.profile.initramfs {
        case .initramfsTools:
            try method == .modules ? addToModulesFile(missing, context) : switchToMost(context)
        case .dracut:
            try addDracutDropIn(missing, context)
        default:
            context.report(
                Finding(
                    rule: Self.id, code: "initramfs.builder-unsupported", severity: .warning,
                    message:
                        "guestprep does not know how to add drivers to a \(context.facts.profile.initramfs.rawValue) initramfs; add \(missing.joined(separator: ", ")) by hand and rebuild it"
                ))
            return
        }
        try InitramfsRegeneration.plan(in: context, rule: Self.id, why: why, reason: "the drivers are added when the image is rebuilt")
    }

    /// Appends the drivers not yet listed to /etc/initramfs-tools/modules (initramfs-tools(7):
    /// listed modules go into the image whatever MODULES= says, and are loaded at boot).
    private func addToModulesFile(_ drivers: [String], _ context: RuleContext) throws {
        let original = try context.read(Self.initramfsToolsModules)?.contents ?? []
        let listed = Set(
            String(decoding: original, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { line in
                line.split(whereSeparator: \.isWhitespace).first.flatMap { $0.hasPrefix("#") ? nil : KernelModules.normalized(String($0)) }
            })
        let adding = drivers.filter { !listed.contains(KernelModules.normalized($0)) }
        guard !adding.isEmpty else { return }
        var contents = original
        if let last = contents.last, last != UInt8(ascii: "\n") { contents.append(UInt8(ascii: "\n")) }
        contents += Array("# guestprep initramfs-drivers: storage drivers the destination boots from\n".utf8)
        contents += Array(adding.map { "\($0)\n" }.joined().utf8)
        try context.propose(
            Self.initramfsToolsModules, contents: contents, rule: Self.id, reasons: adding.map { "list \($0)" },
            validators: [ListedModulesValidator(modules: adding)])
    }

    /// Sets MODULES=most where the last assignment of it is (a conf.d file overrides initramfs.conf).
    private func switchToMost(_ context: RuleContext) throws {
        let dropIns = try context.listDirectory(Self.initramfsToolsConfD).map { Self.initramfsToolsConfD.appending($0) }
        var target = Self.initramfsToolsConf
        for path in [Self.initramfsToolsConf] + dropIns {
            guard let file = try context.read(path) else { continue }
            if ShellAssignmentsFile(bytes: file.contents).assignments.contains(where: { $0.key == "MODULES" }) { target = path }
        }
        var file = ShellAssignmentsFile(bytes: try context.read(target)?.contents ?? [])
        guard file.assignments.last(where: { $0.key == "MODULES" })?.value != "most" else { return }
        try file.set("MODULES", to: "most", newQuote: nil, path: context.root.display(target))
        try context.propose(
            target, contents: file.bytes, rule: Self.id, reasons: ["MODULES=most: every storage driver goes into the image"],
            validators: [AssignmentValidator(key: "MODULES", words: ["most"], append: false)])
    }

    /// dracut.conf.d(5): `add_drivers+=" … "` adds drivers even in host-only images.
    private func addDracutDropIn(_ drivers: [String], _ context: RuleContext) throws {
        var all: [String] = []
        if let existing = try context.read(Self.dracutDropIn) {
            let file = ShellAssignmentsFile(bytes: existing.contents)
            for assignment in file.assignments where assignment.key == "add_drivers" {
                all += assignment.value.split(separator: " ").map(String.init)
            }
        }
        for driver in drivers where !all.contains(driver) { all.append(driver) }
        let contents =
            "# Written by guestprep (initramfs-drivers): storage drivers the destination boots from.\nadd_drivers+=\" \(all.joined(separator: " ")) \"\n"
        try context.propose(
            Self.dracutDropIn, contents: Array(contents.utf8), rule: Self.id, reasons: drivers.map { "add \($0)" },
            validators: [AssignmentValidator(key: "add_drivers", words: drivers, append: true)])
    }
}

/// Checks that each module is listed on a line of its own in /etc/initramfs-tools/modules.
struct ListedModulesValidator: ChangeValidator {
    var modules: [String]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let firstWords = String(decoding: proposed, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap {
            $0.split(whereSeparator: \.isWhitespace).first.map(String.init)
        }
        for module in modules where !firstWords.contains(module) {
            throw GuestprepError(.validation, "does not list \(module) on a line of its own", path: path)
        }
    }
}

/// Checks that a shell-assignment file gives `key` the words (dracut wants `+=` values padded
/// with blanks so they join with others).
struct AssignmentValidator: ChangeValidator {
    var key: String
    var words: [String]
    var append: Bool

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let assignments = ShellAssignmentsFile(bytes: proposed).assignments.filter { $0.key == key }
        guard let last = assignments.last else { throw GuestprepError(.validation, "does not set \(key)", path: path) }
        let given = append ? assignments.flatMap { $0.value.split(separator: " ").map(String.init) } : [last.value]
        for word in words where !given.contains(word) {
            throw GuestprepError(.validation, "\(key) does not hold \(word)", path: path, line: last.lineNumber)
        }
        if append {
            for assignment in assignments where !assignment.isAppend || !assignment.value.hasPrefix(" ") || !assignment.value.hasSuffix(" ")
            {
                throw GuestprepError(
                    .validation, "\(key) must be added to with += and a value padded with blanks", path: path, line: assignment.lineNumber)
            }
        }
    }
}
