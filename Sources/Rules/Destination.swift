/// What the platform the guest moves to offers, as a destination playbook states it: rules read
/// it where their own parameters are silent (nic-mac-pinning asks whether MACs are kept, the
/// firmware check what the platform boots).
public struct Destination: Sendable, Equatable {
    public enum Firmware: String, Sendable, CaseIterable, Codable {
        case bios
        case uefi
        case uefiSecureBoot = "uefi-secure-boot"
    }

    /// The playbook's platform id: aws, azure, openstack, …
    public var platform: String
    /// What the platform can boot; nil when the playbook does not say.
    public var firmware: [Firmware]?
    /// Whether the guest's vNICs keep their MACs on the way; nil when unknown.
    public var keepsMACs: Bool?
    /// The guest agents (package names) the platform expects, in order of preference.
    public var guestAgents: [String]
    /// Whether the platform's networks normally hand out addresses by DHCP.
    public var dhcpTypical: Bool?

    public init(
        platform: String, firmware: [Firmware]? = nil, keepsMACs: Bool? = nil, guestAgents: [String] = [], dhcpTypical: Bool? = nil
    ) {
        self.platform = platform
        self.firmware = firmware
        self.keepsMACs = keepsMACs
        self.guestAgents = guestAgents
        self.dhcpTypical = dhcpTypical
    }
}
