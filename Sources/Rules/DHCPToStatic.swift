import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Network

/// Gives every DHCP interface its current address statically, in every file of every dialect
/// that names it: the destination may have no DHCP server that knows the guest.
public struct DHCPToStatic: Rule {
    public static let id = "dhcp-to-static"
    public static let summary =
        "Write each DHCP interface's address (from --address, the running system or its newest lease) as static config"
    public static let parameterNames = ["network-map"]
    static let cloudInitFile: GuestPath = "/etc/cloud/cloud.cfg.d/99-guestprep-network.cfg"

    let networkMap: NetworkMap
    /// Seconds since the epoch, to tell an expired lease; tests fix it.
    let now: @Sendable () -> Int64

    public init(parameters: RuleParameters) throws {
        self.init(networkMap: try NetworkMap(parameters: parameters))
    }

    public init(networkMap: NetworkMap = NetworkMap(), now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.networkMap = networkMap
        self.now = now
    }

    /// One interface to convert: its name, settings and where they came from.
    struct Conversion {
        var name: String
        var manager: NetworkStack
        var managerReason: String
        var chosen: ChosenSettings
        var mac: MACAddress?
        /// The governing config is static already: only the DHCP twins other dialects keep are rewritten.
        var onlyTwins = false
        /// How configurations matching by MAC or pattern were tied to names, for reading them again.
        var binding = NICNameBinding()
    }

    public func evaluate(in context: RuleContext) throws {
        let files = ReadableNames(context)
        defer { reportUnreadable(files, in: context) }
        let leases = LeaseReader.newest(try LeaseReader.scan(files).leases)
        // The NIC inventory names the NICs that configurations match by MAC or pattern, and says
        // which names or MACs conflict; nic-mac-pinning reports its findings, so they are dropped here.
        let inventory = try NICInventory.gather(in: context, rule: Self.id, report: { _ in })
        let resolution = inventory.resolve(in: context, rule: Self.id, report: { _ in })
        let binding = NICNameBinding(
            pins: resolution.pins,
            knownNames: inventory.names + context.network.staticAddresses.keys.sorted()
                + (context.isLive ? [] : leases.compactMap(\.interface)))
        let configs = binding.bind(try NetworkDialects.configs(in: files))
        reportUnbound(configs, in: context)
        let managed = NetworkManagement.resolve(configs, facts: context.facts)
        var conversions: [Conversion] = []
        for name in context.network.staticAddresses.keys.sorted() where !managed.contains(where: { $0.name == name }) {
            report(
                context, "dhcp.address-unused", .warning,
                "--address \(name)=… names no interface the guest's network configuration defines (by name, by a MAC guestprep knows for \(name), or by a networkd name pattern); it is not used",
                at: nil)
        }
        for interface in managed {
            guard let governing = interface.governing.first else { continue }
            guard governing.kind == .ethernet else {
                // A bond, bridge or VLAN holding a DHCP address loses it on a network without
                // that DHCP server, and converting them is not done yet: say so rather than "ready".
                if [.bond, .bridge, .vlan].contains(governing.kind),
                    let dhcp = interface.governing.compactMap(\.ipv4).first(where: { $0.value == .dhcp })
                {
                    report(
                        context, "dhcp.virtual-not-converted", .blocker,
                        "\(interface.name) is a \(governing.kind.rawValue) that uses DHCP; guestprep does not convert \(governing.kind.rawValue)s to static yet, so it may get no address on the destination: configure its address statically by hand",
                        at: dhcp.location)
                }
                continue
            }
            if let v6 = interface.governing.compactMap(\.ipv6).first(where: { $0.value == .auto || $0.value == .dhcp }) {
                report(
                    context, "dhcp.ipv6-auto", .info,
                    "\(interface.name): IPv6 is \(v6.value == .auto ? "SLAAC (router advertisements)" : "DHCPv6"); left as it is — the destination's routers decide it",
                    at: v6.location)
            }
            let mac = Self.mac(of: interface, pins: resolution.pins, in: context)
            let dhcp = interface.governing.compactMap(\.ipv4).first(where: { $0.value == .dhcp })
            if resolution.refused.contains(interface.name),
                dhcp != nil || (interface.governing + interface.bystanders).contains(where: { $0.ipv4?.value == .dhcp })
            {
                // Writing it would tie the configuration to one of two MACs, or name a NIC that
                // another file calls something else: the conflict must be settled first.
                report(
                    context, "dhcp.nic-conflict", .blocker,
                    "\(interface.name) uses DHCP, and the guest gives its NIC conflicting names or MACs (nic-mac-pinning says where); nothing is written for \(interface.name) until they agree (or pass --nic \(interface.name)=MAC)",
                    at: dhcp?.location)
                continue
            }
            guard let dhcp else {
                if var twins = Self.twinsOfStatic(interface, mac: mac) {
                    twins.binding = binding
                    conversions.append(twins)
                }
                continue
            }
            guard
                let chosen = try StaticSettingsSource.choose(
                    interface.name, in: context, leases: leases, now: now(), rule: Self.id, at: dhcp.location)
            else {
                report(
                    context, "dhcp.no-address", .blocker,
                    "\(interface.name) uses DHCP and guestprep knows no address for it (no lease in the guest\(context.isLive ? ", none on the running system" : "")); nothing is written for it. Give one: --address \(interface.name)=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2",
                    at: dhcp.location)
                continue
            }
            for address in chosen.settings.addresses {
                guard let entry = networkMap.misfit(address) else { continue }
                report(
                    context, "dhcp.network-map-mismatch", .warning,
                    "\(interface.name): \(address) is in \(entry.source), which network-map moves to \(entry.destination); the static address will not fit there — give the destination address with --address \(interface.name)=…",
                    at: dhcp.location)
            }
            conversions.append(
                Conversion(
                    name: interface.name, manager: interface.manager, managerReason: interface.reason, chosen: chosen, mac: mac,
                    binding: binding))
        }
        guard !conversions.isEmpty else { return }

        // Backups first, so the dialects below no longer see the ones NetworkManager would load.
        for backup in try NetworkBackups.find(mentioning: Set(conversions.map(\.name)), in: context, files: files) {
            try context.proposeRenameAside(backup.path, to: backup.destination, rule: Self.id, reasons: [backup.why])
            report(
                context, "dhcp.backup-moved", .info, "\(backup.path) moved aside to \(backup.destination): \(backup.why)", path: backup.path
            )
        }

        var converted = 0
        for conversion in conversions where try convert(conversion, in: context, files: files) { converted += 1 }

        if converted > 0 && context.facts.cloudInitManagesNetwork {
            let reason =
                "cloud-init manages networking here and would write its DHCP configuration again on the first boot on the destination"
            try context.propose(
                Self.cloudInitFile,
                contents: Array(
                    "# Written by guestprep (dhcp-to-static): the interfaces now have static configurations;\n# \(reason).\nnetwork: {config: disabled}\n"
                        .utf8),
                rule: Self.id, reasons: [reason], validators: [CloudInitDisabledValidator()])
            report(context, "dhcp.cloud-init", .info, "cloud-init's network configuration is disabled: \(reason)", path: Self.cloudInitFile)
        }
    }

