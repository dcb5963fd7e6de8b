import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// One `--disk NAME=PATH`: the guest's disk NAME is the image file or host block device at PATH.
public struct DiskMapping: Sendable, Equatable {
    /// The guest's device path for the whole disk, e.g. "/dev/sda" or "/dev/disk/by-id/ata-X".
    public var guestName: String
    public var hostPath: String

    /// Parses "sda=/images/disk.img"; a bare name means /dev/NAME.
    public init(argument: String) throws {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex,
            argument.index(after: equals) != argument.endIndex
        else {
            throw GuestprepError(.usage, "--disk takes NAME=PATH (for example sda=/var/tmp/disk.img), got '\(argument)'")
        }
        let name = String(argument[..<equals])
        self.guestName = name.utf8.first == UInt8(ascii: "/") ? name : "/dev/" + name
        self.hostPath = String(argument[argument.index(after: equals)...])
        guard guestName.utf8.starts(with: "/dev/".utf8), guestName.utf8.last != UInt8(ascii: "/") else {
            throw GuestprepError(.usage, "--disk NAME must be a device name such as sda or a /dev path, got '\(TerminalText.escape(name))'")
        }
        // What is left of bytes that are not UTF-8: such a name cannot be matched byte for byte.
        guard !name.unicodeScalars.contains("\u{FFFD}") else {
            throw GuestprepError(
                .usage,
                "--disk NAME '\(TerminalText.escape(name))' holds bytes that are not valid UTF-8; name the disk by its kernel name (sda, vdb) instead"
            )
        }
    }

    public init(guestName: String, hostPath: String) {
        self.guestName = guestName
        self.hostPath = hostPath
    }
}

/// Guest device names for partitions, following the kernel's and udev's conventions.
public enum PartitionNaming {
    /// "/dev/sda" + 1 → "/dev/sda1"; "/dev/nvme0n1" + 2 → "/dev/nvme0n1p2" (names ending in a
    /// digit get a "p"); "/dev/disk/by-id/X" + 3 → "/dev/disk/by-id/X-part3" (udev's links).
    public static func partition(_ number: Int, of disk: String) -> String {
        "\(disk)\(separator(for: disk))\(number)"
    }

