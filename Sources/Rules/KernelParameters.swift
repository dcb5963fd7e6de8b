import Dialects
import GuestFS
import GuestprepCore

/// Puts the kernel parameters the destination documents (serial console, NVMe timeouts) where
/// the guest keeps its command line: /etc/default/grub (then grub.cfg regenerated), Boot Loader
/// Specification entries through grubby, and /etc/kernel/cmdline (kernel-install(8)).
public struct KernelParameters: Rule {
    public static let id = "kernel-parameters"
    public static let summary = "Add the destination's kernel parameters to GRUB_CMDLINE_LINUX, BLS entries and /etc/kernel/cmdline"
    public static let parameterNames = ["add"]

    static let grubby: [GuestPath] = ["/usr/sbin/grubby", "/sbin/grubby", "/usr/bin/grubby"]
    static let grubenv: GuestPath = "/boot/grub2/grubenv"
    let extra: [String]

    public init(parameters: RuleParameters) throws {
        extra = try parameters.list("add", default: [])
        for word in extra {
            if let problem = KernelParameter.check(word) {
                throw GuestprepError(
                    .playbook, "rule \(Self.id): add \(problem)", path: parameters.file, line: parameters.values["add"]?.line)
            }
        }
    }

    public init(add: [String] = []) {
        extra = add
    }

    /// The parameters wanted, each with why, in order: the destination's, then the playbook's own.
    func wanted(_ context: RuleContext) throws -> [(parameter: KernelParameter, why: String)] {
        var wanted: [(parameter: KernelParameter, why: String)] = []
        if let destination = context.destination {
            for word in destination.kernelParameters {
                if let problem = KernelParameter.check(word) {
                    throw GuestprepError(.playbook, "destination \(destination.platform): kernel-parameters \(problem)")
                }
                wanted.append(
                    (
                        KernelParameter(word: word),
                        "the \(destination.platform) playbook asks for \(word) (playbooks/\(destination.platform).yaml cites the platform's documentation)"
                    ))
            }
        }
        for word in extra where !wanted.contains(where: { $0.parameter.word == word }) {
            wanted.append((KernelParameter(word: word), "the playbook's add: asks for \(word)"))
        }
        return wanted
    }

    public func evaluate(in context: RuleContext) throws {
        let wanted = try wanted(context)
        guard !wanted.isEmpty else {
            context.report(
                Finding(
                    rule: Self.id, code: "kernel-parameters.none", severity: .info,
                    message:
                        "no kernel parameters to set: the playbook names no destination (--to PLATFORM) that documents any, and no add:"
                ))
            return
        }
        let parameters = wanted.map(\.parameter)
        let why: (KernelParameter) -> String = { parameter in wanted.first { $0.parameter == parameter }?.why ?? "" }
        let grub = try context.read(KernelCommandLine.defaultGrub)
        let entries = try blsEntries(context)
        // GRUB reads BLS entries itself only with GRUB_ENABLE_BLSCFG=true (Fedora/RHEL 8+); without
        // GRUB at all, entries are systemd-boot's.
        let blsBoots = !entries.isEmpty && (grub.map(Self.enablesBLS) ?? true)
        var found = false
        if let grub {
            found = true
            if try editGrub(grub, parameters, why: why, in: context), !blsBoots {
                try planRegeneration(in: context)
            }
        }
        if blsBoots {
            found = true
            try planGrubby(entries, parameters, why: why, in: context)
        }
        if let cmdline = try context.read(KernelCommandLine.kernelCmdline) {
            found = true
            try editKernelCmdline(cmdline, parameters, why: why, in: context)
        }
        if !found {
            context.report(
                Finding(
                    rule: Self.id, code: "kernel-parameters.no-boot-config", severity: .warning,
                    message:
                        "none of /etc/default/grub, /boot/loader/entries/*.conf or /etc/kernel/cmdline is in the guest, so guestprep cannot add \(parameters.map(\.word).joined(separator: " ")); add them to the boot loader's configuration by hand"
                ))
        }
    }

    static func enablesBLS(_ grub: GuestFile) -> Bool {
        ShellAssignmentsFile(bytes: grub.contents).assignments.last { $0.key == "GRUB_ENABLE_BLSCFG" }?.value == "true"
    }

    // MARK: /etc/default/grub

