import BlockProbe
import GuestprepCore
import HostProcess

/// After a rewrite: each planned UUID= reference is on the entry it was planned for, found by what
/// that entry is for (not by line number, which other rules' edits may move), and each UUID names
/// exactly one probed device.
public struct UUIDReferenceValidator: ChangeValidator {
    /// Reads the references a file holds, each keyed by what it is for.
    public typealias Extractor = @Sendable ([UInt8]) -> [KeyedReference]

    let expected: [KeyedReference]
    let devices: DeviceInventory
    let extract: Extractor

    public init(expected: [KeyedReference], devices: DeviceInventory, extract: @escaping Extractor) {
        self.expected = expected
        self.devices = devices
        self.extract = extract
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let found = extract(proposed)
        if let missing = KeyedReference.unmet(expected, in: found).first {
            throw GuestprepError(
                .validation,
                "expected \(missing.value) for \(missing.key) after rewriting (planned on line \(missing.line)), found \(KeyedReference.describe(missing.key, in: found))",
                path: path, line: found.first { $0.key == missing.key }?.line ?? missing.line)
        }
        for reference in expected.sorted(by: { $0.line < $1.line }) where reference.value.hasPrefix("UUID=") {
            let uuid = String(reference.value.dropFirst("UUID=".count))
            let matches = devices.devices(withUUID: uuid)
            // isMultiDeviceFilesystem holds for no devices at all, so a UUID nothing carries needs its own check.
            guard matches.count == 1 || (matches.count > 1 && DeviceInventory.isMultiDeviceFilesystem(matches)) else {
                throw GuestprepError(
                    .validation, "\(reference.value) for \(reference.key) resolves to \(matches.count) probed devices, not exactly one",
                    path: path, line: found.first { $0.key == reference.key && $0.value == reference.value }?.line ?? reference.line)
            }
        }
    }
}
