import CGuestprepShim
import Foundation
import GuestFS
import GuestprepCore
import Testing

/// A hostile guest must never make guestprep read or write outside its root.
@Suite("Confined guest root")
struct GuestRootTests {
    /// host/ holds a file the guest must never reach; host/guest is the guest root.
    struct Layout {
        var top: URL
        var guest: URL
        var outside: URL
        var outsideContents = "host secret, must not change\n"

        init() throws {
            top = try Support.scratch("hostile")
            guest = top.appendingPathComponent("guest")
            outside = top.appendingPathComponent("outside/fstab")
            try Support.write(outsideContents, to: outside)
            try FileManager.default.createDirectory(at: guest.appendingPathComponent("etc"), withIntermediateDirectories: true)
        }

        func link(_ guestPath: String, to target: String) throws {
            let url = guest.appendingPathComponent(guestPath)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
        }

        func outsideUntouched() throws -> Bool {
            try Support.read(outside) == outsideContents
                && (try FileManager.default.contentsOfDirectory(atPath: outside.deletingLastPathComponent().path)) == ["fstab"]
        }
    }

    static let escapes: [(name: String, path: String, target: String)] = [
        ("absolute symlink to a host path", "etc/fstab", "OUTSIDE"),
        ("relative symlink climbing out", "etc/fstab", "../../outside/fstab"),
        ("relative symlink with many ..", "etc/fstab", "../../../../../../../../OUTSIDE_REL"),
        ("symlinked directory to the host", "etc", "OUTSIDE_DIR"),
        ("symlinked directory climbing out", "etc", "../outside"),
    ]

    @Test("symlink escapes resolve inside the root, and writes stay there", arguments: 0..<escapes.count)
    func symlinkEscapes(_ index: Int) throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let escape = Self.escapes[index]
        try? FileManager.default.removeItem(at: layout.guest.appendingPathComponent(escape.path))
        let target = escape.target
            .replacingOccurrences(of: "OUTSIDE_REL", with: layout.outside.path.dropFirst())
            .replacingOccurrences(of: "OUTSIDE_DIR", with: layout.outside.deletingLastPathComponent().path)
            .replacingOccurrences(of: "OUTSIDE", with: layout.outside.path)
        try layout.link(escape.path, to: target)

