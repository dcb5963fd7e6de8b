import Dialects
import GuestFS
import GuestprepCore

/// The kernel command line as the guest's boot configuration sets it, read for single parameters.
enum KernelCommandLine {
    static let defaultGrub: GuestPath = "/etc/default/grub"
    static let kernelCmdline: GuestPath = "/etc/kernel/cmdline"
    static let blsEntries: GuestPath = "/boot/loader/entries"

    /// Whether any place the guest's kernel command line comes from sets `parameter` (a whole
    /// word such as `net.ifnames=0`): GRUB_CMDLINE_LINUX* in /etc/default/grub, the `options`
    /// of Boot Loader Specification entries, and /etc/kernel/cmdline (kernel-install(8)).
    static func sets(_ parameter: String, in context: RuleContext) throws -> Bool {
        if let grub = try context.read(defaultGrub) {
            let config = ShellAssignmentsFile(bytes: grub.contents)
            for assignment in config.assignments where assignment.key.hasPrefix("GRUB_CMDLINE_LINUX") {
                if config.words(of: assignment).contains(where: { $0.text == parameter }) { return true }
            }
        }
        if let cmdline = try context.read(kernelCmdline), words(cmdline.contents).contains(parameter) { return true }
        for name in try context.listDirectory(blsEntries) where name.hasSuffix(".conf") {
            guard let entry = try context.read(blsEntries.appending(name)) else { continue }
            for line in String(decoding: entry.contents, as: UTF8.self).split(separator: "\n") {
                let fields = words(Array(line.utf8))
                if fields.first == "options", fields.dropFirst().contains(parameter) { return true }
            }
        }
        return false
    }

    /// Kernel parameters that name a block device (bootparam(7), dracut.cmdline(7)).
    static let deviceParameters = ["root", "resume"]

    /// A `root=`/`resume=` whose value names a device by hardware path, with the value's bytes
    /// in the line it came from.
    struct DeviceParameter {
        var name: String
        var device: String
        var valueRange: Range<Int>
    }

    /// The device-naming parameters among a command line's fields, in order.
    static func hardwareDeviceParameters(in fields: [Field]) -> [DeviceParameter] {
        fields.compactMap { field in
            for name in deviceParameters where field.text.hasPrefix(name + "=") {
                let value = String(field.text.dropFirst(name.count + 1))
                guard case .unstable(let device) = DeviceReference.classify(value) else { return nil }
                return DeviceParameter(
                    name: name, device: device, valueRange: (field.range.lowerBound + name.utf8.count + 1)..<field.range.upperBound)
            }
            return nil
        }
    }

    /// How validators find a parameter again: by what sets it ("root= in GRUB_CMDLINE_LINUX").
    static func key(_ parameter: String, in variable: String) -> String { "\(parameter)= in \(variable)" }

    static func words(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// Names the kernel itself gives Ethernet devices (eth0, eth1 …): pinning one of them races
    /// the kernel's own naming of another NIC at boot unless net.ifnames=0 turns predictable
    /// naming off (systemd.net-naming-scheme(7)); udev then fails the rename with "File exists".
    static func isKernelName(_ name: String) -> Bool {
        guard name.hasPrefix("eth") else { return false }
        let digits = name.dropFirst(3)
        return !digits.isEmpty && digits.allSatisfy { ("0"..."9").contains($0) }
    }
}
