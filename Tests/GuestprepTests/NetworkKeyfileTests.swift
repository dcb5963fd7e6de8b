import Foundation
import GuestFS
import GuestprepCore
import Network
import Testing

/// NetworkManager keyfiles: which files NM reads, what they say, and static/pin edits.
@Suite("Network keyfile")
struct NetworkKeyfileTests {
    static let directory = GuestPath("/etc/NetworkManager/system-connections")

    @Test("Every NetworkManager corpus file round-trips and reads without crashing")
    func corpus() throws {
        guard Support.corpusAvailable else {
            print("notice: \(Support.corpus.path) is absent; NetworkManager corpus skipped")
            return
        }
        for url in Support.corpusFiles("networkmanager") {
            let bytes = [UInt8](try Data(contentsOf: url))
            let profile = NetworkManagerProfile(path: Self.directory.appending(url.lastPathComponent), bytes: bytes)
            #expect(profile.ini.bytes == bytes, "\(url.lastPathComponent)")
            _ = profile.interface()
        }
    }

    @Test("Corpus facts: old decimal MAC format, address1 with ; gateway, gateway= wins")
    func corpusFacts() throws {
        guard Support.corpusAvailable else { return }
        func read(_ name: String) throws -> InterfaceConfig {
            let url = Support.corpus.appendingPathComponent("networkmanager/\(name)")
            return NetworkManagerProfile(path: Self.directory.appending(name), bytes: [UInt8](try Data(contentsOf: url))).interface()
        }
        let old = try read("nm-test-Test_MAC_Old_Format.nmconnection")
        #expect(old.mac?.value.description == "00:11:aa:bb:cc:55")
        #expect(old.mtu?.value == 1400)
        #expect(old.ipv4?.value == .dhcp && old.ipv4?.location.line == nil)
        let gateways = try read("nm-test-Test_Duplicate_Gateways.nmconnection")
        #expect(gateways.addresses.map(\.value.description) == ["192.168.0.5/24", "192.0.2.1/16", "fd01::1/64"])
        #expect(gateways.gateway4?.value.description == "192.168.0.253")
        let rpi = try read("rpi-eth0.nmconnection-manual-link-local")
        #expect(rpi.name?.value == "eth0" && rpi.mac?.value.description == "2c:cf:67:32:87:f9")
        #expect(rpi.ipv4?.value == .static && rpi.ipv6?.value == .manual)
        #expect(rpi.gateway4?.value.description == "192.168.0.11" && rpi.gateway4?.location.line == 13)
        #expect(rpi.dnsServers.map(\.value.description) == ["8.8.8.8"])
    }

    @Test("NM skips hidden, ~, mkstemp and certificate names; a .bak in /etc is a live profile; /usr/lib needs .nmconnection")
    func fileNames() throws {
        let guest = try MemoryGuest.fixture("networkmanager", "ignored-names-and-live-bak")
        let dialect = NetworkManagerKeyfiles()
        let loaded = try dialect.candidates(in: guest).filter { $0.skipped == nil }.map(\.profile.path.name)
        #expect(loaded == ["ens3.nmconnection", "ens3.nmconnection.bak"])
        #expect(NetworkManagerFiles.isProfileName("eth0", in: Self.directory))
        #expect(!NetworkManagerFiles.isProfileName("eth0", in: "/usr/lib/NetworkManager/system-connections"))
        #expect(!NetworkManagerFiles.isProfileName("ca.PEM", in: Self.directory))
        var insecure = guest
        insecure.metadata = FileMetadata(mode: 0o100644, uid: 0, gid: 0)
        #expect(try dialect.interfaces(in: insecure).isEmpty)
    }