        let root = try GuestRoot(hostPath: layout.guest.path)
        // The guest's view of the link's target does not exist inside the guest: nothing to read.
        #expect(try root.readFile("/etc/fstab") == nil, "\(escape.name): read the host's file")
        // Writing creates the file at the link's target re-rooted inside the guest, or fails.
        do {
            try root.replaceFile("/etc/fstab", contents: Array("guest\n".utf8), metadata: .newConfigFile)
            let canonical = try root.canonicalPath("/etc/fstab")
            let written = layout.guest.path + canonical.description
            #expect(try Support.read(URL(fileURLWithPath: written)) == "guest\n")
            #expect(written.hasPrefix(layout.guest.path + "/"))
        } catch let error as GuestprepError {
            #expect(error.code == .notFound, "\(escape.name): unexpected \(error)")
        }
        #expect(try layout.outsideUntouched(), "\(escape.name): wrote outside the root")
    }

    @Test("'..' in a path cannot climb above the root")
    func dotDot() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect(try root.readFile("/../outside/fstab") == nil)
        #expect(try root.readFile("/etc/../../../outside/fstab") == nil)
        try root.makeDirectories("/../../outside", mode: 0o700)
        try root.replaceFile("/../../outside/fstab", contents: Array("inside\n".utf8), metadata: .newConfigFile)
        #expect(try Support.read(layout.guest.appendingPathComponent("outside/fstab")) == "inside\n")
        #expect(try layout.outsideUntouched())
    }

    @Test("a symlink inside the guest is followed within the guest")
    func innerSymlink() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        try Support.write("real\n", to: layout.guest.appendingPathComponent("usr/share/fstab.real"))
        try layout.link("etc/fstab", to: "/usr/share/fstab.real")
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect(try root.readFile("/etc/fstab")?.contents == Array("real\n".utf8))
        #expect(try root.canonicalPath("/etc/fstab") == "/usr/share/fstab.real")
        try root.replaceFile("/etc/fstab", contents: Array("new\n".utf8), metadata: .newConfigFile)
        #expect(try Support.read(layout.guest.appendingPathComponent("usr/share/fstab.real")) == "new\n")
        // The link itself is still a link.
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: layout.guest.appendingPathComponent("etc/fstab").path)
                == "/usr/share/fstab.real")
    }

    @Test("symlink loops end with an error, not a hang")
    func loops() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        try layout.link("etc/a", to: "b")
        try layout.link("etc/b", to: "a")
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect(throws: GuestprepError.self) { try root.readFile("/etc/a") }
    }

    @Test("directories, FIFOs and oversized files are refused")
    func refusesNonRegular() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let root = try GuestRoot(hostPath: layout.guest.path)
        try FileManager.default.createDirectory(at: layout.guest.appendingPathComponent("etc/fstab"), withIntermediateDirectories: true)
        #expect { try root.readFile("/etc/fstab") } throws: { ($0 as? GuestprepError)?.code == .notRegularFile }
        #expect { try root.replaceFile("/etc/fstab", contents: [], metadata: .newConfigFile) } throws: {
            ($0 as? GuestprepError)?.code == .notRegularFile
        }
        #expect(mkfifo(layout.guest.appendingPathComponent("etc/fifo").path, 0o644) == 0)
        #expect { try root.readFile("/etc/fifo") } throws: { ($0 as? GuestprepError)?.code == .notRegularFile }
        #expect { try root.replaceFile("/etc/fifo", contents: [], metadata: .newConfigFile) } throws: {
            ($0 as? GuestprepError)?.code == .notRegularFile
        }
        try Support.write(String(repeating: "x", count: 2000), to: layout.guest.appendingPathComponent("etc/big"))
        #expect { try root.readFile("/etc/big", limit: 1000) } throws: { ($0 as? GuestprepError)?.code == .fileTooLarge }
    }

    @Test("device nodes are refused without being opened", .enabled(if: Support.isRoot, "mknod needs root"))
    func refusesDevices() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let node = layout.guest.appendingPathComponent("etc/fstab").path
        // /dev/null's numbers (1,3): harmless even if something did open it.
        #expect(mknod(node, S_IFCHR | 0o600, dev_t((1 << 8) | 3)) == 0)
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect { try root.readFile("/etc/fstab") } throws: { ($0 as? GuestprepError)?.code == .notRegularFile }
        #expect { try root.replaceFile("/etc/fstab", contents: [], metadata: .newConfigFile) } throws: {
            ($0 as? GuestprepError)?.code == .notRegularFile
        }
    }

    @Test("atomic replace keeps mode, owner and extended attributes, and leaves no temp file")
    func keepsMetadata() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let file = layout.guest.appendingPathComponent("etc/fstab")
        try Support.write("old\n", to: file)
        #expect(chmod(file.path, 0o640) == 0)
        let root = try GuestRoot(hostPath: layout.guest.path)
        var attributes: [ExtendedAttribute] = []
        let userValue = Array("guestprep-test".utf8)
        let fd = open(file.path, O_RDONLY)
        defer { close(fd) }
        if guestprep_fsetxattr(fd, "user.guestprep", userValue, userValue.count) == 0 {
            attributes.append(ExtendedAttribute(name: "user.guestprep", value: userValue))
        }
        let label = Array("system_u:object_r:etc_t:s0\0".utf8)
        if Support.isRoot, guestprep_fsetxattr(fd, "security.selinux", label, label.count) == 0 {
            attributes.append(ExtendedAttribute(name: "security.selinux", value: label))
        }
        if Support.isRoot { #expect(chown(file.path, 123, 456) == 0) }
        let before = try #require(try root.readFile("/etc/fstab"))
        #expect(before.metadata.mode == 0o640)
        #expect(Set(before.metadata.xattrs.map(\.name)) == Set(attributes.map(\.name)))

        try root.replaceFile("/etc/fstab", contents: Array("new\n".utf8), metadata: before.metadata)
        let after = try #require(try root.readFile("/etc/fstab"))
        #expect(after.contents == Array("new\n".utf8))
        #expect(after.metadata == before.metadata)
        #expect(try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path) == ["fstab"])
        if attributes.isEmpty { print("NOTICE: this filesystem has no user/security xattrs; only mode and owner were checked") }
    }

    @Test("guestprep's own files (lock, journal) are never device nodes or hard links", .enabled(if: Support.isRoot, "mknod needs root"))
    func ownFilesAreRegular() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let root = try GuestRoot(hostPath: layout.guest.path)
        try root.makeDirectories("/var/lib/guestprep", mode: 0o700)
        let lock = layout.guest.appendingPathComponent("var/lib/guestprep/lock").path
        // /dev/null's numbers: harmless if anything did write to it.
        #expect(mknod(lock, S_IFCHR | 0o600, dev_t((1 << 8) | 3)) == 0)
        #expect { try root.lockExclusively("/var/lib/guestprep/lock", holder: "test") } throws: {
            ($0 as? GuestprepError)?.code == .notRegularFile
        }
        #expect { try root.appendDurably("/var/lib/guestprep/lock", [1]) } throws: { ($0 as? GuestprepError)?.code == .notRegularFile }
        unlink(lock)
        // A hard link to a guest file: truncating the "lock" would empty /etc/fstab.
        try Support.write("keep me\n", to: layout.guest.appendingPathComponent("etc/fstab"))
        unlink(lock)
        #expect(link(layout.guest.appendingPathComponent("etc/fstab").path, lock) == 0)
        #expect { try root.lockExclusively("/var/lib/guestprep/lock", holder: "test") } throws: {
            ($0 as? GuestprepError)?.code == .notRegularFile
        }
        #expect(try Support.read(layout.guest.appendingPathComponent("etc/fstab")) == "keep me\n")
    }

    @Test("a file at the top of the root is a file, not the root")
    func topLevelFile() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        try Support.write("top\n", to: layout.guest.appendingPathComponent("fstab"))
        try layout.link("etc/fstab", to: "/fstab")
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect(try root.readFile("/etc/fstab")?.contents == Array("top\n".utf8))
        #expect(try !root.isDirectory("/fstab"))
        #expect(try root.isDirectory("/"))
        try root.replaceFile("/etc/fstab", contents: Array("new\n".utf8), metadata: .newConfigFile)
        #expect(try Support.read(layout.guest.appendingPathComponent("fstab")) == "new\n")
        #expect { try root.readFile("/") } throws: { ($0 as? GuestprepError)?.code == .notRegularFile }
    }

    @Test("directories created on the way are 0755; only the last gets the requested mode")
    func directoryModes() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let root = try GuestRoot(hostPath: layout.guest.path)
        try root.makeDirectories("/var/lib/guestprep", mode: 0o700)
        var info = stat()
        // Traversable by the guest's services (a umask may still take read bits away).
        #expect(stat(layout.guest.appendingPathComponent("var").path, &info) == 0 && info.st_mode & 0o711 == 0o711)
        #expect(stat(layout.guest.appendingPathComponent("var/lib").path, &info) == 0 && info.st_mode & 0o711 == 0o711)
        #expect(stat(layout.guest.appendingPathComponent("var/lib/guestprep").path, &info) == 0 && info.st_mode & 0o777 == 0o700)
    }

    @Test("temporary files a killed replace left behind are recognised and removed")
    func staleTemporaries() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        try Support.write("a\n", to: layout.guest.appendingPathComponent("etc/fstab"))
        try Support.write("half\n", to: layout.guest.appendingPathComponent("etc/.fstab.guestprep-123-456"))
        try Support.write("other\n", to: layout.guest.appendingPathComponent("etc/.fstab.other"))
        let root = try GuestRoot(hostPath: layout.guest.path)
        try root.removeStaleTemporaries(beside: "/etc/fstab")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: layout.guest.appendingPathComponent("etc").path).sorted() == [
                ".fstab.other", "fstab",
            ])
    }

    @Test("stale temporaries are matched by bytes; odd names beside them neither match nor stop the clean-up")
    func staleTemporariesByBytes() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let etc = layout.guest.appendingPathComponent("etc")
        try Support.write("a\n", to: etc.appendingPathComponent("caf\u{e9}"))
        try Support.write("ours\n", to: etc.appendingPathComponent(".caf\u{e9}.guestprep-1-2"))
        try Support.write("not ours\n", to: etc.appendingPathComponent(".cafe\u{301}.guestprep-1-2"))
        #expect(createRaw([UInt8(ascii: "."), 0xFF], in: etc))
        let root = try GuestRoot(hostPath: layout.guest.path)
        try root.removeStaleTemporaries(beside: "/etc/caf\u{e9}")
        #expect(try root.listDirectoryBytes("/etc").count == 3)
        #expect(try !root.exists("/etc/.caf\u{e9}.guestprep-1-2"))
        #expect(try root.exists("/etc/.cafe\u{301}.guestprep-1-2"))
    }

    @Test("a file over the size limit says how big it is, the limit, and what to do")
    func oversizeMessage() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let big = layout.guest.appendingPathComponent("etc/fstab")
        try Support.write("", to: big)
        try Support.must("truncate", ["-s", "17M", big.path])
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect { try root.readFile("/etc/fstab") } throws: { error in
            guard let error = error as? GuestprepError, error.code == .fileTooLarge else { return false }
            return error.path == layout.guest.path + "/etc/fstab" && error.message.contains("is 17 MiB, over the 16 MiB limit")
                && error.message.contains("guestprep only edits configuration files up to 16 MiB")
                && error.message.contains("trim it")
        }
        try Support.must("truncate", ["-s", "20000000", big.path])
        #expect { try root.readFile("/etc/fstab") } throws: { error in
            (error as? GuestprepError)?.message.hasPrefix("is 20000000 bytes (19.1 MiB), over the 16 MiB limit") == true
        }
    }

    @Test("guest paths are equal, hashed and ordered by their bytes, not by Unicode equivalence")
    func pathsAreBytes() {
        let decomposed = GuestPath("/etc/caf\u{65}\u{301}")
        let precomposed = GuestPath("/etc/caf\u{e9}")
        #expect("e\u{301}" == "\u{e9}")  // what Swift's String does, and why GuestPath must not
        #expect(decomposed != precomposed)
        #expect(Set([decomposed, precomposed]).count == 2)
        #expect(GuestPath("/dev/disk/by-id/ata-\u{212A}") != GuestPath("/dev/disk/by-id/ata-K"))
        #expect(GuestPath("/a/b") == GuestPath("//a/./b/"))
        // Byte order: "K" (0x4B) < "e" (0x65) < U+212A (0xE2…).
        #expect([GuestPath("/\u{212A}"), GuestPath("/e"), GuestPath("/K")].sorted() == ["/K", "/e", "/\u{212A}"])
        #expect(GuestPath("/a/b") < GuestPath("/a/b/c"))
    }

    @Test("names that differ only in Unicode normalisation are two files, and each is read as itself")
    func normalisedNames() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        try Support.write("decomposed\n", to: layout.guest.appendingPathComponent("etc/caf\u{65}\u{301}"))
        try Support.write("precomposed\n", to: layout.guest.appendingPathComponent("etc/caf\u{e9}"))
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect(try root.listDirectory("/etc").count == 2)
        #expect(try root.readFile("/etc/caf\u{65}\u{301}")?.contents == Array("decomposed\n".utf8))
        #expect(try root.readFile("/etc/caf\u{e9}")?.contents == Array("precomposed\n".utf8))
    }

    /// Creates a file whose name is raw bytes (not necessarily UTF-8) in `directory`.
    func createRaw(_ name: [UInt8], in directory: URL, target: [UInt8]? = nil) -> Bool {
        let path = Array(directory.path.utf8) + [UInt8(ascii: "/")] + name + [0]
        return path.withUnsafeBufferPointer { pointer in
            pointer.withMemoryRebound(to: CChar.self) { raw in
                if let target {
                    return (target + [0]).withUnsafeBufferPointer { t in
                        t.withMemoryRebound(to: CChar.self) { symlink($0.baseAddress!, raw.baseAddress!) == 0 }
                    }
                }
                let fd = open(raw.baseAddress!, O_CREAT | O_WRONLY | O_EXCL, 0o644)
                defer { if fd >= 0 { close(fd) } }
                return fd >= 0
            }
        }
    }

    @Test("a name that is not UTF-8 is reported, never decoded into another name")
    func nonUTF8Names() throws {
        let layout = try Layout()
        defer { Support.cleanUp(layout.top) }
        let etc = layout.guest.appendingPathComponent("etc")
        try Support.write("decoy\n", to: etc.appendingPathComponent("x\u{FFFD}"))
        #expect(createRaw([UInt8(ascii: "x"), 0xFF], in: etc))
        let root = try GuestRoot(hostPath: layout.guest.path)
        #expect { try root.listDirectory("/etc") } throws: { error in
            (error as? GuestprepError)?.code == .refused && (error as? GuestprepError)?.message.contains("x\\xff") == true
        }
        #expect(try root.listDirectoryBytes("/etc") == [Array("x\u{FFFD}".utf8), [UInt8(ascii: "x"), 0xFF]])
        // A symlink whose target is not UTF-8 is not followed to the U+FFFD decoy.
        #expect(createRaw(Array("fstab".utf8), in: etc, target: [UInt8(ascii: "x"), 0xFF]))
        #expect { try root.readFile("/etc/fstab") } throws: { ($0 as? GuestprepError)?.code == .refused }
    }
}
