/// Version ordering as each package database defines it. Kernels are kept or removed by it, so it
/// must agree with the guest's own tools to the byte; the tests compare against `dpkg
/// --compare-versions` and rpm's own test vectors.
public enum PackageVersion {
    /// dpkg's order: `[epoch:]upstream[-revision]`, epochs numerically, then upstream and
    /// revision by `verrevcmp` (deb-version(7)): `~` sorts before anything, even the end.
    public static func compareDpkg(_ a: String, _ b: String) -> Int {
        let left = splitDpkg(a)
        let right = splitDpkg(b)
        if left.epoch != right.epoch { return left.epoch < right.epoch ? -1 : 1 }
        let upstream = verrevcmp(Array(left.upstream.utf8), Array(right.upstream.utf8))
        if upstream != 0 { return upstream }
        return verrevcmp(Array(left.revision.utf8), Array(right.revision.utf8))
    }

    static func splitDpkg(_ version: String) -> (epoch: Int, upstream: String, revision: String) {
        var rest = Substring(version)
        var epoch = 0
        if let colon = rest.firstIndex(of: ":") {
            epoch = Int(rest[..<colon]) ?? 0
            rest = rest[rest.index(after: colon)...]
        }
        if let dash = rest.lastIndex(of: "-") {
            return (epoch, String(rest[..<dash]), String(rest[rest.index(after: dash)...]))
        }
        return (epoch, String(rest), "")
    }

    /// dpkg's lib/dpkg/version.c, order() and verrevcmp(), with 0 standing for the end of string.
    static func verrevcmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
        func order(_ c: UInt8) -> Int {
            if isDigit(c) { return 0 }
            if isAlpha(c) { return Int(c) }
            if c == UInt8(ascii: "~") { return -1 }
            if c != 0 { return Int(c) + 256 }
            return 0
        }
        var i = 0
        var j = 0
        func at(_ s: [UInt8], _ k: Int) -> UInt8 { k < s.count ? s[k] : 0 }
        while i < a.count || j < b.count {
            var firstDiff = 0
            while (at(a, i) != 0 && !isDigit(at(a, i))) || (at(b, j) != 0 && !isDigit(at(b, j))) {
                let ac = order(at(a, i))
                let bc = order(at(b, j))
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1
                j += 1
            }
            while at(a, i) == UInt8(ascii: "0") { i += 1 }
            while at(b, j) == UInt8(ascii: "0") { j += 1 }
            while isDigit(at(a, i)) && isDigit(at(b, j)) {
                if firstDiff == 0 { firstDiff = Int(at(a, i)) - Int(at(b, j)) }
                i += 1
                j += 1
            }
            if isDigit(at(a, i)) { return 1 }
            if isDigit(at(b, j)) { return -1 }
            if firstDiff != 0 { return firstDiff < 0 ? -1 : 1 }
        }
        return 0
    }

    /// rpm's order of `[epoch:]version-release`: epoch numerically (missing is 0), then version,
    /// then release, each by `rpmvercmp`.
    public static func compareRPM(_ a: String, _ b: String) -> Int {
        let left = splitRPM(a)
        let right = splitRPM(b)
        if left.epoch != right.epoch { return left.epoch < right.epoch ? -1 : 1 }
        let version = rpmvercmp(left.version, right.version)
        if version != 0 { return version }
        return rpmvercmp(left.release, right.release)
    }

    static func splitRPM(_ evr: String) -> (epoch: Int, version: String, release: String) {
        var rest = Substring(evr)
        var epoch = 0
        if let colon = rest.firstIndex(of: ":"), rest[..<colon].allSatisfy(\.isNumber) {
            epoch = Int(rest[..<colon]) ?? 0
            rest = rest[rest.index(after: colon)...]
        }
        if let dash = rest.lastIndex(of: "-") {
            return (epoch, String(rest[..<dash]), String(rest[rest.index(after: dash)...]))
        }
        return (epoch, String(rest), "")
    }

    /// rpm's rpmio/rpmvercmp.c (4.15 and later): alphanumeric segments, separators ignored,
    /// numbers numerically and above letters, `~` before anything (even the end), `^` after the
    /// end but before any other segment.
    public static func rpmvercmp(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        let one = Array(a.utf8)
        let two = Array(b.utf8)
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
        func at(_ s: [UInt8], _ k: Int) -> UInt8 { k < s.count ? s[k] : 0 }
        let tilde = UInt8(ascii: "~")
        let caret = UInt8(ascii: "^")
        var i = 0
        var j = 0
        while at(one, i) != 0 || at(two, j) != 0 {
            while at(one, i) != 0 && !isDigit(at(one, i)) && !isAlpha(at(one, i)) && at(one, i) != tilde && at(one, i) != caret { i += 1 }
            while at(two, j) != 0 && !isDigit(at(two, j)) && !isAlpha(at(two, j)) && at(two, j) != tilde && at(two, j) != caret { j += 1 }
            if at(one, i) == tilde || at(two, j) == tilde {
                if at(one, i) != tilde { return 1 }
                if at(two, j) != tilde { return -1 }
                i += 1
                j += 1
                continue
            }
            if at(one, i) == caret || at(two, j) == caret {
                if at(one, i) == 0 { return -1 }
                if at(two, j) == 0 { return 1 }
                if at(one, i) != caret { return 1 }
                if at(two, j) != caret { return -1 }
                i += 1
                j += 1
                continue
            }
            if at(one, i) == 0 || at(two, j) == 0 { break }
            var end1 = i
            var end2 = j
            let numeric = isDigit(at(one, i))
            let inSegment: (UInt8) -> Bool = numeric ? isDigit : isAlpha
            while inSegment(at(one, end1)) { end1 += 1 }
            while inSegment(at(two, end2)) { end2 += 1 }
            if end2 == j { return numeric ? 1 : -1 }  // segments of different kinds: numbers win
            var segment1 = Array(one[i..<end1])
            var segment2 = Array(two[j..<end2])
            if numeric {
                segment1 = Array(segment1.drop { $0 == UInt8(ascii: "0") })
                segment2 = Array(segment2.drop { $0 == UInt8(ascii: "0") })
                if segment1.count != segment2.count { return segment1.count > segment2.count ? 1 : -1 }
            }
            if segment1 != segment2 { return segment1.lexicographicallyPrecedes(segment2) ? -1 : 1 }
            i = end1
            j = end2
        }
        if at(one, i) == 0 && at(two, j) == 0 { return 0 }
        return at(one, i) == 0 ? -1 : 1
    }
}
