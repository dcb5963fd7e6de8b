import Dialects
import Foundation
import GuestFS
import GuestprepCore
import Network
import Testing

/// RHEL and SUSE ifcfg files: lossless reading of real files, the names the distributions'
/// tools read, and edits checked against golden trees.
@Suite("Network: ifcfg (RHEL and SUSE)")
struct NetworkIfcfgTests {
    static let rhelCorpus = Support.corpusFiles("ifcfg-rhel")
    static let suseCorpus = Support.corpusFiles("ifcfg-suse")

    @Test("every corpus RHEL file round-trips byte for byte and reads as ifcfg and as a route file", arguments: rhelCorpus)
    func rhelCorpusRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        #expect(ShellAssignmentsFile(bytes: bytes).bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        let guest = MemoryGuestFiles(files: [
            "/etc/sysconfig/network-scripts/ifcfg-test": bytes, "/etc/sysconfig/network-scripts/route-test": bytes,
            "/etc/sysconfig/network-scripts/route6-test": bytes,
        ])
        let configs = try IfcfgRHELDialect().interfaces(in: guest)
        // Pinning changes HWADDR lines only (or adds one at the end).
        let mac = try #require(MACAddress("52:54:00:12:34:56"))
        for config in configs {
            for case .write(let path, let after) in try IfcfgRHELDialect().pin(config, to: mac, in: guest)
            where path.name.hasPrefix("ifcfg-") {
                let old = TextLines.split(bytes)
                let new = TextLines.split(after)
                for (before, now) in zip(old, new) where before.content != now.content {
                    #expect(now.text.hasPrefix("HWADDR="), "\(file.lastPathComponent): changed \(before.text)")
                }
                let reread = try IfcfgRHELDialect().interfaces(
                    in: MemoryGuestFiles(files: ["/etc/sysconfig/network-scripts/ifcfg-test": after]))
                #expect(reread.first?.mac?.value == mac)
            }
        }
    }

    @Test("every corpus SUSE file round-trips byte for byte and reads", arguments: suseCorpus)
    func suseCorpusRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        #expect(ShellAssignmentsFile(bytes: bytes).bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        let guest = MemoryGuestFiles(files: [
            "/etc/sysconfig/network/ifcfg-test": bytes, "/etc/sysconfig/network/ifroute-test": bytes,
            "/etc/sysconfig/network/routes": bytes,
        ])
        let configs = try IfcfgSUSEDialect().interfaces(in: guest)
        #expect(configs.count == 1)
        let mac = try #require(MACAddress("52:54:00:12:34:56"))
        for config in configs {
            for case .write(_, let after) in try IfcfgSUSEDialect().pin(config, to: mac, in: guest) {
                for (before, now) in zip(TextLines.split(bytes), TextLines.split(after)) where before.content != now.content {
                    #expect(now.text.hasPrefix("LLADDR="), "\(file.lastPathComponent): changed \(before.text)")
                }
            }
        }
    }

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if Support.corpusAvailable {
            #expect(Self.rhelCorpus.count >= 20 && Self.suseCorpus.count >= 10)
        } else {
            print("NOTICE: \(Support.corpus.path) is absent; ifcfg corpus tests ran on no files")
        }
    }

    @Test("RHEL golden cases", arguments: NetworkFixtures.cases("ifcfg-rhel"))
    func rhelGolden(_ name: String) throws {
        try NetworkFixtures.check(IfcfgRHELDialect(), folder: "ifcfg-rhel", name: name)
    }

    @Test("SUSE golden cases", arguments: NetworkFixtures.cases("ifcfg-suse"))
    func suseGolden(_ name: String) throws {
        try NetworkFixtures.check(IfcfgSUSEDialect(), folder: "ifcfg-suse", name: name)
    }

    @Test("SUSE: ports make a bond without BONDING_MASTER; empty WIRELESS_* template keys do not make a NIC wireless")
    func suseKinds() throws {
        let guest = MemoryGuestFiles(files: [
            "/etc/sysconfig/network/ifcfg-bond0": Array("BOOTPROTO=static\nIPADDR=10.0.0.5/24\nBONDING_SLAVE_0=eth0\n".utf8),
            "/etc/sysconfig/network/ifcfg-eth1": Array("BOOTPROTO='dhcp'\nWIRELESS=''\nWIRELESS_MODE=''\n".utf8),
        ])
        let configs = try IfcfgSUSEDialect().interfaces(in: guest)
        #expect(configs.map(\.kind) == [.bond, .ethernet])
        #expect(configs.first?.ports == ["eth0"])
    }

    @Test("RHEL: an alias is skipped even when its file name has no colon")
    func rhelAliasByDevice() throws {
        let guest = MemoryGuestFiles(files: [
            "/etc/sysconfig/network-scripts/ifcfg-alias": Array("DEVICE=eth0:1\nIPADDR=10.0.0.9\n".utf8)
        ])
        #expect(try IfcfgRHELDialect().interfaces(in: guest).isEmpty)
    }

    @Test("a value that is not a simple shell word is refused with its line, not rewritten")
    func refusesOpenQuote() throws {
        let guest = MemoryGuestFiles(files: ["/etc/sysconfig/network-scripts/ifcfg-eth0": Array("DEVICE=eth0\nHWADDR=\"52:54\n".utf8)])
        let config = try #require(try IfcfgRHELDialect().interfaces(in: guest).first)
        #expect {
            try IfcfgRHELDialect().pin(config, to: MACAddress("52:54:00:12:34:56")!, in: guest)
        } throws: { error in
            (error as? GuestprepError)?.line == 2 && (error as? GuestprepError)?.code == .refused
        }
    }
}
