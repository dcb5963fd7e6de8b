import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore

/// Package lists older than the playbook's limit: the destination's preparation installs
/// packages (agents, drivers) and the guide asks for an updated guest before the move.
public struct RepositoryFreshness: Rule {
    public static let id = "repos-updated"
    public static let summary = "check the package manager's lists were refreshed within max-metadata-age (default 14d)"
    public static let parameterNames = ["max-metadata-age"]

    /// Seconds.
    public let maxAge: Int64
    /// Seconds since the epoch; tests fix it.
    let now: @Sendable () -> Int64

    public init(parameters: RuleParameters) throws {
        let text = parameters.values["max-metadata-age"]?.content
        guard let text else {
            self.init()
            return
        }
        guard case .scalar(let value) = text, let seconds = Self.parseAge(value) else {
            throw GuestprepError(
                .playbook, "rule \(parameters.rule): max-metadata-age must be a number of days or hours, e.g. 14d or 36h",
                path: parameters.file, line: parameters.values["max-metadata-age"]?.line)
        }
        self.init(maxAge: seconds)
    }

    public init(maxAge: Int64 = 14 * 86400, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.maxAge = maxAge
        self.now = now
    }

    /// `14d` or `36h` (1 hour to 10 years).
    static func parseAge(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "d": seconds = count * 86400
        case "h": seconds = count * 3600
        default: return nil
        }
        return seconds <= 3650 * 86400 ? seconds : nil
    }

    /// One package tool's metadata: where it lives, which files say when it was refreshed, how to refresh.
    struct Tool: Sendable {
        var name: String
        /// The family whose package tool it is: checked there even without configuration.
        var family: DistroFamily
        /// Where the tool's configuration lives, to tell whether the guest uses it.
        var configuration: [GuestPath]
        var caches: [GuestPath]
        /// How deep below a cache the stamp files sit (dnf: <repo>/repodata/repomd.xml).
        var depth: Int
        var isStamp: @Sendable (String) -> Bool
        var refresh: String
        /// The refresh `--online` runs: the first whose program the guest has.
        var refreshCommands: [(program: GuestPath, argv: [String])]
    }

    static let tools: [Tool] = [
        // apt keeps each index with the server's Last-Modified time, so a quiet repository looks
        // older than the last `apt-get update`; the periodic stamps say when it last ran.
        Tool(
            name: "apt", family: .debian, configuration: ["/etc/apt/sources.list", "/etc/apt/sources.list.d"],
            caches: ["/var/lib/apt/lists", "/var/lib/apt/periodic"], depth: 1,
            isStamp: { name in
                name.hasSuffix("_InRelease") || name.hasSuffix("_Release") || name.contains("_Packages")
                    || name == "update-success-stamp"
            }, refresh: "apt-get update", refreshCommands: [("/usr/bin/apt-get", ["apt-get", "-q", "update"])]),
        // dnf (and dnf5's libdnf5) per repository repodata/repomd.xml; yum under <arch>/<release>/<repo>.
        Tool(
            name: "dnf/yum", family: .rhel, configuration: ["/etc/yum.repos.d"],
            caches: ["/var/cache/dnf", "/var/cache/libdnf5", "/var/cache/yum"],
            depth: 4, isStamp: { $0 == "repomd.xml" || $0 == "last_makecache" || $0 == "cachecookie" },
            refresh: "dnf makecache (yum makecache on older releases)",
            refreshCommands: [("/usr/bin/dnf", ["dnf", "-q", "makecache"]), ("/usr/bin/yum", ["yum", "-q", "makecache"])]),
        Tool(
            name: "zypper", family: .suse, configuration: ["/etc/zypp/repos.d"], caches: ["/var/cache/zypp/raw"], depth: 3,
            isStamp: { $0 == "repomd.xml" || $0 == "content" }, refresh: "zypper refresh",
            refreshCommands: [("/usr/bin/zypper", ["zypper", "--non-interactive", "refresh"])]),
    ]

    public func evaluate(in context: RuleContext) throws {
        let current = now()
        var checked = false
        for tool in Self.tools
        where try tool.family == context.facts.family || tool.configuration.contains(where: { try context.root.exists($0) }) {
            checked = true
            if context.source.online { try refresh(tool, in: context) }
            var newest: (path: GuestPath, time: Int64)?
            for cache in tool.caches {
                try Self.walk(cache, depth: tool.depth, in: context) { path in
                    guard tool.isStamp(path.name), let time = try context.root.modificationTime(path) else { return }
                    if time > newest?.time ?? Int64.min { newest = (path, time) }
                }
            }
            guard let newest else {
                context.report(
                    Finding(
                        rule: Self.id, code: "repos.metadata-missing", severity: .warning,
                        message:
                            "no \(tool.name) package lists in \(tool.caches.filter { $0 != "/var/lib/apt/periodic" }.map(\.description).joined(separator: ", ")): the guest has never refreshed them, or they were cleaned; refresh them before migrating (\(tool.refresh)), so packages the destination needs can be installed",
                        path: tool.caches[0].description))
                continue
            }
            let age = current - newest.time
            let when = "\(Self.ageText(age)) ago (\(Self.dateText(newest.time)))"
            if age > maxAge {
                context.report(
                    Finding(
                        rule: Self.id, code: "repos.metadata-stale", severity: .warning,
                        message:
                            "\(tool.name) package lists were last refreshed \(when), longer than max-metadata-age \(Self.ageText(maxAge)): update the guest before migrating (\(tool.refresh), then install the updates), so the destination does not start from stale packages",
                        path: newest.path.description))
            } else {
                context.report(
                    Finding(
                        rule: Self.id, code: "repos.metadata-fresh", severity: .info,
                        message: "\(tool.name) package lists refreshed \(when), within max-metadata-age \(Self.ageText(maxAge))",
                        path: newest.path.description))
            }
        }
        if !checked {
            context.report(
                Finding(
                    rule: Self.id, code: "repos.metadata-not-checked", severity: .info,
                    message:
                        "no apt, dnf/yum or zypper in this \(context.facts.family.rawValue) guest: its package lists are not checked; refresh them before migrating"
                ))
        }
    }

    /// `--online`: runs the tool's refresh in the guest and reports each repository it could not
    /// fetch. A refresh that cannot run (no executor, no tool) or does not finish is an error.
    func refresh(_ tool: Tool, in context: RuleContext) throws {
        guard let executor = context.executor else {
            throw GuestprepError(.command, "--online needs to run \(tool.refresh) in the guest, and no command can run here")
        }
        var chosen: [String]?
        for candidate in tool.refreshCommands where try context.root.exists(candidate.program) {
            chosen = candidate.argv
            break
        }
        guard let argv = chosen else {
            // Asked to refresh and unable to: a check not done, not a finding.
            throw GuestprepError(
                .command,
                "--online: the guest has no \(tool.refreshCommands.map(\.program.description).joined(separator: " or ")), so its \(tool.name) lists cannot be refreshed; run without --online"
            )
        }
        let result = try executor.run(GuestCommand(argv, timeout: .seconds(300)))
        let output = String(decoding: result.stdoutBytes + [UInt8(ascii: "\n")] + result.stderrBytes, as: UTF8.self)
        let failures = Self.refreshFailures(output)
        for failure in failures {
            context.report(
                Finding(
                    rule: Self.id, code: "repos.refresh-failed", severity: .warning,
                    message:
                        "--online: `\(argv.joined(separator: " "))` could not fetch \(failure): the destination will not reach it either unless the network differs there; fix or disable that repository"
                ))
        }
        if result.timedOut {
            throw GuestprepError(
                .command, "--online: `\(argv.joined(separator: " "))` did not finish in 5 minutes, so the repositories were not checked")
        }
        if result.status != 0 {
            if failures.isEmpty {
                let last = output.split(separator: "\n").last.map(String.init) ?? ""
                context.report(
                    Finding(
                        rule: Self.id, code: "repos.refresh-failed", severity: .warning,
                        message:
                            "--online: `\(argv.joined(separator: " "))` failed with status \(result.status)\(last.isEmpty ? "" : ": \(last)")"
                    ))
            }
        } else if failures.isEmpty {
            context.report(
                Finding(
                    rule: Self.id, code: "repos.refresh-ok", severity: .info,
                    message: "--online: `\(argv.joined(separator: " "))` refreshed every \(tool.name) repository"))
        }
    }

    /// The repositories a refresh's output says it could not fetch: apt's `Err:N URI SUITE` (with
    /// the reason on the next line), dnf's "Failed to download metadata for repo 'ID'", zypper's
    /// "Problem retrieving files from 'NAME'" and "Repository 'NAME' is invalid".
    static func refreshFailures(_ output: String) -> [String] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        var failures: [String] = []
        for (index, line) in lines.enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("Err:"), let space = text.firstIndex(of: " ") {
                var what = String(text[text.index(after: space)...])
                if index + 1 < lines.count, lines[index + 1].hasPrefix(" ") {
                    what += " (\(lines[index + 1].trimmingCharacters(in: .whitespaces)))"
                }
                failures.append(what)
            } else if let range = text.range(of: "Failed to download metadata for repo ") {
                failures.append(String(text[range.upperBound...]))
            } else if let range = text.range(of: "Problem retrieving files from ") {
                failures.append(String(text[range.upperBound...]))
            } else if text.hasPrefix("Repository '"), text.contains("' is invalid") {
                failures.append(String(text.dropFirst("Repository ".count).prefix { $0 != " " }))
            }
        }
        return failures
    }

    /// Files up to `depth` levels below `directory` (symlinks not followed, as the tools write none).
    static func walk(_ directory: GuestPath, depth: Int, in context: RuleContext, _ visit: (GuestPath) throws -> Void) throws {
        guard depth > 0 else { return }
        for name in try context.root.listDirectory(directory) {
            let path = directory.appending(name)
            switch try context.root.entry(path) {
            case .regularFile: try visit(path)
            case .directory: try walk(path, depth: depth - 1, in: context, visit)
            default: break
            }
        }
    }

    static func ageText(_ seconds: Int64) -> String {
        seconds >= 2 * 86400 || seconds % 86400 == 0 && seconds > 0 ? "\(seconds / 86400)d" : "\(max(0, seconds) / 3600)h"
    }

    static func dateText(_ time: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }
}
