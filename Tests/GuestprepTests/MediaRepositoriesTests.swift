import Apply
import BlockProbe
import Dialects
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import Planning
import Testing

@testable import Rules

/// media-repos against the golden cases under `Fixtures/repos/<case>/` (see the README there):
/// plan, compare findings and the applied tree, roll back byte for byte.
@Suite("MediaRepositories")
struct MediaRepositoriesTests {
    static let folder = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/repos")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasSuffix(".md") }.sorted()

    /// A scratch copy of a case's input, planned with media-repos alone.
    struct Planned {
        var scratch: URL
        var guest: URL
        var root: GuestRoot
        var plan: Plan

        init(input: URL) throws {
            scratch = try Support.scratch("repos")
            guest = scratch.appendingPathComponent("root")
            try Support.must("cp", ["-a", input.path, guest.path])
            root = try GuestRoot(hostPath: guest.path)
            plan = try Self.plan(root)
        }

        static func plan(_ root: GuestRoot) throws -> Plan {
            Planner.plan(
                root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root),
                playbook: Playbook(name: "t", source: "t", steps: [.init(rule: MediaRepositories(), ruleID: MediaRepositories.id, line: 1)])
            )
        }

        /// Findings as `severity code path:line`, paths inside the guest.
        var findingLines: String {
            plan.findings.map { finding in
                let location = finding.location.map { $0.replacingOccurrences(of: guest.path, with: "") } ?? "-"
                return "\(finding.severity.rawValue) \(finding.code) \(location)\n"
            }.joined()
        }

        func tree() throws -> [String: [UInt8]] {
            try NetworkFixtures.tree(guest).filter { !$0.key.hasPrefix("var/lib/guestprep") }
        }

