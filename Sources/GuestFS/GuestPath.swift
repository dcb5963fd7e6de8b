import GuestprepCore

/// An absolute path inside the guest ("/etc/fstab"), normalised lexically; what it names on the
/// host is decided only by `GuestRoot`. Equal, hashed and ordered by its UTF-8 bytes, as the kernel
/// compares names: "e\u{301}" and "\u{e9}" are two files, though Swift's `String ==` calls them equal.
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

    public static func == (lhs: GuestPath, rhs: GuestPath) -> Bool {
        lhs.components.count == rhs.components.count
            && zip(lhs.components, rhs.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    public func hash(into hasher: inout Hasher) {
        for component in components {
            hasher.combine(component.utf8.count)
            for byte in component.utf8 { hasher.combine(byte) }
        }
    }

    public static func < (lhs: GuestPath, rhs: GuestPath) -> Bool {
        lhs.description.utf8.lexicographicallyPrecedes(rhs.description.utf8)
    }
}
