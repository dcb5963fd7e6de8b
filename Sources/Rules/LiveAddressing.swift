import Executor
import Foundation
import GuestFS
import GuestprepCore
import Network

/// An interface's IPv4 settings on the running system: addresses and MTU from `ip -j addr`,
/// the default gateway from `ip -j route`, DNS from resolv.conf.
enum LiveAddressing {
    /// systemd-resolved's stub: the real servers are in its own file.
    static let resolvedStub = IPAddress("127.0.0.53")
    static let resolvConf: GuestPath = "/etc/resolv.conf"
    static let resolvedUpstream: GuestPath = "/run/systemd/resolve/resolv.conf"

    /// Nil when the interface has no IPv4 address now; throws when `ip` could not be run or
    /// answered with something that is not its JSON.
    static func settings(of name: String, executor: any GuestExecutor, files: any GuestFileReader) throws -> StaticSettings? {
        let addresses = try run(["ip", "-j", "-4", "addr", "show", "dev", name], executor)
        let routes = try run(["ip", "-j", "-4", "route", "show", "default", "dev", name], executor)
        guard var settings = try parseAddresses(addresses) else { return nil }
        settings.gateway4 = try parseDefaultGateway(routes)
        var resolv: (servers: [IPAddress], search: [String]) = try files.read(resolvConf).map { parseResolvConf($0.contents) } ?? ([], [])
        if resolv.servers == [resolvedStub], let upstream = try files.read(resolvedUpstream) {
            resolv = parseResolvConf(upstream.contents)
        }
        settings.dnsServers = resolv.servers.filter { $0 != resolvedStub }
        settings.searchDomains = resolv.search
        return settings
    }

    static func run(_ argv: [String], _ executor: any GuestExecutor) throws -> [UInt8] {
        let result = try executor.run(GuestCommand(argv, timeout: .seconds(10)))
        guard result.succeeded else {
            throw GuestprepError(
                .command, "\(argv.joined(separator: " ")) failed (status \(result.status)): \(String(decoding: result.stderrBytes, as: UTF8.self))")
        }
        return result.stdoutBytes
    }

    static func json(_ bytes: [UInt8]) throws -> [[String: Any]] {
        if bytes.allSatisfy({ $0 == 10 || $0 == 32 }) { return [] }
        guard let list = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]] else {
            throw GuestprepError(.parse, "ip -j printed something that is not a JSON list: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        return list
    }

    /// Global IPv4 addresses in the kernel's order (primary first), and the MTU.
    static func parseAddresses(_ bytes: [UInt8]) throws -> StaticSettings? {
        guard let link = try json(bytes).first else { return nil }
        var addresses: [InterfaceAddress] = []
        for info in link["addr_info"] as? [[String: Any]] ?? [] {
            guard info["family"] as? String == "inet", (info["scope"] as? String ?? "global") == "global",
                let local = (info["local"] as? String).flatMap(IPAddress.init), let prefix = info["prefixlen"] as? Int,
                let address = InterfaceAddress(address: local, prefix: prefix)
            else { continue }
            addresses.append(address)
        }
        guard !addresses.isEmpty else { return nil }
        return StaticSettings(addresses: addresses, mtu: link["mtu"] as? Int)
    }

    static func parseDefaultGateway(_ bytes: [UInt8]) throws -> IPAddress? {
        try json(bytes).lazy.compactMap { ($0["gateway"] as? String).flatMap(IPAddress.init) }.first
    }

    /// `nameserver` and `search` (the last `search` line wins, as in resolv.conf(5)).
    static func parseResolvConf(_ bytes: [UInt8]) -> (servers: [IPAddress], search: [String]) {
        var servers: [IPAddress] = []
        var search: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            if keyword == "nameserver", words.count > 1, let server = IPAddress(String(words[1])) { servers.append(server) }
            if keyword == "search" || keyword == "domain" { search = words.dropFirst().map(String.init) }
        }
        return (servers, search)
    }
}
