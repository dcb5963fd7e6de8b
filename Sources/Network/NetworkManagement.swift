import GuestFacts

/// Which configuration actually governs an interface at boot, when several dialects mention it.
public struct ManagedInterface: Sendable, Hashable {
    public var name: String
    /// The dialect whose files decide the interface's addressing at boot.
    public var manager: NetworkStack
    /// The configurations that decide it (one, or a dialect's main file and its drop-ins).
    public var governing: [InterfaceConfig]
    /// Configurations of other dialects that mention it but are not read at boot: a migration
    /// tool reading each file on its own may still act on them, so rules keep them consistent
    /// or move them aside.
    public var bystanders: [InterfaceConfig]
    /// Why this manager, in words for findings.
    public var reason: String
}

/// Decides, per interface name, which network configuration system manages it, from the
/// configurations found and the services the guest enables.
public enum NetworkManagement {
    /// Services that read each dialect at boot (unit names as `systemctl enable` links them).
    static let services: [NetworkStack: [String]] = [
        .ifupdown: ["networking.service", "ifupdown-pre.service", "ifup@.service"],
        .networkManager: ["NetworkManager.service"],
        .networkd: ["systemd-networkd.service"],
        // RHEL: NetworkManager reads ifcfg files through its ifcfg-rh plugin; before RHEL 8
        // the network initscript could also bring them up.
        .ifcfgRHEL: ["NetworkManager.service", "network.service"],
        // SUSE: wicked reads /etc/sysconfig/network (network.service is its alias).
        .ifcfgSUSE: ["wicked.service", "network.service"],
    ]

    /// In order of precedence when several dialects configure one interface and their services
    /// all run: netplan writes the others' files at boot (/run), ifupdown-configured interfaces
    /// are left alone by NetworkManager on Debian (`[ifupdown] managed=false`), and NetworkManager
    /// keyfiles win over ifcfg for a profile of the same device on RHEL 9 (keyfile is its
    /// primary plugin).
    static let precedence: [NetworkStack] = [.netplan, .ifupdown, .networkManager, .ifcfgRHEL, .ifcfgSUSE, .networkd]

    public static func resolve(_ configs: [InterfaceConfig], facts: GuestFacts) -> [ManagedInterface] {
        // Grouped once by name: a guest with hundreds of NICs must not cost names × configs.
        var names: [String] = []
        var byName: [String: [InterfaceConfig]] = [:]
        for config in configs {
            guard let name = config.name?.value, config.kind != .loopback else { continue }
            if byName[name] == nil { names.append(name) }
            byName[name, default: []].append(config)
        }
        return names.map { name in
            let mentioning = byName[name] ?? []
            let runs = { (stack: NetworkStack) -> Bool in
                // netplan has no service: it generates the others' configuration at boot.
                stack == .netplan || facts.initSystem != .systemd
                    || services[stack, default: []].contains(where: facts.enabledUnits.contains)
            }
            let candidates = precedence.filter { stack in mentioning.contains { $0.stack == stack } }
            let active = candidates.filter(runs)
            let manager = active.first ?? candidates.first ?? mentioning[0].stack
            let reason: String
            if active.first != nil {
                let outranked = active.filter { $0 != manager }.map(\.rawValue)
                let idle = candidates.filter { !active.contains($0) }.map(\.rawValue)
                var parts: [String] = [
                    manager == .netplan
                        ? "netplan generates its renderer's configuration at boot"
                        : outranked.isEmpty
                            ? "only \(manager.rawValue) is read at boot"
                            : "\(manager.rawValue) takes precedence over \(outranked.joined(separator: ", "))"
                ]
                if !idle.isEmpty { parts.append("no enabled service reads \(idle.joined(separator: ", "))") }
                reason = parts.joined(separator: "; ")
            } else {
                reason = "no service that reads its configuration is enabled; \(manager.rawValue) is the only one found"
            }
            return ManagedInterface(
                name: name, manager: manager, governing: mentioning.filter { $0.stack == manager },
                bystanders: mentioning.filter { $0.stack != manager }, reason: reason)
        }
    }
}
