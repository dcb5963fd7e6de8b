import Dialects
import GuestFS
import GuestprepCore

/// Registrations and subscriptions tied to this machine or the source cloud (RHSM, RHUI,
/// Ubuntu Pro/ESM, SUSE registration): after the move the licence may not cover the guest and
/// its repositories may refuse it. Repository files media-repos already reports as
/// `repos.subscription` are not reported again (it runs first in the default playbook).
public struct SubscriptionCheck: Rule {
    public static let id = "subscription"
    public static let summary =
        "warn about RHSM, RHUI, Ubuntu Pro/ESM and SUSE registrations whose licence and repositories may not follow the guest"
    public static let parameterNames: [String] = []

    public init(parameters: RuleParameters) throws {}
    public init() {}

    static let rhsmConsumer: GuestPath = "/etc/pki/consumer/cert.pem"
    static let rhsmConfig: GuestPath = "/etc/rhsm/rhsm.conf"
    /// RHUI client packages (rh-amazon-rhui-client, rhui-azure-rhel*, google-rhui-client-rhel*)
    /// put their entitlement certificates here.
    static let rhuiCertificates: GuestPath = "/etc/pki/rhui"
    /// Written by `pro attach` (ubuntu-advantage-tools); absent while detached.
    static let proToken: GuestPath = "/var/lib/ubuntu-advantage/private/machine-token.json"
    static let aptParts: GuestPath = "/etc/apt/sources.list.d"
    /// SUSEConnect's registration target and SCC credentials; cloud-regionsrv-client's
    /// (registercloudguest) region server configuration and state.
    static let suseRegistration: [GuestPath] = [
        "/etc/SUSEConnect", "/etc/zypp/credentials.d/SCCcredentials", "/etc/regionserverclnt.cfg", "/var/lib/cloudregister",
    ]
    static let suseCloud: [GuestPath] = ["/etc/regionserverclnt.cfg", "/var/lib/cloudregister"]
    static let zypperServices: GuestPath = "/etc/zypp/services.d"

    public func evaluate(in context: RuleContext) throws {
        // What media-repos said already: one finding per fact.
        let reported = context.findings.filter { $0.code == "repos.subscription" }.compactMap { $0.path.map { GuestPath($0) } }
        func reportedFile(_ matches: (GuestPath) -> Bool) -> Bool { reported.contains(where: matches) }
        func warn(_ code: String, _ message: String, _ path: GuestPath, severity: Severity = .warning, line: Int? = nil) {
            context.report(
                Finding(rule: Self.id, code: code, severity: severity, message: message, path: path.description, line: line))
        }

        if try context.root.exists(Self.rhsmConsumer) {
            if !reportedFile({ $0.name == "redhat.repo" }) {
                warn(
                    "subscription.rhsm",
                    "registered with Red Hat Subscription Management (consumer certificate): the entitlement belongs to this system's registration, and redhat.repo's repositories follow it; check the subscription covers the destination (Red Hat Cloud Access for a public cloud), then re-register there (subscription-manager register) and unregister the retired source copy (subscription-manager unregister)",
                    Self.rhsmConsumer)
            }
        } else if try context.root.exists(Self.rhsmConfig), context.facts.os?.id == "rhel" {
            warn(
                "subscription.rhsm-unregistered",
                "subscription-manager is installed but this RHEL system is not registered: it gets no Red Hat updates, here or on the destination, until it is (subscription-manager register)",
                Self.rhsmConfig, severity: .info)
        }

        if try context.root.isDirectory(Self.rhuiCertificates), !reportedFile({ $0.name.lowercased().contains("rhui") }) {
            warn(
                "subscription.rhui",
                "RHEL pay-as-you-go through the source cloud's Red Hat Update Infrastructure (RHUI client certificates): the licence is billed by that cloud and its RHUI refuses the guest from anywhere else; before or right after the move, remove the source cloud's RHUI client package and install the destination's, or register with subscription-manager (bring your own subscription)",
                Self.rhuiCertificates)
        }

        if try context.root.exists(Self.proToken) {
            warn(
                "subscription.ubuntu-pro",
                "attached to Ubuntu Pro (machine token): the attachment is per machine, and a cloud's Pro image is billed by that cloud; on the destination run `pro status`, and `pro detach` then `pro attach TOKEN` with a token that covers it",
                Self.proToken)
        }
        try reportESM(
            in: context, skip: { path in reportedFile { $0 == path } }, warn: { warn("subscription.ubuntu-esm", $0, $1, line: $2) })

        let services = try context.listDirectory(Self.zypperServices).filter { $0.hasSuffix(".service") }.map {
            Self.zypperServices.appending($0)
        }
        var suseEvidence: GuestPath?
        for path in Self.suseRegistration + services where suseEvidence == nil {
            if try context.root.exists(path) { suseEvidence = path }
        }
        if let evidence = suseEvidence, !reportedFile({ $0.parent == Self.zypperServices }) {
            let cloud = try Self.suseCloud.contains { try context.root.exists($0) }
            warn(
                "subscription.suse",
                cloud
                    ? "registered to the source cloud's SUSE update infrastructure (cloud-regionsrv-client): a pay-as-you-go licence is billed by that cloud and its update servers refuse the guest elsewhere; run `registercloudguest --clean`, then register at the destination (registercloudguest there, or SUSEConnect -r CODE)"
                    : "registered with SUSE Customer Center or an RMT server (SUSEConnect): the registration and its repositories follow this machine; check the subscription covers the destination and that it can reach the registration server, else re-register there (SUSEConnect -r CODE)",
                evidence)
        }
    }

    /// Ubuntu Pro's ESM sources (ubuntu-esm-apps, ubuntu-esm-infra, .list or .sources): they
    /// answer 401 to a machine that is not attached.
    private func reportESM(in context: RuleContext, skip: (GuestPath) -> Bool, warn: (String, GuestPath, Int?) -> Void) throws {
        for name in try context.listDirectory(Self.aptParts) where name.hasPrefix("ubuntu-esm-") && MediaRepositories.aptReads(name) {
            let path = Self.aptParts.appending(name)
            guard !skip(path), let file = try MediaRepositories.readFile(path, in: context) else { continue }
            let shown = context.root.display(path)
            var line: Int?
            if name.hasSuffix(".list") {
                line = try AptSourcesList(bytes: file.contents, path: shown).entries.first?.lineNumber
            } else {
                line = try Deb822File(bytes: file.contents, path: shown).stanzas.first(where: Deb822Sources.isEnabled)?.lineNumber
            }
            guard let line else { continue }
            warn(
                "\(name) is an Ubuntu Pro Expanded Security Maintenance source (esm.ubuntu.com): it needs this machine's Pro attachment, and apt update fails with 401 once that does not cover the guest; keep Pro attached at the destination (pro attach TOKEN), or `pro disable esm-apps esm-infra` before the move",
                path, line)
        }
    }
}
