import Foundation
import Testing

/// dhcp-to-static on a running system: a network namespace of the test's own holds a link with
/// an address, a default route and a networkd unit asking for DHCP (on a tmpfs over /run inside
/// the namespace's private mounts, so this machine's files are never touched), and `plan` on the
/// live root must propose that address, read from the running system.
@Suite(
    "Live network facts",
    .enabled(
        if: Support.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"),
        "needs root and iproute2 to make a network namespace"))
struct LiveNetworkTests {
    @Test("plan on the live system takes the address, prefix and gateway from the running interface")
    func liveAddress() throws {
        let namespace = "gp-live-\(getpid())"
        try Support.must("ip", ["netns", "add", namespace])
        defer { _ = try? Support.run("ip", ["netns", "del", namespace]) }
        func inside(_ arguments: [String]) throws { try Support.must("ip", ["netns", "exec", namespace, "ip"] + arguments) }
        try inside(["link", "add", "gp0", "address", "52:54:00:12:34:56", "type", "veth", "peer", "name", "gp1"])
        try inside(["addr", "add", "10.213.5.7/24", "dev", "gp0"])
        try inside(["link", "set", "gp0", "up"])
        try inside(["link", "set", "gp1", "up"])
        try inside(["route", "add", "default", "via", "10.213.5.1", "dev", "gp0"])

        // `ip netns exec` gives the command private mounts: the tmpfs on /run stays in there.
        let script = """
            mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/network && \
            printf '[Match]\\nName=gp0\\n\\n[Network]\\nDHCP=yes\\n' > /run/systemd/network/10-gp0.network && \
            exec "$0" plan --root / --format json --playbook "$1"
            """
        let playbook = try Support.scratch("live-playbook").appendingPathComponent("dhcp.yaml")
        defer { Support.cleanUp(playbook.deletingLastPathComponent()) }
        try Support.write("name: live-dhcp\nrules:\n  - rule: dhcp-to-static\n", to: playbook)
        let result = try Support.run("ip", ["netns", "exec", namespace, "/bin/sh", "-c", script, Support.binary, playbook.path])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let changes = try #require(document["changes"] as? [[String: Any]])
        let unit = try #require(changes.first { $0["path"] as? String == "/run/systemd/network/10-gp0.network" }, "\(changes)")
        let diff = try #require(unit["diff"] as? String)
        #expect(diff.contains("+Address=10.213.5.7/24"), "\(diff)")
        #expect(diff.contains("+Gateway=10.213.5.1"), "\(diff)")
        #expect((unit["reasons"] as? [String])?.contains { $0.contains("from the running system") } == true)
    }
}

/// Cases an adversarial review reproduced against the network rules.
@Suite("Network rules, from the review")
struct NetworkRulesReviewTests {
    func guest(_ name: String, files: [String: String]) throws -> URL {
        let root = try Support.scratch(name).appendingPathComponent("root")
        try Support.write("ID=debian\n", to: root.appendingPathComponent("etc/os-release"))
        try Support.write("", to: root.appendingPathComponent("etc/fstab"))
        for (path, text) in files { try Support.write(text, to: root.appendingPathComponent(path)) }
        return root
    }

    @Test("SUSE: the route and netconfig files written with ifcfg are not withdrawn as 'configuring no interface'")
    func suseAuxiliaryFiles() throws {
        let root = try guest(
            "suse-static",
            files: [
                "etc/os-release": "ID=\"sles\"\nID_LIKE=\"suse\"\n",
                "etc/sysconfig/network/ifcfg-eth0": "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n",
                "etc/sysconfig/network/config": "NETCONFIG_DNS_STATIC_SERVERS=\"\"\nNETCONFIG_DNS_STATIC_SEARCHLIST=\"\"\n",
            ])
        defer { Support.cleanUp(root.deletingLastPathComponent()) }
        let result = try Support.guestprep([
            "plan", "--root", root.path, "--address", "eth0=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2", "--format", "json",
        ])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let findings = try #require(document["findings"] as? [[String: Any]])
        #expect(!findings.contains { $0["code"] as? String == "plan.validation-failed" }, "\(findings)")
        let paths = Set((document["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String })
        #expect(paths.isSuperset(of: ["/etc/sysconfig/network/ifcfg-eth0", "/etc/sysconfig/network/ifroute-eth0", "/etc/sysconfig/network/config"]))
    }

    @Test("ifupdown: ens3.100 is a VLAN by its name alone, so it is neither pinned nor asked a MAC for")
    func vlanByName() throws {
        let root = try guest(
            "vlan-name", files: ["etc/network/interfaces": "auto ens3\niface ens3 inet manual\n\nauto ens3.100\niface ens3.100 inet dhcp\n"])
        defer { Support.cleanUp(root.deletingLastPathComponent()) }
        let result = try Support.guestprep(["plan", "--root", root.path])
        #expect(!result.stdout.contains("ens3.100=MAC"), "\(result.stdout)")
        #expect(!result.stdout.contains("no MAC is known for interface ens3.100"))
    }
}

extension NetworkRulesReviewTests {
    @Test("a DHCP bond is reported, not silently left; an --address for no interface and a dropped gateway are warnings")
    func silentCasesSpeak() throws {
        let root = try guest(
            "bond-dhcp",
            files: [
                "etc/network/interfaces":
                    "auto bond0\niface bond0 inet dhcp\n    bond-slaves ens3 ens4\n\nauto ens5\niface ens5 inet dhcp\n",
                "var/lib/dhcp/dhclient.ens5.leases":
                    "lease {\n  interface \"ens5\";\n  fixed-address 192.168.122.50;\n  option subnet-mask 255.255.255.0;\n  option routers 192.168.122.1;\n  expire 4 2099/12/31 10:00:00;\n}\n",
            ])
        defer { Support.cleanUp(root.deletingLastPathComponent()) }
        let result = try Support.guestprep([
            "plan", "--root", root.path, "--address", "ens5=192.168.122.60/24", "--address", "ens9=10.0.0.5/24", "--format", "json",
        ])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let codes = (document["findings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        #expect(codes.contains("dhcp.virtual-not-converted"), "\(codes)")
        #expect(codes.contains("dhcp.address-unused"))
        #expect(codes.contains("dhcp.gateway-dropped"))
    }
}
