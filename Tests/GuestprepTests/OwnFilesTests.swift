import Foundation
import GuestFS
import GuestprepCore
import Testing

/// guestprep's own files (lock, journal, backups) are never reached through a symlink and never
/// have another name: a guest that plants one must not get guestprep's writes into its files.
@Suite("guestprep's own files")
struct OwnFilesTests {
    /// A guest with /etc/fstab and /var/lib/guestprep/backups/run/files, as apply leaves them.
    struct Guest {
        var top: URL
        var root: URL
        let fstab = "/dev/vda1 / ext4 defaults 0 1\n"

        init() throws {
            top = try Support.scratch("own")
            root = top.appendingPathComponent("guest")
            try Support.write(fstab, to: root.appendingPathComponent("etc/fstab"))
        }

        func url(_ path: String) -> URL { root.appendingPathComponent(path) }

        func makeState() throws {
            try FileManager.default.createDirectory(
                at: url("var/lib/guestprep/backups/run/files"), withIntermediateDirectories: true)
        }

        func link(_ path: String, to target: String) throws {
            try FileManager.default.createDirectory(at: url(path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: url(path).path, withDestinationPath: target)
        }

        func fstabUntouched() throws -> Bool {
            try Support.read(url("etc/fstab")) == fstab
                && (try FileManager.default.contentsOfDirectory(atPath: url("etc").path)) == ["fstab"]
        }

        func cleanUp() { Support.cleanUp(top) }
    }

    static let lock: GuestPath = "/var/lib/guestprep/lock"
    static let journal: GuestPath = "/var/lib/guestprep/backups/run/journal.jsonl"
    static let backup: GuestPath = "/var/lib/guestprep/backups/run/files/1.orig"

    func refused(_ error: any Error) -> Bool { (error as? GuestprepError)?.code == .notRegularFile }

    @Test("a lock symlinked to the guest's fstab is refused and fstab is untouched")
    func lockSymlink() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.makeState()
        try guest.link("var/lib/guestprep/lock", to: "../../../etc/fstab")
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect { try root.lockExclusively(Self.lock, holder: "test") } throws: { refused($0) }
        #expect { try root.appendDurably(Self.lock, Array("x\n".utf8)) } throws: { refused($0) }
        #expect(try guest.fstabUntouched())
        // An absolute target, re-rooted or not, is refused the same way.
        try FileManager.default.removeItem(at: guest.url("var/lib/guestprep/lock"))
        try guest.link("var/lib/guestprep/lock", to: "/etc/fstab")
        #expect { try root.lockExclusively(Self.lock, holder: "test") } throws: { refused($0) }
        #expect(try guest.fstabUntouched())
    }

