import GuestFS
import GuestprepCore
import Yams

/// A moved VM gets a new instance id, so cloud-init runs its per-instance modules again: new SSH
/// host keys, the default user, the network, the hostname. Off a cloud, cloud-init is disabled;
/// on one, what will re-run is reported and the settings that keep identity are offered.
public struct CloudInitIdentity: Rule {
    public static let id = "cloud-init-identity"
    public static let summary = "Disable cloud-init off a cloud; on a cloud, report what re-runs and keep SSH host keys and hostname"
    public static let parameterNames = ["keep-ssh-host-keys", "preserve-hostname", "datasource-list"]

    static let config: GuestPath = "/etc/cloud/cloud.cfg"
    static let configDirectory: GuestPath = "/etc/cloud/cloud.cfg.d"
    static let disabledMarker: GuestPath = "/etc/cloud/cloud-init.disabled"
    /// Sorts after the distributions' drop-ins (Debian's 90_dpkg.cfg sets datasource_list) and
    /// before dhcp-to-static's 99-guestprep-network.cfg.
    static let identityFile: GuestPath = "/etc/cloud/cloud.cfg.d/98-guestprep-identity.cfg"
    /// Units that run cloud-init at boot (cloud-init 24.x adds cloud-init-main and -network).
    static let units = [
        "cloud-init.target", "cloud-init.service", "cloud-init-local.service", "cloud-config.service", "cloud-final.service",
        "cloud-init-main.service", "cloud-init-network.service",
    ]
    static let moduleLists = ["cloud_init_modules", "cloud_config_modules", "cloud_final_modules"]
    /// Per-instance modules that change who the guest is (cloud-init's module reference gives each
    /// one's frequency), with what they do again on the first boot as a new instance.
    static let identityModules: [String: String] = [
        "ssh": "deletes the SSH host keys and makes new ones, so clients see a changed host key (ssh_deletekeys, default true)",
        "set_hostname": "sets the hostname from the new instance's metadata (preserve_hostname, default false)",
        "update_hostname": "rewrites the hostname from the new instance's metadata (preserve_hostname, default false)",
        "users_groups": "creates the default user and its sudo rights again",
        "set_passwords": "sets passwords and SSH password authentication again",
        "ssh_import_id": "imports SSH keys again",
        "apt_configure": "rewrites /etc/apt/sources.list for the new instance's mirror unless preserve_sources_list is set",
        "disk_setup": "partitions disks named in its configuration again",
        "mounts": "rewrites fstab entries for swap and ephemeral disks",
        "write_files": "writes user-data files again",
        "scripts_user": "runs user-data scripts (runcmd) again",
    ]
    /// cloud-init datasources per platform (cloud-init's datasource reference), to suggest a
    /// datasource-list; None keeps cloud-init from failing when none answers.
    static let datasources: [String: [String]] = [
        "aws": ["Ec2", "None"], "azure": ["Azure", "None"], "openstack": ["OpenStack", "ConfigDrive", "None"],
        "oci": ["Oracle", "None"], "kubevirt": ["NoCloud", "ConfigDrive", "None"], "lxd": ["LXD", "None"],
    ]

    let keepSSHHostKeys: Bool?
    let preserveHostname: Bool?
    let datasourceList: [String]?

