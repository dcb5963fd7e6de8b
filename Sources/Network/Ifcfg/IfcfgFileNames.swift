/// Which `ifcfg-*` names the distributions' own tools read as interface configurations.
enum IfcfgFileNames {
    /// Backup suffixes initscripts drops (`__sed_discard_ignored_files` in /etc/rc.d/init.d/functions:
    /// `~ .bak .old .orig .rpmnew .rpmorig .rpmsave`), plus those NetworkManager's ifcfg-rh plugin
    /// also skips (`.tmp .rej .augnew .augtmp`). A dot alone is not a backup: `ifcfg-eth0.100` is a VLAN.
    static let rhelIgnoredSuffixes = [
        "~", ".bak", ".old", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".tmp", ".rej", ".augnew", ".augtmp",
    ]

    /// wicked's SUSE compat reader skips the same backups plus YaST's `.scpmbackup`.
    static let suseIgnoredSuffixes = ["~", ".bak", ".old", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".scpmbackup"]

    /// The interface a RHEL `ifcfg-NAME` file is named for, or nil when initscripts would not bring
    /// it up by itself: backups, hidden files, `ifcfg-lo`, aliases (`ifcfg-eth0:1`, addresses of
    /// eth0, not interfaces) and `-range` files (/etc/rc.d/init.d/network skips `ifcfg-lo$`, `:`, `-range`).
    static func rhelInterface(fileName name: String) -> String? {
        guard name.hasPrefix("ifcfg-") else { return nil }
        let suffix = String(name.dropFirst("ifcfg-".count))
        guard !suffix.isEmpty, !suffix.hasPrefix("."), suffix != "lo", !suffix.contains(":"), !suffix.hasSuffix("-range"),
            !rhelIgnoredSuffixes.contains(where: { suffix.hasSuffix($0) })
        else { return nil }
        return suffix
    }

    /// The interface a SUSE `ifcfg-NAME` file configures (the name is the file's suffix; there is no DEVICE=).
    static func suseInterface(fileName name: String) -> String? {
        guard name.hasPrefix("ifcfg-") else { return nil }
        let suffix = String(name.dropFirst("ifcfg-".count))
        guard !suffix.isEmpty, !suffix.hasPrefix("."), suffix != "lo", !suseIgnoredSuffixes.contains(where: { suffix.hasSuffix($0) })
        else { return nil }
        return suffix
    }
}
