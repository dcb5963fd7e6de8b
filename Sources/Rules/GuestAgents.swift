import GuestFS
import GuestFacts

/// A guest agent guestprep knows: the package names it goes by across distributions, the
/// package each distribution installs it from, its systemd units, and the platforms it serves.
struct GuestAgent: Sendable {
    /// The name people know it by (a package name, as destination playbooks list them).
    var name: String
    /// Every package name that means it is installed.
    var packages: [String]
    /// The package to install, by os-release ID first, then by family; absent: not packaged there.
    var install: [String: String]
    /// Where to get it where the distribution does not package it.
    var elsewhere: String?
    /// Units that run it; any one enabled (or started on demand) counts.
    var units: [String]
    /// Platforms (destination ids) whose hypervisor it talks to; empty: useful anywhere.
    var platforms: [String]

    /// The package to install on this guest, if its distribution ships one.
    func package(for facts: GuestFacts) -> String? {
        if let id = facts.os?.id, let name = install[id] { return name }
        return install[facts.family.rawValue]
    }
}

enum GuestAgents {
    /// One row per agent, each with why its names and units are these.
    static let known: [GuestAgent] = [
        // Debian/Ubuntu start it from a udev rule when the virtio port appears (no [Install]);
        // RHEL enables it into the port's device unit (qemu-guest-agent.service).
        GuestAgent(
            name: "qemu-guest-agent", packages: ["qemu-guest-agent"],
            install: ["debian": "qemu-guest-agent", "rhel": "qemu-guest-agent", "suse": "qemu-guest-agent"],
            units: ["qemu-guest-agent.service"], platforms: []),
        // open-vm-tools.service on Debian/Ubuntu, vmtoolsd.service on RHEL and SUSE (KB 2073803).
        GuestAgent(
            name: "open-vm-tools", packages: ["open-vm-tools"],
            install: ["debian": "open-vm-tools", "rhel": "open-vm-tools", "suse": "open-vm-tools"],
            units: ["open-vm-tools.service", "vmtoolsd.service"], platforms: ["vmware"]),
        // The KVP, VSS and file-copy daemons: hyperv-daemons (Debian, RHEL: hypervkvpd …),
        // linux-cloud-tools on Ubuntu, hyper-v on SUSE.
        GuestAgent(
            name: "hyperv-daemons",
            packages: [
                "hyperv-daemons", "hypervkvpd", "hyperv-daemons-license", "linux-cloud-tools-virtual", "linux-cloud-tools-common",
                "hyper-v",
            ],
            install: ["ubuntu": "linux-cloud-tools-virtual", "debian": "hyperv-daemons", "rhel": "hyperv-daemons", "suse": "hyper-v"],
            units: ["hv-kvp-daemon.service", "hypervkvpd.service", "hv_kvp_daemon.service"], platforms: ["hyperv", "azure"]),
        // The Azure Linux Agent: WALinuxAgent (RHEL), waagent (Debian), walinuxagent (Ubuntu),
        // python-azure-agent (SUSE).
        GuestAgent(
            name: "WALinuxAgent", packages: ["WALinuxAgent", "waagent", "walinuxagent", "python-azure-agent", "python3-azure-agent"],
            install: ["ubuntu": "walinuxagent", "debian": "waagent", "rhel": "WALinuxAgent", "suse": "python-azure-agent"],
            units: ["waagent.service", "walinuxagent.service"], platforms: ["azure"]),
        // Packaged by Amazon Linux only; elsewhere AWS's own package (or the snap on Ubuntu).
        // Hybrid activations run it outside AWS too, so it is no source-platform agent.
        GuestAgent(
            name: "amazon-ssm-agent", packages: ["amazon-ssm-agent"], install: ["amzn": "amazon-ssm-agent"],
            elsewhere: "AWS's package (https://docs.aws.amazon.com/systems-manager/latest/userguide/manually-install-ssm-agent-linux.html)",
            units: ["amazon-ssm-agent.service", "snap.amazon-ssm-agent.amazon-ssm-agent.service"], platforms: []),
        // Oracle Linux ships it in ol8_oci_included / ol9_oci_included.
        GuestAgent(
            name: "oracle-cloud-agent", packages: ["oracle-cloud-agent"], install: ["ol": "oracle-cloud-agent"],
            elsewhere: "Oracle's package (https://docs.oracle.com/iaas/Content/Compute/Tasks/manage-plugins.htm)",
            units: ["oracle-cloud-agent.service"], platforms: ["oci", "oracle-pca"]),
        // cloud-init.target pulls the stages in; 24.x adds cloud-init-main and -network.
        GuestAgent(
            name: "cloud-init", packages: ["cloud-init"], install: ["debian": "cloud-init", "rhel": "cloud-init", "suse": "cloud-init"],
            units: [
                "cloud-init.target", "cloud-init.service", "cloud-init-local.service", "cloud-init-main.service",
                "cloud-init-network.service", "cloud-config.service", "cloud-final.service",
            ], platforms: []),
        // Ubuntu's loader starts lxd-agent from LXD's config drive; other distributions install
        // the agent from that drive (LXD: "Install the LXD agent").
        GuestAgent(
            name: "lxd-agent-loader", packages: ["lxd-agent-loader"], install: ["ubuntu": "lxd-agent-loader"],
            elsewhere:
                "LXD's config drive (mount -t 9p config /mnt && cd /mnt && ./install.sh; https://documentation.ubuntu.com/lxd/en/latest/howto/instances_create/#install-the-lxd-agent)",
            units: ["lxd-agent.service"], platforms: []),
    ]

    /// Agents a platform needs beyond its playbook's `guest-agent` choice, each with the source.
    static let platformExtras: [String: [String]] = [
        // Azure's preparation guides install the Hyper-V daemons beside the Azure Linux Agent
        // (KVP carries the VM's IP to the platform): learn.microsoft.com/azure/virtual-machines/linux/redhat-create-upload-vhd
        "azure": ["hyperv-daemons"]
    ]

    /// VMware Tools from VMware's tarball (vmware-install.pl): no package, this file instead.
    static let vmwareToolsTarball: GuestPath = "/etc/vmware-tools/locations"

    /// The known agent a package name means, or one of its own for a name guestprep does not know.
    static func agent(named name: String) -> GuestAgent {
        known.first { $0.name == name || $0.packages.contains(name) }
            ?? GuestAgent(name: name, packages: [name], install: ["debian": name, "rhel": name, "suse": name], units: [], platforms: [])
    }
}
