import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Planning
import Rules
import Testing

/// Guest facts read once per run: os-release, the family table, init system, network stacks,
/// boot and kernel files; and the playbook parameters rules can take.
@Suite("Guest facts")
struct GuestFactsTests {
    func facts(_ name: String) throws -> GuestFacts {
        let root = try GuestRoot(hostPath: Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/facts/\(name)").path)
        try GuestShape.check(root)
        return try GuestFacts.gather(from: root)
    }

    @Test("RHEL 9: os-release from /usr/lib, rhel family with dracut, ifcfg, BLS entries, kernels")
    func rhel() throws {
        let facts = try facts("rhel9-ifcfg")
        #expect(facts.os?.id == "rhel")
        #expect(facts.os?.idLike == ["fedora"])
        #expect(facts.os?.versionID == "9.3")
        #expect(facts.os?.path == "/usr/lib/os-release")
        #expect(facts.family == .rhel)
        #expect(facts.profile.initramfs == .dracut)
        #expect(facts.profile.resumeFiles == ["/etc/default/grub"], "dracut reads resume= from the kernel command line")
        #expect(facts.initSystem == .systemd)
        #expect(facts.networkStacks == [.ifcfgRHEL], "ifcfg-lo alone would not count")
        #expect(facts.bootloaderFiles.contains("/boot/loader/entries/abc-5.14.0-362.el9.x86_64.conf"))
        #expect(facts.kernels.kernels == ["/boot/vmlinuz-5.14.0-362.el9.x86_64"])
        #expect(facts.kernels.initramfsImages == ["/boot/initramfs-5.14.0-362.el9.x86_64.img"])
        #expect(facts.kernels.moduleDirectories == ["/lib/modules/5.14.0-362.el9.x86_64"])
        #expect(facts.enabledUnits == ["NetworkManager.service"])
        #expect(!facts.cloudInitManagesNetwork, "network: {config: disabled} in cloud.cfg.d")
    }

    @Test("Ubuntu: family from ID_LIKE, netplan, init from the /sbin/init link")
    func ubuntu() throws {
        let facts = try facts("ubuntu-netplan")
        #expect(facts.os?.prettyName == "Ubuntu 22.04.3 LTS")
        #expect(facts.family == .debian)
        #expect(facts.profile.resumeFiles == ["/etc/initramfs-tools/conf.d/resume", "/etc/default/grub"])
        #expect(facts.initSystem == .systemd)
        #expect(facts.networkStacks == [.netplan])
        #expect(facts.bootloaderFiles == ["/boot/grub/grub.cfg"])
        #expect(facts.enabledUnits.contains("systemd-networkd.service"))
        #expect(facts.cloudInitManagesNetwork, "cloud-init is there and nothing disables its network config")
    }

    @Test("SLES: suse family, SUSE ifcfg, sysvinit from inittab")
    func sles() throws {
        let facts = try facts("sles-wicked")
        #expect(facts.family == .suse)
        #expect(facts.networkStacks == [.ifcfgSUSE])
        #expect(facts.initSystem == .sysvinit)
    }

    @Test("os-release quoting as os-release(5) defines it; unknown IDs fall back to the unknown family")
    func osReleaseParsing() {
        let parsed = OSRelease.parse(
            Array("# comment\nID=\"my-os\"\nID_LIKE='rhel  centos'\nPRETTY_NAME=\"A \\\"quoted\\\" \\$name\"\n".utf8),
            path: "/etc/os-release")
        #expect(parsed.id == "my-os")
        #expect(parsed.idLike == ["rhel", "centos"])
        #expect(parsed.prettyName == "A \"quoted\" $name")
        #expect(FamilyTable.profile(for: parsed).family == .rhel, "ID_LIKE decides when ID is unknown")
        #expect(FamilyTable.profile(for: OSRelease.parse([], path: "/x")).family == .unknown)
        #expect(OSRelease.parse([], path: "/x").id == "linux", "os-release(5): ID defaults to linux")
    }

    @Test("every family row says why")
    func tableRowsExplainThemselves() {
        for row in FamilyTable.rows { #expect(!row.why.isEmpty, "\(row.family)") }
        #expect(Set(FamilyTable.rows.map(\.family)) == Set(DistroFamily.allCases))
    }

    @Test("the RHEL family's resume device is fixed in /etc/default/grub only")
    func resumeFilesFollowTheFamily() throws {
        let scratch = try Support.scratch("facts-rhel")
        defer { Support.cleanUp(scratch) }
        let root = scratch.appendingPathComponent("root")
        try Support.must(
            "cp", ["-a", Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/facts/rhel9-ifcfg").path, root.path])
        // An initramfs-tools file in a RHEL guest is not read at boot: it is left alone.
        try Support.write("RESUME=/dev/vda2\n", to: root.appendingPathComponent("etc/initramfs-tools/conf.d/resume"))
        let image = try DiskImage.wholeDisk(
            at: scratch.appendingPathComponent("swap.img"), sizeMiB: 8, content: .swap(uuid: FixtureGuest.swapUUID))
        let guest = try GuestRoot(hostPath: root.path)
        let plan = try Planner.plan(
            root: guest, devices: try DiskImageProbe.inventory([DiskMapping(guestName: "/dev/vda2", hostPath: image.path)]),
            playbook: Playbook(
                name: "t", source: "t",
                steps: [.init(rule: StableBlockDeviceReferences(targets: [.resume]), ruleID: StableBlockDeviceReferences.id, line: 1)]))
        #expect(plan.changes.compactMap(\.path) == ["/etc/default/grub"])
    }

    @Test("playbook parameters: maps and nested maps keep their order; wrong shapes are errors with file:line")
    func mapParameters() throws {
        struct TakesMaps: Rule {
            static let id = "test-takes-maps"
            static let summary = "test rule"
            static let parameterNames = ["addresses", "interfaces", "keep"]
            let addresses: [(key: String, value: String)]
            let interfaces: [(key: String, value: [(key: String, value: String)])]
            let keep: Int
            init(parameters: RuleParameters) throws {
                addresses = try parameters.map("addresses")
                interfaces = try parameters.nestedMap("interfaces")
                keep = try parameters.integer("keep", in: 1...10, default: 2)
            }
            func evaluate(in context: RuleContext) throws {}
        }
        let values = RuleParameters(
            values: [
                "addresses": .init(content: .map([("eth1", .scalar("10.0.0.5/24")), ("eth0", .scalar("10.0.0.4/24"))]), line: 3),
                "interfaces": .init(content: .map([("eth0", .map([("gateway", .scalar("10.0.0.1"))]))]), line: 5),
            ], file: "p.yaml", rule: TakesMaps.id)
        let rule = try TakesMaps(parameters: values)
        #expect(rule.addresses.map(\.key) == ["eth1", "eth0"])
        #expect(rule.interfaces.first?.value.first?.value == "10.0.0.1")
        #expect(rule.keep == 2)
        let wrong = RuleParameters(
            values: ["addresses": .init(content: .list([.scalar("x")]), line: 7)], file: "p.yaml", rule: TakesMaps.id)
        #expect {
            try TakesMaps(parameters: wrong)
        } throws: {
            ($0 as? GuestprepError)?.code == .playbook && ($0 as? GuestprepError)?.line == 7
        }
    }
}
