import GuestFS

/// wicked's saved DHCPv4 lease, `/var/lib/wicked/lease-<iface>-dhcp-ipv4.xml` (written by
/// `ni_addrconf_lease_file_write`, src/leasefile.c): `<lease>` with an `<ipv4:dhcp>` element
/// holding `address`, `netmask`, `routers`, `dns` (`servers`, `search`, `domain`), `mtu`,
/// `acquired` and `lease-time`. Element names vary a little between wicked versions, so the
/// known spellings are all accepted.
public enum WickedLease {
    public static func parse(_ bytes: [UInt8], path: GuestPath, interface: String?) -> LeaseScan {
        var scan = LeaseScan()
        guard LeaseText.isText(bytes) else {
            scan.notes.append(LeaseProblem("not a text lease file; skipped", at: SourceLocation(path)))
            return scan
        }
        let root: MiniXML.Element
        do {
            root = try MiniXML.parse(bytes)
        } catch {
            scan.problems.append(LeaseProblem("not well-formed XML: \(error.message)", at: SourceLocation(path, line: error.line)))
            return scan
        }
        // The DHCP data sits in <ipv4:dhcp> (older versions: <dhcp>); fall back to the whole lease.
        let data = root.first(anyOf: ["ipv4:dhcp", "dhcp"]) ?? root
        var lease = DHCPLease(client: .wicked, interface: interface, address: nil, location: SourceLocation(path, line: data.line))
        func ips(_ element: MiniXML.Element?) -> [IPAddress] {
            guard let element else { return [] }
            let texts = element.children.isEmpty ? element.text.split(separator: " ").map(String.init) : element.children.map(\.text)
            return texts.compactMap { text in
                if let ip = IPAddress(text) { return ip }
                scan.problems.append(LeaseProblem("'\(text)' is not an IP address; ignored", at: SourceLocation(path, line: element.line)))
                return nil
            }
        }
        lease.routers = ips(data.child(anyOf: ["routers", "gateway", "gateways"]))
        let dns = data.child(anyOf: ["dns"])
        lease.dnsServers = ips(dns?.child(anyOf: ["servers", "server"]))
        if let search = dns?.child(anyOf: ["search"]) {
            lease.searchDomains = search.children.isEmpty ? search.text.split(separator: " ").map(String.init) : search.children.map(\.text)
        } else if let domain = dns?.child(anyOf: ["domain"]) ?? data.child(anyOf: ["domain-name", "domain"]), !domain.text.isEmpty {
            lease.searchDomains = [domain.text]
        }
        if let mtu = data.child(anyOf: ["mtu"]), let value = Int(mtu.text), value > 0 { lease.mtu = value }
        // acquired is "sec" or "sec.usec"; the lease ends lease-time seconds later.
        let acquired = (data.child(anyOf: ["acquired"]) ?? root.child(anyOf: ["acquired"])).flatMap {
            Int64($0.text.split(separator: ".").first ?? "")
        }
        if let acquired {
            lease.renew = .at(acquired)
            if let seconds = data.child(anyOf: ["lease-time"]).flatMap({ Int64($0.text) }) {
                lease.expiry = seconds == 0xffff_ffff ? .never : .at(acquired + seconds)
            }
        }
        // The lease is kept even without an address: the problem names it, newest() skips it.
        lease.address = address(data, at: lease.location, problems: &scan.problems)
        scan.leases.append(lease)
        return scan
    }

    static func address(_ data: MiniXML.Element, at location: SourceLocation, problems: inout [LeaseProblem]) -> InterfaceAddress? {
        guard let element = data.child(anyOf: ["address"]) else {
            problems.append(LeaseProblem("lease has no <address>: it gives no address", at: location))
            return nil
        }
        let at = SourceLocation(location.path, line: element.line)
        if let cidr = InterfaceAddress(cidr: element.text) { return cidr }
        guard let ip = IPAddress(element.text) else {
            problems.append(LeaseProblem("<address> '\(element.text)' is not an IP address", at: at))
            return nil
        }
        var result: InterfaceAddress?
        if let prefix = data.child(anyOf: ["prefixlen", "prefix"]).flatMap({ Int($0.text) }) {
            result = InterfaceAddress(address: ip, prefix: prefix)
        } else if let mask = data.child(anyOf: ["netmask", "subnet-mask"]).flatMap({ IPAddress($0.text) }) {
            result = InterfaceAddress(address: ip, netmask: mask)
        }
        if result == nil {
            problems.append(LeaseProblem("lease for \(ip) has no usable netmask or prefix: its prefix is unknown and not guessed", at: at))
        }
        return result
    }

