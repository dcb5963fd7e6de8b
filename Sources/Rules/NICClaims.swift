import GuestFS
import GuestprepCore
import LinkProbe
import Network

/// One statement that the NIC with `mac` is called `name`, and where it was made: live facts, a
/// configuration file, an existing udev rule or `.link` file, or the admin's `--nic`.
struct NICClaim: Sendable, Hashable {
    var name: String
    var mac: MACAddress
    /// In words for findings: "HWADDR in /etc/sysconfig/network-scripts/ifcfg-eth0:3".
    var origin: String
}

/// Every claim about NIC names and MACs the guest and the admin make, and the names to pin.
struct NICInventory {
    var claims: [NICClaim] = []
    /// Interface names to pin, in the order first seen.
    var names: [String] = []
    var configs: [InterfaceConfig] = []
    /// `.link` files that give a MAC a name with no `NamePolicy=` to override it (systemd.link(5)).
    var linkPins: [(mac: MACAddress, name: String, path: GuestPath)] = []

    /// The six dialects, in `NetworkStack` order.
    static let dialects: [any NetworkConfigDialect] = [
        IfupdownDialect(), NetplanDialect(), NetworkManagerKeyfiles(), IfcfgRHELDialect(), IfcfgSUSEDialect(), SystemdNetworkd(),
    ]
    static let udevRulesDirectory: GuestPath = "/etc/udev/rules.d"
    /// systemd.link(5): /etc overrides /run and /usr/lib; all of them name NICs.
    static let linkDirectories: [GuestPath] = [
        "/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network", "/usr/lib/systemd/network",
        "/lib/systemd/network",
    ]

    mutating func add(_ name: String) {
        if !names.contains(name) { names.append(name) }
    }

    /// Gathers claims from everything guestprep can read; unmatched hints and unreadable sources
    /// become findings, handed to `report` (a rule that only consults the inventory drops them).
    static func gather(in context: RuleContext, rule: String, report: (Finding) -> Void) throws -> NICInventory {
        var inventory = NICInventory()
        for dialect in dialects {
            inventory.configs +=
                try readable("the \(dialect.stack.rawValue) configuration", rule: rule, report: report) {
                    try dialect.isPresent(in: context) ? try dialect.interfaces(in: context) : []
                } ?? []
        }
        if let live = context.network.liveLinks {
            // A bond's ports are physical links and are pinned by their own permanent MAC;
            // the bond, bridges and VLANs carry borrowed MACs and are left alone.
            for link in live where link.kind == .physical {
                inventory.add(link.name)
                if let mac = link.identifyingMAC {
                    inventory.claims.append(NICClaim(name: link.name, mac: mac, origin: "the running system's link \(link.name)"))
                }
            }
        }
        for config in inventory.configs where config.kind == .ethernet {
            guard let name = config.name else { continue }
            if context.network.liveLinks == nil {
                inventory.add(name.value)
            }
            if let mac = config.mac {
                inventory.claims.append(
                    NICClaim(name: name.value, mac: mac.value, origin: "the \(config.stack.rawValue) configuration at \(mac.location)"))
            }
        }
        for name in try readable("\(udevRulesDirectory)", rule: rule, report: report, { try context.listDirectory(udevRulesDirectory) })
            ?? []
        where name.hasSuffix(".rules") {
            let path = udevRulesDirectory.appending(name)
            guard let file = try context.read(path) else { continue }
            for rule in UdevRulesFile(bytes: file.contents).namingRules {
                guard let mac = rule.matchedMAC, let assigned = rule.assignedName else { continue }
                if context.network.liveLinks == nil { inventory.add(assigned) }
                inventory.claims.append(NICClaim(name: assigned, mac: mac, origin: "the udev rule at \(path):\(rule.lineNumber)"))
            }
        }
        var seenLinks: Set<String> = []
        for directory in linkDirectories {
            let names = try readable("\(directory)", rule: rule, report: report) { try context.listDirectory(directory) } ?? []
            for name in names where name.hasSuffix(".link") && seenLinks.insert(name).inserted {
                let path = directory.appending(name)
                guard let file = try context.read(path), !file.contents.isEmpty else { continue }
                let naming = LinkFile(bytes: file.contents).naming
                guard let assigned = naming.name else { continue }
                if naming.namePolicy.isEmpty {
                    for mac in naming.macAddresses { inventory.linkPins.append((mac, assigned, path)) }
                }
                for mac in naming.macAddresses + naming.permanentMACAddresses {
                    if context.network.liveLinks == nil { inventory.add(assigned) }
                    inventory.claims.append(
                        NICClaim(name: assigned, mac: mac, origin: "the .link file \(path):\(naming.matchLine ?? 1)"))
                }
            }
        }
        let leases =
            context.network.hints.contains { if case .address = $0 { true } else { false } }
            ? try LeaseReader.scan(context).leases : []
        for match in NICHintMatch.resolve(context.network.hints, against: inventory.configs, leases: leases) {
            guard let name = match.interface else {
                report(
                    Finding(
                        rule: rule, code: "nic.hint-unmatched", severity: .warning,
                        message:
                            "--nic \(match.hint) matches no Ethernet interface (no configuration or DHCP lease of one holds that address; a bond, bridge or VLAN holding it does not count, pin its ports by NAME=MAC); it is ignored"
                    ))
                continue
            }
            if context.network.liveLinks == nil { inventory.add(name) }
            let evidence = match.evidence.map { " (matched at \($0))" } ?? ""
            inventory.claims.append(NICClaim(name: name, mac: match.hint.mac, origin: "--nic \(match.hint)\(evidence)"))
        }
        return inventory
    }

