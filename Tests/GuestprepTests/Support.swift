import Apply
import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import HostProcess
import Planning
import Testing

/// Paths and helpers every test shares: the repository, the shared corpus, scratch directories,
/// host tools, and the guestprep binary under test.
enum Support {
    static let repository: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/corpus` beside the checkout; absent in a clone elsewhere.
    static let corpus: URL = repository.deletingLastPathComponent().appendingPathComponent("shared/corpus")

    static var corpusAvailable: Bool {
        FileManager.default.fileExists(atPath: corpus.path)
    }

    static func corpusFiles(_ folder: String) -> [URL] {
        let directory = corpus.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0 != "SOURCES.md" }.sorted().map { directory.appendingPathComponent($0) }
    }

    static var isRoot: Bool { getuid() == 0 }

    /// The debug guestprep binary `swift build` put beside the test bundle.
    static let binary: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("guestprep").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return repository.appendingPathComponent(".build/debug/guestprep").path
    }()

    /// A fresh directory, removed by the caller with `cleanUp`.
    static func scratch(_ name: String = "test") throws -> URL {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath()
        var template = Array(base.appendingPathComponent("guestprep-\(name).XXXXXX").path.utf8CString)
        guard let made = mkdtemp(&template) else { throw SupportError("mkdtemp failed") }
        return URL(fileURLWithPath: String(cString: made))
    }

    static func cleanUp(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a host command (never through a shell) and returns its status and output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Output
    {
        let path = executable.hasPrefix("/") ? executable : try which(executable)
        let result = try HostCommand.run(path, arguments, input: input.map { Array($0.utf8) }, environment: environment)
        return Output(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// Runs a tool and fails the test with its stderr when it does not succeed.
    @discardableResult
    static func must(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
        let result = try run(executable, arguments, input: input)
        guard result.status == 0 else {
            throw SupportError("\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
        return result.stdout
    }

    static func which(_ name: String) throws -> String {
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw SupportError("\(name) is not installed (make deps installs it)")
    }

    static func guestprep(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Output {
        try run(binary, arguments, input: input, environment: environment)
    }

    static func write(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    static func read(_ url: URL) throws -> String {
        String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    /// Every file under a directory (relative path → bytes and mode), to compare trees exactly.
    static func snapshot(_ directory: URL, excluding excluded: String? = nil) throws -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let relative = enumerator?.nextObject() as? String {
            // The excluded directory and the parents created for it.
            if let excluded, relative.hasPrefix(excluded) || excluded.hasPrefix(relative + "/") { continue }
            let path = directory.appendingPathComponent(relative).path
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let mode = String(info.st_mode, radix: 8)
            if info.st_mode & S_IFMT == S_IFREG {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                result[relative] = "\(mode) \(info.st_uid):\(info.st_gid) \(bytes.base64EncodedString())"
            } else if info.st_mode & S_IFMT == S_IFLNK {
                result[relative] = "link -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")"
            } else {
                result[relative] = "\(mode)"
            }
        }
        return result
    }
}

struct SupportError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Planner {
    /// Plans with the facts gathered from the guest itself, as the CLI does.
    static func plan(root: GuestRoot, devices: DeviceInventory, playbook: Playbook) throws -> Plan {
        plan(root: root, devices: devices, facts: try GuestFacts.gather(from: root), playbook: playbook)
    }
}

extension Applier {
    /// Applies every change of a plan as one run.
    func apply(_ plan: Plan) throws -> Outcome {
        try apply(plan.changes, playbook: plan.playbook)
    }
}
