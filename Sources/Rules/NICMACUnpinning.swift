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
        // The dialects have no "unpin" edit yet: report configurations still keyed to a MAC.
        for dialect in NICInventory.dialects {
            let configs = try NICInventory.readable("the \(dialect.stack.rawValue) configuration", rule: rule, report: context.report) {
                try dialect.isPresent(in: context) ? try dialect.interfaces(in: context) : []
            }
            for config in configs ?? [] {
                guard let mac = config.mac else { continue }
                context.report(
                    Finding(
                        rule: rule, code: "nic.config-mac-match", severity: .warning,
                        message:
                            "the \(config.stack.rawValue) configuration\(config.name.map { " of \($0.value)" } ?? "") matches MAC \(mac.value), which the destination will not have; remove the MAC match by hand",
                        path: mac.location.path.description, line: mac.location.line))
            }
        }
        if changed {
            try InitramfsRegeneration.plan(in: context, rule: rule, why: "no longer applies the removed MAC pins")
        }
    }
}