    /// Reads one source of claims. One guestprep cannot read (an entry named in another
    /// encoding, say) is a warning and the other sources are still read: the pins that can be
    /// planned still are, and the conflict check says what it could not see.
    static func readable<T>(_ what: String, rule: String, report: (Finding) -> Void, _ body: () throws -> T) throws -> T? {
        do {
            return try body()
        } catch let error as GuestprepError {
            report(
                Finding(
                    rule: rule, code: "nic.config-unreadable", severity: .warning,
                    message:
                        "\(what) could not be read, so NIC names and MACs it may hold are not checked for conflicts: \(error.message)",
                    path: error.path, line: error.line))
            return nil
        }
    }

    /// The outcome of checking the claims against each other.
    struct Resolution {
        /// Name → MAC for every NIC that can be pinned, in `names` order.
        var pins: [(name: String, mac: MACAddress)] = []
        /// Names left alone because of a conflict (a blocker names each).
        var refused: Set<String> = []
    }

    /// One MAC with two names, or one name with two MACs, is a blocker: either pin would rename
    /// a NIC the guest's other configuration expects under its other name.
    func resolve(in context: RuleContext, rule: String, report: (Finding) -> Void) -> Resolution {
        var namesByMAC: [MACAddress: [String]] = [:]
        var macsByName: [String: [MACAddress]] = [:]
        for claim in claims {
            if !namesByMAC[claim.mac, default: []].contains(claim.name) { namesByMAC[claim.mac, default: []].append(claim.name) }
            if !macsByName[claim.name, default: []].contains(claim.mac) { macsByName[claim.name, default: []].append(claim.mac) }
        }
        var resolution = Resolution()
        func origins(_ matches: (NICClaim) -> Bool) -> String {
            var seen: [String] = []
            for claim in claims where matches(claim) {
                let text = "\(claim.name)=\(claim.mac) from \(claim.origin)"
                if !seen.contains(text) { seen.append(text) }
            }
            return seen.joined(separator: "; ")
        }
        for (mac, claimed) in namesByMAC.sorted(by: { $0.key < $1.key }) where claimed.count > 1 {
            resolution.refused.formUnion(claimed)
            report(
                Finding(
                    rule: rule, code: "nic.mac-conflict", severity: .blocker,
                    message:
                        "MAC \(mac) is given two names (\(claimed.joined(separator: ", "))): \(origins { $0.mac == mac }); nothing pinned for them: make the configuration agree, or pass --nic NAME=MAC for the right one and fix the other"
                ))
        }
        for (name, macs) in macsByName.sorted(by: { $0.key < $1.key }) where macs.count > 1 {
            resolution.refused.insert(name)
            for mac in macs { resolution.refused.formUnion(namesByMAC[mac] ?? []) }
            report(
                Finding(
                    rule: rule, code: "nic.name-conflict", severity: .blocker,
                    message:
                        "interface \(name) is given two MACs (\(macs.map(\.description).joined(separator: ", "))): \(origins { $0.name == name }); nothing pinned for it: make the configuration agree, or pass --nic \(name)=MAC"
                ))
        }
        for name in names where !resolution.refused.contains(name) {
            guard let mac = macsByName[name]?.first else {
                let offline = context.network.liveLinks == nil
                report(
                    Finding(
                        rule: rule, code: "nic.no-mac", severity: .warning,
                        message: offline
                            ? "no MAC is known for interface \(name) (its configuration names none, nor does any udev rule or .link file), so its name is not pinned and may change on the destination: pass --nic \(name)=MAC with the MAC it had on the source"
                            : "the running system reports no MAC for \(name), so its name is not pinned"))
                continue
            }
            resolution.pins.append((name, mac))
        }
        return resolution
    }
}
