import GuestFS
import GuestFacts
import GuestprepCore

/// Which backend netplan hands a definition to.
public enum NetplanRenderer: String, Sendable, Hashable {
    case networkd
    case networkManager = "NetworkManager"
    /// Any other value (e.g. `sriov`); netplan refuses unknown ones, guestprep only reports them.
    case other
}

/// One netplan device definition (`network.<section>.<id>`) after merging every file, with the
/// backend that actually manages it: `renderer: NetworkManager` means NetworkManager does.
public struct NetplanDevice: Sendable, Hashable {
    /// The definition's id (the key under `ethernets:`), which is the interface name unless it has a `match:`.
    public var id: String
    /// `ethernets`, `bonds`, `bridges`, …
    public var section: String
    public var config: InterfaceConfig
    /// The effective renderer: the device's own `renderer:`, else its section's, else the global
    /// one, else netplan's default (networkd). The location is nil for the default.
    public var renderer: NetplanRenderer
    public var rendererLocation: SourceLocation?
    /// The merged YAML of the definition.
    public var value: NetplanValue
}

/// netplan's configuration, merged as `netplan generate` merges it.
public struct NetplanConfig: Sendable {
    public var documents: [NetplanDocument]
    public var merged: NetplanValue
    public var devices: [NetplanDevice]

    /// Device sections and the kind of link each configures.
    static let sections: [(name: String, kind: LinkKind)] = [
        ("ethernets", .ethernet), ("bonds", .bond), ("bridges", .bridge), ("vlans", .vlan), ("wifis", .wireless),
        ("tunnels", .other), ("vrfs", .other), ("dummy-devices", .other), ("virtual-ethernets", .other), ("modems", .other),
        ("nm-devices", .other),
    ]

    public static func read(_ files: any GuestFileReader) throws -> NetplanConfig {
        try NetplanConfig(documents: NetplanFiles.documents(in: files))
    }

    public init(documents: [NetplanDocument]) throws {
        self.documents = documents
        var merged = NetplanValue.mapping([])
        // Which files define each (section, id), in read order.
        var definingFiles: [String: [GuestPath]] = [:]
        for document in documents {
            guard let value = document.root else { continue }
            guard case .mapping = value else {
                throw GuestprepError(
                    .parse, "is not a YAML mapping; netplan expects 'network:' at the top", path: document.path.description, line: 1)
            }
            for section in Self.sections {
                for entry in value["network"]?[section.name]?.entries ?? [] where entry.key != "renderer" {
                    definingFiles["\(section.name)/\(entry.key)", default: []].append(document.path)
                }
            }
            merged = merged.merged(with: value)
        }
        self.merged = merged
        let network = merged["network"]
        let globalRenderer = network?["renderer"]
        var devices: [NetplanDevice] = []
        for section in Self.sections {
            guard let sectionValue = network?[section.name] else { continue }
            let sectionRenderer = sectionValue["renderer"]
            for entry in sectionValue.entries where entry.key != "renderer" {
                let rendererValue = entry.value["renderer"] ?? sectionRenderer ?? globalRenderer
                let renderer = rendererValue?.text.map { NetplanRenderer(rawValue: $0) ?? .other } ?? .networkd
                var config = Self.interface(id: entry.key, idLocation: entry.keyLocation, kind: section.kind, value: entry.value)
                config.files = definingFiles["\(section.name)/\(entry.key)"] ?? []
                devices.append(
                    NetplanDevice(
                        id: entry.key, section: section.name, config: config, renderer: renderer, rendererLocation: rendererValue?.location,
                        value: entry.value))
            }
        }
        self.devices = devices
    }

