import GuestFS
import GuestprepCore
import Network

/// `destination-keeps-macs: false`: the destination gives the NICs new MACs, so every pin by MAC
/// would match nothing there, and a configuration keyed to the old MAC would not come up.
enum NICMACUnpinning {
    static let why = "the destination gives the NICs new MACs (destination-keeps-macs: false), so a pin by MAC would match nothing there"

    static func evaluate(in context: RuleContext, rule: String) throws {
        context.report(
            Finding(
                rule: rule, code: "nic.names-follow-hardware", severity: .warning,
                message:
                    "destination-keeps-macs is false: NIC names are not pinned, and on the destination they are decided by its hardware (bus, slot, firmware index); check that the network configuration matches by those names"
            ))
        // Read before the pins below are removed: they still say which name each MAC has.
        let inventory = try NICInventory.gather(in: context, rule: rule, report: context.report)
        let pins = inventory.resolve(in: context, rule: rule, report: { _ in }).pins
        var changed = false
        let rulesFiles = try NICInventory.readable("\(NICInventory.udevRulesDirectory)", rule: rule, report: context.report) {
            try context.listDirectory(NICInventory.udevRulesDirectory)
        }
        for name in rulesFiles ?? [] where name.hasSuffix(".rules") {
            let path = NICInventory.udevRulesDirectory.appending(name)
            guard let file = try context.read(path) else { continue }
            let merge = PersistentNetRules.unpin(file.contents)
            guard !merge.reasons.isEmpty else { continue }
            changed = true
            try context.propose(path, contents: merge.bytes, rule: rule, reasons: merge.reasons.map { "\($0): \(why)" })
        }
        let directory = NICMACPinning.linkDirectory
        let linkFiles = try NICInventory.readable("\(directory)", rule: rule, report: context.report) {
            try context.listDirectory(directory)
        }
        for name in linkFiles ?? [] where name.hasSuffix(".link") {
            let path = directory.appending(name)
            guard let file = try context.read(path) else { continue }
            let link = LinkFile(bytes: file.contents)
            let naming = link.naming
            guard let assigned = naming.name, !(naming.macAddresses + naming.permanentMACAddresses).isEmpty else { continue }
            // A .link that only names a NIC by MAC goes; one that also sets other things (MTU,
            // offloads, WakeOnLan) is the admin's and is only reported.
            let namingOnly = link.ini.entries.allSatisfy { entry in
                entry.section == "Match" && ["MACAddress", "PermanentMACAddress", "Type"].contains(entry.key)
                    || entry.section == "Link" && entry.key == "Name"
            }
            guard namingOnly else {
                context.report(
                    Finding(
                        rule: rule, code: "nic.link-kept", severity: .warning,
                        message:
                            "\(path) names the NIC with MAC \((naming.macAddresses + naming.permanentMACAddresses).map(\.description).joined(separator: ", ")) \(assigned) but sets more than the name, so it is left alone; it will match nothing on the destination: remove its MAC match by hand",
                        path: path.description, line: naming.matchLine))
                continue
            }
            changed = true
            try context.proposeDeletion(path, rule: rule, reasons: ["names \(assigned) by MAC: \(why)"])
        }
        // Configurations keyed to a MAC would not come up on the new NIC, and one that sets the
        // MAC would put the old one on it: each is matched by its name instead, in every dialect
        // that mentions it (a migration tool may read any of them).
        for config in NICNameBinding(pins: pins).bind(inventory.configs) {
            guard let mac = config.mac else { continue }
            let label = "the \(config.stack.rawValue) configuration\(config.name.map { " of \($0.value)" } ?? "")"
            guard config.kind == .ethernet else {
                context.report(
                    Finding(
                        rule: rule, code: "nic.config-mac-match", severity: .warning,
                        message:
                            "\(label), a \(config.kind.rawValue), uses MAC \(mac.value), which the destination will not have; guestprep changes only physical NICs' configurations: check it by hand",
                        path: mac.location.path.description, line: mac.location.line))
                continue
            }
            let edits: [FileEdit]
            do {
                edits = try NetworkDialects.dialect(for: config.stack).unpin(config, in: context)
            } catch let error as GuestprepError where error.code == .refused {
                context.report(
                    Finding(
                        rule: rule, code: "nic.config-mac-match", severity: .warning,
                        message:
                            "\(label) matches MAC \(mac.value), which the destination will not have, and is left as it is: \(error.message); pass --nic NAME=MAC so guestprep can match it by name, or edit it by hand",
                        path: mac.location.path.description, line: mac.location.line))
                continue
            }
            for edit in edits {
                let reason = "\(label): MAC \(mac.value) removed, matched by name instead: \(why)"
                switch edit {
                case .write(let path, let bytes):
                    try context.propose(path, contents: bytes, rule: rule, reasons: [reason])
                case .renameAside(let path, let destination):
                    try context.proposeRenameAside(path, to: destination, rule: rule, reasons: [reason])
                }
            }
        }
        if changed {
            try InitramfsRegeneration.plan(in: context, rule: rule, why: "no longer applies the removed MAC pins")
        }
    }
}
