import Foundation
import GuestprepCore
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
}
