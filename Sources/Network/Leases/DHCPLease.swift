/// The DHCP client that wrote a lease file.
public enum DHCPClient: String, Sendable, Hashable, Codable {
    case dhclient
    case networkManagerInternal = "NetworkManager-internal"
    case networkd = "systemd-networkd"
    case wicked
}

/// A point in time a lease names: seconds since the epoch (UTC), or `never` (an infinite lease).
public enum LeaseTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    case at(Int64)
    case never

    public static func < (lhs: LeaseTime, rhs: LeaseTime) -> Bool {
        switch (lhs, rhs) {
        case (.at(let a), .at(let b)): a < b
        case (.at, .never): true
        case (.never, _): false
        }
    }

    public var description: String {
        switch self {
        case .never: return "never"
        case .at(let seconds): return LeaseCalendar.format(seconds)
        }
    }
}

/// Why one lease was chosen over the others the guest holds for the same interface.
public enum LeaseChoice: Sendable, Hashable, CustomStringConvertible {
    /// The only usable lease for that interface.
    case only
    /// Latest by the lease's own expiry (or renew/acquired) time, out of `count` usable leases.
    case newestByTime(count: Int)
    /// Times missing or equal: the last one written, out of `count` usable leases.
    case lastWritten(count: Int)
    /// The last of `count` leases in one dhclient file: dhclient appends each lease it binds.
    case lastBound(count: Int)

    public var description: String {
        switch self {
        case .only: "the only lease"
        case .newestByTime(let count): "the newest by its own times of \(count) leases"
        case .lastWritten(let count): "the last written of \(count) leases (no times to compare)"
        case .lastBound(let count): "the last of \(count) leases dhclient wrote to this file, so the last it bound"
        }
    }
}

/// One DHCPv4 lease found in the guest, with where it was read. `address` is nil when the lease
/// carries no netmask: a prefix is never guessed.
public struct DHCPLease: Sendable, Hashable {
    public var client: DHCPClient
    /// The interface, from the lease itself or its file name; nil when the file names only an
    /// ifindex (systemd-networkd), which cannot be mapped to a name offline.
    public var interface: String?
    /// systemd-networkd's file name: the kernel ifindex on the source machine.
    public var interfaceIndex: Int?
    public var address: InterfaceAddress?
    public var routers: [IPAddress]
    public var dnsServers: [IPAddress]
    /// `domain-search`, else `domain-name` (which resolvers use as the search list then).
    public var searchDomains: [String]
    public var mtu: Int?
    /// When the lease was renewed or acquired, when the client knows.
    public var renew: LeaseTime?
    public var expiry: LeaseTime?
    /// The file, and the line where the lease starts.
    public var location: SourceLocation
    /// 1-based position of this lease among the leases of its file.
    public var ordinal: Int
    /// How many leases the file holds.
    public var leasesInFile: Int
    /// Set by `LeaseReader.newest`: why this lease was chosen for its interface.
    public var choice: LeaseChoice?

    public init(
        client: DHCPClient, interface: String?, interfaceIndex: Int? = nil, address: InterfaceAddress?, routers: [IPAddress] = [],
        dnsServers: [IPAddress] = [], searchDomains: [String] = [], mtu: Int? = nil, renew: LeaseTime? = nil, expiry: LeaseTime? = nil,
        location: SourceLocation, ordinal: Int = 1, leasesInFile: Int = 1, choice: LeaseChoice? = nil
    ) {
        self.client = client
        self.interface = interface
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.routers = routers
        self.dnsServers = dnsServers
        self.searchDomains = searchDomains
        self.mtu = mtu
        self.renew = renew
        self.expiry = expiry
        self.location = location
        self.ordinal = ordinal
        self.leasesInFile = leasesInFile
        self.choice = choice
    }

    /// The first router: the default gateway the lease gave.
    public var gateway: IPAddress? { routers.first }

    /// "lease 9 of 9 in /var/lib/dhcp/dhclient.eth0.leases:137, the newest by its own times of 9 leases".
    public var provenance: String {
        var text = "lease \(ordinal) of \(leasesInFile) at \(location)"
        if let choice { text += ", \(choice)" }
        return text
    }
}

/// Something wrong with a lease file: a finding for the rule, never a crash or a guess.
public struct LeaseProblem: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): \(message)" }
}

/// What a lease file (or all of them) held: every lease in file order, and the problems.
public struct LeaseScan: Sendable, Hashable {
    public var leases: [DHCPLease]
    public var problems: [LeaseProblem]
    /// Lease files that are not this format's text (dhcpcd's binary packets, DHCPv6-only files).
    public var notes: [LeaseProblem]

    public init(leases: [DHCPLease] = [], problems: [LeaseProblem] = [], notes: [LeaseProblem] = []) {
        self.leases = leases
        self.problems = problems
        self.notes = notes
    }

    mutating func append(_ other: LeaseScan) {
        leases += other.leases
        problems += other.problems
        notes += other.notes
    }
}
