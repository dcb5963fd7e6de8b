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

    @Test("every corpus apt source file parses and round-trips byte for byte", arguments: Support.corpusFiles("apt"))
    func aptRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        if file.lastPathComponent.hasSuffix(".sources") {
            let parsed = try Deb822File(bytes: bytes, path: file.path)
            #expect(parsed.bytes == bytes, "\(file.lastPathComponent) did not round-trip")
            #expect(!parsed.stanzas.isEmpty)
        } else {
            let parsed = try AptSourcesList(bytes: bytes, path: file.path)
            #expect(parsed.bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        }
    }

    @Test("every corpus yum/dnf and zypper .repo parses and round-trips byte for byte", arguments: Self.repoFiles)
    func repoRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let tool: RepoFile.Tool = file.path.contains("/zypper/") ? .zypper : .dnf
        let parsed = try RepoFile(bytes: bytes, path: file.path, tool: tool)
        #expect(parsed.bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        #expect(!parsed.repositories.isEmpty)
    }

    @Test("disabling every corpus repository touches only its enabled= line and the marker above it", arguments: Self.repoFiles)
    func repoDisableTouchesOnlyEnabled(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let tool: RepoFile.Tool = file.path.contains("/zypper/") ? .zypper : .dnf
        var parsed = try RepoFile(bytes: bytes, path: file.path, tool: tool)
        for repository in parsed.repositories.reversed() {
            try parsed.disable(repository, marker: "# marker", path: file.path)
        }
        #expect(parsed.repositories.allSatisfy { !$0.isEnabled })
        // What remains once the markers and enabled= lines are taken out is the original, line for line.
        func rest(_ lines: [TextLine]) -> [[UInt8]] {
            lines.map(\.content).filter { $0 != Array("# marker".utf8) && !String(decoding: $0, as: UTF8.self).hasPrefix("enabled") }
        }
        #expect(rest(TextLines.split(parsed.bytes)) == rest(TextLines.split(bytes)))
    }

    static let repoFiles = Support.corpusFiles("yum") + Support.corpusFiles("zypper")

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if !Support.corpusAvailable {
            print("NOTICE: \(Support.corpus.path) is absent; corpus round-trip tests ran on no files")
        } else {
            #expect(Self.fstabs.count >= 20)
            #expect(Support.corpusFiles("apt").count >= 17 && Self.repoFiles.count >= 21)
        }
    }
}