    @Test("Alias 802-3-ethernet, upper-case MAC: setStatic writes address1 with gateway, dns, MAC and name in place")
    func setStatic() throws {
        let name = "alias-802-3-ethernet-upper-mac-to-static-address1-gateway"
        var guest = try MemoryGuest.fixture("networkmanager", name)
        let dialect = NetworkManagerKeyfiles()
        let interfaces = try dialect.interfaces(in: guest)
        try #require(interfaces.count == 1)
        #expect(interfaces[0].kind == .ethernet && interfaces[0].ipv4?.value == .dhcp)
        #expect(interfaces[0].mac?.value == MACAddress("52:54:00:ab:cd:ef") && interfaces[0].mac?.location.line == 7)
        var eth0 = interfaces[0]
        eth0.name = Sourced("eth0", at: SourceLocation("/cli"))
        let settings = StaticSettings(
            addresses: [InterfaceAddress(cidr: "10.0.0.5/24")!], gateway4: IPAddress("10.0.0.1"),
            dnsServers: [IPAddress("10.0.0.2")!, IPAddress("10.0.0.3")!], searchDomains: ["example.com"])
        guest.apply(try dialect.setStatic(eth0, settings, mac: MACAddress("52:54:00:AB:CD:EF"), in: guest))
        let expected = try MemoryGuest.fixture("networkmanager", name, "expected")
        #expect(guest.differences(from: expected).isEmpty, "\(guest.differences(from: expected).joined(separator: "\n"))")
        let after = try dialect.interfaces(in: guest)[0]
        #expect(after.ipv4?.value == .static && after.gateway4?.value.description == "10.0.0.1")
    }

    @Test("pin sets mac-address in the section the file already uses and keeps interface-name")
    func pin() throws {
        let bytes = Array("[connection]\ntype=ethernet\ninterface-name=ens3\n\n[ipv4]\nmethod=auto".utf8)
        let path = Self.directory.appending("ens3.nmconnection")
        let guest = MemoryGuest(files: [path: bytes])
        let dialect = NetworkManagerKeyfiles()
        let edits = try dialect.pin(try dialect.interfaces(in: guest)[0], to: MACAddress("52:54:00:12:34:56")!, in: guest)
        #expect(
            edits == [
                .write(
                    path,
                    Array(
                        "[connection]\ntype=ethernet\ninterface-name=ens3\n\n[ipv4]\nmethod=auto\n\n[ethernet]\nmac-address=52:54:00:12:34:56"
                            .utf8))
            ])
    }

    @Test("Bond ports: profiles naming the bond by controller= or master= are its ports")
    func bondPorts() throws {
        let guest = MemoryGuest(files: [
            Self.directory.appending("bond0.nmconnection"): Array("[connection]\nid=bond0\nuuid=b\ntype=bond\ninterface-name=bond0\n".utf8),
            Self.directory.appending("p1.nmconnection"): Array(
                "[connection]\nuuid=p1\ntype=ethernet\ninterface-name=ens3\nmaster=bond0\nslave-type=bond\n".utf8),
            Self.directory.appending("p2.nmconnection"): Array(
                "[connection]\nuuid=p2\ntype=ethernet\ninterface-name=ens4\ncontroller=b\nport-type=bond\n".utf8),
        ])
        let interfaces = try NetworkManagerKeyfiles().interfaces(in: guest)
        #expect(interfaces.first { $0.kind == .bond }?.ports == ["ens3", "ens4"])
        #expect(interfaces.filter { $0.kind == .ethernet }.allSatisfy { $0.ipv4 == nil })
    }
}

/// What NetworkManager would refuse or guestprep cannot use, reported with file and line.
@Suite("Network keyfile problems")
struct NetworkKeyfileProblemTests {
    @Test("A line GLib cannot parse drops the profile; bad values are problems with their line")
    func problems() throws {
        let directory = NetworkKeyfileTests.directory
        let guest = MemoryGuest(files: [
            directory.appending("broken.nmconnection"): Array("[connection]\ntype=ethernet\nnot a key\n".utf8),
            directory.appending("values.nmconnection"): Array(
                "[connection]\nuuid=v\ntype=ethernet\n[ethernet]\nmac-address=52:54:00:zz:00:01\n[ipv4]\nmethod=static\naddress1=10.0.0.5,10.0.0.1\n"
                    .utf8),
        ])
        let dialect = NetworkManagerKeyfiles()
        let skipped = try dialect.candidates(in: guest).first { $0.profile.path.name == "broken.nmconnection" }?.skipped
        #expect(skipped?.contains(":3:") == true)
        let problems = try dialect.problems(in: guest)
        #expect(problems.map(\.line) == [5, 8, 7])
        #expect(problems.allSatisfy { $0.path == directory.appending("values.nmconnection").description && $0.code == .parse })
    }
}
