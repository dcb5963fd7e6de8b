import Foundation
import GuestFS
import GuestprepCore
import Rules

/// A reviewed plan saved with `plan --out`, applied with `apply --plan`: the playbook text it
/// came from and a fingerprint of every change (paths, content hashes, commands). Apply
/// recomputes the plan from the same playbook and refuses unless it is exactly the saved one,
/// so what runs is what was reviewed, as with terraform's plan files.
public struct SavedPlan: Codable, Sendable, Equatable {
    public static let currentFormat = "guestprep-plan/1"

    public var format: String
    public var created: String
    /// The guest root the plan was made for (host path).
    public var root: String
    public var playbookName: String
    public var playbookSource: String
    public var playbookText: String
    /// The playbooks it extends, nearest first, as they were when the plan was made.
    public var playbookParents: [PlaybookDocument]
    public var changes: [ChangePrint]

    /// What identifies a change: enough to tell any difference in what apply would do.
    public struct ChangePrint: Codable, Sendable, Equatable {
        public var action: String
        public var path: String?
        public var destination: String?
        public var originalSHA256: String?
        public var newSHA256: String?
        public var mode: UInt32?
        public var command: [String]?
        public var undo: [String]?

        enum CodingKeys: String, CodingKey {
            case action, path, destination, mode, command, undo
            case originalSHA256 = "original_sha256"
            case newSHA256 = "new_sha256"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, created, root, changes
        case playbookName = "playbook_name"
        case playbookSource = "playbook_source"
        case playbookText = "playbook_text"
        case playbookParents = "playbook_parents"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(String.self, forKey: .format)
        created = try container.decode(String.self, forKey: .created)
        root = try container.decode(String.self, forKey: .root)
        playbookName = try container.decode(String.self, forKey: .playbookName)
        playbookSource = try container.decode(String.self, forKey: .playbookSource)
        playbookText = try container.decode(String.self, forKey: .playbookText)
        // Plans saved before extends: existed hold no parents.
        playbookParents = try container.decodeIfPresent([PlaybookDocument].self, forKey: .playbookParents) ?? []
        changes = try container.decode([ChangePrint].self, forKey: .changes)
    }

    public init(plan: Plan, playbook: Playbook) {
        format = Self.currentFormat
        created = ISO8601DateFormatter().string(from: Date())
        root = plan.root
        playbookName = playbook.name
        playbookSource = playbook.source
        playbookText = playbook.text
        playbookParents = playbook.parents
        changes = Self.fingerprint(plan.changes)
    }

    public static func fingerprint(_ changes: [Change]) -> [ChangePrint] {
        changes.map { change in
            var print = ChangePrint(
                action: change.kind.rawValue, path: change.path?.description,
                originalSHA256: change.original.map { sha256Hex($0.contents) }, newSHA256: change.proposed.map(sha256Hex))
            switch change.action {
            case .renameAside(_, _, let destination): print.destination = destination.description
            case .createDirectory(_, let mode): print.mode = mode
            case .runCommand(let step):
                print.command = step.argv
                print.undo = step.undo
            default: break
            }
            return print
        }
    }

    public func encoded() throws -> [UInt8] {
        Array(try renderJSON(self).utf8)
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> SavedPlan {
        let saved: SavedPlan
        do {
            saved = try JSONDecoder().decode(SavedPlan.self, from: Data(bytes))
        } catch {
            throw GuestprepError(.usage, "is not a plan saved by guestprep plan --out", path: path, underlying: error)
        }
        guard saved.format == currentFormat else {
            throw GuestprepError(.usage, "is a \(saved.format) plan; this guestprep reads \(currentFormat)", path: path)
        }
        return saved
    }

    /// Refuses unless `fresh` (the plan recomputed now) is exactly this one, naming the first
    /// file that changed since the plan was saved when that is the reason.
    public func verify(against fresh: Plan, root guestRoot: GuestRoot, path: String) throws {
        for change in changes {
            guard let file = change.path, change.action != Change.Kind.createDirectory.rawValue, change.command == nil else { continue }
            let current = try guestRoot.readFile(GuestPath(file)).map { sha256Hex($0.contents) }
            if current != change.originalSHA256 {
                throw GuestprepError(
                    .stalePlan,
                    "\(file) changed since this plan was saved (its content hash differs); nothing was applied: review a new plan (guestprep plan --out)",
                    path: path)
            }
        }
        guard Self.fingerprint(fresh.changes) == changes else {
            throw GuestprepError(
                .stalePlan,
                "the guest would now get a different plan than the one saved (devices, directories or the guest's files changed); nothing was applied: review a new plan (guestprep plan --out)",
                path: path)
        }
    }
}
