import GuestFS
import GuestprepCore
import Yams

/// The guest's init system, which decides how services are enabled and commands run at boot.
public enum InitSystem: String, Sendable, Codable {
    case systemd, sysvinit, openrc, unknown
}

/// A network configuration system whose files are present in the guest.
public enum NetworkStack: String, Sendable, Codable, CaseIterable {
    case ifupdown, netplan
    case networkManager = "NetworkManager"
    case ifcfgRHEL = "ifcfg-rhel"
    case ifcfgSUSE = "ifcfg-suse"
    case networkd = "systemd-networkd"
}

/// Where the guest keeps kernels, initramfs images and modules.
public struct KernelInventoryPaths: Sendable, Codable, Equatable {
    /// /boot/vmlinuz-*, /boot/vmlinux-*, /boot/Image-* …
    public var kernels: [GuestPath]
    /// /boot/initrd.img-*, /boot/initramfs-*.img, /boot/initrd-* …
    public var initramfsImages: [GuestPath]
    /// /lib/modules/<version> (merged /usr: /usr/lib/modules).
    public var moduleDirectories: [GuestPath]

    public init(kernels: [GuestPath] = [], initramfsImages: [GuestPath] = [], moduleDirectories: [GuestPath] = []) {
        self.kernels = kernels
        self.initramfsImages = initramfsImages
        self.moduleDirectories = moduleDirectories
    }
}

/// Facts about the guest, gathered once per run and handed to every rule.
public struct GuestFacts: Sendable {
    public var os: OSRelease?
    public var profile: FamilyProfile
    public var initSystem: InitSystem
    /// Network configuration systems with configuration present, in `NetworkStack` order.
    public var networkStacks: [NetworkStack]
    /// Boot loader configuration files present (grub.cfg, BLS entries, /etc/default/grub …).
    public var bootloaderFiles: [GuestPath]
    public var kernels: KernelInventoryPaths
    /// systemd units enabled in the guest (`*.wants/` links under /etc/systemd/system), by name:
    /// which network service actually runs at boot.
    public var enabledUnits: Set<String>
    /// cloud-init is installed and its network configuration is not disabled: it would write
    /// its own (usually DHCP) network config on the first boot on the destination.
    public var cloudInitManagesNetwork: Bool

    public var family: DistroFamily { profile.family }

    public init(
        os: OSRelease?, profile: FamilyProfile? = nil, initSystem: InitSystem = .unknown, networkStacks: [NetworkStack] = [],
        bootloaderFiles: [GuestPath] = [], kernels: KernelInventoryPaths = KernelInventoryPaths(), enabledUnits: Set<String> = [],
        cloudInitManagesNetwork: Bool = false
    ) {
        self.enabledUnits = enabledUnits
        self.cloudInitManagesNetwork = cloudInitManagesNetwork
        self.os = os
        self.profile = profile ?? FamilyTable.profile(for: os)
        self.initSystem = initSystem
        self.networkStacks = networkStacks
        self.bootloaderFiles = bootloaderFiles
        self.kernels = kernels
    }

    /// Reads every fact from the guest. Call `GuestShape.check` first: this assumes a guest.
    public static func gather(from root: GuestRoot) throws -> GuestFacts {
        let os = try OSRelease.read(from: root)
        return GuestFacts(
            os: os, initSystem: try initSystem(root), networkStacks: try networkStacks(root),
            bootloaderFiles: try bootloaderFiles(root), kernels: try kernelPaths(root), enabledUnits: try enabledUnits(root),
            cloudInitManagesNetwork: try cloudInitManagesNetwork(root))
    }

    /// Units linked into a `.wants/` (or `.requires/`) directory of /etc/systemd/system, which is
    /// what `systemctl enable` does (systemctl(1)); aliases such as dbus-org.… count as their name.
    static func enabledUnits(_ root: GuestRoot) throws -> Set<String> {
        let base: GuestPath = "/etc/systemd/system"
        var units: Set<String> = []
        for name in try names(in: base, of: root) where name.hasSuffix(".wants") || name.hasSuffix(".requires") {
            for unit in try names(in: base.appending(name), of: root) { units.insert(unit) }
        }
        return units
    }

    /// cloud-init is there (its config or its binary) and no cloud.cfg(.d) file says
    /// `network: {config: disabled}` (cloud-init's networking docs: "Disabling network activation").
    static func cloudInitManagesNetwork(_ root: GuestRoot) throws -> Bool {
        guard try root.exists("/etc/cloud/cloud.cfg") || root.exists("/usr/bin/cloud-init") else { return false }
        if try root.exists("/etc/cloud/cloud-init.disabled") { return false }
        var files: [GuestPath] = ["/etc/cloud/cloud.cfg"]
        files += try names(in: "/etc/cloud/cloud.cfg.d", of: root).filter { $0.hasSuffix(".cfg") }.map {
            GuestPath("/etc/cloud/cloud.cfg.d").appending($0)
        }
        // Files merge in order (cloud.cfg, then cloud.cfg.d in lexical order); the last
        // `network: config:` wins.
        var disabled = false
        for path in files {
            guard let file = try root.readFile(path),
                let document = try? Yams.load(yaml: String(decoding: file.contents, as: UTF8.self)) as? [String: Any],
                let network = document["network"] as? [String: Any], let config = network["config"]
            else { continue }
            disabled = (config as? String) == "disabled"
        }
        return !disabled
    }

