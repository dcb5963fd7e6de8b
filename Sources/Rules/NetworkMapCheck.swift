import GuestFS
import GuestprepCore
import Network

/// Static IPv4 addresses that will not fit the destination's subnets: those in a `network-map`
/// source subnet but outside its destination, and, with `destination-subnets`, those outside
/// every one of them. DHCP interfaces are dhcp-to-static's to check (it checks the addresses it
/// writes); this covers the addresses that are static already.
public struct NetworkMapCheck: Rule {
    public static let id = "network-map"
    public static let summary = "check static IPv4 addresses fit the destination's subnets (network-map, destination-subnets)"
    public static let parameterNames = ["network-map", "destination-subnets"]

    let networkMap: NetworkMap
    let destinationSubnets: [InterfaceAddress]

    public init(parameters: RuleParameters) throws {
        let subnets = try parameters.list("destination-subnets", default: []).map { text in
            guard let subnet = InterfaceAddress(cidr: text), subnet.address.family == .v4 else {
                throw GuestprepError(
                    .playbook, "rule \(parameters.rule): destination-subnets entry '\(text)' must be an IPv4 subnet, e.g. 172.16.5.0/24",
                    path: parameters.file, line: parameters.values["destination-subnets"]?.line)
            }
            return subnet
        }
        self.init(networkMap: try NetworkMap(parameters: parameters), destinationSubnets: subnets)
    }

    public init(networkMap: NetworkMap = NetworkMap(), destinationSubnets: [InterfaceAddress] = []) {
        self.networkMap = networkMap
        self.destinationSubnets = destinationSubnets
    }

    public func evaluate(in context: RuleContext) throws {
        guard !networkMap.entries.isEmpty || !destinationSubnets.isEmpty else { return }
        let files = ReadableNames(context)
        let interfaces = try NetworkDialects.managedInterfaces(in: files, facts: context.facts)
        var seen: Set<String> = []
        for interface in interfaces {
            // A DHCP interface gets its address there, or dhcp-to-static checks the one it writes.
            if interface.governing.contains(where: { $0.ipv4?.value == .dhcp }) { continue }
            for config in interface.governing + interface.bystanders where config.ipv4?.value != .dhcp {
                for address in config.addresses where address.value.address.family == .v4 {
                    guard seen.insert("\(interface.name) \(address.value)").inserted else { continue }
                    check(interface.name, address, in: context)
                }
            }
        }
    }

    private func check(_ name: String, _ address: Sourced<InterfaceAddress>, in context: RuleContext) {
        func warn(_ code: String, _ message: String) {
            context.report(
                Finding(
                    rule: Self.id, code: code, severity: .warning, message: message,
                    path: address.location.path.description, line: address.location.line))
        }
        if let entry = networkMap.misfit(address.value) {
            warn(
                "network.map-mismatch",
                "\(name): the static address \(address.value) is in \(entry.source), which network-map moves to \(entry.destination): it will not fit there; give \(name) an address in \(entry.destination) (in this file) when it moves"
            )
            return
        }
        let mapped = networkMap.entries.contains { $0.source.contains(address.value.address) }
        guard !mapped, !destinationSubnets.isEmpty, !destinationSubnets.contains(where: { $0.contains(address.value.address) }) else {
            return
        }
        warn(
            "network.subnet-mismatch",
            "\(name): the static address \(address.value) fits none of the destination's subnets (\(destinationSubnets.map(\.description).joined(separator: ", "))): it will be off-net there; give \(name) an address in one of them, or map its subnet with network-map"
        )
    }
}
