import BlockProbe
import GuestprepCore

/// How a configuration file names a block device, and whether that name survives a move to
/// other virtual hardware.
public enum DeviceReference: Equatable, Sendable {
    /// Names a filesystem or partition by its contents (UUID=, LABEL=, /dev/disk/by-uuid/…) or a
    /// logical device (/dev/mapper/…, /dev/md/…): stays valid on the destination.
    case stable
    /// Names hardware position or bus identity (/dev/sda1, /dev/disk/by-path/…): may name another
    /// device, or none, on the destination.
    case unstable(path: String)
    /// Not a block device at all (network share, virtual filesystem, bind source, "none").
    case other

    /// Classified by the bytes of `source`, as libmount reads it: `String.hasPrefix` compares
    /// characters, under which "/dev/sda" + U+0301 is not even a "/dev/sda…" name.
    public static func classify(_ source: String) -> DeviceReference {
        let bytes = Array(source.utf8)[...]
        func starts(_ prefix: String) -> Bool { bytes.starts(with: prefix.utf8) }
        for tag in ["UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=", "ID="] where starts(tag) {
            return .stable
        }
        for prefix in [
            "/dev/disk/by-uuid/", "/dev/disk/by-label/", "/dev/disk/by-partuuid/",
            "/dev/disk/by-partlabel/", "/dev/mapper/", "/dev/md/",
        ] where starts(prefix) {
            return .stable
        }
        if starts("/dev/disk/by-id/") {
            // Device-mapper, MD and LVM ids name logical devices by their own UUIDs, not by hardware.
            let id = bytes.dropFirst("/dev/disk/by-id/".utf8.count)
            for logical in ["dm-uuid-", "dm-name-", "md-uuid-", "md-name-", "lvm-pv-uuid-"] where id.starts(with: logical.utf8) {
                return .stable
            }
            return .unstable(path: source)
        }
        if starts("/dev/disk/by-path/") { return .unstable(path: source) }
        if starts("/dev/"), isKernelDiskName(bytes.dropFirst("/dev/".utf8.count)) {
            return .unstable(path: source)
        }
        return .other
    }

    /// sd*, vd*, hd*, xvd* disks and partitions (sda, vdb2, xvdaa1) and NVMe namespaces (nvme0n1, nvme0n1p2),
    /// in ASCII only.
    static func isKernelDiskName(_ name: ArraySlice<UInt8>) -> Bool {
        func isLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        for prefix in ["xvd", "sd", "vd", "hd"] where name.starts(with: prefix.utf8) {
            let rest = name.dropFirst(prefix.utf8.count)
            let letters = rest.prefix(while: isLetter)
            let digits = rest.dropFirst(letters.count)
            return !letters.isEmpty && digits.allSatisfy(isDigit)
        }
        if name.starts(with: "nvme".utf8) {
            // nvme<ctrl>n<ns>[p<part>]
            var rest = name.dropFirst(4)
            let controller = rest.prefix(while: isDigit)
            guard !controller.isEmpty else { return false }
            rest = rest.dropFirst(controller.count)
            guard rest.first == UInt8(ascii: "n") else { return false }
            rest = rest.dropFirst()
            let namespace = rest.prefix(while: isDigit)
            guard !namespace.isEmpty else { return false }
            rest = rest.dropFirst(namespace.count)
            if rest.isEmpty { return true }
            guard rest.first == UInt8(ascii: "p") else { return false }
            rest = rest.dropFirst()
            return !rest.isEmpty && rest.allSatisfy(isDigit)
        }
        return false
    }

    static func isKernelDiskName(_ name: Substring) -> Bool {
        isKernelDiskName(Array(name.utf8)[...])
    }
}

/// The outcome of looking a device path up among the probed devices.
public enum DeviceResolution: Equatable, Sendable {
    case resolved(device: BlockDevice, uuid: String)
    /// Why the reference cannot be rewritten: a stable reason (for finding codes) and words.
    case refused(RefusalReason, String)
    /// guestprep could not read the device: the reference could not be checked at all.
    case unreadable(GuestprepError)
}

