import GuestprepCore
import Network

/// The settings an interface is converted to, and where they came from in words for the plan.
struct ChosenSettings {
    var settings: StaticSettings
    var source: String
}

/// Chooses an interface's static settings: the admin's `--address` first, then the running
/// system (live only), then the newest lease the guest kept for that interface.
enum StaticSettingsSource {
    /// A lease that ran out longer ago than this gets a warning: the address may be someone else's by now.
    static let staleAfter: Int64 = 30 * 86_400

    static func choose(
        _ name: String, in context: RuleContext, leases: [DHCPLease], now: Int64, rule: String, at location: SourceLocation?
    ) throws -> ChosenSettings? {
        if let given = context.network.staticAddresses[name] {
            // The admin's settings win, but a default route the DHCP server gave must not vanish
            // unnoticed: without it the guest reaches only its own subnet.
            if given.gateway4 == nil, let lease = leases.first(where: { $0.interface == name }), let router = lease.gateway {
                context.report(
                    Finding(
                        rule: rule, code: "dhcp.gateway-dropped", severity: .warning,
                        message:
                            "--address \(name)=… gives no gateway, but its DHCP lease had the default route via \(router); add gw=\(router) (or the destination's gateway) unless \(name) should only reach its own subnet",
                        path: location?.path.description, line: location?.line))
            }
            return ChosenSettings(settings: given, source: "from --address \(name)=…")
        }
        if context.isLive {
            if let executor = context.executor {
                do {
                    if let live = try LiveAddressing.settings(of: name, executor: executor, files: context) {
                        return ChosenSettings(settings: live, source: "from the running system (ip -j addr/route, resolv.conf)")
                    }
                } catch let error as GuestprepError {
                    context.report(
                        Finding(
                            rule: rule, code: "dhcp.live-unknown", severity: .warning,
                            message: "could not read \(name)'s addresses from the running system (\(error.message)); pass --address \(name)=ADDRESS/PREFIX,gw=…,dns=… to be sure",
                            path: location?.path.description, line: location?.line))
                }
            } else {
                context.report(
                    Finding(
                        rule: rule, code: "dhcp.live-unknown", severity: .warning,
                        message: "no command runner to read \(name)'s addresses from the running system; falling back to its leases, or pass --address \(name)=ADDRESS/PREFIX,gw=…,dns=…",
                        path: location?.path.description, line: location?.line))
            }
        }
        guard let lease = leases.first(where: { $0.interface == name }), let address = lease.address else { return nil }
        var source = "from \(lease.client.rawValue) \(lease.provenance)"
        if case .at(let expiry) = lease.expiry, expiry < now {
            source += ", which expired \(lease.expiry!)"
            if now - expiry > staleAfter {
                context.report(
                    Finding(
                        rule: rule, code: "dhcp.lease-expired", severity: .warning,
                        message: "\(name): the newest lease expired \(lease.expiry!), long ago; \(address) may belong to another machine now — check it, or pass --address \(name)=…",
                        path: lease.location.path.description, line: lease.location.line))
            }
        }
        let settings = StaticSettings(
            addresses: [address], gateway4: lease.gateway, dnsServers: lease.dnsServers,
            searchDomains: lease.searchDomains, mtu: lease.mtu)
        return ChosenSettings(settings: settings, source: source)
    }
}
