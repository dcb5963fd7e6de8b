import Network
import Testing

/// MACs and IPs parsed exactly and printed in one canonical form.
@Suite("Network addresses")
struct NetworkAddressTests {
    @Test("MACs: any case and separator in, lower-case colons out; anything else refused")
    func macs() {
        #expect(MACAddress("52:54:00:AB:cd:EF")?.description == "52:54:00:ab:cd:ef")
        #expect(MACAddress("52-54-00-ab-cd-ef") == MACAddress("525400abcdef"))
        #expect(MACAddress("5254.00ab.cdef")?.description == "52:54:00:ab:cd:ef")
        for bad in ["52:54:00:ab:cd", "52:54:00:ab:cd:eg", "5:254:00:ab:cd:ef", "", "52:54:00:ab:cd:ef:00"] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("IPv4 exactly: no prefix match, no octal, no short forms")
    func ipv4() {
        #expect(IPAddress("192.168.1.1") != IPAddress("192.168.1.10"))
        #expect(IPAddress("10.0.0.3") != IPAddress("110.0.0.3"))
        for bad in ["010.0.0.3", "10.0.3", "256.1.1.1", "1.2.3.4.", " 1.2.3.4", "1.2.3.4/24"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("IPv6 in any valid spelling compares equal and prints as RFC 5952")
    func ipv6() {
        #expect(IPAddress("2001:DB8:0:0:0:0:0:1") == IPAddress("2001:db8::1"))
        #expect(IPAddress("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::ffff:192.0.2.1")?.bytes.suffix(4) == [192, 0, 2, 1])
        #expect(IPAddress("fe80::1")?.family == .v6)
        for bad in ["2001:db8::1::2", "2001:db8:::1", "12345::", "1:2:3:4:5:6:7:8:9"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("prefixes from CIDR and from netmasks; non-contiguous masks refused; subnet membership")
    func prefixes() throws {
        let address = try #require(IPAddress("10.0.0.5"))
        #expect(InterfaceAddress(cidr: "10.0.0.5/24")?.prefix == 24)
        #expect(InterfaceAddress(cidr: "10.0.0.5") == nil, "a prefix is never guessed")
        #expect(InterfaceAddress(address: address, netmask: try #require(IPAddress("255.255.255.0")))?.prefix == 24)
        #expect(InterfaceAddress(address: address, netmask: try #require(IPAddress("255.0.255.0"))) == nil)
        #expect(InterfaceAddress(address: address, netmask: try #require(IPAddress("0.0.0.0")))?.prefix == 0)
        #expect(InterfaceAddress(cidr: "10.0.0.5/22")?.netmask?.description == "255.255.252.0")
        let subnet = try #require(InterfaceAddress(cidr: "10.0.0.0/22"))
        #expect(subnet.contains(try #require(IPAddress("10.0.3.255"))))
        #expect(!subnet.contains(try #require(IPAddress("10.0.4.1"))))
    }
}
