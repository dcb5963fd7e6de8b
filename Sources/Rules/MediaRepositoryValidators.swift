import Dialects
import GuestprepCore

/// Each file media-repos writes is read back alone by its dialect and must mean what the
/// original meant with only the install media taken out: the media sources disabled, every
/// other source (and every other setting) as it was.
enum MediaRepositoryValidation {
    /// Parses the proposed bytes; a file that no longer parses is wrong contents, not a failed check.
    static func reread<T>(_ path: String, _ parse: () throws -> T) throws -> T {
        do {
            return try parse()
        } catch let error as GuestprepError {
            throw GuestprepError(.validation, "the file as written does not parse: \(error.message)", path: path, line: error.line)
        }
    }

    static func fail(_ message: String, _ path: String, line: Int? = nil) -> GuestprepError {
        GuestprepError(.validation, message, path: path, line: line)
    }
}

/// One-line `sources.list`: the active lines are the original's minus the media ones, in order.
struct AptSourcesListValidator: ChangeValidator {
    static func key(_ entry: AptSourcesList.Entry) -> String {
        ([entry.type, "[\(entry.options.joined(separator: " "))]", entry.uri, entry.suite] + entry.components).joined(separator: " ")
    }

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let after = try MediaRepositoryValidation.reread(path) { try AptSourcesList(bytes: proposed, path: path) }
        let before = try AptSourcesList(bytes: original ?? [], path: path)
        if let media = after.entries.first(where: { PackageSourceLocation.apt($0.uri).isMedia }) {
            throw MediaRepositoryValidation.fail(
                "\(media.type) \(media.uri) is install media and still enabled", path, line: media.lineNumber)
        }
        let expected = before.entries.filter { !PackageSourceLocation.apt($0.uri).isMedia }.map(Self.key)
        let got = after.entries.map(Self.key)
        guard got == expected else {
            let lost = expected.filter { !got.contains($0) }
            let gained = got.filter { !expected.contains($0) }
            throw MediaRepositoryValidation.fail(
                "the active sources changed beyond the install media: lost [\(lost.joined(separator: "; "))], gained [\(gained.joined(separator: "; "))]",
                path)
        }
    }
}

/// deb822 `*.sources`: per stanza, the same fields; a media-only stanza disabled, a mixed one
/// without its media URIs.
struct Deb822SourcesValidator: ChangeValidator {
    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let after = try MediaRepositoryValidation.reread(path) { try Deb822File(bytes: proposed, path: path) }
        let before = try Deb822File(bytes: original ?? [], path: path)
        guard after.stanzas.count == before.stanzas.count else {
            throw MediaRepositoryValidation.fail("has \(after.stanzas.count) stanzas, the original \(before.stanzas.count)", path)
        }
        for (old, new) in zip(before.stanzas, after.stanzas) {
            func others(_ stanza: Deb822File.Stanza) -> [String] {
                stanza.fields.filter { !["uris", "enabled"].contains($0.name.lowercased()) }.map { "\($0.name.lowercased()): \($0.value)" }
            }
            guard others(old) == others(new) else {
                throw MediaRepositoryValidation.fail("fields other than URIs and Enabled changed in the stanza", path, line: new.lineNumber)
            }
            let oldURIs = try before.listValue(of: Deb822Sources.uris(of: old, path: path)).words.map(\.text)
            let newURIs = try after.listValue(of: Deb822Sources.uris(of: new, path: path)).words.map(\.text)
            let kept = oldURIs.filter { !PackageSourceLocation.apt($0).isMedia }
            let wasEnabled = Deb822Sources.isEnabled(old)
            let (enabled, uris) =
                !wasEnabled || kept.count == oldURIs.count ? (wasEnabled, oldURIs) : kept.isEmpty ? (false, oldURIs) : (true, kept)
            guard Deb822Sources.isEnabled(new) == enabled, newURIs == uris else {
                throw MediaRepositoryValidation.fail(
                    "expected the stanza \(enabled ? "enabled" : "disabled") with URIs \(uris.joined(separator: " ")), found it \(Deb822Sources.isEnabled(new) ? "enabled" : "disabled") with \(newURIs.joined(separator: " "))",
                    path, line: new.lineNumber)
            }
        }
    }
}

/// yum/zypper `.repo`: per section, the same settings; a media-only repository `enabled=0`, a
/// mixed one without its media URLs.
struct RepoFileValidator: ChangeValidator {
    let tool: RepoFile.Tool
    static let changeable = Set(["enabled"] + RepoFile.locationKeys)

    func validate(proposed: [UInt8], original: [UInt8]?, path: String) throws {
        let after = try MediaRepositoryValidation.reread(path) { try RepoFile(bytes: proposed, path: path, tool: tool) }
        let before = try RepoFile(bytes: original ?? [], path: path, tool: tool)
        guard after.repositories.map(\.id) == before.repositories.map(\.id) else {
            throw MediaRepositoryValidation.fail(
                "holds repositories [\(after.repositories.map(\.id).joined(separator: ", "))], the original [\(before.repositories.map(\.id).joined(separator: ", "))]",
                path)
        }
        for (old, new) in zip(before.repositories, after.repositories) {
            func others(_ repository: RepoFile.Repository) -> [String] {
                repository.entries.filter { !Self.changeable.contains($0.key) }.map { "\($0.key)=\($0.value)" }
            }
            guard others(old) == others(new) else {
                throw MediaRepositoryValidation.fail(
                    "settings other than enabled and URLs changed in [\(new.id)]", path, line: new.lineNumber)
            }
            let oldURLs = old.locations.map(\.url)
            let newURLs = new.locations.map(\.url)
            let kept = oldURLs.filter { !PackageSourceLocation.repo($0).isMedia }
            let onDiscs = oldURLs.isEmpty && old.mediaID != nil
            let (enabled, urls): (Bool, [String])
            if !old.isEnabled || (kept.count == oldURLs.count && !onDiscs) {
                (enabled, urls) = (old.isEnabled, oldURLs)
            } else if kept.isEmpty {
                (enabled, urls) = (false, oldURLs)
            } else {
                (enabled, urls) = (true, kept)
            }
            guard new.isEnabled == enabled, newURLs == urls else {
                throw MediaRepositoryValidation.fail(
                    "expected [\(new.id)] \(enabled ? "enabled" : "disabled") with \(urls.isEmpty ? "no URLs" : urls.joined(separator: " ")), found it \(new.isEnabled ? "enabled" : "disabled") with \(newURLs.isEmpty ? "no URLs" : newURLs.joined(separator: " "))",
                    path, line: new.lineNumber)
            }
        }
    }
}
