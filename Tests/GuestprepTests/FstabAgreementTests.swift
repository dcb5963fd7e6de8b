import Dialects
import Foundation
import GuestprepCore
import MountTable
import Testing

/// The project's own lossless fstab parser and libmount read every file alike: the same entries
/// with the same decoded source, mount point, type and options, and the same lines refused.
@Suite("fstab parser agrees with libmount")
struct FstabAgreementTests {
    /// Differences between the two readings of `bytes`, one line each; empty when they agree.
    static func differences(_ bytes: [UInt8]) throws -> [String] {
        let libmount = try ParsedMountTable(fstab: bytes, path: "fstab")
        let own = FstabFile(bytes: bytes).entries
        var differences: [String] = []
        let malformed = own.filter(\.isMalformed).map(\.lineNumber)
        if malformed != libmount.rejectedLines {
            differences.append("malformed lines \(malformed), libmount rejects \(libmount.rejectedLines)")
        }
        let accepted = own.filter { !$0.isMalformed }
        if accepted.count != libmount.entries.count {
            differences.append("\(accepted.count) entries, libmount has \(libmount.entries.count)")
        }
        for (entry, theirs) in zip(accepted, libmount.entries) {
            let mine = [entry.source, entry.mountPoint, entry.type] + entry.options
            // The project splits options at commas, dropping empty ones, as mount(8) reads them.
            let libmounts = [theirs.source, theirs.target, theirs.type] + (theirs.options ?? "").split(separator: ",").map(String.init)
            if mine != libmounts { differences.append("line \(entry.lineNumber): \(mine) but libmount reads \(libmounts)") }
        }
        return differences
    }

    @Test("every corpus fstab: same entries, same decoded fields, same refused lines", arguments: Support.corpusFiles("fstab"))
    func corpus(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let differences = try Self.differences(bytes)
        #expect(differences.isEmpty, "\(file.lastPathComponent): \(differences.joined(separator: "; "))")
        if let findmnt = try MountTableTests.findmntRejectedLines(bytes) {
            #expect(try ParsedMountTable(fstab: bytes, path: "fstab").rejectedLines == findmnt, "\(file.lastPathComponent)")
        }
    }

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if !Support.corpusAvailable {
            print("NOTICE: \(Support.corpus.path) is absent; the fstab agreement with libmount ran on no corpus files")
        }
    }

    @Test("odd lines: escapes, numbers, NULs; two NUL cases left as known differences")
    func oddities() throws {
        var lines = MountTableTests.oddities.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // libmount rejects a comment holding a NUL (it cannot find the newline) and reads a last line
        // without a newline up to a NUL; the project leaves the one as a comment, the other as malformed.
        let unterminated = lines.removeLast()
        let comment = lines.remove(at: 7)
        let differences = try Self.differences(Array(lines.joined(separator: "\n").utf8))
        #expect(differences.isEmpty, "\(differences.joined(separator: "; "))")
        #expect(try Self.differences(Array((comment + "\n").utf8)) == ["malformed lines [], libmount rejects [1]"])
        #expect(try Self.differences(Array(unterminated.utf8)).first == "malformed lines [1], libmount rejects []")
    }
}
