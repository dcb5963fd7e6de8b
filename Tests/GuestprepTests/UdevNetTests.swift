import Foundation
import GuestFS
import Network
import Testing

/// udev net rules and .link files: lossless lexing, naming rules, canonical pins.
@Suite("Udev net")
struct UdevNetTests {
    @Test("Every udev-net corpus file round-trips and reads without crashing")
    func corpus() throws {
        guard Support.corpusAvailable else {
            print("notice: \(Support.corpus.path) is absent; udev-net corpus skipped")
            return
        }
        for url in Support.corpusFiles("udev-net") {
            let bytes = [UInt8](try Data(contentsOf: url))
            if url.lastPathComponent.contains(".link") {
                let link = LinkFile(bytes: bytes)
                #expect(link.bytes == bytes, "\(url.lastPathComponent)")
                _ = link.naming
            } else {
                let rules = UdevRulesFile(bytes: bytes)
                #expect(rules.bytes == bytes, "\(url.lastPathComponent)")
                #expect(rules.malformed.isEmpty, "\(url.lastPathComponent): \(rules.malformed)")
            }
        }
    }

    @Test("Corpus naming rules: MAC pins, globs, a continued line")
    func corpusFacts() throws {
        guard Support.corpusAvailable else { return }
        func rules(_ name: String) throws -> UdevRulesFile {
            UdevRulesFile(bytes: [UInt8](try Data(contentsOf: Support.corpus.appendingPathComponent("udev-net/\(name)"))))
        }
        let laptop = try rules("laptop-70-persistent-net.rules-eth-wlan-usb").namingRules
        #expect(laptop.map { $0.assignedName ?? "" } == ["eth0", "wlan0", "wlan1", "eth1", "eth2"])
        #expect(laptop[0].matchedMAC?.description == "00:21:cc:61:e9:c7" && laptop[0].lineNumber == 8)
        let custom = try rules("debian-70-persistent-net.rules-no-mac-custom-name").namingRules
        #expect(custom.count == 1 && custom[0].matchedMAC == nil && custom[0].match("ATTR", attribute: "type")?.value == "1")
        // `ATTR{address}=="?*"` is a glob, not a MAC.
        let kiwi = try rules("kiwi-70-persistent-net.rules-rename-lan0").namingRules
        #expect(kiwi.map { $0.assignedName ?? "" } == ["lan0"] && kiwi[0].matchedMAC == nil)
        let special = try rules("systemd-73-special-net-names.rules")
        #expect(special.rules.contains { $0.lineCount == 2 })
        let link = LinkFile(
            bytes: [UInt8](try Data(contentsOf: Support.corpus.appendingPathComponent("udev-net/debian-10-eth0.link-match-pci-path"))))
        #expect(link.naming.paths == ["pci-0000:08:00.0"] && link.naming.name == "eth0" && link.naming.nameLine == 7)
    }

    @Test("An existing 70-persistent-net.rules with KERNELS== and ID_PATH pins is rewritten to MAC pins, other lines untouched")
    func kernelsPins() throws {
        let name = "persistent-net-kernels-pins"
        let path = GuestPath("/etc/udev/rules.d/70-persistent-net.rules")
        let input = try MemoryGuest.fixture("udev-net", name)
        var file = UdevRulesFile(bytes: try #require(input.files[path]))
        let naming = file.namingRules
        #expect(naming.map(\.lineNumber) == [2, 3, 5])
        #expect(
            naming[0].match("KERNELS")?.value == "0000:00:03.0" && naming[1].match("ENV", attribute: "ID_PATH")?.value == "pci-0000:00:04.0"
        )
        #expect(naming[2].matchedMAC?.description == "52:54:00:aa:bb:cc")
        let macs = ["eth0": "52:54:00:00:00:01", "eth1": "52:54:00:00:00:02"]
        for rule in naming.reversed() where rule.matchedMAC == nil {
            let name = try #require(rule.assignedName)
            file.replaceRule(at: rule.index, with: UdevRulesFile.pinLine(mac: try #require(MACAddress(macs[name]!)), name: name))
        }
        let expected = try MemoryGuest.fixture("udev-net", name, "expected")
        #expect(String(decoding: file.bytes, as: UTF8.self) == String(decoding: try #require(expected.files[path]), as: UTF8.self))
    }

    @Test("Canonical pin line and .link file read back as what they say")
    func canonical() {
        let mac = MACAddress("52:54:00:AB:CD:EF")!
        let line = UdevRulesFile.pinLine(mac: mac, name: "ens3")
        #expect(line == #"SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:ab:cd:ef", NAME="ens3""#)
        let rule = UdevRulesFile(bytes: Array((line + "\n").utf8)).namingRules
        #expect(rule.count == 1 && rule[0].matchedMAC == mac && rule[0].assignedName == "ens3")
        let link = LinkFile(bytes: LinkFile.render(mac: mac, name: "ens3")).naming
        #expect(link.macAddresses == [mac] && link.name == "ens3" && link.namePolicy.isEmpty)
    }

    @Test("Malformed rules are kept and reported; append keeps a missing final newline's line intact")
    func malformedAndAppend() {
        var file = UdevRulesFile(bytes: Array("KERNEL==\"eth0\" NAME=\"x\nFOO~\"a\"".utf8))
        #expect(file.malformed == [0, 1] && file.rules.isEmpty)
        #expect(file.problems(path: "/etc/udev/rules.d/x.rules").map(\.line) == [1, 2])
        file.append("# end")
        #expect(String(decoding: file.bytes, as: UTF8.self) == "KERNEL==\"eth0\" NAME=\"x\nFOO~\"a\"\n# end\n")
    }

    @Test("The distro's own udev validator, where present")
    func udevadmVerify() throws {
        // `udevadm verify` appeared in systemd 254; Debian 12 ships 252, and this host has no udevadm at all.
        guard let udevadm = try? Support.which("udevadm") else {
            print("notice: udevadm is not installed; rendered rules not validated by udev")
            return
        }
        let version = Int((try Support.run(udevadm, ["--version"])).stdout.prefix { $0.isNumber }) ?? 0
        guard version >= 254 else {
            print("notice: udevadm \(version) has no 'verify' (systemd >= 254); rendered rules not validated by udev")
            return
        }
        let scratch = try Support.scratch("udev")
        defer { Support.cleanUp(scratch) }
        let file = scratch.appendingPathComponent("70-persistent-net.rules")
        try Support.write(UdevRulesFile.pinLine(mac: MACAddress("52:54:00:ab:cd:ef")!, name: "ens3") + "\n", to: file)
        try Support.must(udevadm, ["verify", file.path])
    }

    @Test("Arbitrary bytes lex without crashing and round-trip; removing a rule keeps the other lines")
    func arbitraryBytes() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("AB{}=!+-:,\"\\ #\r\ne".utf8)
        for _ in 0..<500 {
            let bytes = (0..<Int(next() % 60)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            var file = UdevRulesFile(bytes: bytes)
            #expect(file.bytes == bytes)
            if let rule = file.rules.first {
                let before = file.lines
                file.removeRule(at: rule.index)
                #expect(Array(file.lines.prefix(rule.index)) == Array(before.prefix(rule.index)))
            }
        }
    }
}
