import Apply
import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import HostProcess
import Journal
import Network
import Planning
import Testing

@testable import Rules

/// Golden cases for dhcp-to-static: `Fixtures/network/dhcp-to-static/<case>/input` is a guest
/// tree, `expected` the tree the plan leaves (moved-aside files included). Re-record with
/// GUESTPREP_RECORD_SNAPSHOTS=1.
enum DHCPCase {
    static let folder = NetworkFixtures.root.appendingPathComponent("dhcp-to-static")
    /// 2026-11-30 12:00 UTC: after the fixtures' recent leases were renewed, long after 2019.
    static let now: Int64 = 1_764_504_000

    /// A planned case: the plan, and the scratch copy of the input it was planned on.
    struct Planned {
        var plan: Plan
        var scratch: URL
        var guest: URL
        var root: GuestRoot

        func codes(_ severity: Severity? = nil) -> [String] {
            plan.findings.filter { severity == nil || $0.severity == severity }.map(\.code)
        }
    }

    /// Copies the case's input to scratch and plans dhcp-to-static on it.
    static func plan(
        _ name: String, network: NetworkInputs = NetworkInputs(), map: NetworkMap = NetworkMap(), guestTree: URL? = nil
    ) throws -> Planned {
        let scratch = try Support.scratch("dhcp-\(name)")
        let guest = scratch.appendingPathComponent("root")
        try Support.must("cp", ["-a", (guestTree ?? folder.appendingPathComponent("\(name)/input")).path, guest.path])
        // Git keeps no owner or mode: NetworkManager loads only root-owned 0600 profiles.
        let connections = guest.appendingPathComponent("etc/NetworkManager/system-connections")
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: connections.path)) ?? [] {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: connections.appendingPathComponent(entry).path)
        }
        let root = try GuestRoot(hostPath: guest.path)
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [.init(rule: DHCPToStatic(networkMap: map, now: { now }), ruleID: DHCPToStatic.id, line: 1)])
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            network: network)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        return Planned(plan: plan, scratch: scratch, guest: guest, root: root)
    }

    /// The input tree with the plan's file changes made, as relative path → bytes.
    static func plannedTree(_ planned: Planned, input: URL) throws -> [String: [UInt8]] {
        var files = try NetworkFixtures.tree(input)
        for change in planned.plan.changes {
            guard let path = change.path else { continue }
            let relative = String(path.description.dropFirst())
            switch change.action {
            case .write(_, _, let contents, _): files[relative] = contents
            case .delete: files[relative] = nil
            case .renameAside(_, _, let destination):
                files[String(destination.description.dropFirst())] = files.removeValue(forKey: relative)
            case .createDirectory, .runCommand: break
            }
        }
        return files
    }

    /// Compares the planned tree with `expected/` (or records it).
    static func check(_ name: String, _ planned: Planned) throws {
        let directory = folder.appendingPathComponent(name)
        let files = try plannedTree(planned, input: directory.appendingPathComponent("input"))
        let expectedDirectory = directory.appendingPathComponent("expected")
        if NetworkFixtures.recording { try NetworkFixtures.writeTree(files, to: expectedDirectory) }
        let expected = try NetworkFixtures.tree(expectedDirectory)
        #expect(Set(files.keys) == Set(expected.keys), "\(name): files differ: \(Set(files.keys).symmetricDifference(expected.keys))")
        for (path, bytes) in files where expected[path] != nil && expected[path] != bytes {
            Issue.record("\(name): \(path) differs from expected:\n\(String(decoding: bytes, as: UTF8.self))")
        }
        // ifupdown's own parser reads every interfaces file the plan wrote.
        let written = planned.plan.changes.compactMap { change -> (String, [UInt8])? in
            guard let path = change.path?.description, path.hasPrefix("/etc/network/interfaces"), let bytes = change.proposed else {
                return nil
            }
            return (path, bytes)
        }
        try NetworkIfupdownTests.ifquery(Dictionary(uniqueKeysWithValues: written), case: name)
    }
}

