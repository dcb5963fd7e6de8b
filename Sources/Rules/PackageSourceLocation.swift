/// Where a package source's URL leads once the guest has moved: install media stay behind with
/// the source hypervisor, a network mirror or a directory on the guest's own disks does not.
enum PackageSourceLocation: Equatable {
    /// Install media (a DVD, an ISO, a USB stick), with what gives it away.
    case media(String)
    case network
    /// A directory on the guest's own filesystems: it moves with the guest.
    case localDisk

    var isMedia: Bool {
        if case .media = self { return true }
        return false
    }

    /// Mount points of removable media: udisks (`/run/media/USER`, `/media/USER`), the installers'
    /// `/media/cdrom` and `/cdrom`, and the admin's habit of `mount -o loop x.iso /mnt`.
    static let mediaMounts = ["/media", "/mnt", "/run/media", "/cdrom"]

    /// Device nodes of removable drives, for zypper's `hd:` (`hd:/?device=/dev/sr0`).
    static let removableDevicePrefixes = ["/dev/sr", "/dev/scd", "/dev/cdrom", "/dev/dvd", "/dev/disk/by-id/usb-"]

    /// An apt URI (sources.list(5)): `cdrom:` is apt-cdrom's disc; `file:` and `copy:` are local
    /// paths, media when under a media mount point.
    static func apt(_ uri: String) -> PackageSourceLocation {
        let lower = uri.lowercased()
        if lower.hasPrefix("cdrom:") { return .media("cdrom: names a disc registered with apt-cdrom") }
        for scheme in ["file:", "copy:"] where lower.hasPrefix(scheme) {
            return local(path(of: String(uri.dropFirst(scheme.count))), uri: uri)
        }
        return .network
    }

    /// A yum/dnf (dnf.conf(5)) or zypper (zypper(8) "Repository Types") URL.
    static func repo(_ url: String) -> PackageSourceLocation {
        let lower = url.lowercased()
        // zypper: cd:/ and dvd:/ read the drive, iso: an image file (zypper(8)).
        for scheme in ["cd:", "dvd:"] where lower.hasPrefix(scheme) { return .media("\(scheme) reads an optical drive") }
        if lower.hasPrefix("iso:") { return .media("iso: reads an installation image") }
        // yum's media:// is a disc found by its mediaid (yum.conf(5)).
        if lower.hasPrefix("media:") { return .media("media: names a disc by its media id") }
        if lower.hasPrefix("hd:") {
            let (path, query) = split(String(url.dropFirst(3)))
            if let device = query.first(where: { $0.hasPrefix("device=") })?.dropFirst("device=".count),
                removableDevicePrefixes.contains(where: { device.hasPrefix($0) })
            {
                return .media("hd: on the removable device \(device)")
            }
            return local(path, uri: url)
        }
        for scheme in ["file:", "dir:"] where lower.hasPrefix(scheme) {
            return local(split(path(of: String(url.dropFirst(scheme.count)))).path, uri: url)
        }
        // A bare path: libzypp reads it as dir:.
        if url.hasPrefix("/") { return local(split(url).path, uri: url) }
        return .network
    }

    /// Whether a local path lies on removable media (component-wise: `/mnt` is under `/mnt`,
    /// `/mntx` is not).
    static func local(_ path: String, uri: String) -> PackageSourceLocation {
        let components = path.split(separator: "/").map(String.init)
        for mount in mediaMounts {
            let prefix = mount.split(separator: "/").map(String.init)
            if components.starts(with: prefix) { return .media("\(uri) is under \(mount), where removable media are mounted") }
        }
        return .localDisk
    }

    /// The path of a `file:` URL's remainder: `///p`, `//localhost/p` and `/p` all name `/p`.
    static func path(of rest: String) -> String {
        guard rest.hasPrefix("//") else { return rest }
        let afterSlashes = rest.dropFirst(2)
        guard let slash = afterSlashes.firstIndex(of: "/") else { return "/" }
        return String(afterSlashes[slash...])
    }

    /// A path and its `?key=value&…` query.
    static func split(_ text: String) -> (path: String, query: [String]) {
        guard let mark = text.firstIndex(of: "?") else { return (text, []) }
        return (String(text[..<mark]), text[text.index(after: mark)...].split(separator: "&").map(String.init))
    }

    /// The host of a URL (`http://host:port/…`), lower case; nil for URLs without one.
    static func host(of url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let hostPort = authority.split(separator: "@").last ?? authority[...]
        let host = hostPort.prefix { $0 != ":" }
        return host.isEmpty ? nil : host.lowercased()
    }
}
