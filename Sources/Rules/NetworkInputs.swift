import LinkProbe
import Network

/// What the network rules know beyond the guest's files: the running system's links (live only)
/// and what the admin said on the command line.
public struct NetworkInputs: Sendable {
    /// The running system's links; nil for an offline guest.
    public var liveLinks: [NetworkLink]?
    /// `--nic NAME=MAC` and `--nic MAC=IP`.
    public var hints: [NICHint]
    /// `--address NAME=…`, by interface name.
    public var staticAddresses: [String: StaticSettings]

    public init(liveLinks: [NetworkLink]? = nil, hints: [NICHint] = [], staticAddresses: [String: StaticSettings] = [:]) {
        self.liveLinks = liveLinks
        self.hints = hints
        self.staticAddresses = staticAddresses
    }
}