    /// Edits GRUB_CMDLINE_LINUX (every entry, recovery ones too) and replaces conflicting values in
    /// GRUB_CMDLINE_LINUX_DEFAULT, which comes later on the command line and would win. Returns
    /// whether the file changes.
    private func editGrub(
        _ file: GuestFile, _ wanted: [KernelParameter], why: (KernelParameter) -> String, in context: RuleContext
    ) throws -> Bool {
        var config = ShellAssignmentsFile(bytes: file.contents)
        let keys = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"]
        // The shell keeps the last assignment of each.
        let assignments = keys.map { key in config.assignments.last { $0.key == key } }
        if let tangled = assignments.compactMap({ $0 }).first(where: { !$0.isSimple }) {
            context.report(
                Finding(
                    rule: Self.id, code: "kernel-parameters.not-simple", severity: .warning,
                    message:
                        "\(tangled.key) uses shell quoting guestprep does not rewrite; add \(wanted.map(\.word).joined(separator: " ")) to GRUB_CMDLINE_LINUX by hand",
                    path: file.path.description, line: tangled.lineNumber))
            return false
        }
        let places = assignments.map { $0.map { config.words(of: $0) } ?? [] }
        let edit = KernelCommandLineEdit(places: places, wanted: wanted, why: why)
        guard !edit.isEmpty else { return false }
        for (place, assignment) in assignments.enumerated() {
            guard let assignment else { continue }
            // Right to left, so the ranges of the words before stay valid.
            for replacement in edit.replacements.filter({ $0.place == place }).sorted(by: {
                $0.field.range.lowerBound > $1.field.range.lowerBound
            }) {
                config.replace(replacement.field.range, inLine: assignment.index, with: replacement.with)
            }
        }
        if !edit.appended.isEmpty {
            let words = edit.appended.joined(separator: " ")
            if let assignment = config.assignments.last(where: { $0.key == keys[0] }) {
                if assignment.quote != nil {
                    let end = assignment.contentRange.upperBound
                    config.replace(end..<end, inLine: assignment.index, with: (assignment.value.isEmpty ? "" : " ") + words)
                } else {
                    // A bare word gains blanks: it needs quotes now.
                    let value = assignment.value.isEmpty ? words : assignment.value + " " + words
                    config.replace(assignment.contentRange, inLine: assignment.index, with: "\"\(value)\"")
                }
            } else {
                config.append(Array("GRUB_CMDLINE_LINUX=\"\(words)\"".utf8))
            }
        }
        try context.propose(
            file.path, contents: config.bytes, rule: Self.id, reasons: edit.reasons.map { "GRUB_CMDLINE_LINUX: \($0)" },
            validators: [KernelParametersValidator(wanted: wanted, place: .defaultGrub)])
        return true
    }

    /// grub.cfg is generated from /etc/default/grub; the kernel sees only what grub.cfg says.
    /// The same command as boot-config's (GrubRegeneration), so it is planned once for both.
    private func planRegeneration(in context: RuleContext) throws {
        guard let argv = try GrubRegeneration.command(in: context) else {
            let config = try GrubRegeneration.configFiles.first { try context.read($0) != nil } ?? GrubRegeneration.configFiles[0]
            let command = context.facts.family == .debian ? "update-grub" : "grub2-mkconfig -o \(config)"
            context.report(
                Finding(
                    rule: Self.id, code: "kernel-parameters.regenerate", severity: .warning,
                    message:
                        "no update-grub, grub2-mkconfig or grub-mkconfig in the guest (or no grub.cfg for it to write), so grub.cfg is not regenerated and the kernel will not see the new GRUB_CMDLINE_LINUX; after apply, run `\(command)` in the guest",
                    path: KernelCommandLine.defaultGrub.description))
            return
        }
        context.proposeCommand(
            CommandStep(
                argv: argv, effect: "regenerate grub.cfg from /etc/default/grub so the kernel gets the destination's parameters",
                undo: nil, manualUndo: "after rolling back /etc/default/grub, run \(argv.joined(separator: " ")) again in the guest"),
            rule: Self.id, reasons: ["grub.cfg is generated from /etc/default/grub; the kernel reads only grub.cfg"])
    }

    // MARK: Boot Loader Specification entries

    struct BLSEntry {
        var path: GuestPath
        var line: Int?
        var words: [String]
    }

    /// Each entry's options, with `$kernelopts` (RHEL 8 keeps the shared options in grubenv)
    /// expanded as GRUB and grubby expand it.
    private func blsEntries(_ context: RuleContext) throws -> [BLSEntry] {
        var kernelopts: [String]?
        var entries: [BLSEntry] = []
        for name in try context.listDirectory(KernelCommandLine.blsEntries) where name.hasSuffix(".conf") {
            let path = KernelCommandLine.blsEntries.appending(name)
            guard let file = try context.read(path) else { continue }
            var entry = BLSEntry(path: path, line: nil, words: [])
            for (index, line) in TextLines.split(file.contents).enumerated() {
                let fields = line.fields().map(\.text)
                guard fields.first == "options" else { continue }
                entry.line = index + 1
                for word in fields.dropFirst() {
                    if word == "$kernelopts" {
                        if kernelopts == nil { kernelopts = try grubenvKernelopts(context) }
                        entry.words += kernelopts ?? []
                    } else {
                        entry.words.append(word)
                    }
                }
            }
            entries.append(entry)
        }
        return entries
    }

    private func grubenvKernelopts(_ context: RuleContext) throws -> [String] {
        guard let env = try context.read(Self.grubenv) else { return [] }
        for line in TextLines.split(env.contents) where line.text.hasPrefix("kernelopts=") {
            return line.text.dropFirst("kernelopts=".count).split(separator: " ").map(String.init)
        }
        return []
    }

