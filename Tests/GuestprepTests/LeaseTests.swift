import Foundation
import GuestFS
import HostProcess
import Network
import Testing

/// DHCP lease readers: every corpus lease file, golden expectations for the traps, a scan of a
/// phony guest tree, and leases a real dhclient wrote.
@Suite("Lease readers")
struct LeaseTests {
    static let files = Support.corpusFiles("leases")

    static func corpus(_ name: String) throws -> (scan: LeaseScan, newest: [DHCPLease]) {
        let url = Support.corpus.appendingPathComponent("leases/\(name)")
        let scan = DhclientLeases.parse(Array(try Data(contentsOf: url)), path: GuestPath("/var/lib/dhcp/\(name)"))
        return (scan, LeaseReader.newest(scan.leases))
    }

    @Test("every corpus lease file parses without a crash, as its format", arguments: files)
    func corpusParses(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let path = GuestPath("/var/lib/dhcp/\(file.lastPathComponent)")
        let scan =
            file.lastPathComponent.contains("networkd")
            ? KeyValueLease.parse(bytes, path: path, client: .networkd, interface: nil, interfaceIndex: 2)
            : DhclientLeases.parse(bytes, path: path)
        for lease in scan.leases {
            #expect(lease.location.line != nil)
        }
        // Every text file yields leases, a note, or (only default-duid lines) nothing at all.
        if !scan.leases.isEmpty {
            #expect(LeaseReader.newest(scan.leases).count <= scan.leases.count)
        }
    }

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if !Support.corpusAvailable {
            print("NOTICE: \(Support.corpus.path) is absent; lease corpus tests ran on no files")
        } else {
            #expect(Self.files.count >= 12)
        }
    }

    @Test(
        "many renewals: the newest of nine blocks is chosen, the last dhclient bound",
        .enabled(if: Support.corpusAvailable, "corpus absent"))
    func manyRenewals() throws {
        let (scan, newest) = try Self.corpus("debian9-ec2-dhclient.eth0.leases-many-renewals")
        #expect(scan.leases.count == 9)
        #expect(scan.problems.isEmpty)
        let lease = try #require(newest.first)
        #expect(newest.count == 1)
        #expect(lease.interface == "eth0")
        #expect(lease.ordinal == 9 && lease.leasesInFile == 9)
        #expect(lease.location.line == 137)
        #expect(lease.choice == .lastBound(count: 9))
        #expect(lease.address?.description == "172.31.32.178/20")
        #expect(lease.routers == [IPAddress("172.31.32.1")!])
        #expect(lease.dnsServers == [IPAddress("172.31.0.2")!])
        #expect(lease.searchDomains == ["eu-west-3.compute.internal"])
        #expect(lease.mtu == 9001)
        #expect(lease.provenance.contains("lease 9 of 9"))
    }

    @Test("two blocks: the second is newer", .enabled(if: Support.corpusAvailable, "corpus absent"))
    func twoBlocks() throws {
        let (scan, newest) = try Self.corpus("ec2-ubuntu-dhclient.eth0.leases-two-blocks")
        #expect(scan.leases.count == 2)
        let lease = try #require(newest.first)
        #expect(lease.ordinal == 2)
        #expect(lease.location.line == 18)
        #expect(lease.address?.description == "172.31.23.55/20")
        #expect(lease.expiry == .at(1_473_446_331))  // 2016-09-09 18:38:51 UTC
        #expect(lease.expiry?.description == "2016-09-09 18:38:51 UTC")
    }

    @Test("1970 dates (no RTC): the 2015 lease wins; dates in 1970 still parse", .enabled(if: Support.corpusAvailable, "corpus absent"))
    func dates1970() throws {
        let (scan, newest) = try Self.corpus("arm-board-dhclient.eth0.leases-1970-dates")
        #expect(scan.leases.count == 4)
        #expect(scan.leases[0].address?.description == "192.168.1.17/24")
        let renew1970: LeaseTime = .at(42_475)  // 1970-01-01 11:47:55
        #expect(scan.leases[0].renew == renew1970)
        let lease = try #require(newest.first)
        #expect(lease.ordinal == 4)
        #expect(lease.address?.description == "192.168.1.10/24")
        #expect(lease.gateway == IPAddress("192.168.1.1"))
    }

    @Test("a lease without fixed-address is a problem, never an address", .enabled(if: Support.corpusAvailable, "corpus absent"))
    func missingFixedAddress() throws {
        let (scan, newest) = try Self.corpus("nm-test-dhclient-malformed1-no-fixed-address.leases")
        #expect(scan.leases.count == 1)
        #expect(scan.leases[0].address == nil)
        #expect(newest.isEmpty)
        #expect(scan.problems.count == 1)
        #expect(scan.problems.first?.message.contains("no fixed-address") == true)
        #expect(scan.problems.first?.location.line == 2)
    }

    @Test("no expire: renew decides; commented and real DUID lines give nothing", .enabled(if: Support.corpusAvailable, "corpus absent"))
    func duidAndNoExpire() throws {
        let noExpire = try Self.corpus("nm-test-dhclient-malformed3-no-expire.leases")
        #expect(noExpire.newest.first?.address?.description == "192.168.1.180/24")
        #expect(noExpire.newest.first?.expiry == nil)
        for name in ["nm-test-dhclient-commented-duid.leases", "nm-test-dhclient-duid.leases", "debian9-ec2-dhclient-6.eth0.leases"] {
            let (scan, _) = try Self.corpus(name)
            #expect(scan.leases.isEmpty, "\(name)")
            #expect(scan.problems.isEmpty, "\(name): \(scan.problems)")
        }
        let binary = try Self.corpus("dhcpcd-binary-eth0.lease-azure")
        #expect(binary.scan.leases.isEmpty && binary.scan.notes.count == 1)
    }

    @Test("two networks in one file, comma-separated DNS, domain-name as search", .enabled(if: Support.corpusAvailable, "corpus absent"))
    func basic() throws {
        let lease = try #require(try Self.corpus("nm-test-dhclient-basic.leases").newest.first)
        #expect(lease.interface == "wlan0")
        #expect(lease.address?.description == "10.77.52.141/8")
        #expect(lease.dnsServers.map(\.description) == ["8.8.8.8", "8.8.4.4"])
        #expect(lease.searchDomains == ["morriesguest.local"])
    }

    @Test("no subnet-mask: no address, a problem; epoch and never times; domain-search wins")
    func noMaskAndTimes() {
        let text = """
            lease {
              interface "ens3";
              fixed-address 10.0.0.5;
              renew epoch 100; # local time format
              expire never;
            }
            lease {
              interface "ens3";
              fixed-address 10.0.0.6;
              option subnet-mask 255.255.255.0;
              option domain-name "a.example b.example";
              option domain-search "c.example", "d.example";
              renew epoch 50;
              expire epoch 90;
            }
            lease { interface "ens4"; fixed-address 10.0.1.5;
            """
        let scan = DhclientLeases.parse(Array(text.utf8), path: "/var/lib/dhcp/dhclient.leases")
        #expect(scan.leases.count == 2)
        #expect(scan.leases[0].address == nil && scan.leases[0].expiry == .never && scan.leases[0].renew == .at(100))
        #expect(scan.problems.map(\.location.line) == [1, 16])
        #expect(scan.problems[0].message.contains("no subnet-mask"))
        #expect(scan.problems[1].message.contains("not closed"))
        let newest = LeaseReader.newest(scan.leases)
        #expect(newest.map(\.address?.description) == ["10.0.0.6/24"])
        #expect(newest.first?.searchDomains == ["c.example", "d.example"])
        #expect(newest.first?.choice == .only)
    }

    @Test("interface names from dhclient, NetworkManager and wicked file names")
    func fileNames() {
        #expect(DhclientLeases.interface(fromFileName: "dhclient.eth0.leases") == "eth0")
        #expect(DhclientLeases.interface(fromFileName: "dhclient-ens3.leases") == "ens3")
        #expect(DhclientLeases.interface(fromFileName: "dhclient-0e2d7a7e-6d4e-4c4b-9b5e-6d2d3f4a5b6c-enp1s0.lease") == "enp1s0")
        #expect(DhclientLeases.interface(fromFileName: "dhclient.leases") == nil)
        #expect(DhclientLeases.interface(fromFileName: "dhclient6.eth0.leases") == nil)
        #expect(KeyValueLease.networkManagerName("internal-0e2d7a7e-6d4e-4c4b-9b5e-6d2d3f4a5b6c-eth1.lease")?.interface == "eth1")
        #expect(WickedLease.interface(fromFileName: "lease-eth0-dhcp-ipv4.xml") == "eth0")
        #expect(WickedLease.interface(fromFileName: "lease-eth0-dhcp-ipv6.xml") == nil)
    }

    @Test("a phony guest: every client's lease found through GuestRoot, newest per interface")
    func phonyGuest() throws {
        let root = try Support.scratch("leases")
        defer { Support.cleanUp(root) }
        let uuid = "0e2d7a7e-6d4e-4c4b-9b5e-6d2d3f4a5b6c"
        try Support.write(
            """
            lease {
              interface "eth0";
              fixed-address 192.0.2.10;
              option subnet-mask 255.255.255.0;
              option routers 192.0.2.1;
              expire 1 2026/11/30 10:00:00;
            }
            """, to: root.appendingPathComponent("var/lib/dhcp/dhclient.eth0.leases"))
        try Support.write(
            "# This is private data. Do not parse.\nADDRESS=198.51.100.7\nNETMASK=255.255.254.0\nROUTER=198.51.100.1\nDNS=198.51.100.53 198.51.100.54\nDOMAINNAME=nm.example\nMTU=1450\nLIFETIME=3600\n",
            to: root.appendingPathComponent("var/lib/NetworkManager/internal-\(uuid)-eth1.lease"))
        try Support.write("[timestamps]\n\(uuid)=1764496800\n", to: root.appendingPathComponent("var/lib/NetworkManager/timestamps"))
        try Support.write(
            "ADDRESS=203.0.113.9\nNETMASK=255.255.255.0\nROUTER=203.0.113.1\n",
            to: root.appendingPathComponent("run/systemd/netif/leases/3"))
        try Support.write(
            """
            <lease>
              <family>ipv4</family>
              <type>dhcp</type>
              <acquired>1764496800</acquired>
              <ipv4:dhcp>
                <address>10.9.8.7</address>
                <netmask>255.255.0.0</netmask>
                <lease-time>7200</lease-time>
                <routers>
                  <e>10.9.0.1</e>
                </routers>
                <dns>
                  <servers><e>10.9.0.53</e></servers>
                  <search><e>suse.example</e><e>lab.example</e></search>
                </dns>
                <mtu>9000</mtu>
              </ipv4:dhcp>
            </lease>
            """, to: root.appendingPathComponent("var/lib/wicked/lease-eth2-dhcp-ipv4.xml"))
        let scan = try LeaseReader.scan(try GuestRoot(hostPath: root.path))
        #expect(scan.problems.isEmpty, "\(scan.problems)")
        let newest = LeaseReader.newest(scan.leases)
        #expect(newest.map { $0.interface ?? "#\($0.interfaceIndex ?? -1)" } == ["eth0", "eth1", "#3", "eth2"])
        #expect(newest.map(\.client) == [.dhclient, .networkManagerInternal, .networkd, .wicked])
        #expect(newest[1].address?.description == "198.51.100.7/23")
        #expect(newest[1].dnsServers.count == 2 && newest[1].mtu == 1450 && newest[1].searchDomains == ["nm.example"])
        #expect(newest[1].expiry == .at(1_764_496_800 + 3600))
        #expect(scan.notes.contains { $0.message.contains("ifindex (3)") })
        #expect(newest[3].address?.description == "10.9.8.7/16")
        #expect(newest[3].routers == [IPAddress("10.9.0.1")!])
        #expect(newest[3].searchDomains == ["suse.example", "lab.example"])
        #expect(newest[3].mtu == 9000 && newest[3].expiry == .at(1_764_504_000))
        #expect(newest[3].location.line == 5)
    }

    @Test(
        "real leases: dnsmasq serves DHCP across a veth pair between two namespaces; dhclient's lease file reads back",
        .enabled(if: DHCPLab.available, DHCPLab.unavailable),
        .timeLimit(.minutes(2)))
    func realLeases() throws {
        try DHCPLab.withLease("real-lease") { _, leaseFile in
            let bytes = Array(try Data(contentsOf: leaseFile))
            let scan = DhclientLeases.parse(bytes, path: "/var/lib/dhcp/dhclient.gpc0.leases")
            #expect(scan.problems.isEmpty, "\(scan.problems)")
            let lease = try #require(LeaseReader.newest(scan.leases).first, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(lease.interface == DHCPLab.clientLink)
            let address = try #require(lease.address)
            #expect(address.prefix == 24)
            #expect(InterfaceAddress(cidr: "10.213.0.0/24")!.contains(address.address))
            #expect(lease.routers == [IPAddress("10.213.0.1")!])
            #expect(lease.dnsServers == [IPAddress("10.213.0.53")!])
            #expect(lease.searchDomains == ["lab.example"])
            #expect(lease.expiry != nil)
        }
    }
}

