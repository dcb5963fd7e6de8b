import Foundation
import GuestFS
import GuestprepCore
import Network
import Testing

/// systemd-networkd: file order, masking, drop-ins, facts and edits.
@Suite("Networkd")
struct NetworkdTests {
    @Test("Every networkd corpus file round-trips and reads without crashing")
    func corpus() throws {
        guard Support.corpusAvailable else {
            print("notice: \(Support.corpus.path) is absent; networkd corpus skipped")
            return
        }
        for url in Support.corpusFiles("networkd") {
            let bytes = [UInt8](try Data(contentsOf: url))
            let guest = MemoryGuest(files: [GuestPath("/etc/systemd/network/x.network"): bytes])
            let units = try NetworkdFiles.units(in: guest)
            #expect(units.first?.ini.bytes == bytes, "\(url.lastPathComponent)")
            _ = try SystemdNetworkd().interfaces(in: guest)
        }
    }

    @Test("Corpus facts: spaces around =, static address and gateway")
    func corpusFacts() throws {
        guard Support.corpusAvailable else { return }
        let url = Support.corpus.appendingPathComponent("networkd/proxmox-lxc-eth0.network-spaces-around-equals")
        let guest = MemoryGuest(files: [GuestPath("/etc/systemd/network/eth0.network"): [UInt8](try Data(contentsOf: url))])
        let eth0 = try #require(try SystemdNetworkd().interfaces(in: guest).first)
        #expect(eth0.name?.value == "eth0" && eth0.name?.location.line == 2)
        #expect(eth0.ipv4?.value == .static && eth0.addresses.first?.value.description == "193.191.177.229/25")
        #expect(eth0.gateway4?.value.description == "193.191.177.254")
    }