@Suite("DHCPToStatic")
struct DHCPToStaticTests {
    @Test("ifupdown with three dhclient leases: the last one dhclient bound is written statically, with hwaddress, and said so")
    func ifupdownNewestLease() throws {
        let name = "ifupdown-dhclient-newest-of-three-leases"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(planned.codes(.blocker).isEmpty)
        let change = try #require(planned.plan.changes.first { $0.path == "/etc/network/interfaces" })
        let reasons = change.reasons.joined(separator: "\n")
        // The last block, though it expires before the second: dhclient appends what it binds,
        // so an earlier expiry only means a shorter lease (or a clock set back), not an older one.
        #expect(reasons.contains("192.168.122.41/24"))
        #expect(reasons.contains("lease 3 of 3 at /var/lib/dhcp/dhclient.eth0.leases:20"), "\(reasons)")
        #expect(reasons.contains("pinned to 52:54:00:aa:bb:01"))
    }

    @Test("RHEL ifcfg with a NetworkManager internal lease: IPADDR, PREFIX, GATEWAY, DNS and MTU from it")
    func ifcfgInternalLease() throws {
        let name = "ifcfg-rhel-networkmanager-internal-lease"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(planned.codes(.blocker).isEmpty)
        let change = try #require(planned.plan.changes.first { $0.path == "/etc/sysconfig/network-scripts/ifcfg-eth0" })
        #expect(change.reasons.joined().contains("NetworkManager-internal lease 1 of 1"))
    }

    @Test("netplan from cloud-init: static with a quoted MAC match, cloud-init's network config disabled, the .orig moved aside")
    func netplanCloudInit() throws {
        let name = "netplan-cloud-init-disabled-and-orig-moved-aside"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(Set(planned.codes()).isSuperset(of: ["dhcp.cloud-init", "dhcp.backup-moved"]))
        let yaml = try #require(planned.plan.changes.first { $0.path == "/etc/netplan/50-cloud-init.yaml" }?.proposed)
        #expect(String(decoding: yaml, as: UTF8.self).contains("macaddress: \"52:54:00:12:34:56\""))
        let cloud = try #require(planned.plan.changes.first { $0.path == "/etc/cloud/cloud.cfg.d/99-guestprep-network.cfg" })
        #expect(cloud.kind == .create)
        #expect(String(decoding: cloud.proposed ?? [], as: UTF8.self).contains("network: {config: disabled}"))
    }

