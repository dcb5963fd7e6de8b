import GuestprepCore
import Network

/// The `network-map` parameter: which destination subnet each source subnet moves to, so an
/// address that will not fit its new subnet is caught before the move.
public struct NetworkMap: Sendable {
    /// One `source CIDR: destination CIDR` entry.
    public struct Entry: Sendable, Hashable {
        public var source: InterfaceAddress
        public var destination: InterfaceAddress

        public init(source: InterfaceAddress, destination: InterfaceAddress) {
            self.source = source
            self.destination = destination
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) {
        self.entries = entries
    }

    /// From the playbook's `network-map`, throwing a `.playbook` error for an entry that is not two subnets.
    public init(parameters: RuleParameters) throws {
        entries = try parameters.map("network-map").map { pair in
            guard let source = InterfaceAddress(cidr: pair.key), let destination = InterfaceAddress(cidr: pair.value),
                source.address.family == destination.address.family
            else {
                throw GuestprepError(
                    .playbook,
                    "rule \(parameters.rule): network-map entry '\(pair.key): \(pair.value)' must map a subnet to a subnet of the same family, e.g. 10.0.0.0/24: 172.16.5.0/24",
                    path: parameters.file, line: parameters.values["network-map"]?.line)
            }
            return Entry(source: source, destination: destination)
        }
    }

    /// The entry whose source subnet holds `address` but whose destination does not: the
    /// address would be off-net after the move. The most specific source subnet decides.
    public func misfit(_ address: InterfaceAddress) -> Entry? {
        let entry = entries.filter { $0.source.contains(address.address) }.max { $0.source.prefix < $1.source.prefix }
        guard let entry, !entry.destination.contains(address.address) else { return nil }
        return entry
    }
}
