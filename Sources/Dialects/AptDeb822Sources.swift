import GuestprepCore

/// What apt reads from a deb822 `*.sources` stanza (sources.list(5) "DEB822-STYLE FORMAT").
public enum Deb822Sources {
    /// `Enabled:` as apt's StringToBool reads it; a stanza without one is enabled.
    public static func isEnabled(_ stanza: Deb822File.Stanza) -> Bool {
        guard let value = stanza.field("Enabled")?.value.lowercased() else { return true }
        return !["no", "false", "without", "off", "disable", "0"].contains(value)
    }

    /// The `URIs:` field, which apt requires in every stanza.
    public static func uris(of stanza: Deb822File.Stanza, path: String) throws -> Deb822File.Field {
        guard let field = stanza.field("URIs") else {
            throw GuestprepError(.parse, "the stanza has no URIs: field, which apt requires", path: path, line: stanza.lineNumber)
        }
        return field
    }

    /// A whitespace-separated list field (Types, Suites, Components); empty when missing.
    public static func words(_ name: String, of stanza: Deb822File.Stanza) -> [String] {
        stanza.field(name)?.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init) ?? []
    }
}
