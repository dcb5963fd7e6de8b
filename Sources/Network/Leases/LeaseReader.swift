import GuestFS

/// Finds and reads every DHCPv4 lease an offline guest kept, through `GuestFileReader` only,
/// and picks the newest lease per interface.
public enum LeaseReader {
    /// Where each client keeps its leases.
    static let dhclientDirectories: [GuestPath] = [
        // Debian/Ubuntu isc-dhcp-client: dhclient.leases, dhclient.<iface>.leases.
        "/var/lib/dhcp",
        // RHEL/Fedora initscripts: dhclient-<iface>.leases, dhclient-<uuid>-<iface>.lease.
        "/var/lib/dhclient",
    ]
    static let networkManager: GuestPath = "/var/lib/NetworkManager"
    /// systemd-networkd keeps leases under /run: present offline only when the image was taken
    /// from a running system's files (e.g. a copied root), usually empty.
    static let networkd: GuestPath = "/run/systemd/netif/leases"
    static let wicked: GuestPath = "/var/lib/wicked"

    /// Every lease in the guest, in a stable order (by directory, then file name, then file order).
    public static func scan(_ files: any GuestFileReader) throws -> LeaseScan {
        var scan = LeaseScan()
        for directory in dhclientDirectories {
            for name in try files.listDirectory(directory) where name.hasSuffix(".leases") || name.hasSuffix(".lease") {
                let path = directory.appending(name)
                guard let file = try files.read(path) else { continue }
                scan.append(
                    DhclientLeases.parse(file.contents, path: path, fallbackInterface: DhclientLeases.interface(fromFileName: name)))
            }
        }
        let nmNames = try files.listDirectory(networkManager)
        let timestamps =
            try files.read(networkManager.appending("timestamps")).map { KeyValueLease.networkManagerTimestamps($0.contents) } ?? [:]
        for name in nmNames where name.hasSuffix(".lease") {
            let path = networkManager.appending(name)
            if name.hasPrefix("dhclient") {
                guard let file = try files.read(path) else { continue }
                scan.append(
                    DhclientLeases.parse(file.contents, path: path, fallbackInterface: DhclientLeases.interface(fromFileName: name)))
            } else if let (uuid, interface) = KeyValueLease.networkManagerName(name) {
                guard let file = try files.read(path) else { continue }
                // The lease file records no time; the connection's last-active time stands in for it.
                let renew = timestamps[uuid].map { LeaseTime.at($0) }
                scan.append(
                    KeyValueLease.parse(file.contents, path: path, client: .networkManagerInternal, interface: interface, renew: renew))
            }
        }
        for name in try files.listDirectory(networkd) {
            let path = networkd.appending(name)
            guard let index = Int(name), let file = try files.read(path) else { continue }
            var part = KeyValueLease.parse(file.contents, path: path, client: .networkd, interface: nil, interfaceIndex: index)
            part.notes.append(
                LeaseProblem(
                    "systemd-networkd names the interface only by its ifindex (\(index)) on the source machine; offline it cannot be mapped to a name, pass --nic or --address",
                    at: SourceLocation(path)))
            scan.append(part)
        }
        for name in try files.listDirectory(wicked) {
            guard let interface = WickedLease.interface(fromFileName: name) else { continue }
            let path = wicked.appending(name)
            guard let file = try files.read(path) else { continue }
            scan.append(WickedLease.parse(file.contents, path: path, interface: interface))
        }
        return scan
    }

    /// The newest usable lease (one with an address) per interface, each with its `choice` set.
    /// Within one dhclient file the last written is the newest: dhclient appends each lease it
    /// binds, and a short lease bound after a long one expires sooner, so expiry would pick the
    /// older network's address. Across files, newest by the lease's own times (expiry, else
    /// renew/acquired) when every candidate has one; otherwise, or on a tie, the last read.
    /// Leases without an interface name (networkd) are grouped by their ifindex.
    public static func newest(_ leases: [DHCPLease]) -> [DHCPLease] {
        var groups: [String: [DHCPLease]] = [:]
        var order: [String] = []
        for lease in leases where lease.address != nil {
            let key = lease.interface ?? "#\(lease.interfaceIndex.map(String.init) ?? "?")"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(lease)
        }
        return order.map { key in
            let candidates = groups[key] ?? []
            var chosen: DHCPLease
            if candidates.count == 1 {
                chosen = candidates[0]
                chosen.choice = .only
                return chosen
            }
            let times = candidates.map { $0.expiry ?? $0.renew }
            let oneDhclientFile = Set(candidates.map(\.location.path)).count == 1 && candidates.allSatisfy { $0.client == .dhclient }
            if oneDhclientFile {
                chosen = candidates[candidates.count - 1]
                chosen.choice = .lastBound(count: candidates.count)
            } else if times.allSatisfy({ $0 != nil }), let latest = times.compactMap({ $0 }).max() {
                chosen = candidates[times.lastIndex(of: latest) ?? candidates.count - 1]
                chosen.choice = .newestByTime(count: candidates.count)
            } else {
                chosen = candidates[candidates.count - 1]
                chosen.choice = .lastWritten(count: candidates.count)
            }
            return chosen
        }
    }
}
