import GuestFS
import GuestFacts

/// Where a fact came from: the file, and the line when the format has lines.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: GuestPath
    public var line: Int?

    public init(_ path: GuestPath, line: Int? = nil) {
        self.path = path
        self.line = line
    }

    public var description: String { line.map { "\(path):\($0)" } ?? path.description }
}

/// A value read from a configuration file, with where it was read.
public struct Sourced<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// How an address family is configured on an interface.
public enum AddressingMethod: String, Sendable, Hashable, Codable {
    case dhcp
    case `static`
    /// Up, no addresses configured by this dialect (ifupdown `manual`, NM `disabled`).
    case manual
    /// IPv6 router advertisements (SLAAC) or DHCPv6 decided by RA: reported, never converted.
    case auto
    case disabled
}

/// A static route.
public struct Route: Sendable, Hashable, Codable {
    public var destination: InterfaceAddress
    public var gateway: IPAddress?
    public var metric: Int?

    public init(destination: InterfaceAddress, gateway: IPAddress? = nil, metric: Int? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.metric = metric
    }
}

/// What kind of link a configuration is for; only physical NICs are pinned or converted.
public enum LinkKind: String, Sendable, Hashable, Codable {
    case ethernet, bond, bridge, vlan, loopback, wireless, other
}

/// One interface as one dialect configures it, every fact with its file and line. The same
/// interface configured in two dialects gives two of these; the caller decides which manages it.
public struct InterfaceConfig: Sendable, Hashable {
    public var stack: NetworkStack
    /// The kernel name it applies to (`ens3`); nil when it matches by MAC or name pattern only.
    public var name: Sourced<String>?
    /// Glob patterns it matches names by (networkd `Name=en*`, netplan `match: {name: "en*"}`),
    /// when it names no interface literally: such a config may serve several NICs.
    public var namePatterns: [Sourced<String>]
    public var mac: Sourced<MACAddress>?
    public var kind: LinkKind
    public var ipv4: Sourced<AddressingMethod>?
    public var ipv6: Sourced<AddressingMethod>?
    public var addresses: [Sourced<InterfaceAddress>]
    public var gateway4: Sourced<IPAddress>?
    public var gateway6: Sourced<IPAddress>?
    public var routes: [Sourced<Route>]
    public var dnsServers: [Sourced<IPAddress>]
    public var searchDomains: [Sourced<String>]
    public var mtu: Sourced<Int>?
    /// For a bond or bridge: the names of its ports.
    public var ports: [String]
    /// Every file that configures this interface in this dialect (main file first, then drop-ins).
    public var files: [GuestPath]

    public init(
        stack: NetworkStack, name: Sourced<String>? = nil, mac: Sourced<MACAddress>? = nil, kind: LinkKind = .ethernet,
        ipv4: Sourced<AddressingMethod>? = nil, ipv6: Sourced<AddressingMethod>? = nil, addresses: [Sourced<InterfaceAddress>] = [],
        gateway4: Sourced<IPAddress>? = nil, gateway6: Sourced<IPAddress>? = nil, routes: [Sourced<Route>] = [],
        dnsServers: [Sourced<IPAddress>] = [], searchDomains: [Sourced<String>] = [], mtu: Sourced<Int>? = nil, ports: [String] = [],
        files: [GuestPath] = [], namePatterns: [Sourced<String>] = []
    ) {
        self.stack = stack
        self.name = name
        self.namePatterns = namePatterns
        self.mac = mac
        self.kind = kind
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.addresses = addresses
        self.gateway4 = gateway4
        self.gateway6 = gateway6
        self.routes = routes
        self.dnsServers = dnsServers
        self.searchDomains = searchDomains
        self.mtu = mtu
        self.ports = ports
        self.files = files
    }
}

/// The static configuration one interface is converted to.
public struct StaticSettings: Sendable, Hashable {
    public var addresses: [InterfaceAddress]
    public var gateway4: IPAddress?
    public var gateway6: IPAddress?
    public var dnsServers: [IPAddress]
    public var searchDomains: [String]
    public var mtu: Int?

    public init(
        addresses: [InterfaceAddress], gateway4: IPAddress? = nil, gateway6: IPAddress? = nil, dnsServers: [IPAddress] = [],
        searchDomains: [String] = [], mtu: Int? = nil
    ) {
        self.addresses = addresses
        self.gateway4 = gateway4
        self.gateway6 = gateway6
        self.dnsServers = dnsServers
        self.searchDomains = searchDomains
        self.mtu = mtu
    }
}

/// What a dialect wants done to the guest's files for an edit; the rule turns these into changes.
public enum FileEdit: Sendable, Hashable {
    /// New contents for a file (created when missing).
    case write(GuestPath, [UInt8])
    /// Move a file to a name the dialect's tools do not read.
    case renameAside(GuestPath, to: GuestPath)
}

/// Read access to the guest as the plan so far would leave it (a rule's context, or the
/// guest root itself in tests).
public protocol GuestFileReader {
    func read(_ path: GuestPath) throws -> GuestFile?
    func listDirectory(_ path: GuestPath) throws -> [String]
}

extension GuestRoot: GuestFileReader {
    public func read(_ path: GuestPath) throws -> GuestFile? { try readFile(path) }
}

/// One network configuration system: finds its files, reads them into the model, and edits them
/// losslessly (only the keys an edit changes; every other byte stays).
public protocol NetworkConfigDialect: Sendable {
    var stack: NetworkStack { get }
    /// Whether the guest has configuration in this dialect.
    func isPresent(in files: any GuestFileReader) throws -> Bool
    /// Every interface configured, in the order the dialect's tool reads them.
    func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig]
    /// Ties the configuration of `interface` to `mac` (a MAC match, `HWADDR=`, `hwaddress`, …).
    func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit]
    /// Unties the configuration of `interface` from its MAC — the MAC match and any MAC it sets are
    /// removed, and the interface is matched by its name instead — for a destination that gives
    /// NICs new MACs. Throws `.refused` when the configuration would then match no NIC or every NIC.
    func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit]
    /// Replaces DHCP with `settings` in every file of this dialect that configures `interface`.
    func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
}
