import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Network
import Planning
import Testing

@testable import Rules

/// repos-updated (file times set with touch, a fixed clock), kernel-current (the boot default
/// against the newest kernel, apt-cache policy output) and network-map on small scratch guests.
@Suite("Readiness checks: package lists, kernel, static addresses")
struct ReadinessChecksTests {
    @Test("--online in a guest without apt-get is an error (exit 1), not a finding: the repositories were not checked")
    func onlineWithoutTool() throws {
        let directory = try Support.scratch("online-no-apt")
        defer { Support.cleanUp(directory) }
        try Support.write("ID=debian\nVERSION_ID=12\n", to: directory.appendingPathComponent("etc/os-release"))
        try Support.write("deb http://deb.debian.org/debian bookworm main\n", to: directory.appendingPathComponent("etc/apt/sources.list"))
        let root = try GuestRoot(hostPath: directory.path)
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root),
            playbook: Playbook(
                name: "o", source: "o", steps: [.init(rule: RepositoryFreshness(), ruleID: RepositoryFreshness.id, line: 1)]),
            executor: ChrootExecutor(root: root), source: SourceInputs(online: true))
        let failure = try #require(plan.failures.first)
        #expect(failure.error.message.contains("--online") && failure.error.message.contains("/usr/bin/apt-get"))
        #expect(plan.verdict == .error)
    }

    @Test("--online: the repositories apt, dnf and zypper say they could not fetch are named, each once")
    func refreshFailures() {
        let apt = """
            Hit:1 http://deb.debian.org/debian bookworm InRelease
            Err:2 http://127.0.0.1:9/debian bookworm InRelease
              Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)
            Reading package lists...
            W: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect
            W: Some index files failed to download. They have been ignored, or old ones used instead.
            """
        #expect(
            RepositoryFreshness.refreshFailures(apt) == [
                "http://127.0.0.1:9/debian bookworm InRelease (Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused))"
            ])
        let dnf =
            "Errors during downloading metadata for repository 'media':\nError: Failed to download metadata for repo 'media': Cannot download repomd.xml\n"
        #expect(RepositoryFreshness.refreshFailures(dnf) == ["'media': Cannot download repomd.xml"])
        let zypper =
            "Retrieving repository 'Main OSS' metadata [error]\nRepository 'Main' is invalid.\nProblem retrieving files from 'Main OSS'.\n"
        #expect(RepositoryFreshness.refreshFailures(zypper) == ["'Main'", "'Main OSS'."])
        #expect(RepositoryFreshness.refreshFailures("Hit:1 http://deb.debian.org/debian bookworm InRelease\n").isEmpty)
    }

    /// 2026-01-20 00:00 UTC.
    static let now: Int64 = 1_768_867_200
    static let day: Int64 = 86400

    struct Guest {
        let root: URL

        init(_ name: String, os: String) throws {
            root = try Support.scratch(name)
            try write(os, "etc/os-release")
        }

        func write(_ text: String, _ path: String) throws { try Support.write(text, to: root.appendingPathComponent(path)) }

        /// `touch -d @SECONDS`: the modification time a refresh would have left.
        func touch(_ path: String, at time: Int64) throws {
            try Support.must("touch", ["-d", "@\(time)", root.appendingPathComponent(path).path])
        }

        func plan(_ rule: any Rule, _ id: String) throws -> Plan {
            let guestRoot = try GuestRoot(hostPath: root.path)
            return Planner.plan(
                root: guestRoot, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: guestRoot),
                playbook: Playbook(name: "t", source: "t", steps: [.init(rule: rule, ruleID: id, line: 1)]))
        }

        func findings(_ rule: any Rule, _ id: String) throws -> [String] {
            let plan = try plan(rule, id)
            #expect(plan.failures.isEmpty, "\(plan.failures)")
            return plan.findings.map {
                "\($0.severity.rawValue) \($0.code) \($0.location?.replacingOccurrences(of: root.path, with: "") ?? "-")"
            }
        }

        func cleanUp() { Support.cleanUp(root) }
    }

    static func freshness(maxDays: Int64 = 14) -> RepositoryFreshness {
        RepositoryFreshness(maxAge: maxDays * day, now: { now })
    }

    // MARK: repos-updated

    @Test("apt: the newest index decides; 19 days is stale at 14d, fresh at 30d; the message says when and how to refresh")
    func aptLists() throws {
        let guest = try Guest("lists-apt", os: "ID=debian\n")
        defer { guest.cleanUp() }
        try guest.write("deb http://deb.debian.org/debian bookworm main\n", "etc/apt/sources.list")
        let lists = "var/lib/apt/lists/"
        try guest.write("x", lists + "deb.debian.org_debian_dists_bookworm_InRelease")
        try guest.write("x", lists + "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4")
        try guest.write("", lists + "lock")
        try guest.touch(lists + "deb.debian.org_debian_dists_bookworm_InRelease", at: Self.now - 40 * Self.day)
        try guest.touch(lists + "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4", at: Self.now - 19 * Self.day)
        try guest.touch(lists + "lock", at: Self.now)
        #expect(
            try guest.findings(Self.freshness(), RepositoryFreshness.id) == [
                "warning repos.metadata-stale /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"
            ])
        let plan = try guest.plan(Self.freshness(), RepositoryFreshness.id)
        let message = try #require(plan.findings.first?.message)
        #expect(
            message.contains("19d ago (2026-01-01 00:00 UTC)") && message.contains("max-metadata-age 14d")
                && message.contains("apt-get update"))
        #expect(
            try guest.findings(Self.freshness(maxDays: 30), RepositoryFreshness.id) == [
                "info repos.metadata-fresh /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"
            ])
        // apt's daily job stamps a successful update even when no index changed.
        try guest.write("", "var/lib/apt/periodic/update-success-stamp")
        try guest.touch("var/lib/apt/periodic/update-success-stamp", at: Self.now - 2 * Self.day)
        #expect(
            try guest.findings(Self.freshness(), RepositoryFreshness.id) == [
                "info repos.metadata-fresh /var/lib/apt/periodic/update-success-stamp"
            ])
    }

    @Test("no package lists at all is a warning that says so, for the family's tool even without its configuration")
    func noLists() throws {
        let guest = try Guest("lists-none", os: "ID=debian\n")
        defer { guest.cleanUp() }
        #expect(try guest.findings(Self.freshness(), RepositoryFreshness.id) == ["warning repos.metadata-missing /var/lib/apt/lists"])
        let alpine = try Guest("lists-alpine", os: "ID=alpine\n")
        defer { alpine.cleanUp() }
        #expect(try alpine.findings(Self.freshness(), RepositoryFreshness.id) == ["info repos.metadata-not-checked -"])
    }

    @Test("dnf, yum and zypper caches: repomd.xml below each repository")
    func rpmCaches() throws {
        let rocky = try Guest("lists-dnf", os: "ID=rocky\nID_LIKE=\"rhel centos fedora\"\n")
        defer { rocky.cleanUp() }
        try rocky.write("[baseos]\nbaseurl=https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/\n", "etc/yum.repos.d/rocky.repo")
        try rocky.write("<repomd/>", "var/cache/dnf/baseos-044cae74d71fe9ea/repodata/repomd.xml")
        try rocky.touch("var/cache/dnf/baseos-044cae74d71fe9ea/repodata/repomd.xml", at: Self.now - 3 * Self.day)
        try rocky.write("<repomd/>", "var/cache/yum/x86_64/7/base/repomd.xml")
        try rocky.touch("var/cache/yum/x86_64/7/base/repomd.xml", at: Self.now - 300 * Self.day)
        #expect(
            try rocky.findings(Self.freshness(), RepositoryFreshness.id) == [
                "info repos.metadata-fresh /var/cache/dnf/baseos-044cae74d71fe9ea/repodata/repomd.xml"
            ])
        let sles = try Guest("lists-zypper", os: "ID=\"sles\"\nID_LIKE=\"suse\"\n")
        defer { sles.cleanUp() }
        try sles.write("<repomd/>", "var/cache/zypp/raw/repo-oss/repodata/repomd.xml")
        try sles.touch("var/cache/zypp/raw/repo-oss/repodata/repomd.xml", at: Self.now - 100 * Self.day)
        #expect(
            try sles.findings(Self.freshness(), RepositoryFreshness.id) == [
                "warning repos.metadata-stale /var/cache/zypp/raw/repo-oss/repodata/repomd.xml"
            ])
    }

    @Test(
        "max-metadata-age: Nd or Nh; anything else is a playbook error at its line",
        arguments: ["14d", "36h", "2w", "0d", "d", "-3d", "99999d"])
    func ageParameter(_ text: String) throws {
        let parameters = RuleParameters(
            values: ["max-metadata-age": .init(content: .scalar(text), line: 7)], file: "p.yaml", rule: RepositoryFreshness.id)
        switch text {
        case "14d": #expect(try RepositoryFreshness(parameters: parameters).maxAge == 14 * Self.day)
        case "36h": #expect(try RepositoryFreshness(parameters: parameters).maxAge == 36 * 3600)
        default:
            let error = #expect(throws: GuestprepError.self) { try RepositoryFreshness(parameters: parameters) }
            #expect(error?.code == .playbook && error?.line == 7)
        }
        #expect(try RepositoryFreshness(parameters: RuleParameters()).maxAge == 14 * Self.day)
    }

    // MARK: kernel-current

    static func kernelGuest(_ name: String, grubDefault: String?) throws -> Guest {
        let guest = try Guest(name, os: "ID=debian\n")
        for release in ["6.1.0-9-amd64", "6.1.0-13-amd64"] {
            try guest.write("k", "boot/vmlinuz-\(release)")
            try guest.write("i", "boot/initrd.img-\(release)")
            try guest.write("", "lib/modules/\(release)/modules.dep")
        }
        if let grubDefault { try guest.write("GRUB_DEFAULT=\"\(grubDefault)\"\n", "etc/default/grub") }
        return guest
    }

    @Test("offline: a boot default older than the newest kernel is a warning; the newest as default (or none given) is not")
    func bootDefault() throws {
        let older = try Self.kernelGuest("kernel-older", grubDefault: "gnulinux-advanced-1234>gnulinux-6.1.0-9-amd64-advanced-1234")
        defer { older.cleanUp() }
        #expect(
            try older.findings(KernelCurrentCheck(), KernelCurrentCheck.id) == [
                "warning kernel.reboot-pending /boot", "info kernel.update-not-checked -",
            ])
        let message = try #require(try older.plan(KernelCurrentCheck(), KernelCurrentCheck.id).findings.first?.message)
        #expect(
            message.contains("6.1.0-9-amd64") && message.contains("newest installed, 6.1.0-13-amd64")
                && message.contains("grub-set-default"))
        for (name, value) in [("kernel-newest", "gnulinux-advanced-1234>gnulinux-6.1.0-13-amd64-advanced-1234"), ("kernel-first", nil)] {
            let guest = try Self.kernelGuest(name, grubDefault: value)
            defer { guest.cleanUp() }
            #expect(try guest.findings(KernelCurrentCheck(), KernelCurrentCheck.id) == ["info kernel.update-not-checked -"], "\(name)")
        }
        let none = try Guest("kernel-none", os: "ID=debian\n")
        defer { none.cleanUp() }
        #expect(
            try none.findings(KernelCurrentCheck(), KernelCurrentCheck.id).isEmpty,
            "a guest without kernels (a container) has nothing to check")
    }

    @Test("apt-cache policy output: installed and candidate per package, (none) as nothing")
    func policy() {
        let text = """
            linux-image-amd64:
              Installed: 6.1.76-1
              Candidate: 6.1.90-1
              Version table:
                 6.1.90-1 500
                    500 http://deb.debian.org/debian bookworm/main amd64 Packages
             *** 6.1.76-1 100
                    100 /var/lib/dpkg/status
            linux-image-cloud-amd64:
              Installed: (none)
              Candidate: 6.1.90-1

            """
        #expect(
            KernelCurrentCheck.parsePolicy(text) == [
                .init(package: "linux-image-amd64", installed: "6.1.76-1", candidate: "6.1.90-1"),
                .init(package: "linux-image-cloud-amd64", installed: nil, candidate: "6.1.90-1"),
            ])
    }

    // MARK: network-map

    static func networkGuest() throws -> Guest {
        let guest = try Guest("netmap", os: "ID=rocky\nID_LIKE=\"rhel centos fedora\"\n")
        let scripts = "etc/sysconfig/network-scripts/"
        try guest.write("DEVICE=eth0\nBOOTPROTO=none\nIPADDR=10.0.0.5\nPREFIX=24\nONBOOT=yes\n", scripts + "ifcfg-eth0")
        try guest.write("DEVICE=eth1\nBOOTPROTO=static\nIPADDR=192.168.7.10\nNETMASK=255.255.255.0\nONBOOT=yes\n", scripts + "ifcfg-eth1")
        try guest.write("DEVICE=eth2\nBOOTPROTO=dhcp\nONBOOT=yes\n", scripts + "ifcfg-eth2")
        try guest.write("DEVICE=eth3\nBOOTPROTO=none\nIPADDR=172.16.5.9\nPREFIX=24\nONBOOT=yes\n", scripts + "ifcfg-eth3")
        // The same address for eth0 in a NetworkManager profile: one finding for eth0, not two.
        try guest.write(
            "[connection]\nid=eth0\ninterface-name=eth0\ntype=ethernet\n\n[ipv4]\nmethod=manual\naddress1=10.0.0.5/24\n",
            "etc/NetworkManager/system-connections/eth0.nmconnection")
        return guest
    }

    static func subnet(_ text: String) -> InterfaceAddress { InterfaceAddress(cidr: text)! }

    @Test(
        "network-map: a static address mapped elsewhere, one outside every destination subnet; DHCP and fitting ones pass; once per interface"
    )
    func networkMap() throws {
        let guest = try Self.networkGuest()
        defer { guest.cleanUp() }
        let rule = NetworkMapCheck(
            networkMap: NetworkMap(entries: [.init(source: Self.subnet("10.0.0.0/24"), destination: Self.subnet("172.16.5.0/24"))]),
            destinationSubnets: [Self.subnet("172.16.5.0/24")])
        let found = try guest.findings(rule, NetworkMapCheck.id)
        #expect(found.filter { $0.contains("eth0") || $0.contains("network.map-mismatch") }.count == 1, "\(found)")
        #expect(found.contains { $0.hasPrefix("warning network.map-mismatch /etc/") })
        #expect(found.contains("warning network.subnet-mismatch /etc/sysconfig/network-scripts/ifcfg-eth1:3"), "\(found)")
        #expect(found.count == 2, "\(found)")
        let plan = try guest.plan(rule, NetworkMapCheck.id)
        #expect(
            plan.findings.first { $0.code == "network.map-mismatch" }?.message.contains(
                "eth0: the static address 10.0.0.5/24 is in 10.0.0.0/24") == true)
        #expect(try guest.findings(NetworkMapCheck(), NetworkMapCheck.id).isEmpty, "nothing given, nothing checked")
    }

    @Test("destination-subnets must be IPv4 subnets; network-map entries subnets of one family")
    func networkParameters() throws {
        for (name, content) in [
            ("destination-subnets", RuleParameters.Value.Content.list([.scalar("172.16.5.0")])),
            ("destination-subnets", .list([.scalar("fd00::/64")])),
            ("network-map", .map([(key: "10.0.0.0/24", value: .scalar("fd00::/64"))])),
        ] {
            let parameters = RuleParameters(values: [name: .init(content: content, line: 4)], file: "p.yaml", rule: NetworkMapCheck.id)
            let error = #expect(throws: GuestprepError.self) { try NetworkMapCheck(parameters: parameters) }
            #expect(error?.code == .playbook && error?.line == 4, "\(name)")
        }
    }
}
