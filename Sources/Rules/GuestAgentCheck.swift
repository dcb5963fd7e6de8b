import Dialects
import GuestFS
import GuestFacts
import GuestprepCore
import Kernels

/// Which guest agents are installed and enabled, against what the destination expects; agents
/// of the platform the guest leaves are reported, and removed when the playbook asks.
public struct GuestAgentCheck: Rule {
    public static let id = "guest-agent"
    public static let summary = "check the guest agents the destination expects are installed and enabled; report the source platform's"
    public static let parameterNames = ["remove-source-agents"]

    /// Plan the removal of agents for another platform (an irreversible package removal).
    public var removeSourceAgents: Bool

    public init(parameters: RuleParameters) throws {
        removeSourceAgents = try parameters.choice("remove-source-agents", allowed: ["true", "false"], default: "false") == "true"
    }

    public init(removeSourceAgents: Bool = false) {
        self.removeSourceAgents = removeSourceAgents
    }

    /// An agent found in the guest, with where the package database says so.
    struct Found {
        var agent: GuestAgent
        var package: InstalledPackage?
        var path: GuestPath
        var line: Int?
        var state: UnitState
    }

    /// Whether systemd starts the agent at boot.
    enum UnitState: Equatable {
        case enabled(String)
        /// No [Install] section: started by a udev rule or another unit when needed.
        case onDemand(String)
        /// Linked to /dev/null at `path`.
        case masked(String, path: GuestPath)
        /// Units with an [Install] section (the first one's file and line) that nothing links.
        case disabled([String], path: GuestPath, line: Int?)
        /// No unit of it in the guest (a snap, an init script).
        case noUnit
        case notChecked(InitSystem)
        /// cloud-init's own switch, /etc/cloud/cloud-init.disabled.
        case switchedOff(GuestPath)

        var isRunning: Bool {
            switch self {
            case .enabled, .onDemand, .noUnit, .notChecked: true
            case .masked, .disabled, .switchedOff: false
            }
        }

        var text: String {
            switch self {
            case .enabled(let unit): "enabled (\(unit))"
            case .onDemand(let unit): "started on demand (\(unit) has no [Install] section)"
            case .masked(let unit, _): "masked (\(unit))"
            case .disabled(let units, _, _): "not enabled (\(units.joined(separator: ", ")))"
            case .noUnit: "no systemd unit found"
            case .notChecked(let system): "enablement not checked (init: \(system.rawValue))"
            case .switchedOff(let path): "disabled by \(path)"
            }
        }
    }

    public func evaluate(in context: RuleContext) throws {
        let packages = try context.installedPackages()
        var found: [Found] = []
        for agent in GuestAgents.known {
            guard let entry = agent.packages.lazy.compactMap(packages.installed).first else { continue }
            found.append(
                Found(
                    agent: agent, package: entry.package, path: entry.path, line: entry.line, state: try Self.state(of: agent, in: context))
            )
        }
        if try context.read(GuestAgents.vmwareToolsTarball) != nil, !found.contains(where: { $0.agent.name == "open-vm-tools" }) {
            let tarball = GuestAgent(name: "VMware Tools", packages: [], install: [:], units: [], platforms: ["vmware"])
            found.append(Found(agent: tarball, package: nil, path: GuestAgents.vmwareToolsTarball, line: nil, state: .noUnit))
        }
        let databasePath = packages.entries.first?.path ?? (packages.database == .rpm ? "/var/lib/rpm" : "/var/lib/dpkg/status")
        if packages.database == nil {
            context.report(
                Finding(
                    rule: Self.id, code: "agent.no-package-database", severity: .info,
                    message: "no dpkg or rpm database in the guest: installed guest agents cannot be told"))
        }
        // Without a database, "none installed" would be a guess.
        if packages.database != nil || !found.isEmpty {
            context.report(
                Finding(
                    rule: Self.id, code: "agent.inventory", severity: .info,
                    message: found.isEmpty
                        ? "no guest agent guestprep knows is installed (\(GuestAgents.known.map(\.name).joined(separator: ", ")))"
                        : "guest agents installed: "
                            + found.map { "\($0.agent.name)\($0.package.map { " \($0.version)" } ?? "") \($0.state.text)" }.joined(
                                separator: "; "),
                    path: packages.database == nil ? nil : databasePath.description))
        }

        guard let destination = context.destination else {
            for agent in found { reportNotRunning(agent, in: context) }
            return
        }
        var groups: [[GuestAgent]] = []
        if !destination.guestAgents.isEmpty { groups.append(destination.guestAgents.map(GuestAgents.agent(named:))) }
        for extra in GuestAgents.platformExtras[destination.platform] ?? [] where !groups.joined().contains(where: { $0.name == extra }) {
            groups.append([GuestAgents.agent(named: extra)])
        }
        var expected: Set<String> = []
        for group in groups {
            let names = Self.unique(group.map(\.name))
            let present = group.filter { agent in found.contains { $0.agent.name == agent.name } }
            expected.formUnion(present.map(\.name))
            guard let first = group.first, packages.database != nil else { continue }
            if present.isEmpty {
                context.report(
                    Finding(
                        rule: Self.id, code: "agent.missing", severity: .warning,
                        message:
                            "\(destination.platform) expects \(names.joined(separator: " or ")), and none is installed; install it before migrating: \(Self.installText(group, facts: context.facts))",
                        path: databasePath.description))
            } else if !present.contains(where: { $0.name == first.name }) {
                context.report(
                    Finding(
                        rule: Self.id, code: "agent.preferred-missing", severity: .info,
                        message:
                            "\(destination.platform) prefers \(first.name); \(present.map(\.name).joined(separator: ", ")) is installed instead. To add it: \(Self.installText([first], facts: context.facts))",
                        path: databasePath.description))
            }
        }
        for agent in found where expected.contains(agent.agent.name) { reportNotRunning(agent, in: context) }
        for agent in found where !agent.agent.platforms.isEmpty && !agent.agent.platforms.contains(destination.platform) {
            try reportSourceAgent(agent, destination: destination.platform, database: packages.database, in: context)
        }
    }

