import GuestprepCore

/// An absolute path inside the guest ("/etc/fstab"), normalised lexically; what it names on the
/// host is decided only by `GuestRoot`.
public struct GuestPath: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// Non-empty components without "." (".." is kept and resolved by `GuestRoot`).
    public let components: [String]

    public init(_ string: String) {
        components = string.split(separator: "/", omittingEmptySubsequences: true)
            .map(String.init)
            .filter { $0 != "." }
    }

    public init(components: [String]) {
        self.components = components.filter { !$0.isEmpty && $0 != "." }
    }

    public init(stringLiteral value: String) { self.init(value) }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String { "/" + components.joined(separator: "/") }
    public var name: String { components.last ?? "/" }
    public var parent: GuestPath { GuestPath(components: Array(components.dropLast())) }

    public func appending(_ component: String) -> GuestPath {
        GuestPath(components: components + GuestPath(component).components)
    }

    public static func < (lhs: GuestPath, rhs: GuestPath) -> Bool { lhs.description < rhs.description }
}