    /// One definition in the interface model; facts carry the file:line where they were (last) written.
    static func interface(id: String, idLocation: SourceLocation, kind: LinkKind, value: NetplanValue) -> InterfaceConfig {
        var config = InterfaceConfig(stack: .netplan, kind: kind)
        func at(_ value: NetplanValue?) -> SourceLocation { value?.location ?? idLocation }
        let match = value["match"]
        if let setName = value["set-name"], let text = setName.text {
            config.name = Sourced(text, at: at(setName))
        } else if let matchName = match?["name"], let text = matchName.text, !text.contains(where: { "*?[".contains($0) }) {
            config.name = Sourced(text, at: at(matchName))
        } else if match == nil {
            // Without match:, the id is the interface name (netplan(5)).
            config.name = Sourced(id, at: idLocation)
        } else if let matchName = match?["name"], let text = matchName.text {
            config.namePatterns = [Sourced(text, at: at(matchName))]
        }
        if let mac = match?["macaddress"], let text = mac.text, let parsed = MACAddress(text) {
            config.mac = Sourced(parsed, at: at(mac))
        }
        var v4Addresses = false
        var v6Addresses = false
        for item in value["addresses"]?.items ?? [] {
            // An address is a scalar, or a one-key mapping with options (lifetime, label).
            let text = item.text ?? item.entries.first?.key
            // netplan drops an address (or route) another file already gave (0.106 generate output).
            guard let text, let address = InterfaceAddress(cidr: text), !config.addresses.contains(where: { $0.value == address }) else {
                continue
            }
            config.addresses.append(Sourced(address, at: item.location ?? idLocation))
            if address.address.family == .v4 { v4Addresses = true } else { v6Addresses = true }
        }
        if let dhcp4 = value["dhcp4"], let on = dhcp4.bool, on {
            config.ipv4 = Sourced(.dhcp, at: at(dhcp4))
        } else if v4Addresses {
            config.ipv4 = Sourced(.static, at: config.addresses.first { $0.value.address.family == .v4 }!.location)
        } else if let dhcp4 = value["dhcp4"] {
            config.ipv4 = Sourced(.manual, at: at(dhcp4))
        }
        if let dhcp6 = value["dhcp6"], dhcp6.bool == true {
            config.ipv6 = Sourced(.dhcp, at: at(dhcp6))
        } else if v6Addresses {
            config.ipv6 = Sourced(.static, at: config.addresses.first { $0.value.address.family == .v6 }!.location)
        } else if let acceptRA = value["accept-ra"], acceptRA.bool == true {
            config.ipv6 = Sourced(.auto, at: at(acceptRA))
        }
        if let gateway = value["gateway4"], let ip = gateway.text.flatMap(IPAddress.init) {
            config.gateway4 = Sourced(ip, at: at(gateway))
        }
        if let gateway = value["gateway6"], let ip = gateway.text.flatMap(IPAddress.init) {
            config.gateway6 = Sourced(ip, at: at(gateway))
        }
        for item in value["routes"]?.items ?? [] {
            guard let to = item["to"]?.text else { continue }
            let via = item["via"]?.text.flatMap(IPAddress.init)
            let destination: InterfaceAddress?
            if to == "default" {
                destination = InterfaceAddress(cidr: via?.family == .v6 ? "::/0" : "0.0.0.0/0")
            } else {
                destination =
                    InterfaceAddress(cidr: to)
                    ?? IPAddress(to).flatMap { InterfaceAddress(address: $0, prefix: $0.family == .v4 ? 32 : 128) }
            }
            guard let destination else { continue }
            let metric = item["metric"]?.text.flatMap { Int($0) }
            let location = item["to"]?.location ?? idLocation
            guard !config.routes.contains(where: { $0.value == Route(destination: destination, gateway: via, metric: metric) }) else {
                continue
            }
            config.routes.append(Sourced(Route(destination: destination, gateway: via, metric: metric), at: location))
            if destination.prefix == 0, let via {
                if via.family == .v4, config.gateway4 == nil { config.gateway4 = Sourced(via, at: location) }
                if via.family == .v6, config.gateway6 == nil { config.gateway6 = Sourced(via, at: location) }
            }
        }
        let nameservers = value["nameservers"]
        for item in nameservers?["addresses"]?.items ?? [] {
            if let ip = item.text.flatMap(IPAddress.init) { config.dnsServers.append(Sourced(ip, at: at(item))) }
        }
        for item in nameservers?["search"]?.items ?? [] {
            if let text = item.text { config.searchDomains.append(Sourced(text, at: at(item))) }
        }
        if let mtu = value["mtu"], let number = mtu.text.flatMap({ Int($0) }) {
            config.mtu = Sourced(number, at: at(mtu))
        }
        config.ports = (value["interfaces"]?.items ?? []).compactMap(\.text)
        return config
    }
}