    /// The number `name` has as a partition of `disk` under the same conventions ("/dev/vda1" on
    /// "/dev/vda" is 1), or nil when it is not one of its partition names. Compared as bytes.
    public static func partitionNumber(of name: String, onDisk disk: String) -> Int? {
        let prefix = Array(disk.utf8) + Array(separator(for: disk).utf8)
        let bytes = Array(name.utf8)
        guard bytes.starts(with: prefix) else { return nil }
        let digits = bytes.dropFirst(prefix.count)
        guard let first = digits.first, first != UInt8(ascii: "0"), digits.allSatisfy(isASCIIDigit) else { return nil }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// The kernel adds "p" after a name ending in an ASCII digit (isdigit(), not Unicode digits).
    private static func separator(for disk: String) -> String {
        if disk.utf8.starts(with: "/dev/disk/".utf8) { return "-part" }
        if let last = disk.utf8.last, isASCIIDigit(last) { return "p" }
        return ""
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

/// Probes guest disks given as image files (or host block devices) with libblkid: the partition
/// table, then each partition at its offset, or the whole disk when it holds a filesystem directly.
///
/// A disk that cannot be read, or whose partition table reaches past the end of the image (a
/// truncated copy), is an error naming the image and the cause: it never reads as "holds no
/// filesystem", which would send the admin looking in the wrong place.
public enum DiskImageProbe {
    public static func inventory(_ mappings: [DiskMapping]) throws -> DeviceInventory {
        // Several names for one file (sda=x.img and /dev/disk/by-id/…=x.img) are one disk.
        var disks: [(key: [UInt64], names: [String], hostPath: String)] = []
        // Keyed by bytes: "ata-\u{212A}" and "ata-K" are two names to the kernel.
        var seen: [[UInt8]: String] = [:]
        for mapping in mappings {
            if let earlier = seen[Array(mapping.guestName.utf8)] {
                throw GuestprepError(
                    .usage, "--disk names \(mapping.guestName) twice (\(earlier) and \(mapping.hostPath)); give each guest disk once")
            }
            seen[Array(mapping.guestName.utf8)] = mapping.hostPath
            var info = stat()
            guard stat(mapping.hostPath, &info) == 0 else {
                throw GuestprepError.system("opening disk image for --disk \(mapping.guestName)", path: mapping.hostPath)
            }
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFREG || kind == S_IFBLK else {
                throw GuestprepError(.usage, "--disk \(mapping.guestName): not an image file or block device", path: mapping.hostPath)
            }
            let key = [UInt64(info.st_dev), UInt64(info.st_ino)]
            if let index = disks.firstIndex(where: { $0.key == key }) {
                disks[index].names.append(mapping.guestName)
            } else {
                disks.append((key, [mapping.guestName], mapping.hostPath))
            }
        }
        try refuseCollidingNames(mappings)
        var devices: [BlockDevice] = []
        for disk in disks {
            devices += try probeDisk(names: disk.names, hostPath: disk.hostPath)
        }
        // Whatever the naming rules missed: one name, two devices, is never a guess we make.
        var owner: [[UInt8]: BlockDevice] = [:]
        for device in devices {
            for name in device.allNames {
                if let other = owner[Array(name.utf8)] {
                    throw GuestprepError(
                        .usage,
                        "two --disk devices are both named \(name): \(other.source) and \(device.source); give the disks names that do not overlap"
                    )
                }
                owner[Array(name.utf8)] = device
            }
        }
        return DeviceInventory(devices: devices)
    }

    /// `--disk vda=a.img --disk vda1=b.img`: vda's first partition and the whole disk vda1 would
    /// both be /dev/vda1. No guest has both, so one of the names is a mistake.
    static func refuseCollidingNames(_ mappings: [DiskMapping]) throws {
        for disk in mappings {
            for other in mappings where other.guestName.utf8.count > disk.guestName.utf8.count {
                guard let number = PartitionNaming.partitionNumber(of: other.guestName, onDisk: disk.guestName) else { continue }
                throw GuestprepError(
                    .usage,
                    "--disk \(disk.guestName)=\(disk.hostPath) and --disk \(other.guestName)=\(other.hostPath) collide: "
                        + "\(other.guestName) is the name of partition \(number) of \(disk.guestName), so it cannot also be a whole disk; "
                        + "give each disk the name the guest knows it by")
            }
        }
    }

    static func probeDisk(names: [String], hostPath: String) throws -> [BlockDevice] {
        let what = "disk image for --disk \(names[0])"
        let fd = open(hostPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GuestprepError.system("opening \(what)", path: hostPath) }
        defer { close(fd) }
        let size = Int64(lseek(fd, 0, SEEK_END))
        guard size >= 0 else { throw GuestprepError.system("finding the size of \(what)", path: hostPath) }
        guard size > 0 else {
            throw GuestprepError(.probe, "\(what) is empty (0 bytes); give the image of the guest's disk", path: hostPath)
        }
        let image = ImageFile(fd: fd, size: size, path: hostPath, what: what)
        try image.checkReadable(0..<size)
        try image.refuseTruncatedGPT()

        let whole = try BlkidProbe(fd: fd, offset: 0, size: size, display: hostPath)
        let outcome = try whole.probe(partitions: true, display: hostPath)
        var disk = BlockDevice(name: names[0], aliases: Array(names.dropFirst()), source: hostPath)
        let partitions = outcome == .found ? whole.partitions() : []
        if !partitions.isEmpty { disk.partitionTable = whole.value("PTTYPE") }
        if partitions.isEmpty {
            whole.describe(into: &disk, outcome: outcome)
            return [disk]
        }
        for partition in partitions {
            try image.refusePastEnd(partition.startBytes, partition.sizeBytes, what: "partition \(partition.number)")
        }
        var devices = [disk]
        for partition in partitions where !partition.isExtended {
            let partitionNames = names.map { PartitionNaming.partition(partition.number, of: $0) }
            var device = BlockDevice(
                name: partitionNames[0], aliases: Array(partitionNames.dropFirst()),
                source: "\(hostPath) @ byte \(partition.startBytes)", partUUID: partition.uuid, disk: names[0],
                partitionType: partition.type)
            try image.checkReadable(partition.startBytes..<(partition.startBytes + partition.sizeBytes))
            let probe = try BlkidProbe(fd: fd, offset: partition.startBytes, size: partition.sizeBytes, display: device.source)
            probe.describe(into: &device, outcome: try probe.probe(partitions: false, display: device.source))
            devices.append(device)
        }
        return devices
    }
}
