import GuestFS
import GuestprepCore

/// Which files NetworkManager's keyfile plugin reads as connection profiles (nm-settings-keyfile(5)).
public enum NetworkManagerFiles {
    /// Profile directories, highest priority first: an in-memory profile in /run shadows one in /etc
    /// with the same UUID, which shadows a vendor profile in /usr/lib (nms-keyfile storage priority).
    public static let directories: [GuestPath] = [
        "/run/NetworkManager/system-connections", "/etc/NetworkManager/system-connections",
        "/usr/lib/NetworkManager/system-connections",
    ]

    /// Whether NM reads a file of this name in `directory`. Mirrors nms_keyfile_utils_should_ignore_file():
    /// hidden files, `~` backups, g_file_set_contents() temporaries (`.XXXXXX`), vim swap files and
    /// 802.1x certificates are skipped. Only /etc reads extension-less names; note that `*.bak` and
    /// `*.orig` are *not* skipped there, so a leftover `eth0.nmconnection.bak` is a live profile.
    public static func isProfileName(_ name: String, in directory: GuestPath) -> Bool {
        let lower = name.lowercased()
        if name.hasPrefix(".") || name.hasSuffix("~") { return false }
        if let dot = name.lastIndex(of: "."), name[name.index(after: dot)...].count == 6,
            name[name.index(after: dot)...].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        {
            return false
        }
        if [".pem", ".der", ".swp", ".swpx"].contains(where: { lower.hasSuffix($0) && lower.count > $0.count }) { return false }
        let requiresExtension = directory != "/etc/NetworkManager/system-connections"
        if requiresExtension { return name.hasSuffix(".nmconnection") && name.count > ".nmconnection".count }
        return true
    }

    /// NM refuses profiles not owned by root or readable by others (nms_keyfile_utils_check_file_permissions).
    public static func hasSafePermissions(_ metadata: FileMetadata) -> Bool {
        metadata.uid == 0 && metadata.mode & 0o077 == 0
    }
}
