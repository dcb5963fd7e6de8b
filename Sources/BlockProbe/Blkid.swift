import CBlkid
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// One libblkid probe; freed when the value goes away.
final class BlkidProbe {
    let handle: blkid_probe

    /// Probes the device or image file at `path` (libblkid opens it read-only).
    init(path: String) throws {
        guard let handle = blkid_new_probe_from_filename(path) else {
            throw GuestprepError.system("opening for probing", path: path)
        }
        self.handle = handle
    }

    /// Probes `size` bytes of an open file starting at `offset`: one partition of a disk image.
    init(fd: Int32, offset: Int64, size: Int64, display: String) throws {
        guard let handle = blkid_new_probe() else {
            throw GuestprepError(.probe, "libblkid could not allocate a probe", path: display)
        }
        self.handle = handle
        guard blkid_probe_set_device(handle, fd, offset, size) == 0 else {
            throw GuestprepError(.probe, "libblkid refused the range at offset \(offset), size \(size)", path: display)
        }
    }

    deinit { blkid_free_probe(handle) }

    enum Outcome { case found, nothing, ambiguous }

    /// Looks for a filesystem, swap, LUKS or RAID signature (and, when asked, a partition table).
    func probe(partitions: Bool, display: String) throws -> Outcome {
        blkid_probe_enable_superblocks(handle, 1)
        blkid_probe_set_superblocks_flags(handle, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE)
        blkid_probe_enable_partitions(handle, partitions ? 1 : 0)
        if partitions { blkid_probe_set_partitions_flags(handle, BLKID_PARTS_ENTRY_DETAILS) }
        switch blkid_do_safeprobe(handle) {
        case 0: return .found
        case 1: return .nothing
        case -2: return .ambiguous
        default: throw GuestprepError(.probe, "libblkid failed to probe", path: display, cause: String(cString: strerror(errno)))
        }
    }

    /// A probed value such as "UUID", "TYPE", "LABEL", copied out at once.
    func value(_ name: String) -> String? {
        var data: UnsafePointer<CChar>?
        var length = 0
        guard blkid_probe_lookup_value(handle, name, &data, &length) == 0, let data else { return nil }
        return String(cString: data)
    }

    struct Partition {
        var number: Int
        var startBytes: Int64
        var sizeBytes: Int64
        var uuid: String?
        var isExtended: Bool
        /// GPT type GUID (upper case) or MBR type byte ("0xef").
        var type: String?
    }

    /// The partition table found by `probe(partitions: true)`, if any.
    func partitions() -> [Partition] {
        guard let list = blkid_probe_get_partitions(handle) else { return [] }
        var result: [Partition] = []
        let count = blkid_partlist_numof_partitions(list)
        guard count > 0 else { return [] }
        for index in 0..<count {
            guard let partition = blkid_partlist_get_partition(list, index) else { continue }
            // libblkid reports partition geometry in 512-byte sectors whatever the device's sector size.
            result.append(
                Partition(
                    number: Int(blkid_partition_get_partno(partition)),
                    startBytes: Int64(blkid_partition_get_start(partition)) * 512,
                    sizeBytes: Int64(blkid_partition_get_size(partition)) * 512,
                    uuid: blkid_partition_get_uuid(partition).map { String(cString: $0) },
                    isExtended: blkid_partition_is_extended(partition) != 0, type: Self.type(of: partition)))
        }
        return result
    }

    /// A partition's type: the GUID on GPT, the type byte on MBR.
    static func type(of partition: blkid_partition) -> String? {
        if let text = blkid_partition_get_type_string(partition) { return String(cString: text).uppercased() }
        let byte = blkid_partition_get_type(partition)
        return byte == 0 ? nil : "0x" + String(byte, radix: 16)
    }

    /// Fills a device's identifiers from a successful probe.
    func describe(into device: inout BlockDevice, outcome: Outcome) {
        switch outcome {
        case .found:
            device.type = value("TYPE")
            device.uuid = value("UUID")
            device.subUUID = value("UUID_SUB")
            device.label = value("LABEL")
            device.usage = value("USAGE")
            if device.partUUID == nil { device.partUUID = value("PART_ENTRY_UUID") }
        case .nothing:
            if device.partUUID == nil { device.partUUID = value("PART_ENTRY_UUID") }
        case .ambiguous:
            device.problem = "several different signatures found (wipe the stale one with wipefs)"
        }
    }
}
