import GuestFS
import GuestprepCore

/// Regenerating grub.cfg from /etc/default/grub inside the guest, so an edited kernel command
/// line reaches the kernel (grub.cfg is generated; editing it by hand is undone by the next run).
enum GrubRegeneration {
    /// Per tool, in the order tried: where it lives and the command. Debian's update-grub wraps
    /// grub-mkconfig -o /boot/grub/grub.cfg; RHEL and SUSE name it grub2-mkconfig (grub2-mkconfig(8)),
    /// Arch grub-mkconfig; both need the output path, the grub.cfg the guest has.
    static let tools: [(paths: [GuestPath], argv: [String], needsOutput: Bool)] = [
        (["/usr/sbin/update-grub", "/sbin/update-grub"], ["update-grub"], false),
        (["/usr/sbin/grub2-mkconfig", "/sbin/grub2-mkconfig"], ["grub2-mkconfig", "-o"], true),
        (["/usr/sbin/grub-mkconfig", "/sbin/grub-mkconfig", "/usr/bin/grub-mkconfig"], ["grub-mkconfig", "-o"], true),
    ]
    static let configFiles: [GuestPath] = ["/boot/grub2/grub.cfg", "/boot/grub/grub.cfg"]

    /// The command that regenerates this guest's grub.cfg, or nil when the guest has no such tool
    /// (or no grub.cfg for grub-mkconfig to write).
    static func command(in context: RuleContext) throws -> [String]? {
        for tool in tools {
            var found = false
            for path in tool.paths {
                if let file = try context.read(path), file.metadata.mode & 0o111 != 0 {
                    found = true
                    break
                }
            }
            guard found else { continue }
            guard tool.needsOutput else { return tool.argv }
            for config in try efiConfigs(in: context) + configFiles where try context.read(config) != nil {
                return tool.argv + [config.description]
            }
        }
        return nil
    }

    /// A full grub.cfg on the EFI system partition (`/boot/efi/EFI/<vendor>/grub.cfg`): on UEFI
    /// RHEL 8, Fedora before 34 and older SUSE, that is the file GRUB reads, and writing
    /// /boot/grub2/grub.cfg would change nothing it boots with. Newer releases keep a stub there
    /// that only `configfile`s /boot/grub2/grub.cfg: a stub is skipped, so its target is written.
    static func efiConfigs(in context: RuleContext) throws -> [GuestPath] {
        let efi: GuestPath = "/boot/efi/EFI"
        var found: [GuestPath] = []
        for vendor in try context.listDirectory(efi) where vendor != "BOOT" {
            let config = efi.appending(vendor).appending("grub.cfg")
            guard let file = try context.read(config) else { continue }
            let isStub = TextLines.split(file.contents).contains { line in
                line.fields().first?.text == "configfile"
            }
            if !isStub { found.append(config) }
        }
        return found
    }

    /// Plans the regeneration when the guest has the tool; else reports what to run by hand.
    /// Returns whether it was planned.
    @discardableResult
    static func plan(in context: RuleContext, rule: String, why: String, reportMissing: Bool = true) throws -> Bool {
        guard let argv = try command(in: context) else {
            guard reportMissing else { return false }
            context.report(
                Finding(
                    rule: rule, code: "boot-config.regenerate", severity: .info,
                    message:
                        "no update-grub, grub2-mkconfig or grub-mkconfig in the guest (or no grub.cfg for it to write), so no regeneration is planned; if the guest boots with GRUB, run update-grub (or grub2-mkconfig -o /boot/grub2/grub.cfg) inside it so \(why)",
                    path: KernelCommandLine.defaultGrub.description))
            return false
        }
        context.proposeCommand(
            CommandStep(
                argv: argv, effect: "regenerate grub.cfg from /etc/default/grub so \(why)", undo: nil,
                manualUndo: "after rolling back /etc/default/grub, run \(argv.joined(separator: " ")) again in the guest"),
            rule: rule, reasons: ["grub.cfg is generated from /etc/default/grub; the kernel reads only grub.cfg"])
        return true
    }
}
