import Glibc
import GuestFacts
import Network

/// Configurations that reach a NIC by its MAC or a name pattern instead of its name — cloud-init's
/// NetworkManager profiles match `mac-address=` only, networkd units match `Name=en*` — bound to
/// the names of the NICs they serve, so the rules treat them like any other configuration.
struct NICNameBinding {
    /// The name each MAC has, from the NIC inventory's pins (conflicting MACs are not in it).
    let nameByMAC: [MACAddress: String]
    /// Names of NICs known to exist, for patterns: live links, or offline the names the guest's
    /// configuration, udev rules, `.link` files, leases and the admin's options use.
    let knownNames: [String]

    init(pins: [(name: String, mac: MACAddress)] = [], knownNames: [String] = []) {
        var nameByMAC: [MACAddress: String] = [:]
        for pin in pins where nameByMAC[pin.mac] == nil { nameByMAC[pin.mac] = pin.name }
        self.nameByMAC = nameByMAC
        var seen: Set<String> = []
        self.knownNames = knownNames.filter { seen.insert($0).inserted }
    }

    /// Dialects that can give one NIC a configuration of its own out of one shared by a pattern
    /// (networkd: a unit that sorts first). Editing a shared netplan or NetworkManager definition
    /// would change every NIC it matches, so their patterns stay unbound.
    static let patternStacks: Set<NetworkStack> = [.networkd]

    /// `configs` with the nameless ones named: a MAC match takes the name that MAC has (and must
    /// fit the config's patterns, if any); a pattern gives one copy per known name it matches
    /// that no configuration of the same dialect names literally. Nameless configs that match
    /// nothing known are returned unchanged.
    func bind(_ configs: [InterfaceConfig]) -> [InterfaceConfig] {
        var literal: [NetworkStack: Set<String>] = [:]
        for config in configs {
            if let name = config.name?.value { literal[config.stack, default: []].insert(name) }
        }
        var bound: [InterfaceConfig] = []
        for config in configs {
            guard config.name == nil, config.kind == .ethernet else {
                bound.append(config)
                continue
            }
            if let mac = config.mac {
                guard let name = nameByMAC[mac.value], Self.matches(name, config.namePatterns) else {
                    bound.append(config)
                    continue
                }
                var named = config
                named.name = Sourced(name, at: mac.location)
                bound.append(named)
                continue
            }
            guard Self.patternStacks.contains(config.stack), let pattern = config.namePatterns.first else {
                bound.append(config)
                continue
            }
            let names = knownNames.filter { Self.matches($0, config.namePatterns) && !literal[config.stack, default: []].contains($0) }
            guard !names.isEmpty else {
                bound.append(config)
                continue
            }
            for name in names {
                var named = config
                named.name = Sourced(name, at: pattern.location)
                bound.append(named)
            }
        }
        return bound
    }

    /// Whether `name` matches any of the patterns (fnmatch(3), as networkd and netplan match);
    /// no patterns match every name.
    static func matches(_ name: String, _ patterns: [Sourced<String>]) -> Bool {
        patterns.isEmpty || patterns.contains { fnmatch($0.value, name, 0) == 0 }
    }
}
