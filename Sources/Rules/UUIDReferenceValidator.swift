import BlockProbe
import Dialects
import GuestprepCore

/// After a rewrite: each rewritten line carries exactly the UUID= reference planned, and that UUID
/// names exactly one probed device.
public struct UUIDReferenceValidator: ChangeValidator {
    /// Reads the references a file's lines hold, keyed by 1-based line number.
    public typealias Extractor = @Sendable ([UInt8]) -> [Int: [String]]

    let expected: [Int: String]
    let devices: DeviceInventory
    let extract: Extractor

    public init(expected: [Int: String], devices: DeviceInventory, extract: @escaping Extractor) {
        self.expected = expected
        self.devices = devices
        self.extract = extract
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let found = extract(proposed)
        for (line, reference) in expected.sorted(by: { $0.key < $1.key }) {
            guard found[line]?.contains(reference) == true else {
                throw GuestprepError(.validation, "expected \(reference) on this line after rewriting, found \(found[line]?.joined(separator: " ") ?? "nothing")", path: path, line: line)
            }
            let uuid = String(reference.dropFirst("UUID=".count))
            let matches = devices.devices(withUUID: uuid)
            guard matches.count == 1 || DeviceInventory.isMultiDeviceFilesystem(matches) else {
                throw GuestprepError(.validation, "\(reference) resolves to \(matches.count) probed devices, not exactly one", path: path, line: line)
            }
        }
    }
}

/// `findmnt --verify` on a proposed fstab, compared with the same check on the original so only
/// problems the change introduces count: parse errors always; other errors only on the live
/// system, since offline the guest's UUIDs are naturally absent from this host.
public struct FindmntVerifyValidator: ChangeValidator {
    let isLive: Bool

    public init(isLive: Bool) { self.isLive = isLive }

    struct Counts: Equatable {
        var parseErrors: Int
        var errors: Int
        var report: String
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        guard let findmnt = HostCommand.find("findmnt") else { return }
        let after = try Self.verify(proposed, with: findmnt)
        let before = try original.map { try Self.verify($0, with: findmnt) } ?? Counts(parseErrors: 0, errors: 0, report: "")
        if after.parseErrors > before.parseErrors || (isLive && after.errors > before.errors) {
            throw GuestprepError(.validation, "findmnt --verify reports new problems in the rewritten file (\(after.parseErrors) parse errors, \(after.errors) errors; before: \(before.parseErrors), \(before.errors))", path: path, cause: after.report)
        }
    }

    static func verify(_ contents: [UInt8], with findmnt: String) throws -> Counts {
        let temporary = try HostTemporaryFile(contents: contents)
        let result = try HostCommand.run(findmnt, ["--verify", "--tab-file", temporary.path])
        let text = result.stdout + result.stderr
        // Summary line: "2 parse errors, 4 errors, 4 warnings" (singular forms when 1).
        for line in text.split(separator: "\n").reversed() {
            let words = line.split(separator: " ")
            guard words.count >= 6, line.contains("parse error"), let parse = Int(words[0]), let errors = Int(words[3]) else { continue }
            return Counts(parseErrors: parse, errors: errors, report: text)
        }
        throw GuestprepError(.validation, "could not read findmnt --verify's summary", cause: text)
    }
}
