import GuestprepCore

/// What the admin says about the source VM's NICs on the command line (`--nic`), for an offline
/// guest whose configuration does not name its MACs.
public enum NICHint: Sendable, Hashable, CustomStringConvertible {
    /// `--nic NAME=MAC`: the guest's interface NAME had MAC on the source.
    case name(String, mac: MACAddress)
    /// `--nic MAC=IP`: the source hypervisor's inventory (what VMware Tools reports); the
    /// interface is the one whose configuration or lease holds exactly that IP.
    case address(IPAddress, mac: MACAddress)

    /// Parses `NAME=MAC` or `MAC=IP` (either side may be the MAC; quotes and `/prefix` around
    /// the IP are ignored, as inventories export them that way).
    public init(argument: String) throws {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex, argument.index(after: equals) != argument.endIndex
        else {
            throw GuestprepError(.usage, "--nic takes NAME=MAC or MAC=IP (for example ens3=52:54:00:12:34:56), got '\(argument)'")
        }
        let left = String(argument[..<equals])
        let right = String(argument[argument.index(after: equals)...])
        func ip(_ text: String) -> IPAddress? {
            var value = Substring(text)
            while let first = value.first, first == "\"" || first == "'" { value = value.dropFirst() }
            while let last = value.last, last == "\"" || last == "'" { value = value.dropLast() }
            if let slash = value.firstIndex(of: "/") { value = value[..<slash] }
            return IPAddress(String(value))
        }
        if let mac = MACAddress(left), let address = ip(right) {
            self = .address(address, mac: mac)
        } else if let mac = MACAddress(right), let address = ip(left) {
            self = .address(address, mac: mac)
        } else if let mac = MACAddress(right), Self.isInterfaceName(left) {
            self = .name(left, mac: mac)
        } else {
            throw GuestprepError(
                .usage,
                "--nic '\(argument)': expected NAME=MAC (an interface name and a MAC such as 52:54:00:12:34:56) or MAC=IP (a MAC and an IPv4 or IPv6 address)"
            )
        }
    }

    /// What the kernel accepts as an interface name: 1 to 15 bytes, no '/', ':' or whitespace
    /// (dev_valid_name in net/core/dev.c), and not "." or "..".
    public static func isInterfaceName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= 15 && name != "." && name != ".."
            && !bytes.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f }
    }

    public var mac: MACAddress {
        switch self {
        case .name(_, let mac), .address(_, let mac): mac
        }
    }

    public var description: String {
        switch self {
        case .name(let name, let mac): "\(name)=\(mac)"
        case .address(let address, let mac): "\(mac)=\(address)"
        }
    }
}

/// Which interface each `--nic` hint names, matched against the guest's configuration.
public struct NICHintMatch: Sendable, Hashable {
    public var hint: NICHint
    /// The interface name the hint resolves to; nil when nothing matched (a warning, not a stop).
    public var interface: String?
    /// Where the match was found (the address in a config file), for the finding.
    public var evidence: SourceLocation?

    /// Resolves hints against configured interfaces and DHCP leases. `MAC=IP` matches a
    /// physical (Ethernet) interface one of whose addresses, or whose lease, is exactly that IP
    /// (never a prefix or substring of another). A bond, bridge or VLAN holding the IP is not a
    /// match: its MAC is a port's, and pinning a port's MAC to the bond's name would rename the
    /// port. One MAC given twice, with two IPs, is normal input and matches where each IP is.
    public static func resolve(_ hints: [NICHint], against interfaces: [InterfaceConfig], leases: [DHCPLease] = []) -> [NICHintMatch] {
        hints.map { hint in
            switch hint {
            case .name(let name, _):
                let configured = interfaces.first { $0.name?.value == name }
                return NICHintMatch(hint: hint, interface: name, evidence: configured?.name?.location)
            case .address(let address, _):
                for interface in interfaces where interface.kind == .ethernet {
                    guard let name = interface.name?.value,
                        let found = interface.addresses.first(where: { $0.value.address == address })
                    else { continue }
                    return NICHintMatch(hint: hint, interface: name, evidence: found.location)
                }
                let virtual = Set(interfaces.filter { $0.kind != .ethernet }.compactMap { $0.name?.value })
                for lease in leases {
                    guard let name = lease.interface, !virtual.contains(name), lease.address?.address == address else { continue }
                    return NICHintMatch(hint: hint, interface: name, evidence: lease.location)
                }
                return NICHintMatch(hint: hint, interface: nil, evidence: nil)
            }
        }
    }
}
