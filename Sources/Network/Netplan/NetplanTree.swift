import GuestFS
import Yams

/// netplan's YAML merged across files the way netplan merges it: mappings merged key by key
/// recursively, a later scalar replaces an earlier one, and sequences are concatenated (netplan
/// appends each file's `addresses`, `routes`, `nameservers` into the same definition; checked
/// with `netplan generate` 0.106: two files' addresses both end up in the .network file; it
/// drops repeated addresses and routes but keeps repeated DNS servers and search domains).
/// Every scalar keeps its *text* as written: YAML 1.1 readers turn an unquoted
/// `52:54:00:12:34:56` into a sexagesimal integer, netplan does not, neither do we.
public indirect enum NetplanValue: Sendable, Hashable {
    case scalar(String, SourceLocation)
    case mapping([NetplanEntry])
    case sequence([NetplanValue])

    public var text: String? {
        if case .scalar(let text, _) = self { return text }
        return nil
    }

    public var location: SourceLocation? {
        switch self {
        case .scalar(_, let location): return location
        case .mapping(let entries): return entries.first?.keyLocation
        case .sequence(let items): return items.first?.location
        }
    }

    public subscript(key: String) -> NetplanValue? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.last { $0.key == key }?.value
    }

    public var entries: [NetplanEntry] {
        if case .mapping(let entries) = self { return entries }
        return []
    }

    public var items: [NetplanValue] {
        if case .sequence(let items) = self { return items }
        return []
    }

    /// YAML 1.1 booleans as netplan accepts them.
    public var bool: Bool? {
        switch text?.lowercased() {
        case "true", "yes", "on", "y": true
        case "false", "no", "off", "n": false
        default: nil
        }
    }

    init(_ node: Node, path: GuestPath) {
        switch node {
        case .scalar(let scalar):
            self = .scalar(scalar.string, SourceLocation(path, line: scalar.mark?.line))
        case .mapping(let mapping):
            self = .mapping(
                mapping.map { pair in
                    NetplanEntry(
                        key: pair.key.scalar?.string ?? "", keyLocation: SourceLocation(path, line: pair.key.mark?.line),
                        value: NetplanValue(pair.value, path: path))
                })
        case .sequence(let sequence):
            self = .sequence(sequence.map { NetplanValue($0, path: path) })
        case .alias(let alias):
            self = .scalar("", SourceLocation(path, line: alias.mark?.line))
        }
    }

    /// `later` merged over `self`.
    func merged(with later: NetplanValue) -> NetplanValue {
        switch (self, later) {
        case (.mapping(var entries), .mapping(let laterEntries)):
            for entry in laterEntries {
                if let index = entries.firstIndex(where: { $0.key == entry.key }) {
                    entries[index].value = entries[index].value.merged(with: entry.value)
                    entries[index].keyLocation = entry.keyLocation
                } else {
                    entries.append(entry)
                }
            }
            return .mapping(entries)
        case (.sequence(let items), .sequence(let laterItems)):
            return .sequence(items + laterItems)
        default:
            return later
        }
    }
}

/// A mapping key with where it was (last) written, and its value.
public struct NetplanEntry: Sendable, Hashable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: NetplanValue
}