    static func unique(_ names: [String]) -> [String] {
        var seen: [String] = []
        for name in names where !seen.contains(name) { seen.append(name) }
        return seen
    }

    /// The family's install command for the first agent of `group` its distribution packages,
    /// else where to get the first one.
    static func installText(_ group: [GuestAgent], facts: GuestFacts) -> String {
        for agent in group {
            guard let package = agent.package(for: facts) else { continue }
            switch facts.family {
            case .debian: return "apt-get install -y \(package)"
            case .rhel: return "dnf install -y \(package) (yum on older releases)"
            case .suse: return "zypper --non-interactive install \(package)"
            case .arch, .alpine, .unknown: return "install the package \(package) with the distribution's package manager"
            }
        }
        guard let first = group.first else { return "" }
        return "\(first.name) from \(first.elsewhere ?? "its vendor")"
    }

    private func reportNotRunning(_ found: Found, in context: RuleContext) {
        guard !found.state.isRunning else { return }
        let fix: String
        let evidence: (path: GuestPath, line: Int?)
        switch found.state {
        case .masked(let unit, let path):
            fix = "\(Self.systemctl(context)) unmask \(unit) && \(Self.systemctl(context)) enable \(unit)"
            evidence = (path, nil)
        case .disabled(let units, let path, let line):
            fix = "\(Self.systemctl(context)) enable \(units[0])"
            evidence = (path, line)
        case .switchedOff(let path):
            fix = "remove \(path) if cloud-init should run on the destination"
            evidence = (path, nil)
        default: return
        }
        let package = found.package.map { " (\($0.name) \($0.version))" } ?? ""
        context.report(
            Finding(
                rule: Self.id, code: "agent.not-enabled", severity: .warning,
                message:
                    "\(found.agent.name)\(package) is installed but \(found.state.text), so it will not run on the destination; \(fix)",
                path: evidence.path.description, line: evidence.line))
    }

    /// `systemctl`, or `systemctl --root=DIR` for an offline guest.
    static func systemctl(_ context: RuleContext) -> String {
        context.isLive ? "systemctl" : "systemctl --root=\(context.root.hostPath)"
    }

