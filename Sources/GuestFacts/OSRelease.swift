import GuestFS
import GuestprepCore

/// The guest's os-release(5): /etc/os-release, else /usr/lib/os-release.
public struct OSRelease: Sendable, Equatable, Codable {
    /// Lower-case identifier ("debian", "rhel", "opensuse-leap").
    public var id: String
    /// Identifiers of distributions this one derives from, closest first.
    public var idLike: [String]
    public var versionID: String?
    public var prettyName: String?
    /// The file it was read from.
    public var path: String

    public static let locations: [GuestPath] = ["/etc/os-release", "/usr/lib/os-release"]

    public init(id: String, idLike: [String] = [], versionID: String? = nil, prettyName: String? = nil, path: String) {
        self.id = id
        self.idLike = idLike
        self.versionID = versionID
        self.prettyName = prettyName
        self.path = path
    }

    /// Reads the first os-release that exists; nil when neither does.
    public static func read(from root: GuestRoot) throws -> OSRelease? {
        for path in locations {
            guard let file = try root.readFile(path) else { continue }
            return parse(file.contents, path: path.description)
        }
        return nil
    }

    /// Parses the shell-compatible assignments of os-release(5); ID defaults to "linux".
    public static func parse(_ bytes: [UInt8], path: String) -> OSRelease {
        var values: [String: String] = [:]
        for line in TextLines.split(bytes) {
            let text = line.text.trimmingLeadingBlanks
            guard !text.isEmpty, !text.hasPrefix("#"), let equals = text.firstIndex(of: "=") else { continue }
            values[String(text[..<equals])] = unquote(text[text.index(after: equals)...])
        }
        return OSRelease(
            id: values["ID"].flatMap { $0.isEmpty ? nil : $0.lowercased() } ?? "linux",
            idLike: (values["ID_LIKE"] ?? "").split(separator: " ").map { $0.lowercased() },
            versionID: values["VERSION_ID"], prettyName: values["PRETTY_NAME"], path: path)
    }

    /// Double quotes take backslash escapes of `$ " \ \``; single quotes are literal (os-release(5)).
    static func unquote(_ raw: Substring) -> String {
        var value = raw
        while let last = value.last, last == " " || last == "\t" { value.removeLast() }
        guard let quote = value.first, quote == "\"" || quote == "'", value.count >= 2, value.last == quote else {
            return String(value)
        }
        let inner = value.dropFirst().dropLast()
        guard quote == "\"" else { return String(inner) }
        var out = ""
        var escaped = false
        for character in inner {
            if escaped {
                if !"$\"\\`".contains(character) { out.append("\\") }
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}

extension String {
    var trimmingLeadingBlanks: Substring { drop(while: { $0 == " " || $0 == "\t" }) }
}
