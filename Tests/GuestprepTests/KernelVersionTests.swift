import Dialects
import Foundation
import GuestFS
import Kernels
import Testing

@Suite("Kernel versions, dpkg status and the /boot estimate")
struct KernelVersionTests {
    static let dpkgPairs: [(String, String)] = [
        ("6.1.0-9-amd64", "6.1.0-10-amd64"), ("6.1.27-1", "6.1.38-1"), ("1:1.0", "2.0"), ("1.0~rc1", "1.0"), ("1.0~rc1-1", "1.0~rc2-1"),
        ("1.0", "1.0-0"), ("1.0-1", "1.0-1+b1"), ("2.30-21ubuntu1~18.04.4", "2.30-21ubuntu1~18.04.10"), ("0:1.0", "1.0"), ("1.0a", "1.0+"),
        ("1.0", "1.0."), ("4.9.210-1", "4.9.189-3+deb9u2"), ("5.15.0-91.101", "5.15.0-101.111"), ("1.0~~", "1.0~"), ("a", "A"),
        ("1.00", "1.0"), ("6.1.0-13", "6.1.0-13-amd64"),
    ]

    @Test("dpkg order agrees with dpkg --compare-versions on every pair, both ways")
    func dpkgOrder() throws {
        for (a, b) in Self.dpkgPairs {
            let ours = PackageVersion.compareDpkg(a, b)
            #expect(PackageVersion.compareDpkg(b, a) == -ours, "\(a) vs \(b)")
            for (op, holds) in [("lt", ours < 0), ("eq", ours == 0), ("gt", ours > 0)] {
                let status = try Support.run("dpkg", ["--compare-versions", a, op, b]).status
                #expect((status == 0) == holds, "dpkg says \(a) \(op) \(b) is \(status == 0), we say \(holds)")
            }
        }
    }

    @Test("rpm order follows rpmvercmp, tilde and caret included (rpm's own test vectors)")
    func rpmOrder() {
        let vectors: [(String, String, Int)] = [
            ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0", 1), ("2.0.1a", "2.0.1", 1), ("5.5p1", "5.5p2", -1),
            ("5.5p10", "5.5p1", 1),
            ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1), ("xyz.4", "8", -1), ("6.0.rc1", "6.0", 1), ("1b.fc17", "1.fc17", -1),
            ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc1~git123", "1.0~rc1", -1), ("1.0^", "1.0", 1),
            ("1.0^git1", "1.0^git2", -1), ("1.0^git1", "1.01", -1), ("1.0~rc1^git1", "1.0~rc1", 1), ("1.0^git1~pre", "1.0^git1", -1),
            ("a+", "a_", 0), ("+a", "_a", 0), ("1.0010", "1.9", 1), ("1.05", "1.5", 0), ("4_0", "4.0", 0),
        ]
        for (a, b, expected) in vectors {
            #expect(PackageVersion.rpmvercmp(a, b) == expected, "\(a) vs \(b)")
            #expect(PackageVersion.rpmvercmp(b, a) == -expected, "\(b) vs \(a)")
        }
        #expect(PackageVersion.compareRPM("5.14.0-362.8.1.el9_3", "5.14.0-70.13.1.el9_0") == 1)
        #expect(PackageVersion.compareRPM("1:4.0-1", "5.0-1") == 1)
        #expect(PackageVersion.compareRPM("5.14.21-150500.55.39.1", "5.14.21-150500.55.7.1") == 1)
    }

    @Test("status paragraphs, states and relationships; versioned Provides")
    func dpkgStatus() {
        let text = """
            Package: linux-image-amd64\r
            Status: install ok installed
            Version: 6.1.55-1
            Depends: linux-image-6.1.0-13-amd64 (= 6.1.55-1), foo:any [amd64] | bar (>> 2~)
            Description: meta
             second line
             .
             third

            Package: old
            Status: deinstall ok config-files
            Version: 1
            """
        let file = DpkgStatusFile(bytes: Array(text.utf8))
        #expect(file.bytes == Array(text.utf8))
        let paragraphs = file.paragraphs
        #expect(paragraphs.map(\.package) == ["linux-image-amd64", "old"])
        #expect(paragraphs.map(\.isPresent) == [true, false])
        #expect(paragraphs[0]["description"] == "meta\nsecond line\n\nthird")
        let depends = paragraphs[0].relations("Depends")
        #expect(depends.count == 2)
        #expect(depends[0] == [DpkgRelation(name: "linux-image-6.1.0-13-amd64", architecture: nil, constraint: (.equal, "6.1.55-1"))])
        #expect(
            depends[1] == [
                DpkgRelation(name: "foo", architecture: "any", constraint: nil),
                DpkgRelation(name: "bar", architecture: nil, constraint: (.later, "2~")),
            ])
    }

    @Test("a removal that leaves a dependency unmet is found; another provider keeps it met")
    func dependencyCheck() {
        let view = DependencyView(packages: [
            .init(name: "linux-image-1", version: "1", requires: [], provides: []),
            .init(name: "linux-image-2", version: "2", requires: [], provides: [("linux-image", "2")]),
            .init(name: "meta", version: "1", requires: [[.init(name: "linux-image-1", op: "=", version: "1")]], provides: []),
            .init(name: "virtual-user", version: "1", requires: [[.init(name: "linux-image", op: ">=", version: "1")]], provides: []),
        ])
        #expect(view.brokenBy(removing: ["linux-image-1=1"]).map(\.package) == ["meta"])
        #expect(view.brokenBy(removing: ["linux-image-2=2"]).map(\.package) == ["virtual-user"])
        #expect(view.brokenBy(removing: ["meta=1"]).isEmpty)
    }

    @Test("the estimate: largest image × kernels + 25%, never under the 100 MiB floor; inodes two per kernel")
    func estimate() {
        let mib = 1 << 20
        let fits = BootSpaceEstimate(largestInitramfs: 60 * mib, kernels: 2, freeBytes: 151 * mib, freeInodes: 10, totalInodes: 100)
        #expect(fits.neededBytes == 150 * mib && !fits.isShortOfSpace && !fits.isShortOfInodes)
        let floor = BootSpaceEstimate(largestInitramfs: 10 * mib, kernels: 1, freeBytes: 99 * mib, freeInodes: 1, totalInodes: 0)
        #expect(floor.neededBytes == 100 * mib && floor.isShortOfSpace && !floor.isShortOfInodes)
        let inodes = BootSpaceEstimate(largestInitramfs: mib, kernels: 3, freeBytes: 500 * mib, freeInodes: 5, totalInodes: 1000)
        #expect(inodes.isShortOfInodes)
    }
}