/// Two network namespaces joined by a veth pair: dnsmasq serves DHCP in one, dhclient asks in the
/// other, so nothing on the host's own links changes. Every process it starts lives in one of its
/// namespaces and is killed on tear-down by pid, before the namespaces go.
final class DHCPLab: @unchecked Sendable {
    /// Whether a lab can run here: root (namespaces) and the DHCP server and client.
    static var available: Bool {
        Support.isRoot && HostCommand.find("dnsmasq") != nil && HostCommand.find("dhclient") != nil && HostCommand.find("ip") != nil
    }
    static let unavailable: Comment = "needs root, dnsmasq (dnsmasq-base) and dhclient (isc-dhcp-client); make deps installs them"

    /// Runs `body` with a scratch directory and the lease file dhclient wrote in a fresh lab.
    static func withLease(_ name: String, _ body: (_ scratch: URL, _ leaseFile: URL) throws -> Void) throws {
        let scratch = try Support.scratch(name)
        let lab = DHCPLab(scratch: scratch)
        defer {
            lab.tearDown()
            Support.cleanUp(scratch)
        }
        try lab.start()
        try body(scratch, try lab.lease())
    }

    static let serverLink = "gps0"
    static let clientLink = "gpc0"
    let scratch: URL
    let server: String
    let client: String
    var processes: [Process] = []

