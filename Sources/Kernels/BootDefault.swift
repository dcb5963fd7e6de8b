import Dialects
import GuestFS
import GuestprepCore

/// The kernel an offline guest boots by default, from its boot loader's configuration.
public enum BootDefault {
    public struct Choice: Sendable, Equatable {
        public var release: String
        /// Where it was read, for messages ("saved_entry in /boot/grub/grubenv").
        public var source: String
    }

    static let grubenvs: [GuestPath] = ["/boot/grub/grubenv", "/boot/grub2/grubenv"]
    static let entries: GuestPath = "/boot/loader/entries"

    /// GRUB_DEFAULT in /etc/default/grub (`saved` sends us to grubenv's saved_entry), a
    /// saved_entry naming an entry id, title or BLS entry, else nil: the first menu entry, which
    /// grub-mkconfig and BLS both make the newest kernel.
    public static func find(root: GuestRoot, releases: [String]) throws -> Choice? {
        var grubDefault: String?
        if let file = try root.readFile("/etc/default/grub") {
            grubDefault = ShellAssignmentsFile(bytes: file.contents).assignments.last { $0.key == "GRUB_DEFAULT" }?.value
        }
        if let value = grubDefault, value != "saved", !value.isEmpty {
            // A number (or "1>2") counts menu entries; only a name or title identifies a kernel.
            if value.allSatisfy({ $0.isNumber || $0 == ">" }) { return nil }
            return try resolve(value, root: root, releases: releases).map {
                Choice(release: $0, source: "GRUB_DEFAULT in /etc/default/grub")
            }
        }
        for path in grubenvs {
            guard let file = try root.readFile(path) else { continue }
            // grubenv is `key=value` lines padded with '#' to 1024 bytes (grub-editenv(1)).
            for line in TextLines.split(file.contents) where line.text.hasPrefix("saved_entry=") {
                let value = String(line.text.dropFirst("saved_entry=".count))
                if let release = try resolve(value, root: root, releases: releases) {
                    return Choice(release: release, source: "saved_entry in \(path)")
                }
            }
        }
        return nil
    }

    /// The release an entry name stands for: a BLS entry's `linux` line, else the longest known
    /// release written in the name itself ("gnulinux-6.1.0-9-amd64-advanced-…", "Debian
    /// GNU/Linux, with Linux 6.1.0-9-amd64").
    static func resolve(_ name: String, root: GuestRoot, releases: [String]) throws -> String? {
        let tail = name.split(separator: ">").last.map(String.init) ?? name
        if !tail.contains("/"), let entry = try root.readFile(entries.appending(tail + ".conf")) {
            for line in TextLines.split(entry.contents) {
                let words = line.text.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard words.count >= 2, words[0] == "linux" || words[0] == "version" else { continue }
                if let release = mentioned(in: String(words[1]), releases: releases) { return release }
            }
        }
        return mentioned(in: tail, releases: releases)
    }

    /// The longest release that appears in `text` not followed by another digit or letter.
    static func mentioned(in text: String, releases: [String]) -> String? {
        releases.sorted { $0.count > $1.count }.first { release in
            var rest = Substring(text)
            while let range = rest.firstRange(of: release) {
                let after = rest[range.upperBound...].first
                if after == nil || !(after!.isLetter || after!.isNumber || after! == ".") { return true }
                rest = rest[range.upperBound...]
            }
            return false
        }
    }
}
