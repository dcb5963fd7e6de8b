import Foundation
import GuestprepCore
import HostProcess
import Testing

/// Our unified diffs must say what GNU diff says, hunk for hunk.
@Suite("Unified diffs")
struct UnifiedDiffTests {
    /// Hunks (everything after the two header lines) from `diff -u` on the same contents.
    func gnuHunks(_ old: String, _ new: String) throws -> String {
        let directory = try Support.scratch("diff")
        defer { Support.cleanUp(directory) }
        let a = directory.appendingPathComponent("a")
        let b = directory.appendingPathComponent("b")
        try Support.write(old, to: a)
        try Support.write(new, to: b)
        let result = try Support.run("diff", ["-u", a.path, b.path])
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
    }

    func ourHunks(_ old: String, _ new: String) -> String {
        UnifiedDiff.render(old: Array(old.utf8), new: Array(new.utf8), oldLabel: "a", newLabel: "b")
            .split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
    }

    static let cases: [(String, String)] = [
        ("a\nb\nc\n", "a\nB\nc\n"),
        ("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n"),
        ("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"),
        ("only\n", ""),
        ("", "new\nlines\n"),
        ("no newline", "no newline\n"),
        ("x\ny", "x\nz"),
        ("keep\ndrop\nkeep\n", "keep\nkeep\n"),
        ("\n\n\nA\n\n\n", "\n\n\nB\n\n\n"),
    ]

    @Test("matches GNU diff -u", arguments: 0..<cases.count)
    func matchesGNU(_ index: Int) throws {
        let (old, new) = Self.cases[index]
        #expect(ourHunks(old, new) == (try gnuHunks(old, new)))
    }

    @Test("equal contents give no diff; a missing side is /dev/null")
    func edges() {
        #expect(UnifiedDiff.render(old: [1], new: [1], oldLabel: "a", newLabel: "b") == "")
        #expect(
            UnifiedDiff.render(old: nil, new: Array("x\n".utf8), oldLabel: "a/f", newLabel: "b/f").hasPrefix(
                "--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+x\n"))
    }

    @Test("a 10,000-line file rewritten throughout still diffs every line")
    func largeRewrite() {
        let old = (0..<10_000).map { "/dev/sd\($0) /m\($0) ext4 defaults 0 2\n" }.joined()
        let new = (0..<10_000).map { "UUID=\($0) /m\($0) ext4 defaults 0 2\n" }.joined()
        let diff = UnifiedDiff.render(old: Array(old.utf8), new: Array(new.utf8), oldLabel: "a", newLabel: "b")
        let lines = diff.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("-/dev/") }.count == 10_000)
        #expect(lines.filter { $0.hasPrefix("+UUID=") }.count == 10_000)
    }

    @Test("GNU patch applies every diff we print, on 300 random edits")
    func patchApplies() throws {
        let directory = try Support.scratch("patch")
        defer { Support.cleanUp(directory) }
        var generator = SplitMix(seed: 20_261_127)
        let alphabet = ["a", "b", "c", "", "# x", "UUID=1 / ext4", "/dev/sda1 / ext4"]
        for round in 0..<300 {
            let old = (0..<Int(generator.next() % 25)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            var new = old
            for _ in 0..<Int(generator.next() % 6) {
                let position = new.isEmpty ? 0 : Int(generator.next() % UInt64(new.count + 1))
                switch generator.next() % 3 {
                case 0: new.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
                case 1: if position < new.count { new.remove(at: position) }
                default: if position < new.count { new[position] = "changed \(round)" }
                }
            }
            let finalNewline = generator.next() % 4 != 0
            let oldText = old.joined(separator: "\n") + (old.isEmpty || finalNewline ? (old.isEmpty ? "" : "\n") : "")
            let newText = new.joined(separator: "\n") + (new.isEmpty ? "" : "\n")
            let diff = UnifiedDiff.render(old: Array(oldText.utf8), new: Array(newText.utf8), oldLabel: "a/f", newLabel: "b/f")
            guard !diff.isEmpty else { continue }
            let file = directory.appendingPathComponent("f")
            try Support.write(oldText, to: file)
            let result = try Support.run(
                "patch", ["--silent", "--force", "--no-backup-if-mismatch", "--reject-file=-", file.path], input: diff)
            #expect(result.status == 0, "round \(round): patch failed: \(result.stdout)\(result.stderr)\n\(diff)")
            #expect(try Support.read(file) == newText, "round \(round):\n\(diff)")
        }
    }
}

extension UnifiedDiffTests {
    /// Applies `diff` to a file holding `old` with GNU patch and returns what the file then holds.
    func patched(_ old: [UInt8], with diff: [UInt8]) throws -> (status: Int32, output: String, bytes: [UInt8]) {
        let directory = try Support.scratch("patch-bytes")
        defer { Support.cleanUp(directory) }
        let file = directory.appendingPathComponent("f")
        try Data(old).write(to: file)
        let result = try HostCommand.run(
            try Support.which("patch"), ["--silent", "--force", "--no-backup-if-mismatch", "--reject-file=-", file.path], input: diff)
        return (result.status, result.stdout + result.stderr, Array(try Data(contentsOf: file)))
    }

    @Test("bytes that are not UTF-8 survive: GNU patch turns old into new byte for byte")
    func nonUTF8Patch() throws {
        let cases: [([UInt8], [UInt8])] = [
            // Latin-1 é (0xE9), a lone 0xFF, a truncated sequence (0xC3 at the end of a line), CRLF.
            (
                Array("# caf".utf8) + [0xE9] + Array("\n/dev/sda1 / ext4 defaults 0 1\n".utf8) + [0xFF, 0x0A],
                Array("# caf".utf8) + [0xE9] + Array("\nUUID=1 / ext4 defaults 0 1\n".utf8) + [0xFF, 0x0A]
            ),
            ([0xC3, 0x0A, 0x61, 0x0D, 0x0A, 0xFF, 0xFE], [0xC3, 0x0A, 0x62, 0x0D, 0x0A, 0xFF, 0xFE, 0x0A]),
            ([0xFF], [0xC3]),
            ([], [0xC3, 0x28, 0x0A]),
        ]
        for (old, new) in cases {
            let diff = UnifiedDiff.renderBytes(old: old, new: new, oldLabel: "a/f", newLabel: "b/f")
            #expect(diff.contains(0xFF) || diff.contains(0xC3))
            #expect(!diff.starts(with: [0xEF, 0xBF, 0xBD]) && !diff.windows(3).contains([0xEF, 0xBF, 0xBD]))
            let result = try patched(old, with: diff)
            #expect(result.status == 0, "patch failed: \(result.output)")
            #expect(result.bytes == new)
        }
    }

    @Test("renderBytes and render agree on UTF-8, and equal contents give nothing")
    func bytesAndText() {
        let old = Array("a\nb\nc\n".utf8)
        let new = Array("a\nB\nc\n".utf8)
        #expect(
            UnifiedDiff.renderBytes(old: old, new: new, oldLabel: "a", newLabel: "b")
                == Array(UnifiedDiff.render(old: old, new: new, oldLabel: "a", newLabel: "b").utf8))
        #expect(UnifiedDiff.renderBytes(old: [0xFF], new: [0xFF], oldLabel: "a", newLabel: "b").isEmpty)
    }
}

extension Array where Element: Equatable {
    /// Every run of `size` consecutive elements, for looking for a byte sequence.
    fileprivate func windows(_ size: Int) -> [[Element]] {
        count < size ? [] : (0...(count - size)).map { Array(self[$0..<($0 + size)]) }
    }
}

/// A small deterministic generator, so a failing round can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
