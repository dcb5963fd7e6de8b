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
        self.guestName = name.hasPrefix("/") ? name : "/dev/" + name
        self.hostPath = String(argument[argument.index(after: equals)...])
        guard guestName.hasPrefix("/dev/"), !guestName.hasSuffix("/") else {
            throw GuestprepError(.usage, "--disk NAME must be a device name such as sda or a /dev path, got '\(name)'")
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
        if disk.hasPrefix("/dev/disk/") { return "\(disk)-part\(number)" }
        if let last = disk.last, last.isNumber { return "\(disk)p\(number)" }
        return "\(disk)\(number)"
    }
}

/// Probes guest disks given as image files (or host block devices) with libblkid: the partition
/// table, then each partition at its offset, or the whole disk when it holds a filesystem directly.
public enum DiskImageProbe {
    public static func inventory(_ mappings: [DiskMapping]) throws -> DeviceInventory {
        // Several names for one file (sda=x.img and /dev/disk/by-id/…=x.img) are one disk.
        var disks: [(key: [UInt64], names: [String], hostPath: String)] = []
        var seen: [String: String] = [:]
        for mapping in mappings {
            if let earlier = seen[mapping.guestName] {
                throw GuestprepError(
                    .usage, "--disk names \(mapping.guestName) twice (\(earlier) and \(mapping.hostPath)); give each guest disk once")
            }
            seen[mapping.guestName] = mapping.hostPath
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
        var devices: [BlockDevice] = []
        for disk in disks {
            devices += try probeDisk(names: disk.names, hostPath: disk.hostPath)
        }
        return DeviceInventory(devices: devices)
    }

    static func probeDisk(names: [String], hostPath: String) throws -> [BlockDevice] {
        let whole = try BlkidProbe(path: hostPath)
        let outcome = try whole.probe(partitions: true, display: hostPath)
        var disk = BlockDevice(name: names[0], aliases: Array(names.dropFirst()), source: hostPath)
        let partitions = outcome == .found ? whole.partitions() : []
        if partitions.isEmpty {
            whole.describe(into: &disk, outcome: outcome)
            return [disk]
        }
        var devices = [disk]
        let fd = open(hostPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GuestprepError.system("opening disk image", path: hostPath) }
        defer { close(fd) }
        for partition in partitions where !partition.isExtended {
            let partitionNames = names.map { PartitionNaming.partition(partition.number, of: $0) }
            var device = BlockDevice(
                name: partitionNames[0], aliases: Array(partitionNames.dropFirst()),
                source: "\(hostPath) @ byte \(partition.startBytes)", partUUID: partition.uuid)
            let probe = try BlkidProbe(fd: fd, offset: partition.startBytes, size: partition.sizeBytes, display: device.source)
            probe.describe(into: &device, outcome: try probe.probe(partitions: false, display: device.source))
            devices.append(device)
        }
        return devices
    }
}
