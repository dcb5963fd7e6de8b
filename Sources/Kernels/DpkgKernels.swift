import Dialects
import GuestFS
import GuestprepCore

/// Kernels in dpkg's database: the status file (parsed losslessly by `DpkgStatusFile`) for
/// versions, states and relationships, and `info/<package>.list` for the files each owns.
enum DpkgKernels {
    static let statusPath: GuestPath = "/var/lib/dpkg/status"
    static let infoDirectory: GuestPath = "/var/lib/dpkg/info"
    /// A status file lists every package with its description: tens of MiB on a big server.
    static let statusLimit = 256 << 20

    static func read(root: GuestRoot) throws -> KernelInventory.PackageSource {
        guard let file = try root.readFile(statusPath, limit: statusLimit) else {
            throw GuestprepError(.notFound, "dpkg's status file disappeared while it was being read", path: root.display(statusPath))
        }
        let paragraphs = DpkgStatusFile(bytes: file.contents).paragraphs.filter(\.isPresent)
        var kernelPackages: [InstalledPackage] = []
        var unsettled: [InstalledPackage] = []
        for paragraph in paragraphs where paragraph.package.hasPrefix("linux-") {
            var package = InstalledPackage(
                name: paragraph.package, version: paragraph.version, architecture: paragraph.architecture,
                installedBytes: paragraph.installedSizeKiB.map { $0 * 1024 })
            guard paragraph.state == "installed" else {
                unsettled.append(package)
                continue
            }
            package.files = try files(of: paragraph, root: root)
            kernelPackages.append(package)
        }
        let dependencies = paragraphs.map { paragraph in
            DependencyView.Package(
                name: paragraph.package, version: paragraph.version,
                requires: (paragraph.relations("Pre-Depends") + paragraph.relations("Depends")).map { group in
                    group.map { DependencyView.Requirement(name: $0.name, op: $0.constraint?.op.rawValue, version: $0.constraint?.version) }
                },
                provides: paragraph.relations("Provides").flatMap { $0 }.map { ($0.name, $0.constraint?.version) })
        }
        return KernelInventory.PackageSource(
            database: .dpkg, kernelPackages: kernelPackages, unsettled: unsettled,
            dependencies: DependencyView(packages: dependencies, database: .dpkg))
    }

    /// The files a package owns, from `info/<name>.list` (or `<name>:<arch>.list` for
    /// Multi-Arch: same packages); a package dpkg lists as installed always has one.
    static func files(of paragraph: DpkgStatusFile.Paragraph, root: GuestRoot) throws -> [String] {
        let names = ["\(paragraph.package).list", "\(paragraph.package):\(paragraph.architecture).list"]
        for name in names {
            guard let list = try root.readFile(infoDirectory.appending(name), limit: statusLimit) else { continue }
            return TextLines.split(list.contents).map(\.text).filter { !$0.isEmpty }
        }
        return []
    }
}
