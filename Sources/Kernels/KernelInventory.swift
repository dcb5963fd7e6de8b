import GuestFS
import GuestFacts
import GuestprepCore

/// Which package database owns the guest's kernels.
public enum PackageDatabase: String, Sendable {
    case dpkg, rpm
}

/// One installed package as its database records it.
public struct InstalledPackage: Sendable, Equatable {
    public var name: String
    /// The full version as the database writes it (`6.1.38-4`, `1:5.14.0-362.el9`).
    public var version: String
    public var architecture: String
    /// What it occupies once installed, from the database (dpkg Installed-Size, rpm SIZE).
    public var installedBytes: Int?
    /// Files it owns; read only for kernel packages.
    public var files: [String]

    public init(name: String, version: String, architecture: String = "", installedBytes: Int? = nil, files: [String] = []) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.installedBytes = installedBytes
        self.files = files
    }

    /// How the package manager names this exact package (`name=version`, `name-version.arch`).
    public func spelled(for database: PackageDatabase) -> String {
        switch database {
        case .dpkg: "\(name)=\(version)"
        case .rpm: architecture.isEmpty ? "\(name)-\(version)" : "\(name)-\(version).\(architecture)"
        }
    }
}

/// One kernel release (`uname -r`), seen from the package database, /boot and /lib/modules.
public struct InstalledKernel: Sendable {
    public var release: String
    /// The package that ships its image, with the siblings made for this release (modules,
    /// modules-extra, headers, devel): removed together. Empty for a kernel no package owns.
    public var packages: [InstalledPackage]
    /// /boot/vmlinuz-<release> and friends.
    public var images: [GuestPath]
    public var initramfs: [GuestPath]
    public var moduleDirectory: GuestPath?

    public var imagePackage: InstalledPackage? { packages.first }
    /// Keys (`name=version`) of its packages, as `DependencyView` names them.
    public var packageKeys: Set<String> { Set(packages.map { "\($0.name)=\($0.version)" }) }
    public var isPackaged: Bool { !packages.isEmpty }
}

/// The three views of the guest's kernels reconciled.
public struct KernelInventory: Sendable {
    public var database: PackageDatabase?
    /// Kernels oldest first, in the database's version order.
    public var kernels: [InstalledKernel]
    /// Kernel images no package owns (built by hand, or left by a package removed without purge).
    public var unpackagedImages: [GuestPath]
    /// Initramfs images whose kernel image is gone.
    public var orphanInitramfs: [GuestPath]
    /// /lib/modules directories with neither a kernel image nor a package.
    public var orphanModules: [GuestPath]
    /// Kernel packages in a state other than installed (half-installed, unpacked …): not touched.
    public var unsettledPackages: [InstalledPackage]
    /// Every package present, for the dependency check (dpkg: parsed status; rpm: its query).
    public var dependencies: DependencyView

    public var newest: InstalledKernel? { kernels.last }

    /// Orders two kernels by their image package's version, then by release.
    static func isOlder(_ a: InstalledKernel, _ b: InstalledKernel, database: PackageDatabase?) -> Bool {
        let compare = database == .rpm ? PackageVersion.compareRPM : PackageVersion.compareDpkg
        if let left = a.imagePackage?.version, let right = b.imagePackage?.version {
            let order = compare(left, right)
            if order != 0 { return order < 0 }
        }
        let order = PackageVersion.compareDpkg(a.release, b.release)
        return order != 0 ? order < 0 : a.release < b.release
    }

    /// Reads the guest's kernels. The package database is dpkg's status file when present, else
    /// rpm queried through `query` (rpm's database is binary: only the guest's own rpm reads it
    /// right); `query` nil with an rpm guest is an error.
    public static func read(
        root: GuestRoot, facts: GuestFacts, query: ((_ argv: [String]) throws -> [UInt8])?
    ) throws -> KernelInventory {
        let paths = facts.kernels
        var packages: PackageSource
        if try root.exists(DpkgKernels.statusPath) {
            packages = try DpkgKernels.read(root: root)
        } else if try facts.profile.packageManager == "rpm" || RPMKernels.present(root: root) {
            guard let query else {
                throw GuestprepError(
                    .refused,
                    "this guest keeps its packages in rpm's database, which only its own rpm can read, and no way to run commands in it was given",
                    path: root.display("/"))
            }
            packages = try RPMKernels.read(run: query, root: root)
        } else {
            packages = PackageSource(database: nil, kernelPackages: [], unsettled: [], dependencies: DependencyView(packages: []))
        }
        return reconcile(packages: packages, paths: paths)
    }

