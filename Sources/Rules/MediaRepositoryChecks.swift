import GuestFacts
import GuestprepCore

/// The package tools whose sources media-repos reads.
enum PackageSystem: String, Sendable {
    case apt, yum, zypper

    /// The tool a family installs packages with (the family table's package manager).
    static func of(_ family: DistroFamily) -> PackageSystem? {
        switch family {
        case .debian: .apt
        case .rhel: .yum
        case .suse: .zypper
        case .arch, .alpine, .unknown: nil
        }
    }

    var configuration: String {
        switch self {
        case .apt: "/etc/apt/sources.list and /etc/apt/sources.list.d"
        case .yum: "/etc/yum.repos.d"
        case .zypper: "/etc/zypp/repos.d"
        }
    }
}

/// The guest's package sources as the plan leaves them, for the checks after the change.
struct SourceInventory {
    struct Source {
        var system: PackageSystem
        var path: String
        var line: Int
        var name: String
        var isEnabled: Bool
        var locations: [PackageSourceLocation]
        /// The distribution's own repository, not a third party's.
        var isMain: Bool
        var urls: [String]
        var fileName: String
        /// zypper's `service=`.
        var service: String? = nil

        /// Still usable on the destination: a network mirror or a directory on the guest's disks.
        var isReachable: Bool { locations.contains { !$0.isMedia } }
    }

    /// A media source the plan disables, for evidence.
    struct Disabled {
        var system: PackageSystem
        var path: String
        var line: Int
        var what: String
    }

    var sources: [Source] = []
    var disabled: [Disabled] = []
    /// Systems whose configuration exists in the guest.
    var present: Set<PackageSystem> = []
    /// zypper service files (`/etc/zypp/services.d/*.service`): registration services.
    var services: [String] = []
}

/// After the change: does a source remain that the destination can install from, and which
/// sources depend on a subscription tied to the source cloud.
enum MediaRepositoryChecks {
    /// Hosts of third-party archives that also call a component `main` (Launchpad PPAs).
    static let thirdPartyAptHosts = ["ppa.launchpad.net", "ppa.launchpadcontent.net"]

    /// apt: Debian and Ubuntu put the distribution in the `main` component of a `deb` source;
    /// third-party archives rarely do (PPAs excepted, by host).
    static func isDistributionMain(aptType: String, uri: String, components: [String]) -> Bool {
        guard aptType == "deb", components.contains("main") else { return false }
        return !thirdPartyAptHosts.contains(PackageSourceLocation.host(of: uri) ?? "")
    }

    /// yum/zypper: the distribution's base repository by its id or name, as each family names it:
    /// RHEL and clones `baseos`/`base` (`rhel-9-for-x86_64-baseos-rpms`, `[base]`, `[BaseOS]`),
    /// Fedora `[fedora]`, Amazon Linux `amzn2-core`/`amazonlinux`; openSUSE `repo-oss`/`OSS`
    /// (not `non-oss`), SLE `Basesystem`/`SLES…-Pool`, and zypper's old `…Main` aliases.
    static func isDistributionMain(_ system: PackageSystem, id: String, name: String?) -> Bool {
        let words = [id.lowercased(), (name ?? "").lowercased()]
        switch system {
        case .apt: return false
        case .yum:
            // The id only: names say "$basearch", which holds "base" for any repository.
            return [id.lowercased()].contains { word in
                ["base", "fedora", "amzn", "amazonlinux"].contains { word.contains($0) } && !word.contains("debug")
                    && !word.contains("source")
            }
        case .zypper:
            return words.contains { word in
                let oss = word.contains("oss") && !word.contains("non-oss") && !word.contains("non_oss")
                let named = ["basesystem", "pool", "main", "sles", "sle-product"].contains { word.contains($0) }
                return (oss || named) && !word.contains("debug") && !word.contains("source")
            }
        }
    }

    static func report(_ inventory: SourceInventory, in context: RuleContext, rule: String) throws {
        for disabled in inventory.disabled.sorted(by: { ($0.path, $0.line) < ($1.path, $1.line) }) {
            context.report(
                Finding(
                    rule: rule, code: "repos.media-disabled", severity: .info,
                    message: "\(disabled.what) is install media, which will not be attached after migration; disabled (kept in the file)",
                    path: disabled.path, line: disabled.line))
        }
        reportNoNetworkSource(inventory, in: context, rule: rule)
        reportSubscriptions(inventory, in: context, rule: rule)
    }

