import Foundation
import GuestFS
import GuestFacts
import Network
import Testing

/// Golden network cases: `Fixtures/network/<dialect>/<case>/` holds `input/` (a guest tree),
/// `interfaces.txt` (the model read from it), and for edit cases `edit` (one operation) and
/// `expected/` (the tree afterwards). Re-record with GUESTPREP_RECORD_SNAPSHOTS=1.
enum NetworkFixtures {
    static let root = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/network")
    static var recording: Bool { ProcessInfo.processInfo.environment["GUESTPREP_RECORD_SNAPSHOTS"] == "1" }

    static func cases(_ dialect: String) -> [String] {
        let directory = root.appendingPathComponent(dialect)
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    /// Every regular file under a directory, relative path → bytes.
    static func tree(_ directory: URL) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let url = directory.appendingPathComponent(relative)
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            result[relative] = Array(try Data(contentsOf: url))
        }
        return result
    }

    static func writeTree(_ files: [String: [UInt8]], to directory: URL) throws {
        try? FileManager.default.removeItem(at: directory)
        for (relative, bytes) in files {
            let url = directory.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
    }

    /// The model as text: one block per interface, every fact with its file:line.
    static func render(_ configs: [InterfaceConfig]) -> String {
        var out = ""
        for config in configs {
            out += "\(config.name?.value ?? "(no name)") \(config.kind.rawValue) @ \(config.name?.location.description ?? "-")\n"
            if let mac = config.mac { out += "  mac \(mac.value) @ \(mac.location)\n" }
            if let ipv4 = config.ipv4 { out += "  ipv4 \(ipv4.value.rawValue) @ \(ipv4.location)\n" }
            if let ipv6 = config.ipv6 { out += "  ipv6 \(ipv6.value.rawValue) @ \(ipv6.location)\n" }
            for address in config.addresses { out += "  address \(address.value) @ \(address.location)\n" }
            if let gateway = config.gateway4 { out += "  gateway4 \(gateway.value) @ \(gateway.location)\n" }
            if let gateway = config.gateway6 { out += "  gateway6 \(gateway.value) @ \(gateway.location)\n" }
            for route in config.routes {
                var text = "  route \(route.value.destination)"
                if let gateway = route.value.gateway { text += " via \(gateway)" }
                if let metric = route.value.metric { text += " metric \(metric)" }
                out += text + " @ \(route.location)\n"
            }
            for server in config.dnsServers { out += "  dns \(server.value) @ \(server.location)\n" }
            for domain in config.searchDomains { out += "  search \(domain.value) @ \(domain.location)\n" }
            if let mtu = config.mtu { out += "  mtu \(mtu.value) @ \(mtu.location)\n" }
            if !config.ports.isEmpty { out += "  ports \(config.ports.joined(separator: " "))\n" }
            out += "  files \(config.files.map(\.description).joined(separator: " "))\n"
        }
        return out
    }

    /// `pin NAME MAC` or `static NAME address=A/P[,A/P] [gateway=G] [gateway6=G] [dns=A,B] [search=D,E] [mtu=N] [mac=M]`.
    static func perform(
        _ line: String, with dialect: any NetworkConfigDialect, on configs: [InterfaceConfig], in files: any GuestFileReader
    )
        throws -> [FileEdit]
    {
        let words = line.split(separator: " ").map(String.init)
        guard words.count >= 3, let config = configs.first(where: { $0.name?.value == words[1] }) else {
            throw SupportError("bad edit line or unknown interface: \(line)")
        }
        if words[0] == "pin" {
            guard let mac = MACAddress(words[2]) else { throw SupportError("bad MAC in \(line)") }
            return try dialect.pin(config, to: mac, in: files)
        }
        var settings = StaticSettings(addresses: [])
        var mac: MACAddress? = nil
        for word in words.dropFirst(2) {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            let values = parts[1].split(separator: ",").map(String.init)
            switch parts[0] {
            case "address": settings.addresses = values.compactMap { InterfaceAddress(cidr: $0) }
            case "gateway": settings.gateway4 = IPAddress(parts[1])
            case "gateway6": settings.gateway6 = IPAddress(parts[1])
            case "dns": settings.dnsServers = values.compactMap(IPAddress.init)
            case "search": settings.searchDomains = values
            case "mtu": settings.mtu = Int(parts[1])
            case "mac": mac = MACAddress(parts[1])
            default: throw SupportError("unknown setting \(word)")
            }
        }
        return try dialect.setStatic(config, settings, mac: mac, in: files)
    }

    /// Reads the case's input, checks the model, performs its edit and checks the resulting tree.
    /// Returns the edited files (guest path → bytes) for further checks.
    @discardableResult
    static func check(_ dialect: any NetworkConfigDialect, folder: String, name: String) throws -> [String: [UInt8]] {
        let directory = root.appendingPathComponent(folder).appendingPathComponent(name)
        let input = directory.appendingPathComponent("input")
        let guest = try GuestRoot(hostPath: input.path)
        #expect(try dialect.isPresent(in: guest), "\(name): dialect not detected")
        let configs = try dialect.interfaces(in: guest)
        let rendered = render(configs)
        let modelFile = directory.appendingPathComponent("interfaces.txt")
        if recording { try Data(rendered.utf8).write(to: modelFile) }
        let expectedModel = (try? String(contentsOf: modelFile, encoding: .utf8)) ?? ""
        #expect(rendered == expectedModel, "\(name): model differs from interfaces.txt:\n\(rendered)")

        let editFile = directory.appendingPathComponent("edit")
        guard let edit = try? String(contentsOf: editFile, encoding: .utf8) else { return [:] }
        var files = try tree(input)
        var changed: [String: [UInt8]] = [:]
        for line in edit.split(separator: "\n") where !line.isEmpty {
            // Each operation sees the tree as the ones before it left it.
            let current = MemoryGuestFiles(files: Dictionary(uniqueKeysWithValues: files.map { (GuestPath("/" + $0.key), $0.value) }))
            for fileEdit in try perform(String(line), with: dialect, on: try dialect.interfaces(in: current), in: current) {
                switch fileEdit {
                case .write(let path, let bytes):
                    let relative = String(path.description.dropFirst())
                    files[relative] = bytes
                    changed[relative] = bytes
                case .renameAside(let from, let to):
                    let old = String(from.description.dropFirst())
                    files[String(to.description.dropFirst())] = files.removeValue(forKey: old)
                }
            }
        }
        let expectedDirectory = directory.appendingPathComponent("expected")
        if recording { try writeTree(files, to: expectedDirectory) }
        let expected = try tree(expectedDirectory)
        #expect(Set(files.keys) == Set(expected.keys), "\(name): files differ: \(Set(files.keys).symmetricDifference(expected.keys))")
        for (path, bytes) in files where expected[path] != bytes {
            Issue.record("\(name): \(path) differs from expected:\n\(String(decoding: bytes, as: UTF8.self))")
        }
        // The edited files read back into a model the dialect agrees with.
        return changed
    }
}

/// Guest files held in memory: a corpus file placed where its dialect looks for it.
struct MemoryGuestFiles: GuestFileReader {
    var files: [GuestPath: [UInt8]]

    func read(_ path: GuestPath) throws -> GuestFile? {
        files[path].map { GuestFile(path: path, contents: $0, metadata: .newConfigFile) }
    }

    /// Files and the directories that hold them, as readdir would name them.
    func listDirectory(_ path: GuestPath) throws -> [String] {
        let depth = path.components.count
        let children = files.keys.filter { $0.components.count > depth && Array($0.components.prefix(depth)) == path.components }
        return Set(children.map { $0.components[depth] }).sorted()
    }
}
