import Foundation
import GuestFS
import GuestprepCore

/// A throwaway offline guest with a real package manager inside: the host's dpkg (or rpm) and
/// the shared libraries `ldd` lists, static busybox for /bin/sh and the tools package scripts
/// call, and the directories the chroot executor mounts on. No network: packages are built here.
struct KernelGuest {
    let top: URL
    var root: URL { top.appendingPathComponent("root") }
    static let applets = [
        "sh", "rm", "cat", "ls", "mv", "cp", "find", "tar", "diff", "ln", "mkdir", "rmdir", "true", "false", "sed", "grep", "cmp",
        "readlink", "chmod", "touch", "printf", "echo", "test", "[", "uname", "start-stop-daemon", "sync",
    ]

    init(_ name: String, osRelease: String) throws {
        top = try Support.scratch("kernels-\(name)")
        let fm = FileManager.default
        for directory in ["bin", "usr/bin", "usr/sbin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "boot", "lib/modules"] {
            try fm.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try Support.must("cp", [PhonyGuest.busybox, root.appendingPathComponent("bin/busybox").path])
        for applet in Self.applets {
            try fm.createSymbolicLink(atPath: root.appendingPathComponent("bin/\(applet)").path, withDestinationPath: "busybox")
        }
        try Support.write(osRelease, to: root.appendingPathComponent("etc/os-release"))
    }

    /// Copies a host program and every library it loads to the same paths in the guest.
    func copyProgram(_ hostPath: String, to guestPath: String? = nil) throws {
        try copy(hostPath, to: guestPath ?? hostPath)
        let ldd = try Support.run("ldd", [hostPath])
        for line in ldd.stdout.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            // "libx.so => /lib/…/libx.so (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") {
                try copy(words[arrow + 1], to: words[arrow + 1])
            } else if let first = words.first, first.hasPrefix("/") {
                try copy(first, to: first)
            }
        }
    }

    func copy(_ hostPath: String, to guestPath: String) throws {
        let target = root.appendingPathComponent(guestPath)
        guard !FileManager.default.fileExists(atPath: target.path) else { return }
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        // By cp, not by this process: see PhonyGuest.
        try Support.must("cp", ["-L", hostPath, target.path])
    }

    func write(_ text: String, to guestPath: String, executable: Bool = false) throws {
        let url = root.appendingPathComponent(guestPath)
        try Support.write(text, to: url)
        if executable { try Support.must("chmod", ["0755", url.path]) }
    }

    func exists(_ guestPath: String) -> Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent(guestPath).path)
    }

    func guestRoot() throws -> GuestRoot { try GuestRoot(hostPath: root.path) }

    func cleanUp() { Support.cleanUp(top) }

    /// A file of `size` bytes of a repeated letter (packages compress it to almost nothing).
    static func filler(_ size: Int) -> String { String(repeating: "k", count: size) }
}

/// A dummy package: files with sizes, optional relationships and maintainer scripts.
struct DummyPackage {
    var name: String
    var version: String
    var files: [String: Int] = [:]
    var depends: String?
    var postrm: String?
    /// rpm only: extra capabilities.
    var provides: String?
}

extension KernelGuest {
    /// dpkg inside the guest (with the two programs it insists on finding in PATH), and an empty
    /// database.
    func installDpkg() throws {
        try copyProgram("/usr/bin/dpkg")
        try copyProgram("/usr/bin/dpkg-deb")
        // dpkg refuses to run without these in PATH; it only calls them from trigger processing.
        try write("#!/bin/sh\nexit 0\n", to: "sbin/ldconfig", executable: true)
        for directory in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc/dpkg/dpkg.cfg.d", "var/log"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try write("", to: "var/lib/dpkg/status")
        try write("", to: "var/lib/dpkg/available")
    }

    /// Builds the packages with dpkg-deb and installs them into the guest with the host's dpkg
    /// (`--root`: maintainer scripts run chrooted in the guest, with its busybox sh).
    func installDebs(_ packages: [DummyPackage]) throws {
        let build = top.appendingPathComponent("debs")
        var debs: [String] = []
        for package in packages {
            let staging = build.appendingPathComponent(package.name)
            var control =
                "Package: \(package.name)\nVersion: \(package.version)\nArchitecture: all\nMaintainer: guestprep tests <t@example.net>\n"
            if let depends = package.depends { control += "Depends: \(depends)\n" }
            control += "Installed-Size: \(max(1, package.files.values.reduce(0, +) / 1024))\nDescription: dummy \(package.name)\n"
            try Support.write(control, to: staging.appendingPathComponent("DEBIAN/control"))
            if let postrm = package.postrm {
                try Support.write("#!/bin/sh\nset -e\n\(postrm)\n", to: staging.appendingPathComponent("DEBIAN/postrm"))
                try Support.must("chmod", ["0755", staging.appendingPathComponent("DEBIAN/postrm").path])
            }
            for (path, size) in package.files {
                try Support.write(Self.filler(size), to: staging.appendingPathComponent(path))
            }
            let deb = build.appendingPathComponent("\(package.name)_\(package.version)_all.deb").path
            try Support.must("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", staging.path, deb])
            debs.append(deb)
        }
        try Support.must("dpkg", ["--root", root.path, "--install"] + debs)
    }
}

extension KernelGuest {
    static var rpmAvailable: Bool {
        ["/usr/bin/rpm", "/usr/bin/rpmbuild"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The host's rpm inside the guest, with its macros and a database in /var/lib/rpm (where
    /// RHEL keeps it; Debian's own rpm defaults to ~/.rpmdb).
    func installRPM() throws {
        try copyProgram("/usr/bin/rpm")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("usr/lib"), withIntermediateDirectories: true)
        try Support.must("cp", ["-a", "/usr/lib/rpm", root.appendingPathComponent("usr/lib/rpm").path])
        try write("%_dbpath /var/lib/rpm\n", to: "etc/rpm/macros")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("var/lib/rpm"), withIntermediateDirectories: true)
    }

    /// Builds noarch packages with rpmbuild and installs them with the host's rpm --root.
    func installRPMs(_ packages: [DummyPackage]) throws {
        let top = self.top.appendingPathComponent("rpmbuild")
        var built: [String] = []
        for package in packages {
            let dash = package.version.lastIndex(of: "-")!
            let version = package.version[..<dash]
            let release = package.version[package.version.index(after: dash)...]
            var spec =
                "Name: \(package.name)\nVersion: \(version)\nRelease: \(release)\nSummary: dummy\nLicense: none\nBuildArch: noarch\nAutoReqProv: no\n"
            if let depends = package.depends { spec += "Requires: \(depends)\n" }
            if let provides = package.provides { spec += "Provides: \(provides)\n" }
            spec += "%description\ndummy\n%install\n"
            for (path, size) in package.files.sorted(by: { $0.key < $1.key }) {
                spec += "mkdir -p $(dirname %{buildroot}/\(path)) && head -c \(size) /dev/zero > %{buildroot}/\(path)\n"
            }
            spec += "%files\n" + package.files.keys.sorted().map { "/\($0)\n" }.joined()
            let specFile = top.appendingPathComponent("\(package.name)-\(package.version).spec")
            try Support.write(spec, to: specFile)
            try Support.must("rpmbuild", ["--define", "_topdir \(top.path)", "--quiet", "-bb", specFile.path])
            built.append(top.appendingPathComponent("RPMS/noarch/\(package.name)-\(package.version).noarch.rpm").path)
        }
        try Support.must("rpm", ["--root", root.path, "--dbpath", "/var/lib/rpm", "--force-debian", "-i"] + built)
    }
}