    @Test(
        "netplan's own generator accepts the converted file",
        .enabled(if: Support.isRoot && HostCommand.find("netplan") != nil, "needs netplan (netplan.io)"))
    func netplanGenerate() throws {
        let name = "netplan-cloud-init-disabled-and-orig-moved-aside"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        let check = planned.scratch.appendingPathComponent("generate")
        let yaml = try #require(planned.plan.changes.first { $0.path == "/etc/netplan/50-cloud-init.yaml" }?.proposed)
        try FileManager.default.createDirectory(at: check.appendingPathComponent("etc/netplan"), withIntermediateDirectories: true)
        try Data(yaml).write(to: check.appendingPathComponent("etc/netplan/50-cloud-init.yaml"))
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o600], ofItemAtPath: check.appendingPathComponent("etc/netplan/50-cloud-init.yaml").path)
        let output = try Support.run("netplan", ["generate", "--root-dir", check.path])
        #expect(output.status == 0, "\(output)")
        let unit = try Support.read(check.appendingPathComponent("run/systemd/network/10-netplan-ens3.network"))
        #expect(unit.contains("Address=10.20.0.15/24"), "\(unit)")
        #expect(unit.contains("MACAddress=52:54:00:12:34:56"), "\(unit)")
    }

    @Test("one interface in ifupdown and NetworkManager: both files carry the static config; NM's loaded .bak goes aside")
    func twoDialects() throws {
        let name = "ifupdown-and-networkmanager-both-rewritten"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        let paths = Set(planned.plan.changes.compactMap(\.path))
        #expect(paths.contains("/etc/network/interfaces.d/eth0"))
        #expect(paths.contains("/etc/NetworkManager/system-connections/eth0.nmconnection"))
        #expect(planned.codes().contains("dhcp.backup-moved"))
        #expect(planned.codes().contains("dhcp.ipv6-auto") == false, "ifupdown governs; NM's IPv6 is a bystander's")
    }

    @Test("ifupdown static, a NetworkManager profile of the same NIC still DHCP: the twin gets ifupdown's static settings")
    func staticWithDHCPTwin() throws {
        let name = "ifupdown-static-networkmanager-dhcp-twin"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(planned.plan.changes.map(\.path) == ["/etc/NetworkManager/system-connections/ens3.nmconnection"])
        #expect(
            planned.plan.changes.first?.reasons.joined().contains("from ifupdown's own static configuration at /etc/network/interfaces:5")
                == true)
    }

    @Test("a leftover ifcfg-eth0.bak is moved aside into a directory initscripts does not read, and the reason says why")
    func ifcfgBackup() throws {
        let name = "ifcfg-rhel-backup-moved-aside"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        let aside = try #require(planned.plan.changes.first { $0.kind == .renameAside })
        #expect(aside.path == "/etc/sysconfig/network-scripts/ifcfg-eth0.bak")
        #expect(aside.headline.contains("/etc/sysconfig/network-scripts/.guestprep-aside/ifcfg-eth0.bak"))
        #expect(aside.reasons.joined().contains("migration tools read every ifcfg-*"))
    }

    @Test("no lease and no --address: a blocker naming the interface and the fix, nothing written; IPv6 auto reported")
    func noLease() throws {
        let name = "ifupdown-no-lease-blocker"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        #expect(planned.plan.changes.isEmpty)
        let blocker = try #require(planned.plan.blockers.first)
        #expect(blocker.code == "dhcp.no-address")
        #expect(blocker.message.contains("ens3") && blocker.message.contains("--address ens3=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2"))
        #expect(blocker.path == "/etc/network/interfaces" && blocker.line == 2)
        #expect(planned.codes(.info) == ["dhcp.ipv6-auto"])
        try DHCPCase.check(name, planned)
    }

    @Test("cloud-init's NetworkManager profile matches by MAC only: --nic MAC=IP names it, and it gets interface-name and its lease")
    func macOnlyProfile() throws {
        let name = "networkmanager-mac-only-cloud-init"
        let hint = try NICHint(argument: "fa:16:3e:5c:2a:91=203.0.113.41")
        let planned = try DHCPCase.plan(name, network: NetworkInputs(hints: [hint]))
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(planned.codes(.blocker).isEmpty && !planned.codes().contains("dhcp.unbound"))
        let profile = try #require(
            planned.plan.changes.first { $0.path == "/etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection" }?.proposed)
        let text = String(decoding: profile, as: UTF8.self)
        #expect(text.contains("interface-name=eth0") && text.contains("method=manual") && text.contains("203.0.113.41/24"))
    }

    @Test("without a MAC guestprep knows, the MAC-only profile stays on DHCP with a warning saying how to convert it")
    func macOnlyProfileUnbound() throws {
        let planned = try DHCPCase.plan("networkmanager-mac-only-cloud-init")
        defer { Support.cleanUp(planned.scratch) }
        #expect(planned.plan.changes.isEmpty)
        let warning = try #require(planned.plan.findings.first { $0.code == "dhcp.unbound" })
        #expect(warning.message.contains("MAC fa:16:3e:5c:2a:91") && warning.message.contains("--nic NAME=MAC"))
        #expect(warning.path == "/etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection" && warning.line == 16)
    }

    @Test("a networkd unit for Name=en*: the NIC --address names gets a unit of its own that sorts first; the shared one stays")
    func networkdPattern() throws {
        let name = "networkd-pattern-gets-own-unit"
        let given = try StaticAddressArgument(argument: "enp1s0=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2")
        let planned = try DHCPCase.plan(name, network: NetworkInputs(staticAddresses: [given.interface: given.settings]))
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(planned.codes(.blocker).isEmpty && !planned.codes().contains("dhcp.address-unused"))
        #expect(planned.plan.changes.map(\.path) == ["/etc/systemd/network/00-guestprep-enp1s0.network"])
    }

    @Test("a networkd unit for Name=en* and no NIC known: a warning naming the pattern, nothing written")
    func networkdPatternUnbound() throws {
        let planned = try DHCPCase.plan("networkd-pattern-gets-own-unit")
        defer { Support.cleanUp(planned.scratch) }
        #expect(planned.plan.changes.isEmpty)
        let warning = try #require(planned.plan.findings.first { $0.code == "dhcp.unbound" })
        #expect(warning.message.contains("en*") && warning.path == "/etc/systemd/network/50-wired.network" && warning.line == 6)
    }

    @Test("eth0 has two MACs (its stanza and an old udev rule): a blocker, and its DHCP config is not rewritten")
    func nicConflict() throws {
        let planned = try DHCPCase.plan("ifupdown-nic-conflict-blocker")
        defer { Support.cleanUp(planned.scratch) }
        #expect(planned.plan.changes.isEmpty)
        let blocker = try #require(planned.plan.blockers.first)
        #expect(planned.codes(.blocker) == ["dhcp.nic-conflict"])
        #expect(blocker.message.contains("eth0") && blocker.path == "/etc/network/interfaces" && blocker.line == 2)
    }

    @Test("--address wins over the lease")
    func addressArgument() throws {
        let name = "ifupdown-address-argument-wins"
        let given = try StaticAddressArgument(argument: "eth0=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2,search=corp.example")
        let planned = try DHCPCase.plan(name, network: NetworkInputs(staticAddresses: [given.interface: given.settings]))
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        let change = try #require(planned.plan.changes.first)
        #expect(change.reasons.joined().contains("from --address"))
        #expect(String(decoding: change.proposed ?? [], as: UTF8.self).contains("address 10.0.0.5"))
    }

    @Test("a lease that expired years ago is still used, with its date in the reason and a warning")
    func expiredLease() throws {
        let name = "ifupdown-lease-expired-long-ago"
        let planned = try DHCPCase.plan(name)
        defer { Support.cleanUp(planned.scratch) }
        try DHCPCase.check(name, planned)
        #expect(planned.codes(.warning) == ["dhcp.lease-expired"])
        #expect(try #require(planned.plan.changes.first).reasons.joined().contains("expired 2019-01-02"))
    }

    @Test("network-map: an address outside its destination subnet is a warning")
    func networkMap() throws {
        let map = NetworkMap(entries: [
            .init(source: InterfaceAddress(cidr: "192.168.122.0/24")!, destination: InterfaceAddress(cidr: "10.50.0.0/16")!)
        ])
        let planned = try DHCPCase.plan("ifupdown-dhclient-newest-of-three-leases", map: map)
        defer { Support.cleanUp(planned.scratch) }
        #expect(planned.codes(.warning) == ["dhcp.network-map-mismatch"])
        #expect(map.misfit(InterfaceAddress(cidr: "10.9.0.1/24")!) == nil)
    }

    @Test("network-map in a playbook: CIDR pairs parsed, anything else a playbook error with its line")
    func networkMapParameter() throws {
        let good = RuleParameters(
            values: ["network-map": .init(content: .map([(key: "10.0.0.0/24", value: .scalar("172.16.0.0/24"))]), line: 4)], rule: "x")
        #expect(try NetworkMap(parameters: good).entries.count == 1)
        let bad = RuleParameters(
            values: ["network-map": .init(content: .map([(key: "10.0.0.0", value: .scalar("x"))]), line: 7)], rule: "x")
        #expect(throws: GuestprepError.self) { try DHCPToStatic(parameters: bad) }
    }

    @Test("apply then rollback: byte-identical, including the moved-aside file and the directory made for it")
    func applyRollback() throws {
        for name in ["ifcfg-rhel-backup-moved-aside", "netplan-cloud-init-disabled-and-orig-moved-aside"] {
            let planned = try DHCPCase.plan(name)
            defer { Support.cleanUp(planned.scratch) }
            let before = try Support.snapshot(planned.guest, excluding: "var/lib/guestprep")
            #expect(planned.plan.changes.contains { $0.kind == .createDirectory })
            _ = try Applier(root: planned.root, tool: "test").apply(planned.plan)
            let after = try Support.snapshot(planned.guest, excluding: "var/lib/guestprep")
            #expect(after != before)
            let expected = try NetworkFixtures.tree(DHCPCase.folder.appendingPathComponent("\(name)/expected"))
            for (path, bytes) in expected {
                #expect(Array(try Data(contentsOf: planned.guest.appendingPathComponent(path))) == bytes, "\(name): \(path) after apply")
            }
            let run = try #require(try RunHistory.runs(in: planned.root).last)
            _ = try Rollback(root: planned.root).rollBack(runID: run.id, force: false)
            #expect(try Support.snapshot(planned.guest, excluding: "var/lib/guestprep") == before, "\(name)")
        }
    }

    @Test("the validator reads each file alone with its dialect: DHCP, a missing address or a lost interface fail it")
    func validator() throws {
        let address = InterfaceAddress(cidr: "10.0.0.5/24")!
        let sourced = StaticInterfaceValidator(
            path: "/etc/network/interfaces.d/eth0", stack: .ifupdown, interface: "eth0", addresses: [address])
        try sourced.validate(
            proposed: Array("iface eth0 inet static\n  address 10.0.0.5\n  netmask 255.255.255.0\n".utf8), original: nil, path: "x")
        for text in [
            "iface eth0 inet dhcp\n", "iface eth0 inet static\n  address 10.0.0.6/24\n", "iface eth1 inet static\n  address 10.0.0.5/24\n",
        ] {
            #expect(throws: GuestprepError.self, "\(text)") { try sourced.validate(proposed: Array(text.utf8), original: nil, path: "x") }
        }
        let keyfile = StaticInterfaceValidator(
            path: "/etc/NetworkManager/system-connections/eth0.nmconnection", stack: .networkManager, interface: "eth0",
            addresses: [address])
        try keyfile.validate(
            proposed: Array("[connection]\nid=e\ntype=ethernet\ninterface-name=eth0\n[ipv4]\nmethod=manual\naddress1=10.0.0.5/24\n".utf8),
            original: nil, path: "x")
        #expect(throws: GuestprepError.self) {
            try keyfile.validate(
                proposed: Array("[connection]\nid=e\ntype=ethernet\ninterface-name=eth0\n[ipv4]\nmethod=auto\n".utf8), original: nil,
                path: "x")
        }
    }

    @Test("the live system's ip -j output and resolv.conf become settings")
    func liveParsing() throws {
        let addr =
            #"[{"ifindex":2,"ifname":"eth0","mtu":9000,"addr_info":[{"family":"inet","local":"10.0.0.5","prefixlen":24,"scope":"global","dynamic":true},{"family":"inet","local":"169.254.1.1","prefixlen":16,"scope":"link"}]}]"#
        let settings = try #require(try LiveAddressing.parseAddresses(Array(addr.utf8)))
        #expect(settings.addresses == [InterfaceAddress(cidr: "10.0.0.5/24")!] && settings.mtu == 9000)
        let route = #"[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","protocol":"dhcp"}]"#
        #expect(try LiveAddressing.parseDefaultGateway(Array(route.utf8)) == IPAddress("10.0.0.1"))
        let resolv = LiveAddressing.parseResolvConf(
            Array("# x\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\n".utf8))
        #expect(resolv.servers == [IPAddress("10.0.0.2")!, IPAddress("10.0.0.3")!] && resolv.search == ["a.example", "b.example"])
        #expect(try LiveAddressing.parseAddresses(Array("[]".utf8)) == nil)
    }

    @Test("the fixture guest without network config gets no change from this rule")
    func noNetworkConfig() throws {
        let planned = try DHCPCase.plan("none", guestTree: FixtureGuest.fixture("debian-sda-gpt"))
        defer { Support.cleanUp(planned.scratch) }
        #expect(planned.plan.changes.isEmpty && planned.plan.findings.isEmpty)
    }

    @Test(
        "a real lease: dnsmasq serves, dhclient writes; planned against an ifupdown guest holding that lease file",
        .enabled(if: DHCPLab.available, DHCPLab.unavailable),
        .timeLimit(.minutes(2)))
    func realLease() throws {
        try DHCPLab.withLease("dhcp-real-lease") { scratch, leaseFile in
            let tree = scratch.appendingPathComponent("guest")
            try Support.write("ID=debian\nVERSION_ID=\"12\"\n", to: tree.appendingPathComponent("etc/os-release"))
            // dhclient records the interface inside the lease (gpc0); the file name is only a fallback.
            let link = DHCPLab.clientLink
            try Support.write("auto \(link)\niface \(link) inet dhcp\n", to: tree.appendingPathComponent("etc/network/interfaces"))
            try FileManager.default.createDirectory(at: tree.appendingPathComponent("var/lib/dhcp"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: leaseFile, to: tree.appendingPathComponent("var/lib/dhcp/dhclient.eth0.leases"))
            let planned = try DHCPCase.plan("real", guestTree: tree)
            defer { Support.cleanUp(planned.scratch) }
            #expect(planned.codes(.blocker).isEmpty, "\(planned.plan.findings)")
            let change = try #require(planned.plan.changes.first { $0.path == "/etc/network/interfaces" })
            let text = String(decoding: change.proposed ?? [], as: UTF8.self)
            #expect(text.contains("iface \(link) inet static"), "\(text)")
            #expect(text.contains("address 10.213.0.") && text.contains("netmask 255.255.255.0"), "\(text)")
            #expect(text.contains("gateway 10.213.0.1"), "\(text)")
            #expect(change.reasons.joined().contains("/var/lib/dhcp/dhclient.eth0.leases:"))
        }
    }
}
