import Foundation
import GuestFS
import GuestprepCore
import Network
import Testing

/// ifupdown's interfaces(5): lossless reading of real files, source resolution inside the guest,
/// and edits checked against golden trees (and against ifquery itself when it is installed).
@Suite("Network: ifupdown")
struct NetworkIfupdownTests {
    static let corpus = Support.corpusFiles("ifupdown")
    static let dialect = IfupdownDialect()

    @Test("every corpus interfaces file round-trips byte for byte and reads", arguments: corpus)
    func corpusRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        #expect(InterfacesFile(bytes: bytes).bytes == bytes, "\(file.lastPathComponent) did not round-trip")
        let guest = MemoryGuestFiles(files: [IfupdownDialect.mainFile: bytes])
        _ = try Self.dialect.interfaces(in: guest)
    }

    @Test("pinning any corpus interface adds or replaces one line and keeps every other byte", arguments: corpus)
    func corpusPin(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let guest = MemoryGuestFiles(files: [IfupdownDialect.mainFile: bytes])
        let mac = try #require(MACAddress("52:54:00:12:34:56"))
        for config in try Self.dialect.interfaces(in: guest) {
            let edits = try Self.dialect.pin(config, to: mac, in: guest)
            guard case .write(_, let after)? = edits.first else {
                #expect(config.mac?.value == mac, "\(config.name?.value ?? "?"): no edit though not pinned")
                continue
            }
            let old = TextLines.split(bytes).map(\.bytes)
            let new = TextLines.split(after).map(\.bytes)
            #expect(new.count - old.count <= 1)
            #expect(Set(old).subtracting(new).count <= 1, "\(file.lastPathComponent): more than one line changed")
            let reread = try Self.dialect.interfaces(in: MemoryGuestFiles(files: [IfupdownDialect.mainFile: after]))
            #expect(reread.first { $0.name?.value == config.name?.value }?.mac?.value == mac)
        }
    }

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if Support.corpusAvailable {
            #expect(Self.corpus.count >= 10)
        } else {
            print("NOTICE: \(Support.corpus.path) is absent; ifupdown corpus tests ran on no files")
        }
    }

    @Test("golden cases", arguments: NetworkFixtures.cases("ifupdown"))
    func golden(_ name: String) throws {
        let changed = try NetworkFixtures.check(Self.dialect, folder: "ifupdown", name: name)
        try Self.ifquery(changed, case: name)
    }

    /// ifupdown's ifquery: $GUESTPREP_IFQUERY, the installed one, or the one `make deps` unpacked
    /// (ifupdown is not installed on the test machine: its postinst enables networking.service).
    static var ifqueryTool: String? {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["GUESTPREP_IFQUERY"], "/sbin/ifquery",
            Support.repository.appendingPathComponent(".build/tools/ifupdown/sbin/ifquery").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// ifupdown's own parser reads each rewritten file (alone: ifquery would resolve `source`
    /// lines on the host, so files with them are not given to it).
    static func ifquery(_ changed: [String: [UInt8]], case name: String) throws {
        guard let tool = Self.ifqueryTool else {
            if !changed.isEmpty { print("NOTICE: no ifquery (make deps unpacks it into .build/tools); \(name) not validated by ifquery") }
            return
        }
        let scratch = try Support.scratch("ifquery")
        defer { Support.cleanUp(scratch) }
        for (path, bytes) in changed {
            let file = InterfacesFile(bytes: bytes)
            guard !file.statements.contains(where: { $0.keyword.hasPrefix("source") }) else { continue }
            let copy = scratch.appendingPathComponent("interfaces")
            try Data(bytes).write(to: copy)
            let state = scratch.appendingPathComponent("state").path
            let listed = try Support.run(tool, ["--state-dir", state, "-i", copy.path, "--list", "--allow", "auto"])
            #expect(listed.status == 0, "\(name)/\(path): ifquery --list failed: \(listed.stderr)")
            for stanza in file.stanzas where stanza.header.keyword == "iface" {
                let iface = stanza.header.words[1]
                let shown = try Support.run(tool, ["--state-dir", state, "-i", copy.path, iface])
                #expect(shown.status == 0, "\(name)/\(path): ifquery \(iface) failed: \(shown.stderr)")
                for option in stanza.options where ["address", "netmask", "gateway", "hwaddress"].contains(option.keyword) {
                    // ifquery prints `hwaddress: MAC` without the class word.
                    let value = option.arguments.last ?? ""
                    #expect(shown.stdout.contains("\(option.keyword): \(value)"), "\(name): ifquery \(iface) lacks \(option.keyword)")
                }
            }
        }
    }

    @Test("continuation lines are one statement; comments and blanks are not statements")
    func statements() {
        let file = InterfacesFile(bytes: Array("# c\n\niface eth0 inet static\n    address \\\n  10.0.0.9/24\n  # x\n".utf8))
        #expect(file.statements.map(\.words) == [["iface", "eth0", "inet", "static"], ["address", "10.0.0.9/24"]])
        #expect(file.stanzas.first?.options.first?.lineIndices == 3..<5)
    }

    @Test("source-directory reads only run-parts names, source globs skip dot files, relative paths follow the file")
    func sources() throws {
        let guest = MemoryGuestFiles(files: [
            "/etc/network/interfaces": Array("source-directory interfaces.d\nsource /etc/network/more/*\n".utf8),
            "/etc/network/interfaces.d/eth0": Array("iface eth0 inet dhcp\n".utf8),
            "/etc/network/interfaces.d/eth1.cfg": Array("iface eth1 inet dhcp\n".utf8),
            "/etc/network/interfaces.d/eth2~": Array("iface eth2 inet dhcp\n".utf8),
            "/etc/network/more/a.cfg": Array("iface eth3 inet dhcp\n".utf8),
            "/etc/network/more/.hidden": Array("iface eth4 inet dhcp\n".utf8),
        ])
        let names = try IfupdownDialect().interfaces(in: guest).compactMap { $0.name?.value }
        #expect(names == ["eth0", "eth3"])
    }

    @Test("ifupdown2's family-less stanza: several addresses, static by family")
    func familyLess() throws {
        let guest = MemoryGuestFiles(files: [
            "/etc/network/interfaces": Array("iface swp1\n    address 10.0.0.1/24 10.0.0.2/24\n    address 2001:db8::1/64\n".utf8)
        ])
        let config = try #require(try IfupdownDialect().interfaces(in: guest).first)
        #expect(config.addresses.map(\.value.description) == ["10.0.0.1/24", "10.0.0.2/24", "2001:db8::1/64"])
        #expect(config.ipv4?.value == .static && config.ipv6?.value == .static)
    }

    @Test("a file that sources itself is an error with path and line, not a hang")
    func sourceLoop() {
        let guest = MemoryGuestFiles(files: ["/etc/network/interfaces": Array("\nsource interfaces\n".utf8)])
        #expect {
            try IfupdownDialect().interfaces(in: guest)
        } throws: { error in
            let error = error as? GuestprepError
            return error?.code == .parse && error?.line == 2 && error?.path == "/etc/network/interfaces"
        }
    }

    @Test("a second IPv4 address gets a stanza of its own; an inet6 auto stanza stays as it was")
    func secondAddress() throws {
        let input = "auto eth0\niface eth0 inet dhcp\niface eth0 inet6 auto\n"
        let guest = MemoryGuestFiles(files: ["/etc/network/interfaces": Array(input.utf8)])
        let config = try #require(try IfupdownDialect().interfaces(in: guest).first)
        let settings = StaticSettings(
            addresses: [try #require(InterfaceAddress(cidr: "10.0.0.5/24")), try #require(InterfaceAddress(cidr: "10.0.1.5/24"))],
            gateway4: IPAddress("10.0.0.1"))
        let edits = try IfupdownDialect().setStatic(config, settings, mac: nil, in: guest)
        guard case .write(_, let bytes)? = edits.first else { throw SupportError("no edit") }
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "auto eth0\niface eth0 inet static\n    address 10.0.0.5\n    netmask 255.255.255.0\n    gateway 10.0.0.1\n"
                + "iface eth0 inet static\n    address 10.0.1.5/24\niface eth0 inet6 auto\n")
    }

    @Test("static conversion needs an IPv4 address")
    func staticNeedsAddress() throws {
        let guest = MemoryGuestFiles(files: ["/etc/network/interfaces": Array("iface eth0 inet dhcp\n".utf8)])
        let config = try #require(try IfupdownDialect().interfaces(in: guest).first)
        #expect(throws: GuestprepError.self) {
            try IfupdownDialect().setStatic(config, StaticSettings(addresses: []), mac: nil, in: guest)
        }
    }
}
