import GuestprepCore

/// A yum/dnf (`/etc/yum.repos.d`) or zypper (`/etc/zypp/repos.d`) `.repo` file: one repository
/// per section of an `IniFile` in `.repo` syntax. Read strictly, as dnf and zypper read it: a
/// line that is not an assignment, an assignment before the first section or an `enabled=`
/// that is not a boolean is an error naming the line.
public struct RepoFile: Sendable {
    public private(set) var ini: IniFile
    public let tool: Tool

    /// The two readers split a list of URLs differently.
    public enum Tool: Sendable {
        /// dnf.conf(5): list options are "separated by space or comma characters".
        case dnf
        /// libzypp splits `baseurl` at blanks only: a comma belongs to the URL
        /// (`cd:/?devices=/dev/sr0,/dev/sr1`).
        case zypper

        var separators: Set<UInt8> { self == .dnf ? [UInt8(ascii: ",")] : [] }
    }

    /// Keys whose value names where packages come from (dnf.conf(5), zypper(8)).
    public static let locationKeys = ["baseurl", "mirrorlist", "metalink"]

    /// One URL of a repository, with the assignment and the exact bytes it sits in.
    public struct Location: Sendable, Hashable {
        public var key: String
        public var url: String
        public var word: ListValue.Word
        public var entry: IniFile.Entry
        public var lineNumber: Int { word.lineNumber }
    }

    /// One `[id]` section.
    public struct Repository: Sendable {
        public var id: String
        public var section: IniFile.Section
        /// dnf and zypper read a missing `enabled=` as enabled.
        public var isEnabled: Bool
        /// The assignment that decides `isEnabled` (the last one), if any.
        public var enabledEntry: IniFile.Entry?
        public var name: String?
        /// Every URL of `baseurl`, `mirrorlist` and `metalink`, in file order.
        public var locations: [Location]
        /// yum's `mediaid=` (a repository on numbered discs, found by their .discinfo).
        public var mediaID: IniFile.Entry?
        /// zypper's `service=`: the repository belongs to a registration service.
        public var service: String?
        /// Every assignment of the section, in file order.
        public var entries: [IniFile.Entry]

        public var lineNumber: Int { section.lineNumber }
    }

    public let repositories: [Repository]

    public init(bytes: [UInt8], path: String, tool: Tool) throws {
        ini = IniFile(bytes: bytes, syntax: .repo)
        self.tool = tool
        repositories = try Self.read(ini, path: path, tool: tool)
    }

    public var bytes: [UInt8] { ini.bytes }

    /// Sets `enabled=0` in the repository's section, with `marker` (a comment line) above it: the
    /// last `enabled=` is rewritten in place, or one is added after the section's last assignment.
    public mutating func disable(_ repository: Repository, marker: String, path: String) throws {
        var edited = ini
        if let entry = repository.enabledEntry {
            edited.setValue(of: entry, to: "0")
            edited.insertLines([marker], after: entry.index - 1)
        } else {
            let last = repository.entries.last.map { $0.index + $0.lineCount - 1 } ?? repository.section.headerIndex
            edited.insertLines([marker, "enabled=0"], after: last)
        }
        self = try RepoFile(bytes: edited.bytes, path: path, tool: tool)
    }

    /// Takes `locations` out of their assignments, each assignment with `marker(urls)` above it;
    /// an assignment that loses every URL is commented out rather than left empty.
    public mutating func remove(_ locations: [Location], marker: ([String]) -> String, path: String) throws {
        var edited = ini
        let byEntry = Dictionary(grouping: locations) { $0.entry.index }
        // Bottom up, so the lines of the assignments above stay where they were.
        for index in byEntry.keys.sorted(by: >) {
            guard let group = byEntry[index], let entry = edited.entries.first(where: { $0.index == index }) else { continue }
            let words = Set(group.map(\.word))
            if edited.listValue(of: entry, extraSeparators: tool.separators).words.allSatisfy(words.contains) {
                edited.commentOut(entry)
            } else {
                edited.removeWords(words, of: entry, extraSeparators: tool.separators)
            }
            edited.insertLines([marker(group.map(\.url))], after: index - 1)
        }
        self = try RepoFile(bytes: edited.bytes, path: path, tool: tool)
    }

    static func read(_ ini: IniFile, path: String, tool: Tool) throws -> [Repository] {
        if let stray = ini.strays.first {
            throw GuestprepError(
                .parse, "'\(stray.text)' is neither a [repository] header, a key=value assignment nor a comment", path: path,
                line: stray.lineNumber)
        }
        if let orphan = ini.entries.first(where: { $0.section == nil }) {
            throw GuestprepError(
                .parse, "\(orphan.key)= comes before the first [repository] header, so it belongs to no repository", path: path,
                line: orphan.lineNumber)
        }
        return try ini.sections.map { section in
            let entries = ini.entries.filter { $0.index > section.headerIndex && $0.index < section.endIndex }
            let enabled = entries.last { $0.key == "enabled" }
            var isEnabled = true
            if let enabled {
                switch enabled.value.lowercased() {
                case "1", "yes", "true", "on": isEnabled = true
                case "0", "no", "false", "off": isEnabled = false
                default:
                    throw GuestprepError(
                        .parse, "enabled=\(enabled.value) in [\(section.name)] is not a boolean (1/0, yes/no, true/false, on/off)",
                        path: path, line: enabled.lineNumber)
                }
            }
            let locations = entries.filter { locationKeys.contains($0.key) }.flatMap { entry in
                ini.listValue(of: entry, extraSeparators: tool.separators).words.map {
                    Location(key: entry.key, url: $0.text, word: $0, entry: entry)
                }
            }
            return Repository(
                id: section.name, section: section, isEnabled: isEnabled, enabledEntry: enabled,
                name: entries.last { $0.key == "name" }?.value, locations: locations, mediaID: entries.last { $0.key == "mediaid" },
                service: entries.last { $0.key == "service" }?.value, entries: entries)
        }
    }
}
