import GuestFS
import GuestprepCore
import Network

/// After writing: every planned pin is in the udev rules file or `.link` file, found by what it
/// means (this MAC gets this name), wherever other edits moved it.
public struct NICPinValidator: ChangeValidator {
    public enum Format: Sendable { case udevRules, linkFile }

    let expected: [(name: String, mac: MACAddress)]
    let format: Format

    public init(expected: [(name: String, mac: MACAddress)], format: Format) {
        self.expected = expected
        self.format = format
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        for pin in expected {
            switch format {
            case .udevRules:
                let rules = UdevRulesFile(bytes: proposed)
                // Lines udev already ignored are the admin's and kept as they are; a new one is ours.
                let before = Set(UdevRulesFile(bytes: original ?? []).problems(path: path).map(\.message))
                if let problem = rules.problems(path: path).first(where: { !before.contains($0.message) }) {
                    throw GuestprepError(.validation, problem.message, path: path, line: problem.line)
                }
                guard rules.namingRules.contains(where: { PersistentNetRules.isValidPin($0, mac: pin.mac, name: pin.name) }) else {
                    throw GuestprepError(
                        .validation, "expected a rule naming the NIC with MAC \(pin.mac) \(pin.name), found none", path: path)
                }
            case .linkFile:
                let naming = LinkFile(bytes: proposed).naming
                guard naming.macAddresses.contains(pin.mac), naming.name == pin.name, naming.namePolicy.isEmpty else {
                    throw GuestprepError(
                        .validation,
                        "expected [Match] MACAddress=\(pin.mac) and [Link] Name=\(pin.name), found \(naming.name.map { "Name=\($0)" } ?? "no Name=")",
                        path: path, line: naming.nameLine)
                }
            }
        }
    }
}

/// The udev rules and the `.link` files, as planned, give every MAC the same name: udev applies
/// the `.link` name (80-net-setup-link.rules) and a later rules-file `NAME=` may override it, so
/// two answers would make the name depend on rule order.
public struct NICPinAgreement: ChangeSetValidator {
    public let id = "nic-mac-pinning.udev-link-agreement"
    static let rules: GuestPath = "/etc/udev/rules.d/70-persistent-net.rules"

    public func validate(_ files: PlannedFiles) throws {
        guard let bytes = try files.contents(Self.rules) else { return }
        var udevNames: [MACAddress: (name: String, line: Int)] = [:]
        for rule in UdevRulesFile(bytes: bytes).namingRules {
            guard let mac = rule.matchedMAC, let name = rule.assignedName else { continue }
            udevNames[mac] = (name, rule.lineNumber)
        }
        for path in files.changedPaths where path.name.hasSuffix(".link") {
            guard let link = try files.contents(path) else { continue }
            let naming = LinkFile(bytes: link).naming
            guard let name = naming.name else { continue }
            for mac in naming.macAddresses {
                if let udev = udevNames[mac], udev.name != name {
                    throw GuestprepError(
                        .validation, "\(path) names MAC \(mac) \(name), but \(Self.rules):\(udev.line) names it \(udev.name)",
                        path: path.description, line: naming.nameLine)
                }
            }
        }
    }
}
