import GuestFS
import GuestFacts
import GuestprepCore

/// Rebuilding the guest's initramfs so early boot sees the files a rule changed (udev runs in
/// the initramfs and names NICs there first; a name given there sticks).
enum InitramfsRegeneration {
    /// Per builder: where the tool lives in the guest and how to rebuild every kernel's image.
    /// initramfs-tools copies 70-persistent-net.rules and /etc/systemd/network/*.link through its
    /// udev hook; dracut's udev-rules and systemd modules do the same.
    static let tools: [InitramfsSystem: (paths: [GuestPath], argv: [String])] = [
        .initramfsTools: (["/usr/sbin/update-initramfs", "/sbin/update-initramfs"], ["update-initramfs", "-u", "-k", "all"]),
        .dracut: (["/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"], ["dracut", "-f", "--regenerate-all"]),
    ]

    /// Plans the rebuild when the guest has its builder, else reports what to run by hand.
    /// `reason` says what the image carries a copy of; `code` names the finding when no builder is found.
    static func plan(
        in context: RuleContext, rule: String, why: String,
        reason: String = "the initramfs carries its own copy of the udev rules and .link files",
        code: String = "nic.initramfs-tool-missing"
    ) throws {
        let system = context.facts.profile.initramfs
        // An unrecognised distribution may still have one of the two common builders.
        let candidates = system == .unknown ? [.initramfsTools, .dracut] : [system]
        let known = candidates.compactMap { tools[$0] }
        guard !known.isEmpty else {
            context.report(
                Finding(
                    rule: rule, code: code, severity: .warning,
                    message:
                        "guestprep does not know how to rebuild this guest's initramfs (\(system.rawValue)); rebuild it inside the guest so early boot \(why)"
                ))
            return
        }
        var found: (paths: [GuestPath], argv: [String])?
        search: for tool in known {
            for path in tool.paths {
                if let file = try context.read(path), file.metadata.mode & 0o111 != 0 {
                    found = tool
                    break search
                }
            }
        }
        guard let tool = found else {
            let paths = known.flatMap(\.paths).map(\.description).joined(separator: ", ")
            let commands = known.map { $0.argv.joined(separator: " ") }.joined(separator: " or ")
            context.report(
                Finding(
                    rule: rule, code: code, severity: .info,
                    message:
                        "no initramfs builder in the guest (looked for \(paths)), so no rebuild is planned; if the guest boots from an initramfs, run \(commands) inside it so early boot \(why)"
                ))
            return
        }
        // The images there now are saved before the rebuild, so rollback puts them back as they were.
        let images = context.facts.kernels.initramfsImages
        context.proposeCommand(
            CommandStep(
                argv: tool.argv, effect: "rebuild the initramfs of every kernel so early boot \(why)", undo: nil,
                manualUndo: images.isEmpty
                    ? "after rolling back the files, run \(tool.argv.joined(separator: " ")) again in the guest to rebuild the images without them"
                    : nil,
                rewrites: images), rule: rule, reasons: [reason])
    }
}