        func cleanUp() { Support.cleanUp(scratch) }
    }

    static func compare(_ got: [String: [UInt8]], _ want: [String: [UInt8]], _ name: String) {
        for path in Set(got.keys).union(want.keys).sorted() where got[path] != want[path] {
            Issue.record(
                "\(name): \(path) differs\n--- got\n\(got[path].map { String(decoding: $0, as: UTF8.self) } ?? "<missing>")\n--- expected\n\(want[path].map { String(decoding: $0, as: UTF8.self) } ?? "<missing>")"
            )
        }
    }

    @Test("golden case: findings, applied tree, then rollback byte-identical through the journal", arguments: cases)
    func golden(_ name: String) throws {
        let directory = Self.folder.appendingPathComponent(name)
        let input = directory.appendingPathComponent("input")
        let planned = try Planned(input: input)
        defer { planned.cleanUp() }
        #expect(planned.plan.failures.isEmpty, "\(name): \(planned.plan.failures)")
        #expect(!planned.plan.findings.contains { $0.code.hasPrefix("plan.") }, "\(name): \(planned.plan.findings)")

        let findingsFile = directory.appendingPathComponent("findings.txt")
        if NetworkFixtures.recording { try Data(planned.findingLines.utf8).write(to: findingsFile) }
        #expect(planned.findingLines == (try? String(contentsOf: findingsFile, encoding: .utf8)) ?? "", "\(name): findings")

        let before = try Support.snapshot(planned.guest, excluding: "var/lib/guestprep")
        let expectedDirectory = directory.appendingPathComponent("expected")
        if planned.plan.changes.isEmpty {
            #expect(!FileManager.default.fileExists(atPath: expectedDirectory.path), "\(name): expected/ but no change planned")
            return
        }
        let outcome = try Applier(root: planned.root, tool: "test").apply(planned.plan)
        let after = try planned.tree()
        if NetworkFixtures.recording { try NetworkFixtures.writeTree(after, to: expectedDirectory) }
        Self.compare(after, try NetworkFixtures.tree(expectedDirectory), name)

        // Applied once, there is nothing left to do, and the check after the change says the same.
        let again = try Planned.plan(planned.root)
        #expect(again.changes.isEmpty, "\(name): \(again.changes.map(\.headline))")
        #expect(again.blockers.map(\.code) == planned.plan.blockers.map(\.code))

        _ = try Rollback(root: planned.root).rollBack(runID: outcome.runID, force: false)
        #expect(try Support.snapshot(planned.guest, excluding: "var/lib/guestprep") == before, "\(name): rollback")
    }

    @Test("the blockers and warnings each case is for")
    func severities() throws {
        func codes(_ name: String) throws -> [String] {
            let planned = try Planned(input: Self.folder.appendingPathComponent("\(name)/input"))
            defer { planned.cleanUp() }
            return planned.plan.findings.filter { $0.severity != .info }.map { "\($0.severity.rawValue) \($0.code)" }
        }
        #expect(try codes("apt-only-cdrom-no-network-source-blocker") == ["blocker repos.no-network-source"])
        #expect(try codes("yum-only-media-no-network-source-blocker") == ["blocker repos.no-network-source"])
        #expect(try codes("yum-rhsm-and-rhui-subscription-warnings") == ["warning repos.subscription", "warning repos.subscription"])
        #expect(try codes("zypper-suse-registration-service-warning") == ["warning repos.subscription", "warning repos.subscription"])
        for name in [
            "apt-one-line-cdrom-media-copy-options-no-final-newline", "deb822-two-uris-media-and-network-media-only-stanza",
            "yum-continuation-baseurl-media-and-network-mediaid", "zypper-cd-dvd-iso-hd-and-oss",
        ] {
            #expect(try codes(name).isEmpty, "\(name)")
        }
    }

    @Test("the blocker names the third-party sources that remain and where the media were")
    func blockerMessage() throws {
        let planned = try Planned(input: Self.folder.appendingPathComponent("apt-only-cdrom-no-network-source-blocker/input"))
        defer { planned.cleanUp() }
        let blocker = try #require(planned.plan.blockers.first)
        #expect(blocker.message.contains("download.docker.com"))
        #expect(blocker.path?.hasSuffix("/etc/apt/sources.list") == true && blocker.line == 1)
    }

    @Test(
        "unparsable input is an error naming file, line and what is wrong, never a finding or nothing to do",
        arguments: [
            ("etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main\ndeb-sr http://x/ y main\n", 2, "deb-sr"),
            ("etc/apt/sources.list", "deb [arch=amd64 http://x/ bookworm main\n", 1, "no closing"),
            ("etc/apt/sources.list", "deb http://x/\n", 1, "no suite"),
            ("etc/apt/sources.list.d/x.sources", "Types: deb\nURIs: file:///media/cdrom\nSuites bookworm\n", 3, "Field: value"),
            ("etc/apt/sources.list.d/x.sources", "  URIs: file:///media/cdrom\n", 1, "continues a field"),
            ("etc/apt/sources.list.d/x.sources", "Types: deb\nSuites: bookworm\n", 1, "URIs"),
            ("etc/yum.repos.d/x.repo", "[media]\nbaseurl=file:///media/cdrom\nthis is not a setting\n", 3, "neither"),
            ("etc/yum.repos.d/x.repo", "baseurl=file:///media/cdrom\n[media]\n", 1, "before the first"),
            ("etc/zypp/repos.d/x.repo", "[media]\nbaseurl=cd:/\nenabled=maybe\n", 3, "not a boolean"),
        ])
    func badInput(_ path: String, _ text: String, _ line: Int, _ words: String) throws {
        let scratch = try Support.scratch("repos-bad")
        defer { Support.cleanUp(scratch) }
        try Support.write("ID=debian\n", to: scratch.appendingPathComponent("etc/os-release"))
        try Support.write(text, to: scratch.appendingPathComponent(path))
        let plan = try Planned.plan(try GuestRoot(hostPath: scratch.path))
        let failure = try #require(plan.failures.first)
        #expect(failure.rule == MediaRepositories.id)
        #expect(failure.error.code == .parse)
        #expect(failure.error.path == scratch.appendingPathComponent(path).path)
        #expect(failure.error.line == line)
        #expect(failure.error.message.contains(words), "\(failure.error.message)")
        #expect(plan.changes.isEmpty && plan.findings.isEmpty && plan.verdict == .error)
    }

    @Test("validators re-read the file alone: another source changed, media left enabled or a file that no longer parses all fail")
    func validators() throws {
        let list = "deb cdrom:[Disc]/ bookworm main\ndeb http://x/ bookworm main\n"
        let apt = AptSourcesListValidator()
        try apt.validate(
            proposed: Array("# deb cdrom:[Disc]/ bookworm main\ndeb http://x/ bookworm main\n".utf8), original: Array(list.utf8), path: "p")
        for wrong in [list, "# deb cdrom:[Disc]/ bookworm main\ndeb http://y/ bookworm main\n", "# x\n", "dep http://x/ bookworm main\n"] {
            #expect(throws: GuestprepError.self, "\(wrong)") {
                try apt.validate(proposed: Array(wrong.utf8), original: Array(list.utf8), path: "p")
            }
        }
        let repo = "[a]\nbaseurl=file:///media/a\n  http://x/a\nenabled=1\ngpgcheck=1\n"
        let dnf = RepoFileValidator(tool: .dnf)
        try dnf.validate(proposed: Array("[a]\nbaseurl=http://x/a\nenabled=1\ngpgcheck=1\n".utf8), original: Array(repo.utf8), path: "p")
        for wrong in [
            repo, "[a]\nbaseurl=http://x/a\nenabled=0\ngpgcheck=1\n", "[a]\nbaseurl=http://x/a\nenabled=1\ngpgcheck=0\n",
            "[b]\nbaseurl=http://x/a\nenabled=1\ngpgcheck=1\n",
        ] {
            #expect(throws: GuestprepError.self, "\(wrong)") {
                try dnf.validate(proposed: Array(wrong.utf8), original: Array(repo.utf8), path: "p")
            }
        }
        let sources = "Types: deb\nURIs: file:///media/a http://x/\nSuites: s\n"
        let deb822 = Deb822SourcesValidator()
        try deb822.validate(proposed: Array("Types: deb\nURIs: http://x/\nSuites: s\n".utf8), original: Array(sources.utf8), path: "p")
        for wrong in [sources, "Types: deb\nURIs: http://x/\nSuites: s\nEnabled: no\n", "Types: deb\nURIs: http://x/\nSuites: t\n"] {
            #expect(throws: GuestprepError.self, "\(wrong)") {
                try deb822.validate(proposed: Array(wrong.utf8), original: Array(sources.utf8), path: "p")
            }
        }
    }

    @Test("where a URL leads: media by scheme, mount point (component-wise) or removable device; the rest stays")
    func locations() {
        #expect(PackageSourceLocation.apt("cdrom:[Debian 12]/").isMedia)
        #expect(PackageSourceLocation.apt("file:/media/usb").isMedia)
        #expect(PackageSourceLocation.apt("file://localhost/run/media/a/b").isMedia)
        #expect(PackageSourceLocation.apt("copy:///cdrom/").isMedia)
        #expect(PackageSourceLocation.apt("file:///mnt").isMedia)
        #expect(PackageSourceLocation.apt("file:///mntx/a") == .localDisk)
        #expect(PackageSourceLocation.apt("file:///srv/mnt/a") == .localDisk)
        #expect(PackageSourceLocation.apt("http://deb.debian.org/debian") == .network)
        #expect(PackageSourceLocation.repo("cd:/?devices=/dev/sr0").isMedia)
        #expect(PackageSourceLocation.repo("DVD:///").isMedia)
        #expect(PackageSourceLocation.repo("iso:/?iso=x.iso&url=dir:/srv").isMedia)
        #expect(PackageSourceLocation.repo("hd:/x?device=/dev/sr1").isMedia)
        #expect(PackageSourceLocation.repo("hd:/x?device=/dev/vdb1") == .localDisk)
        #expect(PackageSourceLocation.repo("dir:/mnt/repo").isMedia)
        #expect(PackageSourceLocation.repo("file:///rhel7.6/1") == .localDisk)
        #expect(PackageSourceLocation.repo("https://rhui.x.aws.ce.redhat.com/pulp") == .network)
        #expect(PackageSourceLocation.host(of: "https://user@Mirror.Example.net:8080/x") == "mirror.example.net")
    }
}
