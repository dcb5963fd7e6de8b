import Network

/// Merges MAC pins into `70-persistent-net.rules` (udev(7)), touching only the rules it must.
enum PersistentNetRules {
    /// What a merge did, line by line for the change's reasons.
    struct Merge {
        var bytes: [UInt8]
        var reasons: [String] = []
    }

    static let header = "# Written by guestprep: NIC names pinned to MACs, so they survive a move to other virtual hardware.\n"

    /// Keys that tie a naming rule to a bus position rather than to the NIC: `KERNELS=="0000:00:03.0"`,
    /// a PCI path in `DEVPATH`, `ENV{ID_PATH}` (set by the path_id builtin). They name the wrong
    /// NIC, or none, once the NIC sits in another slot.
    static func isPositional(_ rule: UdevRule) -> Bool {
        rule.matches.contains { token in
            token.operator == .equal
                && (token.key == "KERNELS" || token.key == "KERNEL" && token.value.contains(":")
                    || token.key == "DEVPATH" || token.key == "ENV" && token.attribute == "ID_PATH"
                    || token.key == "ENV" && token.attribute == "ID_PATH_TAG")
        }
    }

    /// A rule that already says `mac` → `name` in the form udev matches: udev compares
    /// `ATTR{address}` as a string against sysfs, which prints lower case, so an upper-case MAC
    /// in a rule never matches.
    static func isValidPin(_ rule: UdevRule, mac: MACAddress, name: String) -> Bool {
        rule.assignedName == name && rule.match("ATTR", attribute: "address")?.value == mac.description
    }

    /// Rewrites positional or upper-case pins of the NICs in `pins` to the MAC form, drops
    /// duplicate pins, and appends a pin for every NIC that has none. Other lines stay byte-identical.
    static func merge(_ original: [UInt8]?, pins: [(name: String, mac: MACAddress)]) -> Merge {
        var file = UdevRulesFile(bytes: original ?? Array(header.utf8))
        var reasons: [String] = []
        for pin in pins {
            let line = UdevRulesFile.pinLine(mac: pin.mac, name: pin.name)
            var pinned = false
            var position = 0
            // Rules are found again after each edit: replacing or removing one renumbers those after it.
            while let rule = file.namingRules.first(where: { $0.index >= position }) {
                position = rule.index + 1
                let sameNIC = rule.assignedName == pin.name && (rule.matchedMAC == pin.mac || isPositional(rule) && rule.matchedMAC == nil)
                guard sameNIC else { continue }
                if pinned {
                    reasons.append("line \(rule.lineNumber): removed, a second pin of \(pin.name) to \(pin.mac)")
                    file.removeRule(at: rule.index)
                    position = rule.index
                } else if isValidPin(rule, mac: pin.mac, name: pin.name) {
                    pinned = true
                } else {
                    reasons.append(
                        "line \(rule.lineNumber): \(pin.name) named by \(rule.matchedMAC == nil ? "bus position" : "an upper-case MAC udev never matches") → by MAC \(pin.mac)"
                    )
                    file.replaceRule(at: rule.index, with: line)
                    pinned = true
                }
            }
            if !pinned {
                file.append(line)
                reasons.append("pin \(pin.name) to MAC \(pin.mac)")
            }
        }
        return Merge(bytes: file.bytes, reasons: reasons)
    }

    /// Removes every rule that names a NIC by MAC (`destination-keeps-macs: false`).
    static func unpin(_ original: [UInt8]) -> Merge {
        var file = UdevRulesFile(bytes: original)
        var reasons: [String] = []
        while let rule = file.namingRules.first(where: { $0.match("ATTR", attribute: "address") != nil }) {
            reasons.append(
                "line \(rule.lineNumber): removed the pin of \(rule.assignedName ?? "?") to MAC \(rule.match("ATTR", attribute: "address")?.value ?? "?")"
            )
            file.removeRule(at: rule.index)
        }
        return Merge(bytes: file.bytes, reasons: reasons)
    }
}