    @Test("a lock hard-linked to the guest's fstab is refused and fstab is untouched")
    func lockHardLink() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.makeState()
        #expect(link(guest.url("etc/fstab").path, guest.url("var/lib/guestprep/lock").path) == 0)
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect { try root.lockExclusively(Self.lock, holder: "test") } throws: { error in
            refused(error) && (error as? GuestprepError)?.message.contains("2 hard links") == true
        }
        #expect(try Support.read(guest.url("etc/fstab")) == guest.fstab)
    }

    @Test("a journal that is a symlink or a hard link is neither appended to nor read")
    func journalLinks() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.makeState()
        let root = try GuestRoot(hostPath: guest.root.path)
        try guest.link("var/lib/guestprep/backups/run/journal.jsonl", to: "/etc/fstab")
        #expect { try root.appendDurably(Self.journal, Array("{}\n".utf8)) } throws: { refused($0) }
        #expect { try root.readOwnFile(Self.journal) } throws: { refused($0) }
        #expect { try root.replaceOwnFile(Self.journal, contents: []) } throws: { refused($0) }
        #expect(try guest.fstabUntouched())

        try FileManager.default.removeItem(at: guest.url("var/lib/guestprep/backups/run/journal.jsonl"))
        #expect(link(guest.url("etc/fstab").path, guest.url("var/lib/guestprep/backups/run/journal.jsonl").path) == 0)
        #expect { try root.appendDurably(Self.journal, Array("{}\n".utf8)) } throws: { refused($0) }
        #expect { try root.readOwnFile(Self.journal) } throws: { refused($0) }
        #expect(try Support.read(guest.url("etc/fstab")) == guest.fstab)
    }

    @Test("a backup planted as a symlink is refused; a real one round-trips as a plain 0600 file")
    func backups() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.makeState()
        let root = try GuestRoot(hostPath: guest.root.path)
        try guest.link("var/lib/guestprep/backups/run/files/1.orig", to: "../../../../../../etc/fstab")
        #expect { try root.readOwnFile(Self.backup) } throws: { refused($0) }
        #expect { try root.replaceOwnFile(Self.backup, contents: Array("original\n".utf8)) } throws: { refused($0) }
        #expect(try guest.fstabUntouched())

        try FileManager.default.removeItem(at: guest.url("var/lib/guestprep/backups/run/files/1.orig"))
        let bytes: [UInt8] = [0, 0xFF, 0x0A, 0xC3]
        try root.replaceOwnFile(Self.backup, contents: bytes)
        let read = try #require(try root.readOwnFile(Self.backup))
        #expect(read.contents == bytes)
        #expect(read.metadata.mode == 0o600)
        #expect(try root.readOwnFile("/var/lib/guestprep/backups/run/files/2.orig") == nil)
    }

    @Test("a symlinked state directory is refused, wherever it leads", arguments: ["/etc", "../../etc", "/nowhere"])
    func stateDirectorySymlink(_ target: String) throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.link("var/lib/guestprep", to: target)
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect { try root.lockExclusively(Self.lock, holder: "test") } throws: { refused($0) }
        #expect { try root.makeOwnDirectories("/var/lib/guestprep/backups/run") } throws: { refused($0) }
        #expect { try root.appendDurably("/var/lib/guestprep/x", [1]) } throws: { refused($0) }
        #expect { try root.readOwnFile("/var/lib/guestprep/fstab") } throws: { refused($0) }
        #expect(try guest.fstabUntouched())
        #expect(!FileManager.default.fileExists(atPath: guest.url("nowhere").path))
    }

    @Test("a symlinked backups or run directory is refused")
    func innerDirectorySymlink() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try FileManager.default.createDirectory(at: guest.url("var/lib/guestprep"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: guest.url("srv/run/files"), withIntermediateDirectories: true)
        try guest.link("var/lib/guestprep/backups", to: "/srv")
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect { try root.appendDurably(Self.journal, Array("{}\n".utf8)) } throws: { refused($0) }
        #expect { try root.replaceOwnFile(Self.backup, contents: [1]) } throws: { refused($0) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: guest.url("srv/run").path) == ["files"])

        try FileManager.default.removeItem(at: guest.url("var/lib/guestprep/backups"))
        try guest.link("var/lib/guestprep/backups/run", to: "/srv/run")
        #expect { try root.appendDurably(Self.journal, Array("{}\n".utf8)) } throws: { refused($0) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: guest.url("srv/run").path) == ["files"])
    }

    @Test("the guest's /var may be a symlink inside the root: the state lives where it leads")
    func varSymlinkInsideRoot() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try FileManager.default.createDirectory(at: guest.url("data/var"), withIntermediateDirectories: true)
        try guest.link("var", to: "data/var")
        let root = try GuestRoot(hostPath: guest.root.path)
        try root.makeOwnDirectories("/var/lib/guestprep/backups/run/files")
        let lock = try root.lockExclusively(Self.lock, holder: "test")
        try root.appendDurably(Self.journal, Array("{}\n".utf8))
        #expect(try Support.read(guest.url("data/var/lib/guestprep/backups/run/journal.jsonl")) == "{}\n")
        #expect(try Support.read(guest.url("data/var/lib/guestprep/lock")).hasPrefix("test pid "))
        #expect(try root.readOwnFile(Self.journal)?.path == "/data/var/lib/guestprep/backups/run/journal.jsonl")
        var info = stat()
        #expect(stat(guest.url("data/var/lib/guestprep").path, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(stat(guest.url("data/var/lib").path, &info) == 0 && info.st_mode & 0o755 == 0o755)
        _ = lock
    }

    @Test("a /var symlink climbing out of the root stays inside it")
    func varSymlinkClimbingOut() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.link("var", to: "../../../../outside-var")
        let root = try GuestRoot(hostPath: guest.root.path)
        try root.makeOwnDirectories("/var/lib/guestprep")
        try root.appendDurably("/var/lib/guestprep/x", [1])
        #expect(FileManager.default.fileExists(atPath: guest.url("outside-var/lib/guestprep/x").path))
        #expect(!FileManager.default.fileExists(atPath: guest.top.appendingPathComponent("outside-var").path))
    }

    @Test("a FIFO where the lock belongs is refused without blocking")
    func fifo() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        try guest.makeState()
        #expect(mkfifo(guest.url("var/lib/guestprep/lock").path, 0o600) == 0)
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect { try root.lockExclusively(Self.lock, holder: "test") } throws: { refused($0) }
        #expect { try root.readOwnFile(Self.lock) } throws: { refused($0) }
    }

    @Test("own files are kept inside the state directory")
    func outsideStateDirectory() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        let root = try GuestRoot(hostPath: guest.root.path)
        for path: GuestPath in ["/etc/fstab", "/var/lib/guestprep", "/var/lib/guestprep/../../../etc/fstab", "/var/lib/guestprepX/lock"] {
            #expect(throws: GuestprepError.self) { try root.appendDurably(path, [1]) }
            #expect(throws: GuestprepError.self) { try root.readOwnFile(path) }
        }
        #expect(try guest.fstabUntouched())
    }

    @Test("a missing state directory reads as nothing, and appending there says the directory is missing")
    func missing() throws {
        let guest = try Guest()
        defer { guest.cleanUp() }
        let root = try GuestRoot(hostPath: guest.root.path)
        #expect(try root.readOwnFile(Self.journal) == nil)
        #expect { try root.appendDurably(Self.journal, [1]) } throws: { ($0 as? GuestprepError)?.code == .notFound }
    }
}
