import Dialects
import GuestFS
import GuestprepCore

/// Disables package sources on install media (`deb cdrom:`, `file:///media/…`, zypper `cd:/`):
/// the destination has no such disc, and every package install the destination's preparation
/// runs would fail on it. Then checks that a source for the distribution remains.
public struct MediaRepositories: Rule {
    public static let id = "media-repos"
    public static let summary =
        "Disable package sources on install media (deb cdrom:, file:///media/…, zypper cd:/), which the destination will not have"
    public static let parameterNames: [String] = []

    /// The plan is made before a run exists, so the marker names guestprep and the rule, and no
    /// date: a saved plan planned again must give the same bytes.
    static let disabledMarker = "# guestprep media-repos: disabled, install media will not be attached after migration"
    static func removedMarker(_ urls: [String]) -> String {
        "# guestprep media-repos: removed \(urls.joined(separator: " ")), install media will not be attached after migration"
    }

    static let aptList: GuestPath = "/etc/apt/sources.list"
    static let aptParts: GuestPath = "/etc/apt/sources.list.d"
    static let yumRepos: GuestPath = "/etc/yum.repos.d"
    static let zypperRepos: GuestPath = "/etc/zypp/repos.d"
    static let zypperServices: GuestPath = "/etc/zypp/services.d"

    public init(parameters: RuleParameters) throws {}

    public init() {}

    public func evaluate(in context: RuleContext) throws {
        var inventory = SourceInventory()
        try disableApt(in: context, into: &inventory)
        try disableRepoFiles(.yum, in: context, into: &inventory)
        try disableRepoFiles(.zypper, in: context, into: &inventory)
        try MediaRepositoryChecks.report(inventory, in: context, rule: Self.id)
    }

    // MARK: apt

    /// apt reads `sources.list.d` files ending in `.list` or `.sources` whose names hold only
    /// letters, digits, `_`, `-` and `.` (sources.list(5)); it skips any other name.
    static func aptReads(_ name: String) -> Bool {
        (name.hasSuffix(".list") || name.hasSuffix(".sources"))
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
    }

    private func disableApt(in context: RuleContext, into inventory: inout SourceInventory) throws {
        let parts = try context.listDirectory(Self.aptParts).filter(Self.aptReads).map { Self.aptParts.appending($0) }
        var paths: [GuestPath] = []
        if try context.read(Self.aptList) != nil { paths.append(Self.aptList) }
        paths += parts.filter { $0.name.hasSuffix(".list") }
        let hasParts = try context.root.isDirectory(Self.aptParts)
        if !paths.isEmpty || hasParts { inventory.present.insert(.apt) }
        for path in paths {
            guard let file = try Self.readFile(path, in: context) else { continue }
            let shown = context.root.display(file.path)
            var list = try AptSourcesList(bytes: file.contents, path: shown)
            let media = list.entries.filter { PackageSourceLocation.apt($0.uri).isMedia }
            for entry in media.reversed() { try list.disable(entry, marker: Self.disabledMarker, path: shown) }
            var reasons: [String] = []
            for entry in media {
                let why = PackageSourceLocation.apt(entry.uri)
                reasons.append("line \(entry.lineNumber): comment out \(entry.type) \(entry.uri) \(entry.suite) (\(why.reason))")
                inventory.disabled.append(.init(system: .apt, path: file.path.description, line: entry.lineNumber, what: "\(entry.type) \(entry.uri)"))
            }
            if !media.isEmpty {
                try context.propose(path, contents: list.bytes, rule: Self.id, reasons: reasons, validators: [AptSourcesListValidator()])
            }
            for entry in list.entries {
                inventory.sources.append(
                    .init(
                        system: .apt, path: file.path.description, line: entry.lineNumber, name: "\(entry.type) \(entry.uri) \(entry.suite)",
                        isEnabled: true, locations: [PackageSourceLocation.apt(entry.uri)],
                        isMain: MediaRepositoryChecks.isDistributionMain(aptType: entry.type, uri: entry.uri, components: entry.components),
                        urls: [entry.uri], fileName: path.name))
            }
        }
        for path in parts where path.name.hasSuffix(".sources") {
            guard let file = try Self.readFile(path, in: context) else { continue }
            let shown = context.root.display(file.path)
            var sources = try Deb822File(bytes: file.contents, path: shown)
            var reasons: [String] = []
            for (number, stanza) in sources.stanzas.enumerated().reversed() where Deb822Sources.isEnabled(stanza) {
                let uris = try Deb822Sources.uris(of: stanza, path: shown)
                let words = sources.listValue(of: uris).words
                let media = words.filter { PackageSourceLocation.apt($0.text).isMedia }
                guard !media.isEmpty else { continue }
                for word in media {
                    inventory.disabled.append(.init(system: .apt, path: file.path.description, line: word.lineNumber, what: word.text))
                }
                let shownURIs = media.map(\.text).joined(separator: " ")
                if media.count == words.count {
                    try sources.set("Enabled", to: "no", inStanza: number, marker: Self.disabledMarker, path: shown)
                    reasons.insert("line \(stanza.lineNumber): Enabled: no on the stanza of \(shownURIs) (install media)", at: 0)
                } else {
                    try sources.removeWords(Set(media), of: uris, marker: Self.removedMarker(media.map(\.text)), path: shown)
                    reasons.insert("line \(uris.lineNumber): remove \(shownURIs) from URIs (install media); the network URIs stay", at: 0)
                }
            }
            if !reasons.isEmpty {
                try context.propose(path, contents: sources.bytes, rule: Self.id, reasons: reasons, validators: [Deb822SourcesValidator()])
            }
            for stanza in sources.stanzas {
                let uris = try Deb822Sources.uris(of: stanza, path: shown)
                let words = sources.listValue(of: uris).words.map(\.text)
                let types = stanza.field("Types")?.value.split(whereSeparator: \.isWhitespace).map(String.init) ?? []
                let components = stanza.field("Components")?.value.split(whereSeparator: \.isWhitespace).map(String.init) ?? []
                inventory.sources.append(
                    .init(
                        system: .apt, path: file.path.description, line: stanza.lineNumber,
                        name: "\(types.joined(separator: " ")) \(words.joined(separator: " "))",
                        isEnabled: Deb822Sources.isEnabled(stanza), locations: words.map(PackageSourceLocation.apt),
                        isMain: words.contains {
                            types.contains("deb")
                                && MediaRepositoryChecks.isDistributionMain(aptType: "deb", uri: $0, components: components)
                        }, urls: words, fileName: path.name))
            }
        }
    }