    /// The MAC the NIC inventory settled on, else the configs', else the running system's link,
    /// else `--nic NAME=MAC`.
    static func mac(of interface: ManagedInterface, pins: [(name: String, mac: MACAddress)], in context: RuleContext) -> MACAddress? {
        if let pinned = pins.first(where: { $0.name == interface.name }) { return pinned.mac }
        let configured = (interface.governing + interface.bystanders).compactMap(\.mac).first?.value
        let live = context.network.liveLinks?.first { $0.name == interface.name }?.identifyingMAC
        let hinted = context.network.hints.lazy.compactMap { hint -> MACAddress? in
            if case .name(let name, let mac) = hint, name == interface.name { return mac }
            return nil
        }.first
        return configured ?? live ?? hinted
    }

    /// A static interface whose other dialects still say DHCP: a migration tool that reads such a
    /// file last would put DHCP back, so it gets the governing config's own static settings.
    static func twinsOfStatic(_ interface: ManagedInterface, mac: MACAddress?) -> Conversion? {
        guard let governing = interface.governing.first, governing.ipv4?.value == .static,
            governing.addresses.contains(where: { $0.value.address.family == .v4 }),
            interface.bystanders.contains(where: { $0.ipv4?.value == .dhcp })
        else { return nil }
        let settings = StaticSettings(
            addresses: governing.addresses.map(\.value), gateway4: governing.gateway4?.value, gateway6: governing.gateway6?.value,
            dnsServers: governing.dnsServers.map(\.value), searchDomains: governing.searchDomains.map(\.value), mtu: governing.mtu?.value)
        let location = governing.ipv4.map { " at \($0.location)" } ?? ""
        return Conversion(
            name: interface.name, manager: interface.manager, managerReason: interface.reason,
            chosen: ChosenSettings(settings: settings, source: "from \(governing.stack.rawValue)'s own static configuration\(location)"),
            mac: mac, onlyTwins: true)
    }

