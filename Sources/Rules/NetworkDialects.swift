import GuestFacts
import Network

/// Every network-config dialect guestprep reads and edits, one per `NetworkStack`.
enum NetworkDialects {
    static let all: [any NetworkConfigDialect] = [
        IfupdownDialect(), NetplanDialect(), NetworkManagerKeyfiles(), IfcfgRHELDialect(), IfcfgSUSEDialect(), SystemdNetworkd(),
    ]

    static func dialect(for stack: NetworkStack) -> any NetworkConfigDialect {
        // `all` has one dialect per case of NetworkStack, so this always finds one.
        all.first { $0.stack == stack } ?? IfupdownDialect()
    }

    /// Every configuration of every dialect present in `files`, in dialect order.
    static func configs(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        var configs: [InterfaceConfig] = []
        for dialect in all where try dialect.isPresent(in: files) {
            configs += try dialect.interfaces(in: files)
        }
        return configs
    }

    /// Every interface of every dialect present in `files`, configurations matching by MAC or
    /// pattern bound to their NICs' names, and which dialect governs each.
    static func managedInterfaces(
        in files: any GuestFileReader, facts: GuestFacts, binding: NICNameBinding = NICNameBinding()
    ) throws -> [ManagedInterface] {
        NetworkManagement.resolve(binding.bind(try configs(in: files)), facts: facts)
    }
}
