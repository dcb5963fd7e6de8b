import GuestFS

/// Distribution families that share package tools, initramfs builder and config layout.
public enum DistroFamily: String, Sendable, Codable, CaseIterable {
    case debian, rhel, suse, arch, alpine, unknown
}

/// How a family's initramfs is built; decides where the resume device and drivers are set.
public enum InitramfsSystem: String, Sendable, Codable {
    case initramfsTools = "initramfs-tools"
    case dracut, mkinitcpio, mkinitfs, unknown
}

/// One row of the family table: what identifies the family and where its files live, with why.
public struct FamilyProfile: Sendable {
    public var family: DistroFamily
    /// os-release IDs (or ID_LIKE words) that belong to the family.
    public var ids: [String]
    public var packageManager: String
    public var initramfs: InitramfsSystem
    /// Files that name the hibernation resume device, each read by the family's boot path.
    public var resumeFiles: [GuestPath]
    /// Mode of configuration directories the family's packages create (/etc/systemd/network …).
    public var configDirectoryMode: UInt32
    /// Why these values, with the man page or document that says so.
    public var why: String
}

/// The family table. Order matters only for `unknown`, which is the fallback.
public enum FamilyTable {
    static let defaultGrub: GuestPath = "/etc/default/grub"
    static let initramfsToolsResume: GuestPath = "/etc/initramfs-tools/conf.d/resume"

    public static let rows: [FamilyProfile] = [
        FamilyProfile(
            family: .debian, ids: ["debian", "ubuntu", "linuxmint", "raspbian", "devuan", "kali", "pop"], packageManager: "dpkg",
            initramfs: .initramfsTools, resumeFiles: [initramfsToolsResume, defaultGrub], configDirectoryMode: 0o755,
            why: "initramfs-tools reads RESUME= from conf.d/resume (initramfs.conf(5)); the kernel's resume= comes from GRUB_CMDLINE_LINUX*"
        ),
        FamilyProfile(
            family: .rhel, ids: ["rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn", "cloudlinux", "scientific", "eurolinux"],
            packageManager: "rpm", initramfs: .dracut, resumeFiles: [defaultGrub], configDirectoryMode: 0o755,
            why: "dracut takes resume= from the kernel command line (dracut.cmdline(7)), set in /etc/default/grub"),
        FamilyProfile(
            family: .suse, ids: ["suse", "sles", "sled", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sle_hpc"],
            packageManager: "rpm", initramfs: .dracut, resumeFiles: [defaultGrub], configDirectoryMode: 0o755,
            why: "SUSE builds its initrd with dracut (mkinitrd is a wrapper) and sets resume= in GRUB_CMDLINE_LINUX_DEFAULT"),
        FamilyProfile(
            family: .arch, ids: ["arch", "manjaro", "endeavouros"], packageManager: "pacman", initramfs: .mkinitcpio,
            resumeFiles: [defaultGrub], configDirectoryMode: 0o755,
            why: "mkinitcpio's resume hook reads resume= from the kernel command line (ArchWiki: Power management/Suspend and hibernate)"),
        FamilyProfile(
            family: .alpine, ids: ["alpine"], packageManager: "apk", initramfs: .mkinitfs, resumeFiles: [defaultGrub],
            configDirectoryMode: 0o755, why: "mkinitfs passes resume= from the kernel command line"),
        FamilyProfile(
            family: .unknown, ids: [], packageManager: "unknown", initramfs: .unknown,
            resumeFiles: [initramfsToolsResume, defaultGrub], configDirectoryMode: 0o755,
            why: "unrecognised distribution: look everywhere a known family keeps the resume device"),
    ]

    /// The family of an os-release: its ID first, then each ID_LIKE word in order.
    public static func profile(for os: OSRelease?) -> FamilyProfile {
        let candidates = os.map { [$0.id] + $0.idLike } ?? []
        for id in candidates {
            if let row = rows.first(where: { $0.ids.contains(id) }) { return row }
        }
        return profile(.unknown)
    }

    public static func profile(_ family: DistroFamily) -> FamilyProfile {
        rows.first { $0.family == family } ?? rows[rows.count - 1]
    }
}
