import GuestFS

/// ISC dhclient's lease database (dhclient.leases(5)): `lease { … }` blocks of `;`-terminated
/// statements, appended as leases are bound and renewed, so one file holds many leases for an
/// interface, including the copies written when a lease was released or expired.
public enum DhclientLeases {
    /// Every `lease { }` block of a file, in file order. `fallbackInterface` (from the file name) is
    /// used for blocks without an `interface` statement.
    public static func parse(_ bytes: [UInt8], path: GuestPath, fallbackInterface: String? = nil) -> LeaseScan {
        var scan = LeaseScan()
        guard LeaseText.isText(bytes) else {
            scan.notes.append(LeaseProblem("not a text dhclient lease file (a dhcpcd binary lease?); skipped", at: SourceLocation(path)))
            return scan
        }
        var tokens = Tokenizer(bytes)
        var blocks: [(line: Int, statements: [[Token]], closed: Bool)] = []
        var sawLease6 = false
        while let token = tokens.next() {
            guard token.kind == .word else {
                if token.kind != .semicolon {
                    scan.problems.append(
                        LeaseProblem("unexpected '\(token.text)' outside a lease block", at: SourceLocation(path, line: token.line)))
                }
                continue
            }
            if token.text == "lease" || token.text == "lease6" {
                guard let open = tokens.next(), open.kind == .open else {
                    scan.problems.append(LeaseProblem("'\(token.text)' is not followed by '{'", at: SourceLocation(path, line: token.line)))
                    continue
                }
                let (statements, closed) = readBlock(&tokens)
                if token.text == "lease6" {
                    // DHCPv6 leases: IPv6 is reported by the rules, never converted.
                    sawLease6 = true
                } else {
                    blocks.append((token.line, statements, closed))
                }
            } else {
                // Top-level statements: default-duid, server-duid, …
                skipStatement(&tokens)
            }
        }
        if sawLease6 {
            scan.notes.append(LeaseProblem("holds DHCPv6 (lease6) leases; only DHCPv4 leases are read", at: SourceLocation(path)))
        }
        for (index, block) in blocks.enumerated() {
            let location = SourceLocation(path, line: block.line)
            if !block.closed {
                scan.problems.append(LeaseProblem("lease block is not closed with '}' before the end of the file; ignored", at: location))
                continue
            }
            var lease = DHCPLease(
                client: .dhclient, interface: nil, address: nil, location: location, ordinal: index + 1, leasesInFile: blocks.count)
            interpret(block.statements, into: &lease, fallbackInterface: fallbackInterface, problems: &scan.problems, path: path)
            scan.leases.append(lease)
        }
        return scan
    }

    /// The interface a dhclient lease file is named for: `dhclient.eth0.leases` (Debian),
    /// `dhclient-eth0.leases` (RHEL), `dhclient-<uuid>-eth0.lease` (NetworkManager).
    public static func interface(fromFileName name: String) -> String? {
        var rest = Substring(name)
        for suffix in [".leases", ".lease"] where rest.hasSuffix(suffix) {
            rest = rest.dropLast(suffix.count)
            break
        }
        guard rest.hasPrefix("dhclient"), !rest.hasPrefix("dhclient6") else { return nil }
        rest = rest.dropFirst("dhclient".count)
        guard let separator = rest.first, separator == "." || separator == "-" else { return nil }
        rest = rest.dropFirst()
        if rest.count > 37, LeaseText.isUUID(rest.prefix(36)), rest.dropFirst(36).first == "-" {
            rest = rest.dropFirst(37)
        } else if rest.hasPrefix("-") {
            // NetworkManager without a connection UUID: dhclient--eth0.lease.
            rest = rest.dropFirst()
        }
        return rest.isEmpty ? nil : String(rest)
    }

