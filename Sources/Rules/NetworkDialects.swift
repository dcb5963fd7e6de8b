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

    /// Every interface of every dialect present in `files`, and which dialect governs each.
    static func managedInterfaces(in files: any GuestFileReader, facts: GuestFacts) throws -> [ManagedInterface] {
        var configs: [InterfaceConfig] = []
        for dialect in all where try dialect.isPresent(in: files) {
            configs += try dialect.interfaces(in: files)
        }
        return NetworkManagement.resolve(configs, facts: facts)
    }
}
