import Dialects
import GuestprepCore

/// With `--vmx` or `--ovf`: the VM's virtual hardware version must be 13 or newer, which ESXi
/// 6.5 introduced; the migration tools reject older VMs. Nothing is reported without either file.
public struct VMwareHardwareVersionCheck: Rule {
    public static let id = "vmware-hw-version"
    public static let summary = "With --vmx or --ovf: the VMware virtual hardware version must be 13 (ESXi 6.5) or newer"
    public static let parameterNames = ["minimum"]

    let minimum: Int

    public init(parameters: RuleParameters) throws {
        minimum = try parameters.integer("minimum", in: 4...99, default: 13)
    }

    public init(minimum: Int = 13) {
        self.minimum = minimum
    }

    public func evaluate(in context: RuleContext) throws {
        let inputs: [(file: SourceInputs.HostFile?, option: String, parse: ([UInt8]) -> VMwareHardwareVersion?, shape: String)] = [
            (context.source.vmx, "--vmx", VMwareHardwareVersion.fromVMX, "virtualHW.version = \"NN\""),
            (context.source.ovf, "--ovf", VMwareHardwareVersion.fromOVF, "<vssd:VirtualSystemType>vmx-NN</vssd:VirtualSystemType>"),
        ]
        for input in inputs {
            guard let file = input.file else { continue }
            guard let found = input.parse(file.contents) else {
                context.report(
                    Finding(
                        rule: Self.id, code: "vmware.hw-version-missing", severity: .warning,
                        message:
                            "\(input.option) \(file.path) declares no virtual hardware version (\(input.shape)), so it cannot be checked; is it the VM's \(input.option == "--vmx" ? ".vmx" : "OVF descriptor")?",
                        path: file.path))
                continue
            }
            if found.version < minimum {
                context.report(
                    Finding(
                        rule: Self.id, code: "vmware.hw-version-old", severity: .blocker,
                        message:
                            "virtual hardware version \(found.version) (\(found.text)) is older than \(minimum) (ESXi 6.5): upgrade the VM's compatibility before migrating (vSphere Client: Actions → Compatibility → Upgrade VM Compatibility to ESXi 6.5 or later, with the VM powered off and VMware Tools current), then export it again",
                        path: file.path, line: found.line))
            } else {
                context.report(
                    Finding(
                        rule: Self.id, code: "vmware.hw-version-ok", severity: .info,
                        message: "virtual hardware version \(found.version) (\(found.text)) is \(minimum) or newer", path: file.path,
                        line: found.line))
            }
        }
    }
}