    /// Names in a directory that are valid UTF-8. Facts only look for names of known shapes; a
    /// file named in another encoding (an SSID-named NetworkManager connection, say) is none of
    /// them and must not stop the whole tool.
    static func names(in directory: GuestPath, of root: GuestRoot) throws -> [String] {
        try root.listDirectoryBytes(directory).compactMap { String(validating: $0, as: UTF8.self) }.sorted()
    }

    static func initSystem(_ root: GuestRoot) throws -> InitSystem {
        // /sbin/init is what the kernel starts; its link target names the init system.
        for path: GuestPath in ["/sbin/init", "/usr/sbin/init"] {
            if case .symlink(let target) = try root.entry(path) {
                if target.contains("systemd") { return .systemd }
                if target.contains("openrc") { return .openrc }
                if target.contains("busybox") { return .openrc }  // Alpine: busybox init runs OpenRC
            }
        }
        for path: GuestPath in ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"] where try root.exists(path) {
            return .systemd
        }
        if try root.exists("/sbin/openrc") || root.exists("/usr/sbin/openrc") { return .openrc }
        if try root.exists("/etc/inittab") { return .sysvinit }
        return .unknown
    }

    static func networkStacks(_ root: GuestRoot) throws -> [NetworkStack] {
        func any(_ directory: GuestPath, _ matches: (String) -> Bool) throws -> Bool {
            try names(in: directory, of: root).contains(where: matches)
        }
        var found: [NetworkStack] = []
        if try root.exists("/etc/network/interfaces") { found.append(.ifupdown) }
        if try any("/etc/netplan", { $0.hasSuffix(".yaml") }) { found.append(.netplan) }
        if try any("/etc/NetworkManager/system-connections", { _ in true }) || root.exists("/usr/sbin/NetworkManager") {
            found.append(.networkManager)
        }
        if try any("/etc/sysconfig/network-scripts", { $0.hasPrefix("ifcfg-") && $0 != "ifcfg-lo" }) { found.append(.ifcfgRHEL) }
        if try any("/etc/sysconfig/network", { $0.hasPrefix("ifcfg-") && $0 != "ifcfg-lo" }) { found.append(.ifcfgSUSE) }
        for directory: GuestPath in ["/etc/systemd/network", "/run/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network"] {
            if try any(directory, { $0.hasSuffix(".network") }) {
                found.append(.networkd)
                break
            }
        }
        return found
    }

    static func bootloaderFiles(_ root: GuestRoot) throws -> [GuestPath] {
        var found: [GuestPath] = []
        let fixed: [GuestPath] = [
            "/etc/default/grub", "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/grub2/grubenv", "/boot/grub/grubenv",
            "/etc/kernel/cmdline", "/boot/extlinux/extlinux.conf", "/boot/loader/loader.conf",
        ]
        for path in fixed where try root.exists(path) { found.append(path) }
        for name in try names(in: "/boot/loader/entries", of: root) where name.hasSuffix(".conf") {
            found.append(GuestPath("/boot/loader/entries").appending(name))
        }
        for vendor in try names(in: "/boot/efi/EFI", of: root) {
            let directory = GuestPath("/boot/efi/EFI").appending(vendor)
            for name in try names(in: directory, of: root) where name.hasSuffix(".cfg") || name.hasSuffix(".efi") {
                found.append(directory.appending(name))
            }
        }
        return found
    }

    static func kernelPaths(_ root: GuestRoot) throws -> KernelInventoryPaths {
        let boot = try names(in: "/boot", of: root)
        let kernelPrefixes = ["vmlinuz-", "vmlinux-", "Image-", "kernel-"]
        let initramfsPrefixes = ["initrd.img-", "initramfs-", "initrd-"]
        var modules: [GuestPath] = []
        // Merged /usr makes /lib a link to /usr/lib: list one, not both.
        for base: GuestPath in ["/lib/modules", "/usr/lib/modules"] {
            let canonical = (try? root.canonicalPath(base)) ?? base
            let found = try names(in: canonical, of: root).map { canonical.appending($0) }
            for path in found where !modules.contains(path) { modules.append(path) }
        }
        return KernelInventoryPaths(
            kernels: boot.filter { name in kernelPrefixes.contains { name.hasPrefix($0) } }.map { GuestPath("/boot").appending($0) },
            initramfsImages: boot.filter { name in initramfsPrefixes.contains { name.hasPrefix($0) } }.map {
                GuestPath("/boot").appending($0)
            },
            moduleDirectories: modules)
    }
}