    /// Edits every configuration of the interface; proposes them only when every dialect could.
    private func convert(_ conversion: Conversion, in context: RuleContext, files: ReadableNames) throws -> Bool {
        let name = conversion.name
        var overlay = OverlayFiles(base: files)
        var written: [(path: GuestPath, stack: NetworkStack, governing: Bool)] = []
        var renamed: [(GuestPath, GuestPath, NetworkStack)] = []
        var index = 0
        // Bounds the loop should a dialect leave a twin saying DHCP after its edit.
        for _ in 0..<64 {
            // Read again after each edit: an earlier edit may have changed a file the next config shares.
            guard
                let interface = try NetworkDialects.managedInterfaces(in: overlay, facts: context.facts, binding: conversion.binding)
                    .first(where: { $0.name == name })
            else { break }
            // Twins drop out of the list once converted, so the next one is always first.
            let configs =
                conversion.onlyTwins ? interface.bystanders.filter { $0.ipv4?.value == .dhcp } : interface.governing + interface.bystanders
            let position = conversion.onlyTwins ? 0 : index
            guard position < configs.count else { break }
            let config = configs[position]
            index += 1
            let edits: [FileEdit]
            do {
                edits = try NetworkDialects.dialect(for: config.stack).setStatic(
                    config, conversion.chosen.settings, mac: conversion.mac, in: overlay)
            } catch let error as GuestprepError where error.code == .refused || error.code == .usage {
                report(
                    context, "dhcp.refused", .blocker,
                    "\(name): \(config.stack.rawValue) cannot be converted (\(error.message)); nothing is written for \(name), so no file says static while another still says DHCP",
                    path: GuestPath(error.path ?? config.files.first?.description ?? "/"), line: error.line)
                return false
            }
            for edit in edits {
                try overlay.apply(edit)
                switch edit {
                case .write(let path, _):
                    if !written.contains(where: { $0.path == path }) {
                        written.append((path, config.stack, config.stack == conversion.manager))
                    }
                case .renameAside(let from, let to): renamed.append((from, to, config.stack))
                }
            }
        }
        let settings = conversion.chosen.settings
        var summary = "\(name): DHCP → static \(settings.addresses.map(\.description).joined(separator: ", "))"
        if let gateway = settings.gateway4 { summary += " gw \(gateway)" }
        if !settings.dnsServers.isEmpty { summary += " dns \(settings.dnsServers.map(\.description).joined(separator: " "))" }
        if !settings.searchDomains.isEmpty { summary += " search \(settings.searchDomains.joined(separator: " "))" }
        if let mtu = settings.mtu { summary += " mtu \(mtu)" }
        if let mac = conversion.mac { summary += ", pinned to \(mac)" }
        summary += ", \(conversion.chosen.source)"
        for (from, to, stack) in renamed {
            try context.proposeRenameAside(
                from, to: to, rule: Self.id, reasons: ["\(name): \(stack.rawValue) moves this file aside while converting to static"])
        }
        let v4 = settings.addresses.filter { $0.address.family == .v4 }
        for file in written {
            guard let bytes = try overlay.read(file.path)?.contents else { continue }
            let role =
                file.governing
                ? "\(file.stack.rawValue) governs \(name) at boot (\(conversion.managerReason))"
                : "\(file.stack.rawValue) does not govern \(name) at boot, but a migration tool reading this file alone must see the same static configuration"
            // Files that configure no interface on their own (a networkd drop-in, ifcfg route files,
            // SUSE's ifroute-* and netconfig) are checked through the file that does.
            let isDropIn = file.path.parent.name.hasSuffix(".network.d")
            let isAuxiliary = (file.stack == .ifcfgRHEL || file.stack == .ifcfgSUSE) && !file.path.name.hasPrefix("ifcfg-")
            try context.propose(
                file.path, contents: bytes, rule: Self.id, reasons: [summary, role],
                validators: isDropIn || isAuxiliary
                    ? [] : [StaticInterfaceValidator(path: file.path, stack: file.stack, interface: name, addresses: v4)])
        }
        return !written.isEmpty
    }

    /// A DHCP configuration that matches by MAC or pattern and no NIC guestprep knows: whatever it
    /// serves stays on DHCP. Vendor defaults under /usr (networkd's container units) are not the admin's.
    private func reportUnbound(_ configs: [InterfaceConfig], in context: RuleContext) {
        for config in configs where config.name == nil && config.kind == .ethernet && config.ipv4?.value == .dhcp {
            guard let path = config.files.first, !path.description.hasPrefix("/usr/"), !path.description.hasPrefix("/lib/") else {
                continue
            }
            let matching =
                config.mac.map { "MAC \($0.value)" } ?? config.namePatterns.map(\.value).joined(separator: " ")
            let why =
                config.mac != nil
                ? "guestprep knows no NIC with that MAC"
                : NICNameBinding.patternStacks.contains(config.stack)
                    ? "guestprep knows no NIC whose name it matches"
                    : "guestprep does not split a \(config.stack.rawValue) definition that several NICs may share"
            report(
                context, "dhcp.unbound", .warning,
                "a \(config.stack.rawValue) configuration gives DHCP to the NIC matching \(matching), and \(why), so it stays on DHCP: pass --nic NAME=MAC and --address NAME=… for the NIC it serves, or give it a configuration by name",
                at: config.ipv4?.location)
        }
    }

    /// Names the dialects could not see: whatever those files configure was not converted.
    private func reportUnreadable(_ files: ReadableNames, in context: RuleContext) {
        for (directory, names) in files.skipped.sorted(by: { $0.key < $1.key }) {
            report(
                context, "dhcp.unreadable-name", .warning,
                "holds \(names.joined(separator: ", ")), a name that is not valid UTF-8: guestprep cannot name it exactly, so what it configures was not checked or converted; rename it and plan again",
                path: directory)
        }
    }

    private func report(
        _ context: RuleContext, _ code: String, _ severity: Severity, _ message: String, at location: SourceLocation? = nil,
        path: GuestPath? = nil, line: Int? = nil
    ) {
        context.report(
            Finding(
                rule: Self.id, code: code, severity: severity, message: message, path: (location?.path ?? path)?.description,
                line: location?.line ?? line))
    }
}
