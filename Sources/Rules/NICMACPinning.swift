import GuestFS
import GuestprepCore
import Network

/// Pins every physical NIC's name to its MAC (a udev rule, a systemd `.link` file and the
/// governing network configuration), so names survive the move to other virtual hardware.
public struct NICMACPinning: Rule {
    public static let id = "nic-mac-pinning"
    public static let summary =
        "Pin each physical NIC's name to its MAC (udev rule, .link file, its network config) so names survive migration"
    public static let parameterNames = ["destination-keeps-macs"]

    static let rulesFile: GuestPath = "/etc/udev/rules.d/70-persistent-net.rules"
    static let linkDirectory: GuestPath = "/etc/systemd/network"
    /// Sorts before the distribution's links (73-usb-net-by-mac.link, 99-default.link): only the
    /// first `.link` that matches a device applies (systemd.link(5)).
    static func linkPath(_ name: String) -> GuestPath { linkDirectory.appending("10-guestprep-\(name).link") }

    /// False when the destination gives the NICs new MACs: pins by MAC would then match nothing.
    /// Nil: as the playbook's destination says, else true.
    let destinationKeepsMACs: Bool?

    public init(parameters: RuleParameters) throws {
        destinationKeepsMACs =
            parameters.values["destination-keeps-macs"] == nil
            ? nil : try parameters.choice("destination-keeps-macs", allowed: ["true", "false"], default: "true") == "true"
    }

    public init(destinationKeepsMACs: Bool? = true) {
        self.destinationKeepsMACs = destinationKeepsMACs
    }

    public func evaluate(in context: RuleContext) throws {
        if destinationKeepsMACs ?? context.destination?.keepsMACs ?? true {
            try pin(in: context)
        } else {
            try NICMACUnpinning.evaluate(in: context, rule: Self.id)
        }
    }

    // MARK: Pinning

    private func pin(in context: RuleContext) throws {
        let inventory = try NICInventory.gather(in: context, rule: Self.id, report: context.report)
        let pins = inventory.resolve(in: context, rule: Self.id, report: context.report).pins
        guard !pins.isEmpty else { return }
        var changed = false

        // udev(7): the rule names the NIC where udev runs without systemd's link setup, and on
        // older systemd where a rules-file NAME= still wins.
        let original = try context.read(Self.rulesFile)
        let merge = PersistentNetRules.merge(original?.contents, pins: pins)
        if original?.contents != merge.bytes {
            changed = true
            try context.propose(
                Self.rulesFile, contents: merge.bytes, rule: Self.id, reasons: merge.reasons,
                validators: [NICPinValidator(expected: pins, format: .udevRules)], metadata: .newConfigFile)
        }

        // systemd.link(5): on systemd-udev distributions (RHEL 9+, current Debian and SUSE) the
        // predictable name from 99-default.link's NamePolicy= is applied by net_setup_link, and a
        // bare NAME= in a rules file is not enough; a .link with Name= is what keeps the name.
        // A .link of the admin's that already gives this MAC this name is kept, and not doubled.
        for pin in pins
        where !inventory.linkPins.contains(where: { $0.mac == pin.mac && $0.name == pin.name && $0.path != Self.linkPath(pin.name) }) {
            let path = Self.linkPath(pin.name)
            let contents = LinkFile.render(mac: pin.mac, name: pin.name)
            guard try context.read(path)?.contents != contents else { continue }
            changed = true
            try context.propose(
                path, contents: contents, rule: Self.id, reasons: ["name the NIC with MAC \(pin.mac) \(pin.name), whatever its slot"],
                validators: [NICPinValidator(expected: [pin], format: .linkFile)])
        }
        context.addSetValidator(NICPinAgreement())

        let kernelNames = pins.map(\.name).filter(KernelCommandLine.isKernelName)
        if !kernelNames.isEmpty, try !KernelCommandLine.sets("net.ifnames=0", in: context) {
            context.report(
                Finding(
                    rule: Self.id, code: "nic.eth-namespace", severity: .warning,
                    message:
                        "\(kernelNames.joined(separator: ", ")) \(kernelNames.count == 1 ? "is a name" : "are names") the kernel itself gives NICs, and the kernel command line lacks net.ifnames=0: at boot a rename to \(kernelNames[0]) can race the kernel's own \(kernelNames[0]) and fail; add net.ifnames=0 to GRUB_CMDLINE_LINUX (or /etc/kernel/cmdline) and regenerate the boot configuration"
                ))
        }

        try pinConfigurations(pins, inventory: inventory, in: context)

        if changed {
            try InitramfsRegeneration.plan(
                in: context, rule: Self.id, why: "gives the NICs the same names as the pinned udev rules and .link files")
        }
    }

    /// Pins the NIC in the configuration that governs it at boot (HWADDR=, `match: macaddress`,
    /// `mac-address=`, …), so the configuration follows the NIC and not only the name.
    private func pinConfigurations(
        _ pins: [(name: String, mac: MACAddress)], inventory: NICInventory, in context: RuleContext
    ) throws {
        let managed = NetworkManagement.resolve(NICNameBinding(pins: pins).bind(inventory.configs), facts: context.facts)
        for pin in pins {
            guard let interface = managed.first(where: { $0.name == pin.name }),
                let governing = interface.governing.first(where: { $0.kind == .ethernet }),
                let dialect = NICInventory.dialects.first(where: { $0.stack == interface.manager })
            else { continue }
            let edits: [FileEdit]
            do {
                edits = try dialect.pin(governing, to: pin.mac, in: context)
            } catch let error as GuestprepError {
                context.report(
                    Finding(
                        rule: Self.id, code: "nic.config-not-pinned", severity: .warning,
                        message:
                            "the \(interface.manager.rawValue) configuration of \(pin.name) could not be tied to MAC \(pin.mac): \(error.message); the udev rule and .link file still pin the name",
                        path: error.path, line: error.line))
                continue
            }
            let reason = "tie \(pin.name)'s \(interface.manager.rawValue) configuration to MAC \(pin.mac) (\(interface.reason))"
            for edit in edits {
                switch edit {
                case .write(let path, let bytes):
                    try context.propose(path, contents: bytes, rule: Self.id, reasons: [reason])
                case .renameAside(let path, let destination):
                    try context.proposeRenameAside(path, to: destination, rule: Self.id, reasons: [reason])
                }
            }
        }
    }
}
