import Foundation
import LinkProbe
import Network
import Testing

/// Live network links through libudev and ethtool, on this machine and inside a network
/// namespace of the test's own (so nothing about the machine's own networking changes).
@Suite("Live network links")
struct LinkProbeTests {
    @Test("this machine's NICs with a device behind them are physical, with driver and bus")
    func hostLinks() throws {
        let links = try LiveLinkProbe.links()
        #expect(links.contains { $0.kind == .loopback && $0.name == "lo" })
        for link in links where link.kind == .physical {
            #expect(link.driver != nil, "\(link.name)")
            #expect(link.bus != nil, "\(link.name)")
            #expect(link.identifyingMAC != nil, "\(link.name)")
        }
    }

    static var canMakeNamespaces: Bool { Support.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    @Test(
        "inside a network namespace: veth with a set MAC, a bridge and its port, the loopback",
        .enabled(if: canMakeNamespaces, "needs root and iproute2 to make a network namespace"))
    func namespaceLinks() throws {
        let namespace = "gp-links-\(getpid())"
        try Support.must("ip", ["netns", "add", namespace])
        defer { _ = try? Support.run("ip", ["netns", "del", namespace]) }
        func inside(_ arguments: [String]) throws { try Support.must("ip", ["netns", "exec", namespace, "ip"] + arguments) }
        try inside([
            "link", "add", "gp0", "address", "52:54:00:AA:00:01", "type", "veth", "peer", "name", "gp1", "address", "52:54:00:aa:00:02",
        ])
        try inside(["link", "add", "gpbr0", "type", "bridge"])
        try inside(["link", "set", "gp1", "master", "gpbr0"])

        // `ip netns exec` mounts a sysfs of the namespace, so libudev sees its links only.
        let result = try Support.run("ip", ["netns", "exec", namespace, Support.binary, "inspect", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let links = try #require(document["links"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: links.compactMap { link in (link["name"] as? String).map { ($0, link) } })
        #expect(Set(byName.keys) == ["lo", "gp0", "gp1", "gpbr0"])
        #expect(byName["lo"]?["kind"] as? String == "loopback")
        #expect(byName["gp0"]?["kind"] as? String == "veth")
        #expect(byName["gp0"]?["mac"] as? String == "52:54:00:aa:00:01", "lower case, whatever was typed")
        #expect(byName["gp1"]?["master"] as? String == "gpbr0")
        #expect(byName["gpbr0"]?["kind"] as? String == "bridge")
    }

    @Test("classification follows what the kernel says, not names")
    func classification() {
        func kind(devtype: String? = nil, type: String? = "1", device: Bool = false, has: Set<String> = [], driver: String? = nil)
            -> NetworkLink.Kind
        {
            LiveLinkProbe.kind(devtype: devtype, type: type, hasDevice: device, has: { has.contains($0) }, driver: driver)
        }
        #expect(kind(type: "772") == .loopback)
        #expect(kind(devtype: "bond") == .bond)
        #expect(kind(has: ["bonding/mode"]) == .bond)
        #expect(kind(has: ["bridge/stp_state"]) == .bridge)
        #expect(kind(has: ["tun_flags"]) == .tun)
        #expect(kind(device: true) == .physical)
        #expect(kind(device: true, has: ["phy80211/name"]) == .wireless)
        #expect(kind(driver: "veth") == .veth)
        #expect(kind(driver: "dummy") == .dummy)
        #expect(kind(driver: "ifb") == .virtual)
    }
}
