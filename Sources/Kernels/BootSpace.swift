import GuestFS
import GuestprepCore

/// What rebuilding every kept kernel's initramfs on the destination needs in /boot.
public struct BootSpaceEstimate: Sendable, Equatable {
    /// Added drivers make images grow: storage and network drivers for the destination (virtio,
    /// Hyper-V hv_*, Xen, NVMe, ENA/gVNIC) are a few MiB compressed against images of 20–70 MiB,
    /// and a generic (not host-only) dracut image that migration tools ask for grows by about a
    /// fifth; 25% covers both with room for firmware.
    public static let marginPercent = 25
    /// Below this much free space /boot is too tight for any kernel update, whatever the estimate.
    public static let floorBytes = 100 << 20
    /// Each rebuild writes its new image beside the old one before renaming it over (mkinitramfs
    /// `.new`, dracut's temporary copy): two inodes per kernel at the peak.
    public static let inodesPerKernel = 2

    public var largestInitramfs: Int
    public var kernels: Int
    public var freeBytes: Int
    public var freeInodes: Int
    /// Zero when the filesystem has no inode limit.
    public var totalInodes: Int

    public init(largestInitramfs: Int, kernels: Int, freeBytes: Int, freeInodes: Int, totalInodes: Int) {
        self.largestInitramfs = largestInitramfs
        self.kernels = kernels
        self.freeBytes = freeBytes
        self.freeInodes = freeInodes
        self.totalInodes = totalInodes
    }

    /// Largest image × kernels, plus the margin, and never less than the floor. Counted in full,
    /// not as growth over today's images: the rebuild writes each new image beside the old one,
    /// and some tools keep the old one as a backup.
    public var neededBytes: Int {
        let images = largestInitramfs * kernels
        return max(images + images * Self.marginPercent / 100, Self.floorBytes)
    }

    public var neededInodes: Int { kernels * Self.inodesPerKernel }

    public var isShortOfSpace: Bool { freeBytes < neededBytes }
    public var isShortOfInodes: Bool { totalInodes > 0 && freeInodes < neededInodes }
}

/// Sizes of a kernel's files in /boot.
public enum BootFiles {
    /// What follows `-<release>` in the names of a kernel's /boot files (vmlinuz-X, initrd.img-X,
    /// initramfs-X.img, initramfs-Xkdump.img, .vmlinuz-X.hmac, System.map-X, config-X …).
    static let suffixes = ["", ".img", "kdump.img", "-kdump.img", ".hmac", ".bak", ".old-dkms"]

    /// The /boot files of `release` with their sizes (regular files only).
    public static func files(of release: String, root: GuestRoot) throws -> [(path: GuestPath, bytes: Int)] {
        var found: [(GuestPath, Int)] = []
        for name in try root.listDirectoryBytes("/boot").compactMap({ String(validating: $0, as: UTF8.self) }).sorted() {
            guard let range = name.firstRange(of: "-" + release), suffixes.contains(String(name[range.upperBound...])) else { continue }
            let path = GuestPath("/boot").appending(name)
            if case .regularFile(let size, _) = try root.entry(path) { found.append((path, size)) }
        }
        return found
    }

    public static func bytes(of release: String, root: GuestRoot) throws -> Int {
        try files(of: release, root: root).reduce(0) { $0 + $1.bytes }
    }
}

/// Sizes for people: "45.2 MiB".
public func byteText(_ bytes: Int) -> String {
    let mebibyte = Double(1 << 20)
    if bytes < 1 << 20 { return "\(bytes / 1024) KiB" }
    let value = (Double(bytes) / mebibyte * 10).rounded() / 10
    return "\(value) MiB"
}