/// Why a device reference cannot be rewritten; the last part of a finding's code.
public enum RefusalReason: String, Sendable {
    case notProbed = "not-probed"
    case unreadable
    case noUUID = "no-uuid"
    case uuidAmbiguous = "uuid-ambiguous"
    case typeMismatch = "type-mismatch"
}

extension DeviceInventory {
    /// Resolves a device path to a filesystem UUID that names exactly one probed device, or says why not.
    /// `expectedType` (from the file, e.g. fstab's type field) guards against a wrong disk mapping.
    public func resolveUUID(for path: String, expectedType: String? = nil) -> DeviceResolution {
        // U+FFFD is what lossy decoding leaves of bytes that are not UTF-8: two different names
        // can both read as it, so a match would not be a byte-for-byte one.
        guard !path.unicodeScalars.contains("\u{FFFD}") else {
            return .refused(
                .unreadable,
                "\(TerminalText.escape(path)) holds bytes that are not valid UTF-8 (shown as \u{FFFD}), so which device it names cannot be matched exactly; name the device by UUID= by hand"
            )
        }
        guard let device = device(named: path) else {
            return .refused(
                .notProbed,
                "\(path) is not among the probed block devices, so its UUID is unknown (offline: pass --disk NAME=IMAGE for the disk that holds it; live: is the device attached?)"
            )
        }
        if let failure = device.readFailure {
            return .unreadable(
                GuestprepError(
                    .probe, "\(path) could not be probed, so the reference to it cannot be checked; run guestprep as root",
                    path: path, cause: failure))
        }
        if let problem = device.problem {
            return .refused(.unreadable, "\(path) (\(device.source)): \(problem)")
        }
        guard let uuid = device.uuid, !uuid.isEmpty else {
            let what = device.type.map { "holds \($0) without a UUID" } ?? "holds no recognisable filesystem, swap or LUKS signature"
            return .refused(
                .noUUID,
                "\(path) (\(device.source)) \(what); create the filesystem or set a UUID (tune2fs -U, swaplabel -U, …), then run again")
        }
        let sharing = devices(withUUID: uuid)
        if sharing.count > 1 && !Self.isMultiDeviceFilesystem(sharing) {
            let names = sharing.map(\.name).joined(separator: ", ")
            return .refused(
                .uuidAmbiguous,
                "UUID \(uuid) of \(path) is carried by \(sharing.count) probed devices (\(names)), as on a cloned disk, so UUID= would be ambiguous; give one a new UUID (tune2fs -U random, xfs_admin -U generate, swaplabel -U) and run again"
            )
        }
        if let expectedType, let actual = device.type, !Self.typesAgree(expected: expectedType, actual: actual) {
            return .refused(
                .typeMismatch,
                "the file says \(expectedType) but \(path) (\(device.source)) holds \(actual); the device names may not match this guest's disks (check --disk)"
            )
        }
        return .resolved(device: device, uuid: uuid)
    }

    /// btrfs spreads one filesystem (one UUID) over several devices, each with its own UUID_SUB.
    static func isMultiDeviceFilesystem(_ devices: [BlockDevice]) -> Bool {
        let subUUIDs = devices.compactMap(\.subUUID)
        // No device at all is not a filesystem of any kind.
        return !devices.isEmpty && devices.allSatisfy { $0.type == "btrfs" } && Set(subUUIDs).count == devices.count
    }

    static func typesAgree(expected: String, actual: String) -> Bool {
        func family(_ type: String) -> String {
            switch type {
            case "ext2", "ext3", "ext4", "ext4dev": "ext"
            case "vfat", "msdos", "fat", "fat16", "fat32", "umsdos": "fat"
            case "swap", "swsuspend": "swap"
            default: type
            }
        }
        if expected.isEmpty || expected == "auto" || expected.contains(",") { return true }
        return family(expected) == family(actual)
    }
}
