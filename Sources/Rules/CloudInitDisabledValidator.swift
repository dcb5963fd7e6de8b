import GuestprepCore

/// The cloud-init drop-in still says `network: {config: disabled}` after writing.
struct CloudInitDisabledValidator: ChangeValidator {
    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let lines = String(decoding: proposed, as: UTF8.self).split(separator: "\n")
        guard lines.contains(where: { $0.trimmingPrefix(while: { $0 == " " }).hasPrefix("network: {config: disabled}") }) else {
            throw GuestprepError(.validation, "does not disable cloud-init's network configuration (network: {config: disabled})", path: path)
        }
    }
}
