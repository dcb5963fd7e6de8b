import GuestFS

/// The KEY=VALUE lease systemd's DHCP client saves (`dhcp_lease_save` in sd-dhcp-lease.c):
/// systemd-networkd's `/run/systemd/netif/leases/<ifindex>` and NetworkManager's internal
/// client's `internal-<uuid>-<iface>.lease`. The file says "Do not parse"; its keys have been
/// stable since systemd 209, and it is the only record of the address offline.
public enum KeyValueLease {
    public static func parse(
        _ bytes: [UInt8], path: GuestPath, client: DHCPClient, interface: String?, interfaceIndex: Int? = nil, renew: LeaseTime? = nil
    ) -> LeaseScan {
        var scan = LeaseScan()
        guard LeaseText.isText(bytes) else {
            scan.notes.append(LeaseProblem("not a text lease file; skipped", at: SourceLocation(path)))
            return scan
        }
        var values: [String: (value: String, line: Int)] = [:]
        for (index, line) in TextLinesLite.split(bytes).enumerated() {
            let text = line.trimmingBlanks
            guard !text.isEmpty, !text.hasPrefix("#"), let equals = text.firstIndex(of: "=") else { continue }
            values[String(text[..<equals])] = (String(text[text.index(after: equals)...]), index + 1)
        }
        let start = values["ADDRESS"]?.line ?? 1
        var lease = DHCPLease(
            client: client, interface: interface, interfaceIndex: interfaceIndex, address: nil, renew: renew,
            location: SourceLocation(path, line: start))
        func list(_ key: String) -> [IPAddress] {
            guard let entry = values[key] else { return [] }
            return entry.value.split(separator: " ").compactMap { word in
                if let ip = IPAddress(String(word)) { return ip }
                scan.problems.append(
                    LeaseProblem("\(key) value '\(word)' is not an IP address; ignored", at: SourceLocation(path, line: entry.line)))
                return nil
            }
        }
        lease.routers = list("ROUTER")
        lease.dnsServers = list("DNS")
        if let search = values["DOMAIN_SEARCH_LIST"] {
            lease.searchDomains = search.value.split(separator: " ").map(String.init)
        } else if let domain = values["DOMAINNAME"] {
            lease.searchDomains = [domain.value]
        }
        if let mtu = values["MTU"] {
            if let value = Int(mtu.value), value > 0 {
                lease.mtu = value
            } else {
                scan.problems.append(LeaseProblem("MTU '\(mtu.value)' is not a number; ignored", at: SourceLocation(path, line: mtu.line)))
            }
        }
        if let lifetime = values["LIFETIME"], let seconds = Int64(lifetime.value), case .at(let renewed)? = renew {
            lease.expiry = .at(renewed + seconds)
        }
        // The lease is kept even without an address: the problem names it, newest() skips it.
        lease.address = address(values, at: lease.location, problems: &scan.problems)
        scan.leases.append(lease)
        return scan
    }

    static func address(_ values: [String: (value: String, line: Int)], at location: SourceLocation, problems: inout [LeaseProblem])
        -> InterfaceAddress?
    {
        guard let address = values["ADDRESS"] else {
            problems.append(LeaseProblem("lease has no ADDRESS: it gives no address", at: location))
            return nil
        }
        guard let ip = IPAddress(address.value) else {
            problems.append(LeaseProblem("ADDRESS '\(address.value)' is not an IP address", at: location))
            return nil
        }
        guard let netmask = values["NETMASK"] else {
            problems.append(LeaseProblem("lease for \(ip) has no NETMASK: its prefix is unknown and not guessed", at: location))
            return nil
        }
        guard let mask = IPAddress(netmask.value), let withPrefix = InterfaceAddress(address: ip, netmask: mask) else {
            problems.append(
                LeaseProblem(
                    "NETMASK '\(netmask.value)' is not a contiguous IPv4 netmask", at: SourceLocation(location.path, line: netmask.line)))
            return nil
        }
        return withPrefix
    }

    /// `internal-<uuid>-<iface>.lease` → (uuid, iface).
    public static func networkManagerName(_ name: String) -> (uuid: String, interface: String)? {
        guard name.hasPrefix("internal-"), name.hasSuffix(".lease") else { return nil }
        let middle = name.dropFirst("internal-".count).dropLast(".lease".count)
        guard middle.count > 37, LeaseText.isUUID(middle.prefix(36)), middle.dropFirst(36).first == "-" else { return nil }
        return (String(middle.prefix(36)), String(middle.dropFirst(37)))
    }

    /// NetworkManager's `timestamps` keyfile: `[timestamps]` then `<connection uuid>=<seconds>`,
    /// the last time each connection was active.
    public static func networkManagerTimestamps(_ bytes: [UInt8]) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for line in TextLinesLite.split(bytes) {
            let text = line.trimmingBlanks
            guard let equals = text.firstIndex(of: "="), let seconds = Int64(text[text.index(after: equals)...]) else { continue }
            result[String(text[..<equals])] = seconds
        }
        return result
    }
}

/// Lines as text for the simple line formats (no lossless rewrite needed: leases are only read).
enum TextLinesLite {
    static func split(_ bytes: [UInt8]) -> [Substring] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
    }
}
