import GuestprepCore

/// `--address NAME=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2,dns=10.0.0.3,search=corp.example,mtu=9000`:
/// the static configuration to give an interface when neither the live system nor a lease knows it.
public struct StaticAddressArgument: Sendable, Hashable {
    public var interface: String
    public var settings: StaticSettings

    public init(argument: String) throws {
        func fail(_ why: String) -> GuestprepError {
            GuestprepError(
                .usage,
                "--address '\(argument)': \(why); expected NAME=ADDRESS/PREFIX[,gw=IP][,dns=IP]…[,search=DOMAIN]…[,mtu=N], for example ens3=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2"
            )
        }
        guard let equals = argument.firstIndex(of: "=") else { throw fail("no '='") }
        interface = String(argument[..<equals])
        guard NICHint.isInterfaceName(interface) else { throw fail("'\(interface)' is not an interface name") }
        var settings = StaticSettings(addresses: [])
        for part in argument[argument.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if pair.count == 1 {
                guard let address = InterfaceAddress(cidr: String(part)) else { throw fail("'\(part)' is not ADDRESS/PREFIX") }
                settings.addresses.append(address)
                continue
            }
            let value = String(pair[1])
            switch pair[0] {
            case "gw", "gateway":
                guard let gateway = IPAddress(value) else { throw fail("gateway '\(value)' is not an IP address") }
                if gateway.family == .v4 { settings.gateway4 = gateway } else { settings.gateway6 = gateway }
            case "dns":
                guard let server = IPAddress(value) else { throw fail("DNS server '\(value)' is not an IP address") }
                settings.dnsServers.append(server)
            case "search":
                guard !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\t" || $0 == ";" }) else {
                    throw fail("search domain '\(value)' is not a domain name")
                }
                settings.searchDomains.append(value)
            case "mtu":
                guard let mtu = Int(value), (68...65535).contains(mtu) else { throw fail("MTU '\(value)' is not 68 to 65535") }
                settings.mtu = mtu
            default:
                throw fail("unknown key '\(pair[0])'")
            }
        }
        guard !settings.addresses.isEmpty else { throw fail("no ADDRESS/PREFIX") }
        if let gateway = settings.gateway4, !settings.addresses.contains(where: { $0.contains(gateway) }) {
            throw fail("gateway \(gateway) is not in the subnet of any address given")
        }
        self.settings = settings
    }
}