    init(scratch: URL) {
        self.scratch = scratch
        let tag = "\(getpid())-\(UInt32.random(in: 0...0xffff))"
        server = "gp-dhcps-\(tag)"
        client = "gp-dhcpc-\(tag)"
    }

    func start() throws {
        try Support.must("ip", ["netns", "add", server])
        try Support.must("ip", ["netns", "add", client])
        try Support.must(
            "ip", ["link", "add", Self.serverLink, "netns", server, "type", "veth", "peer", "name", Self.clientLink, "netns", client])
        try Support.must("ip", ["-n", server, "addr", "add", "10.213.0.1/24", "dev", Self.serverLink])
        for (namespace, link) in [(server, Self.serverLink), (client, Self.clientLink)] {
            try Support.must("ip", ["-n", namespace, "link", "set", "lo", "up"])
            try Support.must("ip", ["-n", namespace, "link", "set", link, "up"])
        }
        try launch(
            server,
            [
                try Support.which("dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
                "--user=root", "--interface=\(Self.serverLink)", "--bind-interfaces", "--dhcp-authoritative",
                "--dhcp-range=10.213.0.50,10.213.0.99,255.255.255.0,1h", "--dhcp-option=option:router,10.213.0.1",
                "--dhcp-option=option:dns-server,10.213.0.53", "--dhcp-option=option:domain-name,lab.example",
                "--dhcp-leasefile=\(scratch.path)/dnsmasq.leases", "--pid-file=\(scratch.path)/dnsmasq.pid",
                "--log-facility=\(scratch.path)/dnsmasq.log",
            ])
    }

    /// Runs dhclient once and waits (bounded) for the lease file it writes.
    func lease() throws -> URL {
        let leases = scratch.appendingPathComponent("dhclient.leases")
        let config = scratch.appendingPathComponent("dhclient.conf")
        try Support.write(
            "timeout 20;\nretry 1;\nrequest subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, domain-search, interface-mtu;\n",
            to: config)
        // -sf /bin/true: dhclient asks, records, and configures nothing; -d: it stays our child.
        try launch(
            client,
            [
                try Support.which("dhclient"), "-4", "-d", "-1", "-v", "-cf", config.path, "-lf", leases.path, "-pf",
                "\(scratch.path)/dhclient.pid", "-sf", "/bin/true", Self.clientLink,
            ])
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? Support.read(leases), text.contains("fixed-address"), text.contains("}") { return leases }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let log = (try? Support.read(scratch.appendingPathComponent("dnsmasq.log"))) ?? ""
        throw SupportError("dhclient wrote no lease within 30 s; dnsmasq log:\n\(log)")
    }

    private func launch(_ namespace: String, _ command: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Support.which("ip"))
        process.arguments = ["netns", "exec", namespace] + command
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.append(process)
    }

    func tearDown() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        for process in processes {
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        // Anything still inside our namespaces was started by us (a daemonised child).
        for namespace in [server, client] {
            if let pids = try? Support.run("ip", ["netns", "pids", namespace]).stdout {
                for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? Support.run("ip", ["netns", "delete", namespace])
        }
    }
}