    /// grubby edits every entry (and RHEL 8's grubenv kernelopts). It drops every word with the
    /// key of a parameter it adds (grubby-bls update_args), so a repeatable one takes the
    /// entries' other words of its key along, to keep console=tty0 beside console=ttyS0.
    private func planGrubby(
        _ entries: [BLSEntry], _ wanted: [KernelParameter], why: (KernelParameter) -> String, in context: RuleContext
    ) throws {
        let missing = wanted.filter { parameter in entries.contains { KernelCommandLineEdit.unmet([parameter], in: $0.words) != nil } }
        guard !missing.isEmpty else { return }
        let keys = Set(missing.map(\.key))
        var args: [String] = []
        for parameter in missing {
            if parameter.isRepeatable {
                for entry in entries {
                    for word in entry.words
                    where KernelParameter(word: word).key == parameter.key && !parameter.replaces(word) && word != parameter.word
                        && !args.contains(word) && !missing.contains(where: { $0.word == word })
                    {
                        args.append(word)
                    }
                }
            }
            args.append(parameter.word)
        }
        let original = entries.first.map { $0.words.filter { keys.contains(KernelParameter(word: $0).key) } } ?? []
        let added = args.filter { !original.contains($0) }
        let reasons = missing.map { "\($0.word) in every boot entry: \(why($0))" }
        guard try Self.grubby.contains(where: { try KernelPrune.isExecutable($0, in: context) }) else {
            context.report(
                Finding(
                    rule: Self.id, code: "kernel-parameters.grubby-missing", severity: .warning,
                    message:
                        "the guest boots from Boot Loader Specification entries and has no grubby to edit them; after apply, run `grubby --update-kernel=ALL --args=\"\(args.joined(separator: " "))\"` in the guest, or add \(missing.map(\.word).joined(separator: " ")) to each entry's options line",
                    path: entries[0].path.description, line: entries[0].line))
            return
        }
        // The undo puts the entries back when they all agreed on the words of these keys:
        // remove what was added, and give back the words grubby dropped (the same order, at the end).
        let agree = entries.allSatisfy { $0.words.filter { keys.contains(KernelParameter(word: $0).key) } == original }
        let undo: [String]? =
            agree
            ? ["grubby", "--update-kernel=ALL", "--remove-args=\(added.joined(separator: " "))"]
                + (original.isEmpty ? [] : ["--args=\(original.joined(separator: " "))"]) : nil
        context.proposeCommand(
            CommandStep(
                argv: ["grubby", "--update-kernel=ALL", "--args=\(args.joined(separator: " "))"],
                effect: "add \(missing.map(\.word).joined(separator: " ")) to the options of every boot entry", undo: undo,
                manualUndo: undo == nil
                    ? "the boot entries disagreed on \(keys.sorted().joined(separator: ", ")); restore each entry's options line by hand: "
                        + entries.map { "\($0.path): \($0.words.joined(separator: " "))" }.joined(separator: "; ") : nil),
            rule: Self.id, reasons: reasons)
    }

    // MARK: /etc/kernel/cmdline

    /// kernel-install(8) reads the whole file as the command line of the entries it makes.
    private func editKernelCmdline(
        _ file: GuestFile, _ wanted: [KernelParameter], why: (KernelParameter) -> String, in context: RuleContext
    ) throws {
        var lines = TextLines.split(file.contents)
        let edit = KernelCommandLineEdit(places: lines.map { $0.fields() }, wanted: wanted, why: why)
        guard !edit.isEmpty else { return }
        for index in lines.indices {
            lines[index] = KernelCommandLineEdit.apply(edit.replacements.filter { $0.place == index }, to: lines[index])
        }
        if !edit.appended.isEmpty {
            let words = edit.appended.joined(separator: " ")
            if let index = lines.lastIndex(where: { !$0.fields().isEmpty }), let end = lines[index].fields().last?.range.upperBound {
                lines[index] = lines[index].replacing(end..<end, with: Array((" " + words).utf8))
            } else if lines.isEmpty {
                lines = [TextLine(content: Array(words.utf8), terminator: [UInt8(ascii: "\n")])]
            } else {
                lines[0] = lines[0].replacing(0..<0, with: Array(words.utf8))
            }
        }
        try context.propose(
            file.path, contents: TextLines.join(lines), rule: Self.id, reasons: edit.reasons,
            validators: [KernelParametersValidator(wanted: wanted, place: .kernelCmdline)])
    }
}

/// The written file, read again, gives the kernel every wanted parameter (single-valued ones as
/// the last word of their key).
struct KernelParametersValidator: ChangeValidator {
    enum Place: Sendable {
        case defaultGrub, kernelCmdline
    }

    let wanted: [KernelParameter]
    let place: Place

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        var words: [String] = []
        switch place {
        case .defaultGrub:
            let config = ShellAssignmentsFile(bytes: proposed)
            for key in ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"] {
                guard let assignment = config.assignments.last(where: { $0.key == key }) else { continue }
                words += config.words(of: assignment).map(\.text)
            }
        case .kernelCmdline:
            words = TextLines.split(proposed).flatMap { $0.fields().map(\.text) }
        }
        if let unmet = KernelCommandLineEdit.unmet(wanted, in: words) {
            throw GuestprepError(.validation, "the kernel command line read back does not end up with \(unmet.word)", path: path)
        }
    }
}
