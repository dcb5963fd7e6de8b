import GuestprepCore

/// Which devices stand for the guest's: the disk images given for it, the running system's own
/// devices when the guest is the running system, or none (with a finding saying how to give them).
public enum GuestDevices {
    public static func inventory(disks: [DiskMapping], isLive: Bool) throws -> (DeviceInventory, [Finding]) {
        if !disks.isEmpty {
            return (try DiskImageProbe.inventory(disks), [])
        }
        if isLive {
            return (try LiveDeviceProbe.inventory(), [])
        }
        let finding = Finding(
            rule: "guestprep", code: "probe.no-disks", severity: .warning,
            message:
                "offline guest without --disk: no block device can be probed, so no device name can be resolved; pass --disk NAME=IMAGE for each of the guest's disks"
        )
        return (DeviceInventory(devices: []), [finding])
    }
}
