/// Unified diffs (as `diff -u` prints them) between two versions of a file.
public enum UnifiedDiff {
    enum Edit: Equatable {
        case equal(Int, Int)
        case delete(Int)
        case insert(Int)
    }

    /// The diff as text, or "" when the contents are equal. `nil` content stands for a missing file.
    /// Bytes that are not UTF-8 become U+FFFD here, so this is for display only (and still needs
    /// `TerminalText.escape` before a terminal); `renderBytes` is the diff `patch` applies.
    public static func render(old: [UInt8]?, new: [UInt8]?, oldLabel: String, newLabel: String, context: Int = 3) -> String {
        String(decoding: renderBytes(old: old, new: new, oldLabel: oldLabel, newLabel: newLabel, context: context), as: UTF8.self)
    }

    /// The diff exactly as `diff -u` would write it, byte for byte (lines that are not UTF-8
    /// included), or empty when the contents are equal. `nil` content stands for a missing file.
    public static func renderBytes(old: [UInt8]?, new: [UInt8]?, oldLabel: String, newLabel: String, context: Int = 3) -> [UInt8] {
        if old == new { return [] }
        let a = TextLines.split(old ?? [])
        let b = TextLines.split(new ?? [])
        let edits = LineDiff.edits(a, b)
        var out = Array("--- \(old == nil ? "/dev/null" : oldLabel)\n+++ \(new == nil ? "/dev/null" : newLabel)\n".utf8)

        // Lines of each side consumed before each edit, for hunk headers.
        var oldBefore = [Int](repeating: 0, count: edits.count)
        var newBefore = [Int](repeating: 0, count: edits.count)
        var oldPos = 0
        var newPos = 0
        for (index, edit) in edits.enumerated() {
            oldBefore[index] = oldPos
            newBefore[index] = newPos
            switch edit {
            case .equal:
                oldPos += 1
                newPos += 1
            case .delete: oldPos += 1
            case .insert: newPos += 1
            }
        }

        for hunk in hunkRanges(edits, context: context) {
            var oldCount = 0
            var newCount = 0
            for edit in edits[hunk] {
                switch edit {
                case .equal:
                    oldCount += 1
                    newCount += 1
                case .delete: oldCount += 1
                case .insert: newCount += 1
                }
            }
            // GNU diff: a range of zero lines is numbered by the line before it.
            let oldStart = oldBefore[hunk.lowerBound] + (oldCount == 0 ? 0 : 1)
            let newStart = newBefore[hunk.lowerBound] + (newCount == 0 ? 0 : 1)
            out += Array("@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@\n".utf8)
            for edit in edits[hunk] {
                switch edit {
                case .equal(let i, _): append(UInt8(ascii: " "), a[i], to: &out)
                case .delete(let i): append(UInt8(ascii: "-"), a[i], to: &out)
                case .insert(let j): append(UInt8(ascii: "+"), b[j], to: &out)
                }
            }
        }
        return out
    }

    private static func append(_ mark: UInt8, _ line: TextLine, to out: inout [UInt8]) {
        out.append(mark)
        out += line.content
        // A CRLF line keeps its CR, as diff -u writes it; a last line without newline gets one,
        // followed by the marker patch understands.
        if line.terminator.count == 2 { out.append(UInt8(ascii: "\r")) }
        out.append(UInt8(ascii: "\n"))
        if line.terminator.isEmpty { out += Array("\\ No newline at end of file\n".utf8) }
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        count == 1 ? "\(start)" : "\(start),\(count)"
    }

    private static func hunkRanges(_ edits: [Edit], context: Int) -> [Range<Int>] {
        let changes = edits.indices.filter { if case .equal = edits[$0] { false } else { true } }
        guard let first = changes.first else { return [] }
        var ranges: [Range<Int>] = []
        var start = max(0, first - context)
        var end = min(edits.count, first + context + 1)
        for index in changes.dropFirst() {
            if index - context <= end {
                end = min(edits.count, index + context + 1)
            } else {
                ranges.append(start..<end)
                start = max(0, index - context)
                end = min(edits.count, index + context + 1)
            }
        }
        ranges.append(start..<end)
        return ranges
    }
}

/// Line-level edit scripts: common prefix and suffix, then patience anchors (lines unique on both
/// sides), then an exact LCS on small gaps. Big gaps with no anchor become one replace block, so a
/// 10,000-line file rewritten throughout diffs in linear time instead of quadratic.
enum LineDiff {
    static let exactLimit = 4_000_000

    static func edits(_ a: [TextLine], _ b: [TextLine]) -> [UnifiedDiff.Edit] {
        var out: [UnifiedDiff.Edit] = []
        out.reserveCapacity(max(a.count, b.count))
        solve(a, 0..<a.count, b, 0..<b.count, into: &out)
        return out
    }

