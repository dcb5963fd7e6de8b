import GuestFS
import GuestprepCore

/// An EFI executable on the guest's EFI system partition, as mounted in the guest root.
public struct EFILoader: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// shim: the first stage signed by Microsoft's UEFI CA, which Secure Boot firmware accepts.
        case shim
        case grub
        case systemdBoot = "systemd-boot"
        /// \EFI\BOOT\BOOTX64.EFI …: what firmware starts when it has no boot entry for the disk
        /// (a new VM on the destination has none).
        case fallback
        case other
    }

    public var path: GuestPath
    public var kind: Kind
    /// The PE image carries an Authenticode signature (a certificate table), as Secure Boot requires.
    public var isSigned: Bool

    public init(path: GuestPath, kind: Kind, isSigned: Bool) {
        self.path = path
        self.kind = kind
        self.isSigned = isSigned
    }
}

/// What the guest's EFI system partition holds, read where the guest mounts it.
public struct EFISystemPartitionContents: Sendable, Equatable {
    /// Where the ESP's `EFI` directory was found (/boot/efi, /efi, /boot), or nil.
    public var mountPoint: GuestPath?
    public var loaders: [EFILoader]

    /// Where distributions mount the ESP: Debian, RHEL and SUSE at /boot/efi; systemd's
    /// recommendation /efi; systemd-boot setups often at /boot itself (bootctl(1)).
    public static let mountPoints: [GuestPath] = ["/boot/efi", "/efi", "/boot"]

    /// Reads `EFI/*/*.efi` (names in any case, as FAT compares them) under each mount point.
    public static func read(from root: GuestRoot) throws -> EFISystemPartitionContents {
        for mountPoint in mountPoints {
            // /boot/efi is where the ESP is mounted, not an ESP's own EFI directory.
            let names = try root.listDirectory(mountPoint)
            guard let efi = names.first(where: { mountPoint == "/boot" ? $0 == "EFI" : $0.uppercased() == "EFI" }) else { continue }
            let base = mountPoint.appending(efi)
            guard try root.isDirectory(base) else { continue }
            var loaders: [EFILoader] = []
            for vendor in try root.listDirectory(base) {
                let directory = base.appending(vendor)
                guard try root.isDirectory(directory) else { continue }
                for name in try root.listDirectory(directory) where name.lowercased().hasSuffix(".efi") {
                    let path = directory.appending(name)
                    guard let file = try root.readFile(path) else { continue }
                    loaders.append(
                        EFILoader(
                            path: path, kind: kind(vendor: vendor, name: name), isSigned: PEImage.hasCertificateTable(file.contents)))
                }
            }
            return EFISystemPartitionContents(mountPoint: mountPoint, loaders: loaders)
        }
        return EFISystemPartitionContents(mountPoint: nil, loaders: [])
    }

    static func kind(vendor: String, name: String) -> EFILoader.Kind {
        let lower = name.lowercased()
        if vendor.uppercased() == "BOOT" && lower.hasPrefix("boot") { return .fallback }
        if lower.hasPrefix("shim") { return .shim }
        if lower.hasPrefix("grub") { return .grub }
        if lower.hasPrefix("systemd-boot") { return .systemdBoot }
        return .other
    }

    public init(mountPoint: GuestPath?, loaders: [EFILoader]) {
        self.mountPoint = mountPoint
        self.loaders = loaders
    }

    public func loaders(_ kind: EFILoader.Kind) -> [EFILoader] { loaders.filter { $0.kind == kind } }
}

/// Just enough of the PE/COFF format (Microsoft "PE Format") to see whether an image is signed.
public enum PEImage {
    /// The Certificate Table data directory (index 4) is non-empty: the image has an Authenticode
    /// signature appended. Whether the signature is valid is the firmware's business.
    public static func hasCertificateTable(_ bytes: [UInt8]) -> Bool {
        func le(_ offset: Int, _ count: Int) -> Int? {
            guard offset >= 0, offset + count <= bytes.count else { return nil }
            return bytes[offset..<(offset + count)].reversed().reduce(0) { $0 << 8 | Int($1) }
        }
        guard bytes.starts(with: Array("MZ".utf8)), let header = le(0x3C, 4), header > 0,
            le(header, 4) == 0x0000_4550  // "PE\0\0"
        else { return false }
        let optional = header + 24
        let directories: Int
        switch le(optional, 2) {
        case 0x10B: directories = optional + 96  // PE32
        case 0x20B: directories = optional + 112  // PE32+
        default: return false
        }
        guard let count = le(directories - 4, 4), count > 4, let size = le(directories + 4 * 8 + 4, 4) else { return false }
        return size > 0
    }
}