    private func reportSourceAgent(_ found: Found, destination: String, database: PackageDatabase?, in context: RuleContext) throws {
        let serves = found.agent.platforms.joined(separator: "/")
        let shown = found.path.description
        guard let package = found.package, let database else {
            // The tarball tools have no package to remove: their own uninstaller does it.
            context.report(
                Finding(
                    rule: Self.id, code: "agent.source-agent", severity: .warning,
                    message:
                        "\(found.agent.name) (for \(serves)) is installed from VMware's tarball; \(destination) does not use it: after the migration's last snapshot, remove it in the guest with vmware-uninstall-tools.pl",
                    path: shown))
            return
        }
        let tool = try KernelPrune.remover(database, in: context)
        let command = tool.map { $0.argv + [$0.spell(package)] }
        let reinstall = "\(tool?.reinstall ?? "reinstall") \(package.name)=\(package.version)"
        guard removeSourceAgents, let command else {
            let how = command.map { "`\($0.joined(separator: " "))`" } ?? "the guest's package manager"
            context.report(
                Finding(
                    rule: Self.id, code: "agent.source-agent", severity: .warning,
                    message:
                        "\(found.agent.name) \(package.version) serves \(serves), which the guest leaves; \(destination) does not use it. Keep it while the migration tool needs it (it quiesces filesystems for the source's snapshots), then remove it with \(how)"
                        + (removeSourceAgents ? "" : ", or set remove-source-agents: true on the guest-agent rule to have apply remove it"),
                    path: shown, line: found.line))
            return
        }
        context.report(
            Finding(
                rule: Self.id, code: "agent.source-agent-removed", severity: .info,
                message:
                    "\(found.agent.name) \(package.version) serves \(serves), which the guest leaves: apply removes it (remove-source-agents: true); the source's snapshots can no longer be quiesced after that",
                path: shown, line: found.line))
        context.proposeCommand(
            CommandStep(
                argv: command, effect: "remove \(found.agent.name) \(package.version), the \(serves) guest agent",
                manualUndo: "the package is gone; to bring it back, reinstall it in the guest: \(reinstall)"),
            rule: Self.id, reasons: ["\(found.agent.name) serves \(serves); the destination is \(destination)"])
    }

    // MARK: Units

    static let unitDirectories: [GuestPath] = ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"]

    /// How systemd treats the agent's units: enabled (a `.wants/` link in /etc, or the vendor's
    /// in /usr/lib), started on demand (no [Install] section), masked, or not enabled.
    static func state(of agent: GuestAgent, in context: RuleContext) throws -> UnitState {
        if agent.name == "cloud-init", try context.read("/etc/cloud/cloud-init.disabled") != nil {
            return .switchedOff("/etc/cloud/cloud-init.disabled")
        }
        guard context.facts.initSystem == .systemd else { return .notChecked(context.facts.initSystem) }
        var present: [String] = []
        var firstInstall: (path: GuestPath, line: Int?)?
        var onDemand: String?
        for unit in agent.units {
            let override = GuestPath("/etc/systemd/system").appending(unit)
            if case .symlink(let target) = try context.root.entry(override), target == "/dev/null" {
                return .masked(unit, path: override)
            }
            if try context.facts.enabledUnits.contains(unit) || vendorEnabled(unit, in: context) { return .enabled(unit) }
            for directory in unitDirectories {
                guard let file = try context.read(directory.appending(unit)) else { continue }
                present.append(unit)
                let ini = IniFile(bytes: file.contents, syntax: .systemd)
                let install = ["WantedBy", "RequiredBy", "UpheldBy", "Also"].lazy.compactMap { ini.entries("Install", $0).first }.first
                if install == nil && onDemand == nil { onDemand = unit }
                if let install, firstInstall == nil { firstInstall = (directory.appending(unit), install.lineNumber) }
                break
            }
        }
        if let onDemand { return .onDemand(onDemand) }
        guard let firstInstall else { return .noUnit }
        return .disabled(unique(present), path: firstInstall.path, line: firstInstall.line)
    }

    /// A `.wants/` link the package itself ships beside its unit (enabled for every install).
    static func vendorEnabled(_ unit: String, in context: RuleContext) throws -> Bool {
        for directory in unitDirectories.dropFirst() {
            for name in try context.listDirectory(directory) where name.hasSuffix(".wants") {
                if try context.root.entry(directory.appending(name).appending(unit)) != .missing { return true }
            }
        }
        return false
    }
}

extension RuleContext {
    /// The guest's installed packages; rpm's database through the guest executor.
    func installedPackages() throws -> InstalledPackages {
        try InstalledPackages.read(
            root: root, facts: facts,
            query: executor.map { executor in
                { argv in try KernelPrune.query(argv, executor: executor, root: self.root) }
            })
    }
}
