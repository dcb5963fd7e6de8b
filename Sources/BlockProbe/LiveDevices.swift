import CUdev
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// The running system's block devices: enumerated with libudev (names, devlinks), identified
/// with libblkid reading each device itself, since the udev database can be stale or absent.
public enum LiveDeviceProbe {
    public static func inventory() throws -> DeviceInventory {
        guard let udev = udev_new() else {
            throw GuestprepError(.probe, "libudev could not be initialised", cause: String(cString: strerror(errno)))
        }
        defer { udev_unref(udev) }
        guard let enumerate = udev_enumerate_new(udev) else {
            throw GuestprepError(.probe, "libudev could not start enumerating devices")
        }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, "block")
        guard udev_enumerate_scan_devices(enumerate) >= 0 else {
            throw GuestprepError(.probe, "libudev could not scan block devices (is /sys mounted?)")
        }
        var devices: [BlockDevice] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            defer { entry = udev_list_entry_get_next(current) }
            guard let syspath = udev_list_entry_get_name(current),
                let device = udev_device_new_from_syspath(udev, syspath)
            else { continue }
            defer { udev_device_unref(device) }
            guard let node = udev_device_get_devnode(device).map({ String(cString: $0) }) else { continue }
            // Empty loop devices and drives without media have size 0: nothing to identify.
            let sectors = udev_device_get_sysattr_value(device, "size").flatMap { Int(String(cString: $0)) } ?? 0
            guard sectors > 0 else { continue }
            var aliases: [String] = []
            var link = udev_device_get_devlinks_list_entry(device)
            while let current = link {
                if let name = udev_list_entry_get_name(current) { aliases.append(String(cString: name)) }
                link = udev_list_entry_get_next(current)
            }
            var probed = BlockDevice(name: node, aliases: aliases.sorted(), source: node)
            if let type = udev_device_get_devtype(device).map({ String(cString: $0) }), type == "partition" {
                // The parent is owned by the child: no unref.
                probed.disk = udev_device_get_parent_with_subsystem_devtype(device, "block", "disk")
                    .flatMap { udev_device_get_devnode($0) }.map { String(cString: $0) }
                probed.partitionType = Self.property(device, "ID_PART_ENTRY_TYPE").map { $0.hasPrefix("0x") ? $0 : $0.uppercased() }
            } else {
                probed.partitionTable = Self.property(device, "ID_PART_TABLE_TYPE")
            }
            do {
                let probe = try BlkidProbe(path: node)
                probe.describe(into: &probed, outcome: try probe.probe(partitions: false, display: node))
            } catch let error as GuestprepError {
                probed.readFailure = "\(error)"
            }
            devices.append(probed)
        }
        return DeviceInventory(devices: devices)
    }

    /// A udev property of the device (from the udev database), copied out.
    static func property(_ device: OpaquePointer, _ name: String) -> String? {
        udev_device_get_property_value(device, name).map { String(cString: $0) }
    }
}
