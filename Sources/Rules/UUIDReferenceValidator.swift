import BlockProbe
import Dialects
import GuestprepCore
import HostProcess

/// After a rewrite: each rewritten line carries exactly the UUID= references planned, and each
/// UUID names exactly one probed device.
public struct UUIDReferenceValidator: ChangeValidator {
    /// Reads the references a file's lines hold, keyed by 1-based line number.
    public typealias Extractor = @Sendable ([UInt8]) -> [Int: [String]]

    let expected: [Int: [String]]
    let devices: DeviceInventory
    let extract: Extractor

    public init(expected: [Int: [String]], devices: DeviceInventory, extract: @escaping Extractor) {
        self.expected = expected
        self.devices = devices
        self.extract = extract
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let found = extract(proposed)
        for (line, references) in expected.sorted(by: { $0.key < $1.key }) {
            for reference in references {
                guard found[line]?.contains(reference) == true else {
                    throw GuestprepError(
                        .validation,
                        "expected \(reference) on this line after rewriting, found \(found[line]?.joined(separator: " ") ?? "nothing")",
                        path: path, line: line)
                }
                let uuid = String(reference.dropFirst("UUID=".count))
                let matches = devices.devices(withUUID: uuid)
                guard matches.count == 1 || DeviceInventory.isMultiDeviceFilesystem(matches) else {
                    throw GuestprepError(
                        .validation, "\(reference) resolves to \(matches.count) probed devices, not exactly one", path: path, line: line)
                }
            }
        }
    }
}

/// `findmnt --verify` on the rewritten fstab lines, compared with the same check on the lines
/// they replace, so only problems the change introduces count: parse errors always; other errors
/// only on the live system, since offline the guest's UUIDs are naturally absent from this host.
///
/// Only the rewritten lines are checked, in chunks: a rewrite changes nothing but the source of
/// those lines, so per-line checks are all it can affect, and findmnt's cross-entry checks
/// (duplicate targets) are quadratic, which makes a 10,000-line file take minutes as one piece.
public struct FindmntVerifyValidator: ChangeValidator {
    let isLive: Bool
    /// 1-based numbers of the lines the change rewrites.
    let lines: [Int]
    static let chunkSize = 100

    public init(isLive: Bool, lines: [Int]) {
        self.isLive = isLive
        self.lines = lines.sorted()
    }

    struct Counts: Equatable {
        var parseErrors = 0
        var errors = 0
        var report = ""

        static func + (lhs: Counts, rhs: Counts) -> Counts {
            Counts(parseErrors: lhs.parseErrors + rhs.parseErrors, errors: lhs.errors + rhs.errors, report: lhs.report + rhs.report)
        }
    }

    public func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        guard let findmnt = HostCommand.find("findmnt") else { return }
        let after = try check(TextLines.split(proposed), with: findmnt)
        let before = try original.map { try check(TextLines.split($0), with: findmnt) } ?? Counts()
        if after.parseErrors > before.parseErrors || (isLive && after.errors > before.errors) {
            throw GuestprepError(
                .validation,
                "findmnt --verify reports new problems in the rewritten lines (\(after.parseErrors) parse errors, \(after.errors) errors; before: \(before.parseErrors), \(before.errors))",
                path: path, cause: after.report)
        }
    }

    private func check(_ fileLines: [TextLine], with findmnt: String) throws -> Counts {
        let selected = lines.filter { $0 >= 1 && $0 <= fileLines.count }.map { line -> TextLine in
            var copy = fileLines[line - 1]
            copy.terminator = [UInt8(ascii: "\n")]
            return copy
        }
        var total = Counts()
        for start in stride(from: 0, to: selected.count, by: Self.chunkSize) {
            let chunk = selected[start..<min(start + Self.chunkSize, selected.count)]
            total = total + (try Self.verify(TextLines.join(Array(chunk)), with: findmnt))
        }
        return total
    }

    static func verify(_ contents: [UInt8], with findmnt: String) throws -> Counts {
        let temporary = try HostTemporaryFile(contents: contents)
        // Per-entry findings go to stdout and can be huge; parse errors and the summary go to stderr.
        let result = try HostCommand.run(findmnt, ["--verify", "--tab-file", temporary.path], discardingStdout: true)
        let text = result.stderr
        // A clean check prints only "Success, no errors or warnings detected" on stdout.
        if result.status == 0 && !text.contains("parse error") { return Counts() }
        // Summary line: "2 parse errors, 4 errors, 4 warnings" (singular forms when 1).
        for line in text.split(separator: "\n").reversed() {
            let words = line.split(separator: " ")
            guard words.count >= 6, line.contains("parse error"), let parse = Int(words[0]), let errors = Int(words[3]) else { continue }
            return Counts(parseErrors: parse, errors: errors, report: text)
        }
        throw GuestprepError(.validation, "could not read findmnt --verify's summary", cause: text)
    }
}
