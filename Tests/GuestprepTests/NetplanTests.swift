import Foundation
import GuestFS
import GuestprepCore
import HostProcess
import Network
import Testing

/// netplan: merged reading with file:line facts and renderers, lossless edits checked against
/// golden trees, every corpus file round-tripped, and results validated by `netplan generate`.
@Suite("Netplan")
struct NetplanTests {
    static let corpusFiles = Support.corpusFiles("netplan")
    static let fixtures = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/network/netplan")
    static let netplanInstalled = HostCommand.find("netplan") != nil

    static func root(_ name: String) throws -> GuestRoot {
        try GuestRoot(hostPath: fixtures.appendingPathComponent("\(name)/input").path)
    }

    static func device(_ devices: [NetplanDevice], _ id: String) throws -> NetplanDevice {
        try #require(devices.first { $0.id == id })
    }

    // MARK: - Reading

    @Test("files: /run shadows /etc shadows /lib by name, then all in lexical order of name; facts merged with file:line")
    func multiFileMerge() throws {
        let config = try NetplanConfig.read(try Self.root("multi-file-merge"))
        #expect(
            config.documents.map(\.path.description) == [
                "/etc/netplan/01-netcfg.yaml", "/etc/netplan/90-override.yaml", "/run/netplan/95-runtime.yaml",
            ])
        let eth0 = try Self.device(config.devices, "eth0")
        #expect(eth0.config.files.map(\.description) == ["/etc/netplan/01-netcfg.yaml", "/etc/netplan/90-override.yaml"])
        #expect(eth0.config.ipv4?.value == .dhcp)
        #expect(eth0.config.ipv4?.location.description == "/etc/netplan/90-override.yaml:5")
        #expect(eth0.config.mtu?.value == 9000)
        #expect(eth0.config.dnsServers.map(\.location.description) == ["/etc/netplan/01-netcfg.yaml:8"])
        #expect(eth0.config.searchDomains.map(\.value) == ["corp.example"])
        #expect(eth0.config.name?.value == "eth0")
        #expect(eth0.renderer == .networkd && eth0.rendererLocation?.description == "/etc/netplan/01-netcfg.yaml:3")
        let eth1 = try Self.device(config.devices, "eth1")
        // Sequences are concatenated across files, as netplan does; the shadowed /lib file adds nothing.
        #expect(eth1.config.addresses.map(\.value.description) == ["198.51.100.4/24", "198.51.100.5/24"])
        #expect(eth1.config.addresses.map(\.location.description) == ["/etc/netplan/01-netcfg.yaml:12", "/run/netplan/95-runtime.yaml:5"])
        #expect(eth1.config.ipv4?.value == .static)
    }

    @Test("renderer: global NetworkManager, overridden per device")
    func renderers() throws {
        let devices = try NetplanConfig.read(try Self.root("renderer-networkmanager")).devices
        #expect(try Self.device(devices, "enp1s0").renderer == .networkManager)
        #expect(try Self.device(devices, "enp1s0").rendererLocation?.line == 4)
        #expect(try Self.device(devices, "enp2s0").renderer == .networkd)
        #expect(try Self.device(devices, "enp2s0").rendererLocation?.line == 9)
    }

    @Test("MACs: upper-case and unquoted (a YAML 1.1 sexagesimal trap) both read as their text")
    func macs() throws {
        let upper = try Self.device(NetplanConfig.read(try Self.root("uppercase-mac")).devices, "lan")
        #expect(upper.config.mac?.value.description == "52:54:00:ab:cd:ef")
        #expect(upper.config.name?.value == "lan0")
        let unquoted = try Self.device(NetplanConfig.read(try Self.root("unquoted-mac")).devices, "ens18")
        #expect(unquoted.config.mac?.value.description == "52:54:00:12:34:56")
        #expect(unquoted.config.mac?.location.line == 6)
        // With a match and no set-name the kernel name is unknown.
        #expect(unquoted.config.name == nil)
        #expect(unquoted.config.gateway4?.value == IPAddress("10.0.0.99"))
        #expect(unquoted.config.routes.count == 2)
    }

    // MARK: - Golden edits

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var interface: String
        var mac: String
        var settings: StaticSettings?
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "cloud-init-dhcp-to-static", interface: "ens3", mac: "fa:16:3e:6a:1b:2c",
            settings: StaticSettings(
                addresses: [InterfaceAddress(cidr: "10.0.0.5/24")!], gateway4: IPAddress("10.0.0.1"),
                dnsServers: [IPAddress("10.0.0.2")!, IPAddress("10.0.0.3")!], searchDomains: ["example.com"])),
        Case(
            name: "multi-file-merge", interface: "eth0", mac: "52:54:00:00:00:10",
            settings: StaticSettings(
                addresses: [InterfaceAddress(cidr: "192.0.2.10/24")!], gateway4: IPAddress("192.0.2.1"),
                dnsServers: [IPAddress("192.0.2.53")!],
                searchDomains: ["corp.example"], mtu: 9000)),
        Case(name: "renderer-networkmanager", interface: "enp1s0", mac: "52:54:00:00:00:01", settings: nil),
        Case(name: "uppercase-mac", interface: "lan0", mac: "52:54:00:AB:CD:EF", settings: nil),
        Case(
            name: "unquoted-mac", interface: "ens18", mac: "52:54:00:12:34:56",
            settings: StaticSettings(
                addresses: [InterfaceAddress(cidr: "10.0.0.5/24")!], gateway4: IPAddress("10.0.0.1"), dnsServers: [IPAddress("10.0.0.2")!])),
    ]

    /// Every file of a tree, relative path → bytes.
    static func files(_ directory: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let url = directory.appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result[relative] = try Data(contentsOf: url)
            }
        }
        return result
    }

    @Test("golden: input tree → edits → expected tree, byte for byte; netplan generate accepts the result", arguments: cases)
    func golden(_ testCase: Case) throws {
        let input = Self.fixtures.appendingPathComponent("\(testCase.name)/input")
        let expected = Self.fixtures.appendingPathComponent("\(testCase.name)/expected")
        let root = try GuestRoot(hostPath: input.path)
        let dialect = NetplanDialect()
        let interface = try #require(
            try dialect.interfaces(in: root).first { $0.name?.value == testCase.interface || $0.mac?.value == MACAddress(testCase.mac) })
        var named = interface
        named.name = Sourced(testCase.interface, at: SourceLocation("/"))
        let mac = try #require(MACAddress(testCase.mac))
        let edits =
            try testCase.settings.map { try dialect.setStatic(named, $0, mac: mac, in: root) } ?? dialect.pin(named, to: mac, in: root)
        var result = try Self.files(input)
        for edit in edits {
            guard case .write(let path, let bytes) = edit else {
                Issue.record("unexpected \(edit)")
                continue
            }
            result[String(path.description.dropFirst())] = Data(bytes)
        }
        if ProcessInfo.processInfo.environment["GUESTPREP_RECORD_SNAPSHOTS"] == "1" {
            Support.cleanUp(expected)
            for (relative, data) in result {
                let url = expected.appendingPathComponent(relative)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: url)
            }
        }
        let want = try Self.files(expected)
        #expect(Set(result.keys) == Set(want.keys))
        for (relative, data) in result {
            #expect(want[relative] == data, "\(testCase.name)/\(relative) differs from expected:\n\(String(decoding: data, as: UTF8.self))")
        }
        // Every edited file alone carries the full result, and netplan reads the whole tree back the same.
        let scratch = try Support.scratch("netplan-golden")
        defer { Support.cleanUp(scratch) }
        for (relative, data) in result {
            try FileManager.default.createDirectory(
                at: scratch.appendingPathComponent(relative).deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: scratch.appendingPathComponent(relative))
        }
        let after = try NetplanConfig.read(try GuestRoot(hostPath: scratch.path))
        let device = try #require(after.devices.first { $0.config.mac?.value == mac })
        #expect(device.config.name?.value == testCase.interface)
        if let settings = testCase.settings {
            #expect(device.config.ipv4?.value == .static)
            #expect(device.config.addresses.map(\.value) == settings.addresses)
            for path in device.config.files {
                let alone = try NetplanConfig(documents: after.documents.filter { $0.path == path })
                let single = try #require(alone.devices.first { $0.id == device.id })
                #expect(single.config.mac?.value == mac, "\(path)")
                #expect(single.config.ipv4?.value == .static, "\(path)")
                #expect(single.config.addresses.map(\.value) == settings.addresses, "\(path)")
                #expect(single.config.gateway4?.value == settings.gateway4, "\(path)")
                #expect(single.config.dnsServers.map(\.value) == settings.dnsServers, "\(path)")
            }
        }
        if Self.netplanInstalled {
            for (relative, _) in result { chmod(scratch.appendingPathComponent(relative).path, 0o600) }
            let generated = try Support.run("netplan", ["generate", "--root-dir", scratch.path])
            #expect(generated.status == 0, "netplan generate: \(generated.stderr)")
        } else {
            print("NOTICE: netplan is not installed (Debian package netplan.io); golden output not validated by netplan generate")
        }
    }

    @Test("files with anchors, aliases or flow-style devices are refused with file and line, not guessed")
    func refusals() throws {
        let anchored = "network:\n  ethernets:\n    eth0: &base\n      dhcp4: true\n    eth1: *base\n"
        var editor = NetplanEditor(path: "/etc/netplan/a.yaml", bytes: Array(anchored.utf8))
        #expect(throws: GuestprepError.self) { try editor.set("dhcp4", to: .inline("false"), section: "ethernets", id: "eth0") }
        do {
            try editor.set("dhcp4", to: .inline("false"), section: "ethernets", id: "eth0")
        } catch let error as GuestprepError {
            #expect(error.code == .refused && error.path == "/etc/netplan/a.yaml" && error.line == 3)
        }
        let flow = "network:\n  ethernets: {eth0: {dhcp4: true}}\n"
        editor = NetplanEditor(path: "/etc/netplan/b.yaml", bytes: Array(flow.utf8))
        do {
            try editor.set("dhcp4", to: .inline("false"), section: "ethernets", id: "eth0")
            Issue.record("flow style was edited")
        } catch let error as GuestprepError {
            #expect(error.code == .refused && error.line == 2)
        }
    }

    @Test("CRLF and no final newline survive an insertion at the end of the file; tab-free 4-space steps kept")
    func lineEndings() throws {
        let text = "network:\r\n    version: 2\r\n    ethernets:\r\n        eth0: {}"
        let path = GuestPath("/etc/netplan/crlf.yaml")
        let config = try NetplanConfig(documents: [try NetplanDocument(path: path, bytes: Array(text.utf8))])
        let device = try Self.device(config.devices, "eth0")
        var editor = NetplanEditor(path: path, bytes: Array(text.utf8))
        try NetplanDialect.setStatic(&editor, device: device, StaticSettings(addresses: [InterfaceAddress(cidr: "10.0.0.5/24")!]))
        let expected =
            "network:\r\n    version: 2\r\n    ethernets:\r\n        eth0:\r\n            dhcp4: false\r\n            addresses: [\"10.0.0.5/24\"]"
        #expect(String(decoding: editor.bytes, as: UTF8.self) == expected)
    }

    // MARK: - Corpus

    @Test("the corpus is present, or its absence is announced")
    func corpusPresence() {
        if !Support.corpusAvailable {
            print("NOTICE: \(Support.corpus.path) is absent; netplan corpus tests ran on no files")
        } else {
            #expect(Self.corpusFiles.count >= 20)
        }
    }

    @Test("every corpus file reads and round-trips; a no-op edit leaves its bytes identical", arguments: corpusFiles)
    func corpusRoundTrip(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let path = GuestPath("/etc/netplan/\(file.lastPathComponent)")
        let config = try NetplanConfig(documents: [try NetplanDocument(path: path, bytes: bytes)])
        #expect(NetplanEditor(path: path, bytes: bytes).bytes == bytes)
        for device in config.devices {
            for key in ["dhcp4", "mtu", "set-name"] {
                guard let text = device.value[key]?.text, device.value[key]?.location?.path == path else { continue }
                var editor = NetplanEditor(path: path, bytes: bytes)
                do {
                    try editor.set(key, to: .inline(Self.raw(bytes, device.value[key]!) ?? text), section: device.section, id: device.id)
                    #expect(editor.bytes == bytes, "\(file.lastPathComponent): setting \(device.id).\(key) to itself changed bytes")
                } catch let error as GuestprepError where error.code == .refused {
                    // Flow style or anchors: refused, which is the promised behaviour.
                }
            }
        }
    }

    /// The scalar's text exactly as written on its line (quotes included).
    static func raw(_ bytes: [UInt8], _ value: NetplanValue) -> String? {
        guard let line = value.location?.line else { return nil }
        let text = TextLines.split(bytes)[line - 1].text
        guard let colon = text.range(of: ": ") else { return nil }
        var rest = text[colon.upperBound...]
        if let comment = rest.range(of: " #") { rest = rest[..<comment.lowerBound] }
        return String(rest.trimmingCharacters(in: .whitespaces))
    }

    @Test(
        "every corpus ethernet converts to static (or is refused with a line) and reads back static; netplan generate accepts what it accepted",
        arguments: corpusFiles)
    func corpusSetStatic(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        let path = GuestPath("/etc/netplan/\(file.lastPathComponent)")
        let config = try NetplanConfig(documents: [try NetplanDocument(path: path, bytes: bytes)])
        let settings = StaticSettings(
            addresses: [InterfaceAddress(cidr: "10.213.0.5/24")!], gateway4: IPAddress("10.213.0.1"),
            dnsServers: [IPAddress("10.213.0.53")!],
            searchDomains: ["lab.example"])
        var editor = NetplanEditor(path: path, bytes: bytes)
        for (index, device) in config.devices.enumerated() where device.section == "ethernets" {
            let mac = try #require(MACAddress("52:54:00:00:00:\(index + 10)"))
            var attempt = editor
            do {
                try NetplanDialect.pin(&attempt, device: device, name: device.config.name?.value ?? device.id, mac: mac)
                try NetplanDialect.setStatic(&attempt, device: device, settings)
            } catch let error as GuestprepError where error.code == .refused {
                #expect(error.line != nil, "\(file.lastPathComponent): \(error)")
                print("NOTICE: \(file.lastPathComponent) \(device.id) refused: \(error)")
                continue
            }
            editor = attempt
            let after = try NetplanConfig(documents: [try NetplanDocument(path: path, bytes: editor.bytes)])
            let converted = try #require(after.devices.first { $0.id == device.id && $0.section == "ethernets" })
            #expect(converted.config.ipv4?.value == .static, "\(file.lastPathComponent) \(device.id)")
            #expect(converted.config.addresses.map(\.value) == settings.addresses, "\(file.lastPathComponent) \(device.id)")
            #expect(converted.config.mac?.value == mac)
            #expect(converted.config.gateway4?.value == IPAddress("10.213.0.1"))
        }
        guard Self.netplanInstalled else { return }
        func generate(_ contents: [UInt8]) throws -> Support.Output {
            let scratch = try Support.scratch("netplan-corpus")
            defer { Support.cleanUp(scratch) }
            let url = scratch.appendingPathComponent("etc/netplan/\(file.lastPathComponent)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents).write(to: url)
            chmod(url.path, 0o600)
            return try Support.run("netplan", ["generate", "--root-dir", scratch.path])
        }
        if try generate(bytes).status == 0 {
            let result = try generate(editor.bytes)
            #expect(result.status == 0, "\(file.lastPathComponent): netplan generate refused the converted file: \(result.stderr)")
        }
    }
}
