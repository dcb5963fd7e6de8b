import GuestprepCore

/// Search domains arrive as text from leases and the live system; only hostname characters are
/// ever written into a configuration file.
enum SearchDomain {
    static func checked(_ domain: String) throws -> String {
        let allowed = domain.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard allowed, !domain.isEmpty else {
            throw GuestprepError(.refused, "search domain '\(domain)' is not a domain name; it is not written")
        }
        return domain
    }
}
