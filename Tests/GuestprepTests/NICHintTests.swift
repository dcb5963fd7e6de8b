import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Network
import Testing

/// `--nic NAME=MAC` and `--nic MAC=IP`, parsed and matched exactly.
@Suite("NIC hints")
struct NICHintTests {
    @Test("both forms parse, either side may hold the MAC; quotes and /prefix around the IP are ignored")
    func parsing() throws {
        #expect(try NICHint(argument: "ens3=52:54:00:12:34:56") == .name("ens3", mac: try #require(MACAddress("52:54:00:12:34:56"))))
        let mac = try #require(MACAddress("00:50:56:AB:CD:EF"))
        #expect(try NICHint(argument: "00:50:56:AB:CD:EF=10.0.0.3") == .address(try #require(IPAddress("10.0.0.3")), mac: mac))
        #expect(try NICHint(argument: "'10.0.0.3/24'=00:50:56:ab:cd:ef") == .address(try #require(IPAddress("10.0.0.3")), mac: mac))
        #expect(try NICHint(argument: "00:50:56:ab:cd:ef=\"fe80::1\"") == .address(try #require(IPAddress("fe80::1")), mac: mac))
        for bad in [
            "ens3", "=52:54:00:12:34:56", "ens3=", "ens3=10.0.0.1", "a/b=52:54:00:12:34:56", "averyveryverylongname=52:54:00:12:34:56",
        ] {
            #expect(throws: GuestprepError.self, "\(bad)") { try NICHint(argument: bad) }
        }
    }

    @Test("MAC=IP matches exactly: 192.168.1.1 is not 192.168.1.10, 10.0.0.3 is not 110.0.0.3; unmatched hints say so")
    func exactMatching() throws {
        func interface(_ name: String, _ cidr: String, line: Int) throws -> InterfaceConfig {
            InterfaceConfig(
                stack: .ifcfgRHEL,
                name: Sourced(name, at: SourceLocation(GuestPath("/etc/sysconfig/network-scripts/ifcfg-\(name)"), line: 1)),
                addresses: [Sourced(try #require(InterfaceAddress(cidr: cidr)), at: SourceLocation("/etc/x", line: line))])
        }
        let interfaces = [try interface("eth0", "192.168.1.10/24", line: 3), try interface("eth1", "110.0.0.3/8", line: 4)]
        let hints = [
            try NICHint(argument: "52:54:00:00:00:01=192.168.1.1"), try NICHint(argument: "52:54:00:00:00:02=192.168.1.10"),
            try NICHint(argument: "52:54:00:00:00:03=10.0.0.3"), try NICHint(argument: "52:54:00:00:00:02=110.0.0.3"),
        ]
        let matches = NICHintMatch.resolve(hints, against: interfaces)
        #expect(matches.map(\.interface) == [nil, "eth0", nil, "eth1"])
        #expect(matches[1].evidence == SourceLocation("/etc/x", line: 3))
    }
}

@Suite("Static address arguments")
struct StaticAddressArgumentTests {
    @Test("--address NAME=ADDR/PREFIX with gateway, DNS, search and MTU; wrong input says what it expected")
    func parsing() throws {
        let parsed = try StaticAddressArgument(argument: "ens3=10.0.0.5/24,gw=10.0.0.1,dns=10.0.0.2,dns=10.0.0.3,search=corp.example,mtu=9000")
        #expect(parsed.interface == "ens3")
        #expect(parsed.settings.addresses.map(\.description) == ["10.0.0.5/24"])
        #expect(parsed.settings.gateway4?.description == "10.0.0.1")
        #expect(parsed.settings.dnsServers.map(\.description) == ["10.0.0.2", "10.0.0.3"])
        #expect(parsed.settings.searchDomains == ["corp.example"])
        #expect(parsed.settings.mtu == 9000)
        for bad in ["ens3", "ens3=10.0.0.5", "ens3=10.0.0.5/24,gw=10.1.0.1", "ens3=10.0.0.5/24,colour=red", "ens3=gw=10.0.0.1", "a/b=10.0.0.5/24"] {
            #expect(throws: GuestprepError.self, "\(bad)") { try StaticAddressArgument(argument: bad) }
        }
    }

    @Test("the CLI refuses a bad --nic or --address before reading the guest")
    func cliValidation() throws {
        let bad = try Support.guestprep(["plan", "--root", "/nonexistent", "--nic", "ens3=not-a-mac"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("--nic 'ens3=not-a-mac'"))
        let twice = try Support.guestprep(["plan", "--root", "/nonexistent", "--address", "a=10.0.0.1/24", "--address", "a=10.0.0.2/24"])
        #expect(twice.status == 1)
        #expect(twice.stderr.contains("names a twice"))
    }
}

@Suite("NIC hints, from the review")
struct NICHintReviewTests {
    @Test("MAC=IP never matches a bond, bridge or VLAN holding the IP; it matches a DHCP lease of an Ethernet interface")
    func virtualLinksAndLeases() throws {
        let bond = InterfaceConfig(
            stack: .ifcfgRHEL, name: Sourced("bond0", at: SourceLocation(GuestPath("/etc/sysconfig/network-scripts/ifcfg-bond0"))), kind: .bond,
            addresses: [Sourced(try #require(InterfaceAddress(cidr: "10.0.0.5/24")), at: SourceLocation(GuestPath("/x"), line: 2))])
        let ens3 = InterfaceConfig(
            stack: .ifupdown, name: Sourced("ens3", at: SourceLocation(GuestPath("/etc/network/interfaces"), line: 3)),
            ipv4: Sourced(.dhcp, at: SourceLocation(GuestPath("/etc/network/interfaces"), line: 3)))
        let lease = DHCPLease(
            client: .dhclient, interface: "ens3", address: InterfaceAddress(cidr: "192.168.122.50/24"),
            location: SourceLocation(GuestPath("/var/lib/dhcp/dhclient.ens3.leases"), line: 1))
        let hints = [try NICHint(argument: "52:54:00:aa:bb:01=10.0.0.5"), try NICHint(argument: "52:54:00:12:34:56=192.168.122.50")]
        let matches = NICHintMatch.resolve(hints, against: [bond, ens3], leases: [lease])
        #expect(matches.map(\.interface) == [nil, "ens3"])
        #expect(matches[1].evidence?.path == GuestPath("/var/lib/dhcp/dhclient.ens3.leases"))
    }
}