    /// What a package database says about kernels.
    struct PackageSource {
        var database: PackageDatabase?
        /// Packages of the kernel families (`linux-*`, `kernel*`) that are installed, with files.
        var kernelPackages: [InstalledPackage]
        var unsettled: [InstalledPackage]
        var dependencies: DependencyView
    }

    static let imagePrefixes = ["vmlinuz-", "vmlinux-", "Image-", "kernel-"]
    static let initramfsPatterns: [(prefix: String, suffix: String)] = [
        ("initrd.img-", ""), ("initramfs-", ".img"), ("initrd-", ""),
    ]

    /// The kernel release an initramfs image belongs to (`initramfs-X.img`, `initrd.img-X`,
    /// `initrd-X`); dracut's `-kdump` images belong to X too.
    static func release(ofInitramfs name: String) -> String? {
        for pattern in initramfsPatterns where name.hasPrefix(pattern.prefix) && name.hasSuffix(pattern.suffix) {
            var release = String(name.dropFirst(pattern.prefix.count).dropLast(pattern.suffix.count))
            for extra in ["kdump"] where release.hasSuffix("-" + extra) { release.removeLast(extra.count + 1) }
            return release.isEmpty ? nil : release
        }
        return nil
    }

    /// The release a kernel package ships, from the files it owns.
    static func release(ofImagePackage package: InstalledPackage) -> String? {
        for file in package.files {
            let path = GuestPath(file)
            if path.parent == "/boot", let prefix = imagePrefixes.first(where: { path.name.hasPrefix($0) }) {
                return String(path.name.dropFirst(prefix.count))
            }
            // RHEL 8 and later ship the image in /lib/modules/<release>/vmlinuz (kernel-install copies it).
            let parts = path.components
            if parts == ["lib", "modules", parts[safe: 2] ?? "", "vmlinuz"]
                || parts == ["usr", "lib", "modules", parts[safe: 3] ?? "", "vmlinuz"]
            {
                return parts[parts.count - 2]
            }
        }
        return nil
    }

    /// Whether a package carries files for `release` (modules, headers, devel, /boot files).
    /// rpm: every kernel package of the image package's exact version and architecture (RHEL's
    /// versioned `kernel` requires its `kernel-core`; `dnf remove` takes them together).
    static func belongs(_ package: InstalledPackage, to release: String, image: InstalledPackage?, _ database: PackageDatabase?) -> Bool {
        if database == .rpm, let image, package.version == image.version, package.architecture == image.architecture { return true }
        if package.name.hasSuffix("-" + release) { return true }
        let roots = [
            "/lib/modules/\(release)", "/usr/lib/modules/\(release)", "/usr/src/linux-headers-\(release)", "/usr/src/kernels/\(release)",
        ]
        return package.files.contains { file in
            roots.contains { file == $0 || file.hasPrefix($0 + "/") }
                || (file.hasPrefix("/boot/") && file.hasSuffix("-" + release))
        }
    }

    static func reconcile(packages: PackageSource, paths: KernelInventoryPaths) -> KernelInventory {
        var kernels: [String: InstalledKernel] = [:]
        var claimed: Set<String> = []
        for package in packages.kernelPackages {
            guard let release = release(ofImagePackage: package) else { continue }
            if kernels[release] == nil {
                kernels[release] = InstalledKernel(release: release, packages: [package], images: [], initramfs: [])
            } else {
                kernels[release]?.packages.append(package)  // a second image package (-unsigned, -dbg)
            }
            claimed.insert(package.name + "\u{0}" + package.version)
        }
        for package in packages.kernelPackages where !claimed.contains(package.name + "\u{0}" + package.version) {
            for release in kernels.keys.sorted()
            where belongs(package, to: release, image: kernels[release]?.imagePackage, packages.database) {
                kernels[release]?.packages.append(package)
                break
            }
        }
        let owned = Set(packages.kernelPackages.flatMap(\.files))
        var unpackaged: [GuestPath] = []
        var imageReleases: Set<String> = []
        for image in paths.kernels {
            guard let prefix = imagePrefixes.first(where: { image.name.hasPrefix($0) }) else { continue }
            let release = String(image.name.dropFirst(prefix.count))
            // Packaged kernels: image files they own, or that share their release (RHEL's copy
            // in /boot of the package's /lib/modules/<release>/vmlinuz).
            if kernels[release] != nil {
                kernels[release]?.images.append(image)
            } else if packages.database == nil || !owned.contains(image.description) {
                unpackaged.append(image)
                kernels[release] = InstalledKernel(release: release, packages: [], images: [image], initramfs: [])
            }
            imageReleases.insert(release)
        }
        var orphanInitramfs: [GuestPath] = []
        for image in paths.initramfsImages {
            guard let release = release(ofInitramfs: image.name) else { continue }
            if kernels[release] != nil {
                kernels[release]?.initramfs.append(image)
            } else {
                orphanInitramfs.append(image)
            }
        }
        var orphanModules: [GuestPath] = []
        for directory in paths.moduleDirectories {
            if kernels[directory.name] != nil {
                kernels[directory.name]?.moduleDirectory = directory
            } else {
                orphanModules.append(directory)
            }
        }
        let sorted = kernels.values.sorted { isOlder($0, $1, database: packages.database) }
        return KernelInventory(
            database: packages.database, kernels: sorted, unpackagedImages: unpackaged, orphanInitramfs: orphanInitramfs,
            orphanModules: orphanModules, unsettledPackages: packages.unsettled, dependencies: packages.dependencies)
    }
}

