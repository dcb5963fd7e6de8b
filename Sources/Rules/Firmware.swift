import GuestFS
import GuestprepCore

/// BIOS, UEFI or UEFI with Secure Boot: what the guest boots with (live: the firmware running
/// it; offline: what its disk can boot) against what the destination offers: the rule's
/// `supports:`, else the destination playbook's `firmware:`, else all three.
public struct Firmware: Rule {
    public static let id = "firmware"
    public static let summary = "Check that the destination's firmware (BIOS, UEFI, Secure Boot) can boot the guest"
    public static let parameterNames = ["supports"]

    /// Nil: whatever the destination playbook says.
    let supports: Set<FirmwareMode>?

    /// The Secure Boot variable of the EFI global-variable GUID (UEFI spec, "Globally Defined Variables").
    static let secureBootVariable: GuestPath = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0ff79aa0"

    public init(parameters: RuleParameters) throws {
        supports =
            parameters.values["supports"] == nil
            ? nil
            : Set(
                try parameters.list("supports", allowed: FirmwareMode.allCases.map(\.rawValue), default: []).compactMap(FirmwareMode.init))
    }

    public init(supports: Set<FirmwareMode>? = nil) {
        self.supports = supports
    }

    /// Live: the firmware this system was started by (efivarfs: 4 attribute bytes, then the value).
    static func running(in context: RuleContext) throws -> FirmwareMode? {
        guard context.isLive else { return nil }
        guard try context.root.isDirectory("/sys/firmware/efi") else { return .bios }
        let variable = try context.root.readFile(secureBootVariable)
        return variable?.contents.last == 1 ? .uefiSecureBoot : .uefi
    }

    /// What the destination offers: this rule's parameter, the playbook's destination, or anything.
    func offered(in context: RuleContext) -> Set<FirmwareMode> {
        if let supports { return supports }
        if let firmware = context.destination?.firmware { return Set(firmware) }
        return Set(FirmwareMode.allCases)
    }

    public func evaluate(in context: RuleContext) throws {
        let supports = offered(in: context)
        let boot = try BootPath.read(in: context)
        let running = try Self.running(in: context)
        var capable = boot.capabilities
        if let running {
            capable.insert(running)
            // Secure Boot firmware boots the same loaders with Secure Boot off.
            if running == .uefiSecureBoot { capable.insert(.uefi) }
        }
        let offered = Self.describe(supports)
        func report(_ code: String, _ severity: Severity, _ message: String) {
            context.report(Finding(rule: Self.id, code: "firmware.\(code)", severity: severity, message: message))
        }
        guard !capable.isEmpty else {
            report(
                "unknown", .warning,
                "cannot tell whether the guest boots with BIOS or UEFI (no boot sector read, no EFI loaders under /boot/efi or /efi): pass --disk NAME=IMAGE for its boot disk and mount its EFI system partition, if any, in the root; the destination offers \(offered)"
            )
            return
        }
        let usable = capable.intersection(supports)
        let guest = Self.describe(capable)
        let now = running.map { " (running now with \(Self.describe([$0])))" } ?? ""
        guard !usable.isEmpty else {
            report(
                "unsupported", .blocker,
                "the guest can boot with \(guest)\(now), the destination offers \(offered): \(Self.fix(capable, supports))")
            return
        }
        if running == .uefiSecureBoot && !supports.contains(.uefiSecureBoot) {
            report(
                "secure-boot-off", .warning,
                "the guest runs with Secure Boot on; the destination offers \(offered), so it will boot with Secure Boot off. Nothing in the guest needs changing, but signed-module policies (lockdown, DKMS signing) stop applying"
            )
        } else if let running, !supports.contains(running) {
            report(
                "mode-change", .warning,
                "the guest runs with \(Self.describe([running])) now; the destination offers \(offered) and must start it with \(Self.describe(usable)), which its disk also has a boot path for: create the destination VM with that firmware"
            )
        } else {
            report("supported", .info, "the guest can boot with \(guest)\(now); the destination offers \(offered)")
        }
    }

    static func describe(_ modes: Set<FirmwareMode>) -> String {
        modes.sorted().map { mode in
            switch mode {
            case .bios: "BIOS"
            case .uefi: "UEFI"
            case .uefiSecureBoot: "UEFI with Secure Boot"
            }
        }.joined(separator: ", ")
    }

    /// The ways out: for each firmware the destination offers, what the guest lacks for it.
    static func fix(_ capable: Set<FirmwareMode>, _ supports: Set<FirmwareMode>) -> String {
        var ways: [String] = []
        if supports.contains(.bios) {
            ways.append(
                "for BIOS, install a BIOS boot loader in the guest (grub-pc: grub-install --target=i386-pc /dev/DISK; on GPT it needs a 1 MiB BIOS boot partition)"
            )
        }
        if supports.contains(.uefi) {
            ways.append(
                "for UEFI, add an EFI system partition and install a UEFI boot loader (grub-efi-amd64 or grub2-efi-x64, grub-install --target=x86_64-efi)"
            )
        } else if supports.contains(.uefiSecureBoot) {
            ways.append(
                capable.contains(.uefi)
                    ? "for UEFI with Secure Boot, install the signed shim and GRUB (shim-signed and grub-efi-amd64-signed, or shim-x64 and grub2-efi-x64) or turn Secure Boot off for the VM if the destination allows"
                    : "for UEFI with Secure Boot, add an EFI system partition and install the signed shim and GRUB (shim-signed and grub-efi-amd64-signed, or shim-x64 and grub2-efi-x64)"
            )
        }
        return "before migrating, " + ways.joined(separator: "; or ")
            + "; or choose a destination (playbook) whose firmware the guest already boots with"
    }
}