    /// A source file as the plan leaves it; nil when missing or a directory (the tools skip those too).
    static func readFile(_ path: GuestPath, in context: RuleContext) throws -> GuestFile? {
        if try context.root.isDirectory(path) { return nil }
        return try context.read(path)
    }

    // MARK: yum/dnf and zypper

    private func disableRepoFiles(_ system: PackageSystem, in context: RuleContext, into inventory: inout SourceInventory) throws {
        let directory = system == .yum ? Self.yumRepos : Self.zypperRepos
        guard try context.root.isDirectory(directory) else { return }
        inventory.present.insert(system)
        for name in try context.listDirectory(directory) where name.hasSuffix(".repo") {
            let path = directory.appending(name)
            guard let file = try Self.readFile(path, in: context) else { continue }
            let shown = context.root.display(file.path)
            var repo = try RepoFile(bytes: file.contents, path: shown, tool: system == .yum ? .dnf : .zypper)
            var reasons: [String] = []
            for repository in repo.repositories.reversed() where repository.isEnabled {
                let media = repository.locations.filter { PackageSourceLocation.repo($0.url).isMedia }
                let onDiscs = repository.locations.isEmpty && repository.mediaID != nil
                guard !media.isEmpty || onDiscs else { continue }
                if onDiscs || media.count == repository.locations.count {
                    try repo.disable(repository, marker: Self.disabledMarker, path: shown)
                    let what = onDiscs ? "mediaid=\(repository.mediaID?.value ?? "")" : media.map(\.url).joined(separator: " ")
                    reasons.insert("line \(repository.lineNumber): enabled=0 in [\(repository.id)], on install media only (\(what))", at: 0)
                    inventory.disabled.append(
                        .init(
                            system: system, path: file.path.description, line: media.first?.lineNumber ?? repository.lineNumber,
                            what: "[\(repository.id)] \(what)"))
                } else {
                    try repo.remove(media, marker: Self.removedMarker, path: shown)
                    reasons.insert(
                        "line \(media[0].lineNumber): remove \(media.map(\.url).joined(separator: " ")) from [\(repository.id)] (install media); its network URLs stay",
                        at: 0)
                    for location in media {
                        inventory.disabled.append(
                            .init(system: system, path: file.path.description, line: location.lineNumber, what: "[\(repository.id)] \(location.url)"))
                    }
                }
            }
            if !reasons.isEmpty {
                try context.propose(
                    path, contents: repo.bytes, rule: Self.id, reasons: reasons,
                    validators: [RepoFileValidator(tool: system == .yum ? .dnf : .zypper)])
            }
            for repository in repo.repositories {
                inventory.sources.append(
                    .init(
                        system: system, path: file.path.description, line: repository.lineNumber, name: "[\(repository.id)]",
                        isEnabled: repository.isEnabled,
                        locations: repository.locations.map { PackageSourceLocation.repo($0.url) }
                            + (repository.mediaID != nil && repository.locations.isEmpty ? [.media("mediaid=")] : []),
                        isMain: MediaRepositoryChecks.isDistributionMain(system, id: repository.id, name: repository.name),
                        urls: repository.locations.map(\.url), fileName: name, service: repository.service))
            }
        }
        if system == .zypper {
            for name in try context.listDirectory(Self.zypperServices) where name.hasSuffix(".service") {
                inventory.services.append(Self.zypperServices.appending(name).description)
            }
        }
    }
}

extension PackageSourceLocation {
    var reason: String {
        switch self {
        case .media(let why): why
        case .network: "network"
        case .localDisk: "a directory on the guest's disks"
        }
    }
}