/// Who needs what: each present package's requirements (groups of alternatives) and what it
/// provides, so a removal can be checked against every other package.
public struct DependencyView: Sendable {
    public struct Requirement: Sendable, Equatable {
        public var name: String
        /// dpkg: `op version`, checked; rpm: capabilities are matched by name (versioned
        /// capabilities such as `kernel-uname-r = X` carry the release in the name already).
        public var op: String?
        public var version: String?

        public init(name: String, op: String? = nil, version: String? = nil) {
            self.name = name
            self.op = op
            self.version = version
        }
    }

    public struct Package: Sendable {
        public var name: String
        public var version: String
        /// `name=version`: rpm installs several versions of one kernel package side by side.
        public var key: String { "\(name)=\(version)" }
        /// Every group must be satisfied by one of its alternatives.
        public var requires: [[Requirement]]
        /// Virtual names with the version they provide (nil: unversioned).
        public var provides: [(name: String, version: String?)]
        public var files: Set<String>

        public init(
            name: String, version: String, requires: [[Requirement]], provides: [(name: String, version: String?)], files: Set<String> = []
        ) {
            self.name = name
            self.version = version
            self.requires = requires
            self.provides = provides
            self.files = files
        }
    }

    public var packages: [Package]
    public var database: PackageDatabase = .dpkg

    public init(packages: [Package], database: PackageDatabase = .dpkg) {
        self.packages = packages
        self.database = database
    }

    /// Packages outside `removed` (keys, `name=version`) whose requirement would no longer be met
    /// once those are gone, each with the requirement.
    public func brokenBy(removing removed: Set<String>) -> [(package: String, requirement: String)] {
        let remaining = packages.filter { !removed.contains($0.key) }
        let leaving = packages.filter { removed.contains($0.key) }
        var broken: [(String, String)] = []
        for package in remaining {
            for group in package.requires {
                let before = group.contains { satisfied($0, by: packages) }
                guard before, !group.contains(where: { satisfied($0, by: remaining) }) else { continue }
                // rpm file requirements: only files the removed packages own can go missing.
                if database == .rpm, group.allSatisfy({ $0.name.hasPrefix("/") }),
                    !group.contains(where: { requirement in leaving.contains { $0.files.contains(requirement.name) } })
                {
                    continue
                }
                broken.append((package.name, group.map(describe).joined(separator: " | ")))
            }
        }
        return broken
    }

    private func describe(_ requirement: Requirement) -> String {
        guard let op = requirement.op, let version = requirement.version else { return requirement.name }
        return "\(requirement.name) (\(op) \(version))"
    }

    private func satisfied(_ requirement: Requirement, by candidates: [Package]) -> Bool {
        candidates.contains { package in
            if package.name == requirement.name && matches(package.version, requirement) { return true }
            if database == .rpm && requirement.name.hasPrefix("/") && package.files.contains(requirement.name) { return true }
            return package.provides.contains { provided in
                guard provided.name == requirement.name else { return false }
                if requirement.op == nil { return true }
                // dpkg: an unversioned Provides satisfies no versioned dependency (deb-control(5));
                // rpm: it satisfies every version.
                return provided.version.map { matches($0, requirement) } ?? (database == .rpm)
            }
        }
    }

    private func matches(_ version: String, _ requirement: Requirement) -> Bool {
        guard let op = requirement.op, let wanted = requirement.version else { return true }
        let order: Int
        if database == .rpm {
            // rpm compares the release only when the requirement names one.
            let have = wanted.contains("-") ? version : String(version.split(separator: "-").first ?? "")
            order = PackageVersion.compareRPM(have, wanted)
        } else {
            order = PackageVersion.compareDpkg(version, wanted)
        }
        switch op {
        case "<<": return order < 0
        case "<=": return order <= 0
        case "=": return order == 0
        case ">=": return order >= 0
        case ">>": return order > 0
        default: return true
        }
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