    static func interpret(
        _ statements: [[Token]], into lease: inout DHCPLease, fallbackInterface: String?, problems: inout [LeaseProblem], path: GuestPath
    ) {
        var fixedAddress: IPAddress?
        var sawFixedAddress = false
        var mask: IPAddress?
        var domainName: [String] = []
        var domainSearch: [String] = []
        for statement in statements {
            guard let head = statement.first, head.kind == .word else { continue }
            let at = SourceLocation(path, line: head.line)
            let values = statement.dropFirst().filter { $0.kind == .word || $0.kind == .string }.map(\.text)
            func addresses(_ words: some Collection<String>) -> [IPAddress] {
                words.compactMap { word in
                    if let ip = IPAddress(word) { return ip }
                    problems.append(LeaseProblem("'\(word)' is not an IP address; ignored", at: at))
                    return nil
                }
            }
            switch head.text {
            case "interface":
                lease.interface = values.first
            case "fixed-address":
                sawFixedAddress = true
                fixedAddress = addresses(values.prefix(1)).first
            case "renew", "expire":
                guard let time = time(values) else {
                    problems.append(
                        LeaseProblem("\(head.text) time '\(values.joined(separator: " "))' is not a dhclient date; ignored", at: at))
                    continue
                }
                if head.text == "renew" { lease.renew = time } else { lease.expiry = time }
            case "option":
                guard let name = values.first else { continue }
                let rest = values.dropFirst()
                switch name {
                case "subnet-mask": mask = addresses(rest.prefix(1)).first
                case "routers": lease.routers = addresses(rest)
                case "domain-name-servers": lease.dnsServers = addresses(rest)
                // domain-name may hold several names separated by blanks (dhcp-options(5)).
                case "domain-name": domainName = rest.flatMap { $0.split(separator: " ").map(String.init) }
                case "domain-search": domainSearch = Array(rest)
                case "interface-mtu":
                    if let mtu = rest.first.flatMap({ Int($0) }), mtu > 0 {
                        lease.mtu = mtu
                    } else {
                        problems.append(LeaseProblem("interface-mtu '\(rest.joined())' is not a number; ignored", at: at))
                    }
                default: break
                }
            default: break
            }
        }
        if lease.interface == nil { lease.interface = fallbackInterface }
        lease.searchDomains = domainSearch.isEmpty ? domainName : domainSearch
        guard sawFixedAddress else {
            problems.append(LeaseProblem("lease has no fixed-address: it gives no address", at: lease.location))
            return
        }
        guard let fixedAddress else { return }
        guard let mask else {
            problems.append(
                LeaseProblem("lease for \(fixedAddress) has no subnet-mask: its prefix is unknown and not guessed", at: lease.location))
            return
        }
        guard let address = InterfaceAddress(address: fixedAddress, netmask: mask) else {
            problems.append(LeaseProblem("subnet-mask \(mask) is not a contiguous IPv4 netmask", at: lease.location))
            return
        }
        lease.address = address
    }

    /// `4 2026/11/30 10:00:00` (weekday, UTC date and time), `epoch 1764496800` (with
    /// `db-time-format local`), or `never`.
    static func time(_ words: [String]) -> LeaseTime? {
        if words == ["never"] { return .never }
        if words.count == 2, words[0] == "epoch", let seconds = Int64(words[1]) { return .at(seconds) }
        guard words.count == 3, words[0].count == 1, Int(words[0]).map({ (0...6).contains($0) }) == true else { return nil }
        return LeaseCalendar.seconds(date: words[1], time: words[2]).map { .at($0) }
    }

    /// Statements up to the matching `}`; nested blocks are skipped whole.
    static func readBlock(_ tokens: inout Tokenizer) -> (statements: [[Token]], closed: Bool) {
        var statements: [[Token]] = []
        var current: [Token] = []
        while let token = tokens.next() {
            switch token.kind {
            case .close:
                if !current.isEmpty { statements.append(current) }
                return (statements, true)
            case .semicolon:
                statements.append(current)
                current = []
            case .open:
                _ = readBlock(&tokens)
                current = []
            default:
                current.append(token)
            }
        }
        return (statements, false)
    }

    static func skipStatement(_ tokens: inout Tokenizer) {
        while let token = tokens.next() {
            if token.kind == .semicolon { return }
            if token.kind == .open {
                _ = readBlock(&tokens)
                return
            }
        }
    }

    struct Token {
        enum Kind { case word, string, open, close, semicolon, comma }
        var kind: Kind
        var text: String
        var line: Int
    }

    /// dhclient's lexer, reduced: `#` comments to end of line, quoted strings with backslash
    /// escapes, and `{ } ; ,` as punctuation.
    struct Tokenizer {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func next() -> Token? {
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    index += 1
                } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                    index += 1
                } else if byte == UInt8(ascii: "#") {
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                } else {
                    break
                }
            }
            guard index < bytes.count else { return nil }
            let start = line
            let byte = bytes[index]
            let punctuation: [UInt8: Token.Kind] = [
                UInt8(ascii: "{"): .open, UInt8(ascii: "}"): .close, UInt8(ascii: ";"): .semicolon, UInt8(ascii: ","): .comma,
            ]
            if let kind = punctuation[byte] {
                index += 1
                return Token(kind: kind, text: String(UnicodeScalar(byte)), line: start)
            }
            if byte == UInt8(ascii: "\"") {
                index += 1
                var value: [UInt8] = []
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        index += 1
                    }
                    if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                    value.append(bytes[index])
                    index += 1
                }
                index += 1
                return Token(kind: .string, text: String(decoding: value, as: UTF8.self), line: start)
            }
            let begin = index
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") || b == UInt8(ascii: "\n")
                    || b == UInt8(ascii: "\"") || b == UInt8(ascii: "#") || punctuation[b] != nil
                {
                    break
                }
                index += 1
            }
            return Token(kind: .word, text: String(decoding: bytes[begin..<index], as: UTF8.self), line: start)
        }
    }
}

/// Small helpers the lease formats share.
enum LeaseText {
    /// Valid UTF-8 without NUL bytes: the text formats; dhcpcd writes raw DHCP packets.
    static func isText(_ bytes: [UInt8]) -> Bool {
        !bytes.contains(0) && String(validating: bytes, as: UTF8.self) != nil
    }

    static func isUUID(_ text: Substring) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return parts.map(\.count) == [8, 4, 4, 4, 12] && parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}
