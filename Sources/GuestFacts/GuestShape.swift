import Dialects
import GuestFS
import GuestprepCore

/// Refuses a root that does not look like an installed guest, before any rule reads it: a
/// half-mounted guest (an empty /boot while fstab mounts one) would otherwise read as "ready".
public enum GuestShape {
    /// Separate filesystems whose absence would make rules read the wrong files.
    static let mountsThatMatter: [String] = ["/usr", "/var", "/boot"]

    public static func check(_ root: GuestRoot) throws {
        let shown = root.display("/")
        if try root.listDirectoryBytes("/").isEmpty {
            throw GuestprepError(.notAGuest, "the guest root is an empty directory; mount the guest's root filesystem there", path: shown)
        }
        if case .symlink(let target) = try root.entry("/etc/fstab"), !(try root.exists("/etc/fstab")) {
            throw GuestprepError(
                .notAGuest,
                "is a symbolic link to \(target), which does not exist in the guest; mount the filesystem that holds it, or fix the link",
                path: root.display("/etc/fstab"))
        }
        // Before os-release: with a separate /usr unmounted, /etc/os-release (a link into /usr on
        // Debian) is missing too, and the mount is the cause to name.
        if let fstab = try root.readFile("/etc/fstab") {
            for entry in FstabFile(bytes: fstab.contents).entries where !entry.isMalformed {
                guard mountsThatMatter.contains(entry.mountPoint), !entry.hasOption("noauto"), !entry.hasOption("bind"),
                    !entry.hasOption("rbind")
                else { continue }
                let mountPoint = GuestPath(entry.mountPoint)
                if try !root.exists(mountPoint) || root.listDirectoryBytes(mountPoint).isEmpty {
                    throw GuestprepError(
                        .notAGuest,
                        "/etc/fstab line \(entry.lineNumber) mounts a separate filesystem on \(entry.mountPoint), but \(root.display(mountPoint)) is empty; mount it there before running guestprep, so it reads and writes the files the guest will use",
                        path: root.display("/etc/fstab"), line: entry.lineNumber)
                }
            }
        }
        var hasOSRelease = false
        for path in OSRelease.locations where try root.exists(path) { hasOSRelease = true }
        if !hasOSRelease {
            throw GuestprepError(
                .notAGuest,
                "does not look like a Linux guest: neither /etc/os-release nor /usr/lib/os-release exists; give --root the directory where the guest's root filesystem is mounted",
                path: shown)
        }
    }
}
