import Dialects
import Foundation
import GuestprepCore
import Testing

/// Every parser must give back every real-world file byte for byte when it changes nothing.
@Suite("Corpus round-trips")
struct CorpusRoundTripTests {
    static let fstabs = Support.corpusFiles("fstab")

    @Test("every corpus fstab round-trips byte for byte", arguments: fstabs)
    func fstabRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let parsed = FstabFile(bytes: bytes)
        #expect(parsed.bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        // Each entry's source reads back from the exact bytes of its line.
        for entry in parsed.entries where !entry.isMalformed {
            #expect(!entry.source.isEmpty)
        }
    }

    @Test("every corpus fstab keeps all other bytes when each unstable source is rewritten", arguments: fstabs)
    func fstabRewriteTouchesOnlySources(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        var parsed = FstabFile(bytes: bytes)
        let before = TextLines.split(bytes)
        var rewritten: Set<Int> = []
        for entry in parsed.entries where !entry.isMalformed && entry.source.hasPrefix("/dev/") {
            parsed.replaceSource(ofLine: entry.index, with: "UUID=00000000-0000-4000-8000-000000000000")
            rewritten.insert(entry.index)
        }
        let after = TextLines.split(parsed.bytes)
        #expect(after.count == before.count)
        for (index, (old, new)) in zip(before, after).enumerated() {
            if rewritten.contains(index) {
                let oldFields = old.fields()
                let newFields = new.fields()
                #expect(Array(oldFields.dropFirst().map(\.bytes)) == Array(newFields.dropFirst().map(\.bytes)))
                #expect(old.terminator == new.terminator)
                // Separators after the source are untouched.
                #expect(old.content[oldFields[0].range.upperBound...] == new.content[newFields[0].range.upperBound...])
            } else {
                #expect(old == new, "\(file.lastPathComponent):\(index + 1) changed though not rewritten")
            }
        }
    }

    @Test("every corpus grub defaults file round-trips as shell assignments", arguments: Support.corpusFiles("grub"))
    func grubRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        #expect(ShellAssignmentsFile(bytes: bytes).bytes == bytes)
    }

    @Test("every corpus dpkg status file round-trips byte for byte", arguments: Support.corpusFiles("dpkg-status"))
    func dpkgStatusRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let parsed = DpkgStatusFile(bytes: bytes)
        #expect(parsed.bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        #expect(parsed.paragraphs.allSatisfy { !$0.package.isEmpty && !$0.version.isEmpty })
    }

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if !Support.corpusAvailable {
            print("NOTICE: \(Support.corpus.path) is absent; corpus round-trip tests ran on no files")
        } else {
            #expect(Self.fstabs.count >= 20)
        }
    }
}
