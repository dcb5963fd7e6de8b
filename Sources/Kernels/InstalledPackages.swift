import Dialects
import GuestFS
import GuestFacts
import GuestprepCore

/// Every package the guest's database lists as installed, by name: dpkg's status file (parsed
/// by `DpkgStatusFile`), or rpm's database through the guest's own rpm, as `KernelInventory`
/// reads them. For checks that ask "is this package there" (guest agents, subscription clients).
public struct InstalledPackages: Sendable {
    public struct Entry: Sendable, Equatable {
        public var package: InstalledPackage
        /// Where the database says so, for evidence: dpkg's status file and the stanza's line;
        /// rpm's database directory (binary, no line).
        public var path: GuestPath
        public var line: Int?
    }

    /// nil when the guest has neither database.
    public var database: PackageDatabase?
    /// Installed packages in database order (dpkg: only those in state `installed`).
    public var entries: [Entry]

    public init(database: PackageDatabase?, entries: [Entry]) {
        self.database = database
        self.entries = entries
    }

    /// The entry of an installed package named `name`, if any.
    public func installed(_ name: String) -> Entry? {
        entries.first { $0.package.name == name }
    }

    /// Reads the database the way `KernelInventory.read` picks it: dpkg's status file when
    /// present, else rpm through `query` (nil with an rpm guest is an error: only the guest's rpm
    /// reads its database right).
    public static func read(
        root: GuestRoot, facts: GuestFacts, query: ((_ argv: [String]) throws -> [UInt8])?
    ) throws -> InstalledPackages {
        if let file = try root.readFile(DpkgKernels.statusPath, limit: DpkgKernels.statusLimit) {
            let entries = DpkgStatusFile(bytes: file.contents).paragraphs.filter { $0.state == "installed" }.map { paragraph in
                Entry(
                    package: InstalledPackage(name: paragraph.package, version: paragraph.version, architecture: paragraph.architecture),
                    path: DpkgKernels.statusPath, line: paragraph.lineNumber)
            }
            return InstalledPackages(database: .dpkg, entries: entries)
        }
        guard try facts.profile.packageManager == "rpm" || RPMKernels.present(root: root) else {
            return InstalledPackages(database: nil, entries: [])
        }
        guard let query else {
            throw GuestprepError(
                .refused,
                "this guest keeps its packages in rpm's database, which only its own rpm can read, and no way to run commands in it was given",
                path: root.display("/"))
        }
        var directory = RPMKernels.databaseDirectories[0]
        for candidate in RPMKernels.databaseDirectories where try root.isDirectory(candidate) && !root.isEmptyDirectory(candidate) {
            directory = candidate
            break
        }
        let entries = try RPMKernels.parse(query(["rpm", "-qa", "--qf", RPMKernels.header])).map {
            Entry(package: $0.package, path: directory, line: nil)
        }
        return InstalledPackages(database: .rpm, entries: entries)
    }
}