    public init(parameters: RuleParameters) throws {
        func flag(_ name: String) throws -> Bool? {
            guard parameters.values[name] != nil else { return nil }
            return try parameters.choice(name, allowed: ["true", "false"], default: "false") == "true"
        }
        keepSSHHostKeys = try flag("keep-ssh-host-keys")
        preserveHostname = try flag("preserve-hostname")
        if parameters.values["datasource-list"] != nil {
            let names = try parameters.list("datasource-list", default: [])
            for name in names where name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber }) {
                throw GuestprepError(
                    .playbook,
                    "rule \(Self.id): datasource-list has '\(name)', which is not a cloud-init datasource name (Ec2, Azure, None …)",
                    path: parameters.file, line: parameters.values["datasource-list"]?.line)
            }
            datasourceList = names
        } else {
            datasourceList = nil
        }
    }

    public init(keepSSHHostKeys: Bool? = nil, preserveHostname: Bool? = nil, datasourceList: [String]? = nil) {
        self.keepSSHHostKeys = keepSSHHostKeys
        self.preserveHostname = preserveHostname
        self.datasourceList = datasourceList
    }

    /// A value the identity drop-in sets, as YAML and as the validator reads it back.
    enum Value: Sendable, Equatable {
        case bool(Bool)
        case list([String])

        /// Strings quoted, so a reader that does not know YAML's implicit types reads them right.
        var yaml: String {
            switch self {
            case .bool(let value): value ? "true" : "false"
            case .list(let items): "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
            }
        }

        func matches(_ node: Node?) -> Bool {
            switch self {
            case .bool(let value): node?.bool == value
            case .list(let items): node?.sequence.map { $0.map(\.string) } == items.map(Optional.some)
            }
        }
    }

    var settings: [(key: String, value: Value)] {
        var settings: [(key: String, value: Value)] = []
        if let keepSSHHostKeys { settings.append(("ssh_deletekeys", .bool(!keepSSHHostKeys))) }
        if let preserveHostname { settings.append(("preserve_hostname", .bool(preserveHostname))) }
        if let datasourceList { settings.append(("datasource_list", .list(datasourceList))) }
        return settings
    }

    public func evaluate(in context: RuleContext) throws {
        guard try context.read(Self.config) != nil || context.root.exists("/usr/bin/cloud-init") else { return }
        if let marker = try context.read(Self.disabledMarker) {
            report(
                context, "cloud-init.disabled", .info,
                "cloud-init is disabled by \(Self.disabledMarker); nothing of it runs on the destination", marker.path)
            return
        }
        if try KernelCommandLine.sets("cloud-init=disabled", in: context) {
            report(context, "cloud-init.disabled", .info, "cloud-init is disabled on the kernel command line (cloud-init=disabled)", nil)
            return
        }
        if context.facts.initSystem == .systemd, !Self.units.contains(where: context.facts.enabledUnits.contains) {
            report(
                context, "cloud-init.not-enabled", .info,
                "cloud-init is installed but none of its units is enabled (\(Self.units.joined(separator: ", "))); it does not run at boot",
                Self.config)
            return
        }
        let destination = context.destination
        switch destination?.cloud {
        case .some(false):
            let platform = destination?.platform ?? ""
            let reason =
                "the \(platform) playbook says the destination is not a cloud: nothing there gives cloud-init an instance id, so it would treat the moved guest as a new instance and run its per-instance modules again (new SSH host keys, default user, network, hostname); cloud-init.disabled stops all of it (cloud-init's docs: How to disable cloud-init)"
            try context.propose(Self.disabledMarker, contents: [], rule: Self.id, reasons: [reason])
            report(context, "cloud-init.disable", .info, "cloud-init will be disabled: \(reason)", Self.disabledMarker)
        case .some(true):
            try reportReRuns(in: context, platform: destination?.platform ?? "")
            try writeSettings(in: context)
        case .none:
            report(
                context, "cloud-init.no-destination", .info,
                "cloud-init is installed and enabled; whether it must be disabled (a hypervisor) or kept with the guest's identity (a cloud) depends on the destination: plan with --to PLATFORM",
                Self.config)
            try writeSettings(in: context)
        }
    }

    private func report(
        _ context: RuleContext, _ code: String, _ severity: Severity, _ message: String, _ path: GuestPath?, line: Int? = nil
    ) {
        context.report(
            Finding(rule: Self.id, code: code, severity: severity, message: message, path: path?.description, line: line))
    }

    // MARK: What re-runs

    /// A top-level setting as cloud-init sees it after merging: cloud.cfg, then cloud.cfg.d/*.cfg
    /// in lexical order, a later file's key replacing an earlier one's.
    struct Setting {
        var path: GuestPath
        var line: Int?
        var node: Node
    }

    static func merged(in context: RuleContext) throws -> [String: Setting] {
        var files: [GuestPath] = [config]
        files += try context.listDirectory(configDirectory).filter { $0.hasSuffix(".cfg") }.map { configDirectory.appending($0) }
        var merged: [String: Setting] = [:]
        for path in files {
            guard let file = try context.read(path) else { continue }
            let node: Node?
            do {
                node = try Yams.compose(yaml: String(decoding: file.contents, as: UTF8.self))
            } catch {
                throw GuestprepError(
                    .parse, "cloud-init cannot read this file either (not YAML), so guestprep cannot tell what it configures",
                    path: context.root.display(path),
                    cause: "\(error)")
            }
            guard let mapping = node?.mapping else { continue }
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                merged[name] = Setting(path: path, line: key.mark?.line, node: value)
            }
        }
        return merged
    }

    private func reportReRuns(in context: RuleContext, platform: String) throws {
        let merged = try Self.merged(in: context)
        let keepsKeys = keepSSHHostKeys ?? (merged["ssh_deletekeys"]?.node.bool == false)
        let keepsName = preserveHostname ?? (merged["preserve_hostname"]?.node.bool == true)
        var reRuns: [String] = []
        for list in Self.moduleLists {
            guard let setting = merged[list], let modules = setting.node.sequence else { continue }
            for entry in modules {
                let name = (entry.string ?? entry.sequence?.first?.string ?? "").replacingOccurrences(of: "-", with: "_")
                let frequency = entry.sequence.flatMap { $0.count > 1 ? $0[1].string : nil }
                guard let effect = Self.identityModules[name], frequency != "once" else { continue }
                if name == "ssh" && keepsKeys { continue }
                if (name == "set_hostname" || name == "update_hostname") && keepsName { continue }
                let line = entry.mark.map { ":\($0.line)" } ?? ""
                reRuns.append("\(name) (\(setting.path)\(line)) \(effect)")
            }
        }
        if context.facts.cloudInitManagesNetwork {
            reRuns.append("network: cloud-init writes a new network configuration (DHCP on the new NIC) for the new instance")
        }
        var offers: [String] = []
        if !keepsKeys { offers.append("keep-ssh-host-keys: true") }
        if !keepsName { offers.append("preserve-hostname: true") }
        if datasourceList == nil, let list = Self.datasources[platform] {
            offers.append("datasource-list: [\(list.joined(separator: ", "))]")
        }
        let offer =
            offers.isEmpty
            ? "" : "; to keep the guest's identity, give cloud-init-identity `with: {\(offers.joined(separator: ", "))}` in the playbook"
        if reRuns.isEmpty {
            report(
                context, "cloud-init.new-instance", .info,
                "cloud-init sees a new instance id on \(platform) and re-runs its per-instance modules, none of which changes the guest's identity\(offer)",
                Self.config)
        } else {
            report(
                context, "cloud-init.new-instance", .warning,
                "cloud-init sees a new instance id on \(platform) and re-runs its per-instance modules: \(reRuns.joined(separator: "; "))\(offer)",
                Self.config)
        }
    }

    // MARK: Identity-keeping settings

    private func writeSettings(in context: RuleContext) throws {
        let settings = settings
        guard !settings.isEmpty else { return }
        var text = "# guestprep cloud-init-identity: keep the guest's identity when cloud-init sees a new instance id\n"
        for setting in settings { text += "\(setting.key): \(setting.value.yaml)\n" }
        try context.propose(
            Self.identityFile, contents: Array(text.utf8), rule: Self.id,
            reasons: settings.map { "\($0.key): \($0.value.yaml), as the playbook asks" },
            validators: [
                CloudInitSettingsValidator(expected: settings.map { CloudInitSettingsValidator.Expected(key: $0.key, value: $0.value) })
            ])
        // A drop-in sorting after ours sets the same key last, and wins.
        let merged = try Self.merged(in: context)
        for setting in settings {
            guard let winner = merged[setting.key], winner.path != Self.identityFile else { continue }
            report(
                context, "cloud-init.overridden", .warning,
                "sets \(setting.key) after \(Self.identityFile), so cloud-init uses this value instead of guestprep's; remove it here",
                winner.path,
                line: winner.line)
        }
    }
}

/// The identity drop-in, read back as YAML, holds each setting with the value planned.
struct CloudInitSettingsValidator: ChangeValidator {
    struct Expected: Sendable {
        var key: String
        var value: CloudInitIdentity.Value
    }

    let expected: [Expected]

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let read: Node.Mapping?
        do {
            read = try Yams.compose(yaml: String(decoding: proposed, as: UTF8.self))?.mapping
        } catch {
            throw GuestprepError(.validation, "is not YAML cloud-init can read", path: path, cause: "\(error)")
        }
        for setting in expected where !setting.value.matches(read?[setting.key]) {
            throw GuestprepError(.validation, "does not set \(setting.key) to \(setting.value.yaml) as planned", path: path)
        }
    }
}