    /// `lease-eth0-dhcp-ipv4.xml` → `eth0`.
    public static func interface(fromFileName name: String) -> String? {
        guard name.hasPrefix("lease-"), name.hasSuffix("-dhcp-ipv4.xml") else { return nil }
        let middle = name.dropFirst("lease-".count).dropLast("-dhcp-ipv4.xml".count)
        return middle.isEmpty ? nil : String(middle)
    }
}

/// Just enough XML for wicked's lease files: elements, text, comments, declarations, the five
/// predefined entities; no DTDs, no namespaces resolution (prefixes stay part of the name).
enum MiniXML {
    struct Element {
        var name: String
        var line: Int
        var text: String = ""
        var children: [Element] = []

        func child(anyOf names: [String]) -> Element? { children.first { names.contains($0.name) } }

        /// Depth-first search.
        func first(anyOf names: [String]) -> Element? {
            for child in children {
                if names.contains(child.name) { return child }
                if let found = child.first(anyOf: names) { return found }
            }
            return nil
        }
    }

    struct ParseError: Error {
        var message: String
        var line: Int
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> Element {
        var index = 0
        var line = 1
        var stack: [Element] = [Element(name: "", line: 1)]
        func advance(_ count: Int = 1) {
            for _ in 0..<count where index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                index += 1
            }
        }
        func skip(past terminator: String) throws(ParseError) {
            let end = Array(terminator.utf8)
            let start = line
            while index < bytes.count, !bytes[index...].starts(with: end) { advance() }
            guard index < bytes.count else { throw ParseError(message: "'\(terminator)' missing", line: start) }
            advance(end.count)
        }
        while index < bytes.count {
            if bytes[index] != UInt8(ascii: "<") {
                let start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "<") { advance() }
                stack[stack.count - 1].text += decode(bytes[start..<index])
                continue
            }
            if bytes[index...].starts(with: Array("<!--".utf8)) {
                try skip(past: "-->")
            } else if bytes[index...].starts(with: Array("<?".utf8)) || bytes[index...].starts(with: Array("<!".utf8)) {
                try skip(past: ">")
            } else {
                let tagLine = line
                let start = index + 1
                try skip(past: ">")
                var tag = String(decoding: bytes[start..<(index - 1)], as: UTF8.self)
                if tag.hasPrefix("/") {
                    let name = tag.dropFirst().split(separator: " ").first.map(String.init) ?? ""
                    guard stack.count > 1, stack[stack.count - 1].name == name else {
                        throw ParseError(message: "</\(name)> does not close <\(stack.last?.name ?? "")>", line: tagLine)
                    }
                    var closed = stack.removeLast()
                    closed.text = String(closed.text.trimmingBlanksAndNewlines())
                    stack[stack.count - 1].children.append(closed)
                    continue
                }
                let selfClosing = tag.hasSuffix("/")
                if selfClosing { tag.removeLast() }
                let name = tag.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.map(String.init) ?? ""
                guard !name.isEmpty else { throw ParseError(message: "empty tag", line: tagLine) }
                let element = Element(name: name, line: tagLine)
                if selfClosing {
                    stack[stack.count - 1].children.append(element)
                } else {
                    stack.append(element)
                }
            }
        }
        guard stack.count == 1 else {
            throw ParseError(message: "<\(stack[stack.count - 1].name)> is not closed", line: stack[stack.count - 1].line)
        }
        guard let root = stack[0].children.first else { throw ParseError(message: "no element", line: 1) }
        return root
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var text = String(decoding: bytes, as: UTF8.self)
        for (entity, value) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")] {
            text = text.replacing(entity, with: value)
        }
        return text
    }
}

extension String {
    func trimmingBlanksAndNewlines() -> Substring {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return text
    }
}