    /// A blocker when the distribution's own repository has no enabled source left that the
    /// destination can reach: preparing the guest there installs packages (agents, drivers).
    private static func reportNoNetworkSource(_ inventory: SourceInventory, in context: RuleContext, rule: String) {
        // The family's tool; an unrecognised distribution gets each tool it has configured.
        let systems = PackageSystem.of(context.facts.family).map { [$0] } ?? [.apt, .yum, .zypper]
        for system in systems where inventory.present.contains(system) {
            let sources = inventory.sources.filter { $0.system == system }
            guard !sources.contains(where: { $0.isEnabled && $0.isMain && $0.isReachable }) else { continue }
            let disabled = inventory.disabled.filter { $0.system == system }
            let evidence = disabled.first.map { ($0.path, $0.line) } ?? sources.first.map { ($0.path, $0.line) }
            let others = sources.filter { $0.isEnabled && $0.isReachable }.map(\.name)
            var message =
                "no enabled \(system.rawValue) source for the distribution's own repository remains that the destination can reach"
            if !disabled.isEmpty { message += " once the install media are disabled" }
            message += " (looked in \(system.configuration)"
            if !others.isEmpty { message += "; only third-party sources remain: \(others.joined(separator: ", "))" }
            message +=
                "): the destination could install none of the distribution's packages (guest agents, drivers); add the distribution's network mirror before migrating"
            context.report(
                Finding(
                    rule: rule, code: "repos.no-network-source", severity: .blocker, message: message,
                    path: evidence?.0 ?? system.configuration,
                    line: evidence?.1))
        }
    }

    /// Sources that need a subscription or cloud registration the destination will not have.
    private static func reportSubscriptions(_ inventory: SourceInventory, in context: RuleContext, rule: String) {
        var seen: Set<String> = []
        for source in inventory.sources where source.isEnabled {
            guard let (kind, fix) = subscription(of: source), !seen.contains(source.path + kind) else { continue }
            seen.insert(source.path + kind)
            context.report(
                Finding(
                    rule: rule, code: "repos.subscription", severity: .warning,
                    message:
                        "\(source.name) is served through \(kind), tied to the source cloud or this machine's registration: from another cloud it may be unreachable or refuse the guest; \(fix), or switch to a mirror the destination can reach",
                    path: source.path, line: source.line))
        }
        for service in inventory.services {
            context.report(
                Finding(
                    rule: rule, code: "repos.subscription", severity: .warning,
                    message:
                        "zypper registration service \(service): its repositories come from a SUSE registration (SCC, RMT or the cloud's update infrastructure) that may not be reachable from another cloud; re-register at the destination (SUSEConnect, registercloudguest)",
                    path: service))
        }
    }

    /// Which subscription system serves a source and how to re-register, or nil.
    static func subscription(of source: SourceInventory.Source) -> (kind: String, fix: String)? {
        let hosts = source.urls.compactMap(PackageSourceLocation.host(of:))
        switch source.system {
        case .yum:
            // subscription-manager writes redhat.repo; RHUI clients ship their own .repo files.
            if source.fileName == "redhat.repo" {
                return ("Red Hat Subscription Management (redhat.repo)", "re-register at the destination (subscription-manager register)")
            }
            if source.fileName.lowercased().contains("rhui") || source.name.lowercased().contains("rhui")
                || hosts.contains(where: { $0.contains("rhui") })
            {
                return (
                    "the source cloud's Red Hat Update Infrastructure (RHUI)",
                    "install the destination cloud's RHUI client package or register with subscription-manager"
                )
            }
        case .zypper:
            // SUSEConnect and cloud-regionsrv-client add SUSE_* services; their repos carry service=.
            if source.service != nil || source.fileName.hasPrefix("SUSE_") {
                return (
                    "a SUSE registration service\(source.service.map { " (\($0))" } ?? "")",
                    "re-register at the destination (SUSEConnect, or registercloudguest in a public cloud)"
                )
            }
            if source.urls.contains(where: { $0.lowercased().hasPrefix("plugin:/susecloud") })
                || hosts.contains(where: { $0.contains("susecloud") || $0.hasPrefix("smt-") })
            {
                return (
                    "the source cloud's SUSE update infrastructure", "re-register at the destination (registercloudguest, or SUSEConnect)"
                )
            }
        case .apt:
            break
        }
        return nil
    }
}
