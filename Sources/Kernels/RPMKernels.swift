import GuestFS
import GuestprepCore

/// Kernels in rpm's database. It is binary (Berkeley DB, ndb or sqlite by release), so it is
/// read by the guest's own rpm through the guest executor (chrooted offline), never by the host's:
/// a host rpm of another release may not read the format, or may convert it.
enum RPMKernels {
    /// Where rpm keeps its database: /var/lib/rpm, or /usr/lib/sysimage/rpm since rpm 4.16
    /// (Fedora 36, openSUSE Tumbleweed).
    static let databaseDirectories: [GuestPath] = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"]

    static func present(root: GuestRoot) throws -> Bool {
        try databaseDirectories.contains { try root.isDirectory($0) && !root.isEmptyDirectory($0) }
    }

    /// Kernel packages: RHEL/Fedora `kernel`, `kernel-core`, `kernel-modules*`, `kernel-devel`;
    /// SUSE `kernel-default`, `kernel-default-extra`, `kernel-default-devel` …
    /// Not per release, though named kernel-*: userspace headers, tools, firmware, macros.
    static func isKernelFamily(_ name: String) -> Bool {
        let shared = ["kernel-headers", "kernel-tools", "kernel-tools-libs", "kernel-srpm-macros", "kernel-abi-stablelists", "kernel-doc"]
        return (name == "kernel" || name.hasPrefix("kernel-")) && !shared.contains(name) && !name.hasPrefix("kernel-firmware")
    }

    static let header = "=\t%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SIZE}\n"

    static func read(run: (_ argv: [String]) throws -> [UInt8], root: GuestRoot) throws -> KernelInventory.PackageSource {
        // One query for every package's requirements and capabilities, one for kernel files.
        let all = try parse(
            run([
                "rpm", "-qa", "--qf",
                header + "[R\t%{REQUIRENAME}\t%{REQUIREFLAGS:depflags}\t%{REQUIREVERSION}\n]"
                    + "[P\t%{PROVIDENAME}\t%{PROVIDEFLAGS:depflags}\t%{PROVIDEVERSION}\n]",
            ]))
        let kernels = all.filter { isKernelFamily($0.package.name) }
        var withFiles: [String: [String]] = [:]
        if !kernels.isEmpty {
            let spelled = kernels.map { $0.package.spelled(for: .rpm) }
            for entry in try parse(run(["rpm", "-q", "--qf", header + "[F\t%{FILENAMES}\n]"] + spelled)) {
                withFiles[entry.package.spelled(for: .rpm)] = entry.files
            }
        }
        var kernelPackages: [InstalledPackage] = []
        for entry in kernels {
            var package = entry.package
            package.files = withFiles[package.spelled(for: .rpm)] ?? []
            kernelPackages.append(package)
        }
        let dependencies = all.map { entry in
            DependencyView.Package(
                name: entry.package.name, version: entry.package.version,
                // rpmlib() and config() requirements are rpm's own bookkeeping, met by rpm itself.
                requires: entry.requires.filter { !$0.name.hasPrefix("rpmlib(") }.map { [$0] },
                provides: entry.provides.map { ($0.name, $0.version) },
                files: Set(withFiles[entry.package.spelled(for: .rpm)] ?? []))
        }
        return KernelInventory.PackageSource(
            database: .rpm, kernelPackages: kernelPackages, unsettled: [],
            dependencies: DependencyView(packages: dependencies, database: .rpm))
    }

    struct Entry {
        var package: InstalledPackage
        var requires: [DependencyView.Requirement] = []
        var provides: [(name: String, version: String?)] = []
        var files: [String] = []
    }

    /// Lines of the query formats above: "=\t" starts a package, "R", "P", "F" lines belong to it;
    /// "(none)" is rpm's word for an empty array.
    static func parse(_ output: [UInt8]) throws -> [Entry] {
        var entries: [Entry] = []
        for line in TextLines.split(output) {
            let fields = line.text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard let kind = fields.first else { continue }
            if kind == "=" {
                guard fields.count == 7 else {
                    throw GuestprepError(.parse, "rpm printed a package line guestprep cannot read: \(line.text.debugDescription)")
                }
                let version =
                    fields[2] == "0" || fields[2] == "(none)" ? "\(fields[3])-\(fields[4])" : "\(fields[2]):\(fields[3])-\(fields[4])"
                entries.append(
                    Entry(
                        package: InstalledPackage(
                            name: fields[1], version: version, architecture: fields[5], installedBytes: Int(fields[6]))))
                continue
            }
            guard fields.count >= 2, !entries.isEmpty, fields[1] != "(none)" else { continue }
            // depflags prints " = ", " >= " …; rpm's "<" and ">" are strict, as dpkg's "<<" and ">>".
            let op = fields.count == 4 ? fields[2].filter { "<>=".contains($0) } : ""
            let relation = ["<": "<<", ">": ">>"][op] ?? op
            let version = fields.count == 4 && !fields[3].isEmpty ? fields[3] : nil
            switch kind {
            case "R":
                entries[entries.count - 1].requires.append(
                    DependencyView.Requirement(
                        name: fields[1], op: relation.isEmpty ? nil : relation, version: relation.isEmpty ? nil : version))
            case "P": entries[entries.count - 1].provides.append((fields[1], relation == "=" ? version : nil))
            case "F": entries[entries.count - 1].files.append(fields[1])
            default: break
            }
        }
        return entries
    }
}