    @Test("/etc masks /usr/lib; drop-ins from every directory merge in name order; setStatic rewrites DHCP drop-ins")
    func maskingAndDropIns() throws {
        let name = "masking-across-directories-and-dhcp-drop-ins"
        var guest = try MemoryGuest.fixture("networkd", name)
        let dialect = SystemdNetworkd()
        let interfaces = try dialect.interfaces(in: guest)
        try #require(interfaces.count == 1)
        let ens3 = interfaces[0]
        #expect(
            ens3.files.map(\.description) == [
                "/etc/systemd/network/20-wired.network", "/usr/lib/systemd/network/20-wired.network.d/10-domains.conf",
                "/run/systemd/network/20-wired.network.d/50-dhcp.conf",
            ])
        // The last drop-in's DHCP=yes wins over the main file's DHCP=ipv4.
        #expect(ens3.ipv4?.value == .dhcp && ens3.ipv6?.value == .dhcp)
        #expect(ens3.ipv4?.location.path == "/run/systemd/network/20-wired.network.d/50-dhcp.conf")
        #expect(ens3.searchDomains.map(\.value) == ["lab.example"] && ens3.mtu?.value == 1450)
        let settings = StaticSettings(
            addresses: [InterfaceAddress(cidr: "10.0.0.5/24")!], gateway4: IPAddress("10.0.0.1"),
            dnsServers: [IPAddress("10.0.0.2")!, IPAddress("10.0.0.3")!], searchDomains: ["example.com"])
        guest.apply(try dialect.setStatic(ens3, settings, mac: MACAddress("52:54:00:12:34:56"), in: guest))
        let expected = try MemoryGuest.fixture("networkd", name, "expected")
        #expect(guest.differences(from: expected).isEmpty, "\(guest.differences(from: expected).joined(separator: "\n"))")
        let after = try dialect.interfaces(in: guest)[0]
        #expect(after.ipv4?.value == .static && after.mac?.value.description == "52:54:00:12:34:56")
    }

    @Test("Several names and globs; Bond= makes ports; [Route] pairs; pin adds [Match] MACAddress")
    func matchesAndPin() throws {
        let guest = MemoryGuest(files: [
            "/etc/systemd/network/10-ports.network": Array("[Match]\nName=ens3 ens4\n[Network]\nBond=bond0\n".utf8),
            "/etc/systemd/network/20-bond.network": Array(
                "[Match]\nName=bond0\n[Network]\nAddress=10.0.0.5/24\n[Route]\nGateway=10.0.0.1\n[Route]\nDestination=192.168.0.0/16\nGateway=10.0.0.254\n"
                    .utf8),
            "/etc/systemd/network/99-all.network": Array("[Match]\nName=en*\n[Network]\nDHCP=yes".utf8),
        ])
        let dialect = SystemdNetworkd()
        let interfaces = try dialect.interfaces(in: guest)
        #expect(interfaces.map { $0.name?.value ?? "-" } == ["ens3", "ens4", "bond0", "-"])
        let bond = interfaces[2]
        #expect(bond.kind == .bond && bond.ports == ["ens3", "ens4"] && bond.gateway4?.value.description == "10.0.0.1")
        #expect(bond.routes.map { "\($0.value.destination) via \($0.value.gateway!)" } == ["192.168.0.0/16 via 10.0.0.254"])
        let pinned = try dialect.pin(bond, to: MACAddress("52:54:00:AA:BB:CC")!, in: guest)
        #expect(
            pinned == [
                .write(
                    "/etc/systemd/network/20-bond.network",
                    Array(
                        "[Match]\nName=bond0\nMACAddress=52:54:00:aa:bb:cc\n[Network]\nAddress=10.0.0.5/24\n[Route]\nGateway=10.0.0.1\n[Route]\nDestination=192.168.0.0/16\nGateway=10.0.0.254\n"
                            .utf8))
            ])
        // A MAC match on a unit for en* would drop every other en* interface.
        #expect(try dialect.pin(interfaces[3], to: MACAddress("52:54:00:AA:BB:CC")!, in: guest).isEmpty)
    }

    @Test("An interface served by a shared unit (Name=en*) gets its own unit that sorts first; the shared one stays")
    func sharedUnitToStatic() throws {
        var guest = MemoryGuest(files: [
            "/usr/lib/systemd/network/89-ethernet.network": Array("[Match]\nName=en*\n[Network]\nDHCP=yes\n".utf8)
        ])
        let dialect = SystemdNetworkd()
        var ens3 = try #require(try dialect.interfaces(in: guest).first)
        #expect(ens3.name == nil)
        let settings = StaticSettings(addresses: [InterfaceAddress(cidr: "10.0.0.5/24")!], gateway4: IPAddress("10.0.0.1"), mtu: 1400)
        #expect(throws: GuestprepError.self) { try dialect.setStatic(ens3, settings, mac: nil, in: guest) }
        ens3.name = Sourced("ens3", at: SourceLocation("/cli"))
        guest.apply(try dialect.setStatic(ens3, settings, mac: MACAddress("52:54:00:12:34:56"), in: guest))
        let own = try #require(guest.files["/etc/systemd/network/00-guestprep-ens3.network"])
        #expect(
            String(decoding: own, as: UTF8.self)
                == "# Written by guestprep: ens3 taken out of /usr/lib/systemd/network/89-ethernet.network with its static configuration.\n"
                + "[Match]\nName=ens3\nMACAddress=52:54:00:12:34:56\n\n[Network]\nDHCP=no\nAddress=10.0.0.5/24\nGateway=10.0.0.1\n\n[Link]\nMTUBytes=1400\n"
        )
        let after = try dialect.interfaces(in: guest)
        #expect(after.first?.name?.value == "ens3" && after.first?.ipv4?.value == .static)
        #expect(guest.files["/usr/lib/systemd/network/89-ethernet.network"] != nil)
    }

    @Test("Problems name the file and line: stray lines, addresses without prefix, bad MACs; _dhcp4 is a valid gateway")
    func problems() throws {
        let guest = MemoryGuest(files: [
            "/etc/systemd/network/10-a.network": Array(
                "[Match]\nMACAddress=52:54:00:zz:00:01\n[Network]\nAddress=10.0.0.5\nGateway=_dhcp4\nnonsense\n".utf8)
        ])
        let problems = try SystemdNetworkd().problems(in: guest)
        #expect(problems.map(\.line) == [6, 2, 4])
        #expect(problems.allSatisfy { $0.path == "/etc/systemd/network/10-a.network" })
    }

    @Test("Masking and drop-in order agree with systemd-analyze cat-config --root, where it is installed")
    func agreesWithCatConfig() throws {
        guard let analyze = try? Support.which("systemd-analyze") else {
            print("notice: systemd-analyze is not installed; networkd file order not checked against systemd")
            return
        }
        let root = try Support.scratch("networkd")
        defer { Support.cleanUp(root) }
        let tree: [String: String] = [
            "usr/lib/systemd/network/20-wired.network": "[Match]\nName=ens3\n",
            "etc/systemd/network/20-wired.network": "[Match]\nName=ens3\n[Network]\nDHCP=yes\n",
            "usr/lib/systemd/network/20-wired.network.d/50-a.conf": "[Network]\nDNS=1.1.1.1\n",
            "etc/systemd/network/20-wired.network.d/50-a.conf": "[Network]\nDNS=9.9.9.9\n",
            "run/systemd/network/20-wired.network.d/10-b.conf": "[Network]\nDomains=x\n",
            "lib/systemd/network/30-other.network.d/z.conf": "[Network]\nDHCP=no\n",
            "lib/systemd/network/30-other.network": "[Match]\nName=ens4\n",
            "usr/lib/systemd/network/40-vendor.network": "[Match]\nName=ens5\n",
        ]
        for (relative, text) in tree { try Support.write(text, to: root.appendingPathComponent(relative)) }
        let units = try NetworkdFiles.units(in: try MemoryGuest(tree: root))
        #expect(units.map(\.name) == ["20-wired.network", "30-other.network", "40-vendor.network"])
        #expect(
            units[0].dropIns.map(\.path.description) == [
                "/run/systemd/network/20-wired.network.d/10-b.conf", "/etc/systemd/network/20-wired.network.d/50-a.conf",
            ])
        for unit in units {
            let output = try Support.must(analyze, ["cat-config", "--root=\(root.path)", "systemd/network/\(unit.name)"])
            let listed = output.split(separator: "\n").filter { $0.hasPrefix("# /") }.map { String($0.dropFirst(2 + root.path.count)) }
            #expect(listed == unit.layers.map(\.path.description), "\(unit.name)")
        }
    }
}