    private static func solve(_ a: [TextLine], _ ra: Range<Int>, _ b: [TextLine], _ rb: Range<Int>, into out: inout [UnifiedDiff.Edit]) {
        var lowA = ra.lowerBound
        var lowB = rb.lowerBound
        var highA = ra.upperBound
        var highB = rb.upperBound
        while lowA < highA, lowB < highB, a[lowA] == b[lowB] {
            out.append(.equal(lowA, lowB))
            lowA += 1
            lowB += 1
        }
        var suffix: [UnifiedDiff.Edit] = []
        while highA > lowA, highB > lowB, a[highA - 1] == b[highB - 1] {
            highA -= 1
            highB -= 1
            suffix.append(.equal(highA, highB))
        }
        middle(a, lowA..<highA, b, lowB..<highB, into: &out)
        out += suffix.reversed()
    }

    private static func middle(_ a: [TextLine], _ ra: Range<Int>, _ b: [TextLine], _ rb: Range<Int>, into out: inout [UnifiedDiff.Edit]) {
        if ra.isEmpty {
            out += rb.map { .insert($0) }
            return
        }
        if rb.isEmpty {
            out += ra.map { .delete($0) }
            return
        }
        let anchors = patienceAnchors(a, ra, b, rb)
        if anchors.isEmpty {
            if ra.count * rb.count <= exactLimit {
                lcs(a, ra, b, rb, into: &out)
            } else {
                out += ra.map { .delete($0) }
                out += rb.map { .insert($0) }
            }
            return
        }
        var lastA = ra.lowerBound
        var lastB = rb.lowerBound
        for (i, j) in anchors {
            solve(a, lastA..<i, b, lastB..<j, into: &out)
            out.append(.equal(i, j))
            lastA = i + 1
            lastB = j + 1
        }
        solve(a, lastA..<ra.upperBound, b, lastB..<rb.upperBound, into: &out)
    }

    /// Longest increasing run of lines that occur exactly once on each side.
    private static func patienceAnchors(_ a: [TextLine], _ ra: Range<Int>, _ b: [TextLine], _ rb: Range<Int>) -> [(Int, Int)] {
        var countA: [TextLine: (count: Int, index: Int)] = [:]
        for i in ra { countA[a[i], default: (0, i)].count += 1 }
        var countB: [TextLine: (count: Int, index: Int)] = [:]
        for j in rb { countB[b[j], default: (0, j)].count += 1 }
        var pairs: [(Int, Int)] = []
        for i in ra {
            guard let ca = countA[a[i]], ca.count == 1, let cb = countB[a[i]], cb.count == 1 else { continue }
            pairs.append((i, cb.index))
        }
        guard !pairs.isEmpty else { return [] }
        // Patience sorting: longest increasing subsequence of the b-indices.
        var tails: [Int] = []  // index into pairs
        var previous = [Int](repeating: -1, count: pairs.count)
        for (k, pair) in pairs.enumerated() {
            var low = 0
            var high = tails.count
            while low < high {
                let mid = (low + high) / 2
                if pairs[tails[mid]].1 < pair.1 { low = mid + 1 } else { high = mid }
            }
            if low > 0 { previous[k] = tails[low - 1] }
            if low == tails.count { tails.append(k) } else { tails[low] = k }
        }
        var result: [(Int, Int)] = []
        var k = tails.last ?? -1
        while k >= 0 {
            result.append(pairs[k])
            k = previous[k]
        }
        return result.reversed()
    }

    private static func lcs(_ a: [TextLine], _ ra: Range<Int>, _ b: [TextLine], _ rb: Range<Int>, into out: inout [UnifiedDiff.Edit]) {
        let n = ra.count
        let m = rb.count
        var table = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i * (m + 1) + j] =
                    a[ra.lowerBound + i] == b[rb.lowerBound + j]
                    ? table[(i + 1) * (m + 1) + j + 1] + 1
                    : max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1])
            }
        }
        var i = 0
        var j = 0
        while i < n, j < m {
            if a[ra.lowerBound + i] == b[rb.lowerBound + j] {
                out.append(.equal(ra.lowerBound + i, rb.lowerBound + j))
                i += 1
                j += 1
            } else if table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1] {
                out.append(.delete(ra.lowerBound + i))
                i += 1
            } else {
                out.append(.insert(rb.lowerBound + j))
                j += 1
            }
        }
        while i < n {
            out.append(.delete(ra.lowerBound + i))
            i += 1
        }
        while j < m {
            out.append(.insert(rb.lowerBound + j))
            j += 1
        }
    }
}
