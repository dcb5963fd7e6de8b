import GuestFS
import GuestprepCore

/// Pinning and static conversion written as interfaces(5) options inside the interface's own stanzas.
extension IfupdownDialect {
    public func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit] {
        let name = try Self.name(of: interface)
        return try edit(files, configuring: name) { file in
            let ours = file.stanzas.indices.filter { Self.isIface(file.stanzas[$0], name) }
            // Replace every hwaddress already given; with none, the link is pinned in its first (inet) stanza.
            let existing = ours.filter { file.stanzas[$0].options.contains { $0.keyword == "hwaddress" } }
            for index in existing.isEmpty ? [Self.primary(ours, in: file)] : existing {
                try file.setOption("hwaddress", ["ether", mac.description], inStanza: index)
            }
        }
    }

    /// Removes `hwaddress` from every stanza of the interface: on the destination it would put the
    /// old MAC on the new NIC, which clouds that filter by MAC drop.
    public func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit] {
        let name = try Self.name(of: interface)
        return try edit(files, configuring: name) { file in
            for index in file.stanzas.indices.reversed() where Self.isIface(file.stanzas[index], name) {
                for option in file.stanzas[index].options.reversed() where option.keyword == "hwaddress" {
                    file.replaceLines(option.lineIndices, with: [])
                }
            }
        }
    }

    public func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
    {
        let name = try Self.name(of: interface)
        let v4 = settings.addresses.filter { $0.address.family == .v4 }
        let v6 = settings.addresses.filter { $0.address.family == .v6 }
        guard let first = v4.first, let netmask = first.netmask else {
            throw GuestprepError(.refused, "no IPv4 address to write for \(name): ifupdown's static method needs one")
        }
        return try edit(files, configuring: name) { file in
            var ours = file.stanzas.indices.filter { Self.isIface(file.stanzas[$0], name) }
            var inet = ours.filter { Self.family(of: file.stanzas[$0]) == "inet" }
            if inet.isEmpty {
                // This file configures the interface without IPv4: a reader of this file alone must see it all.
                let after = file.stanzas[ours.last!].endIndex
                file.replaceLines(after..<after, with: [Array("iface \(name) inet static".utf8)])
                ours = file.stanzas.indices.filter { Self.isIface(file.stanzas[$0], name) }
                inet = ours.filter { Self.family(of: file.stanzas[$0]) == "inet" }
            }
            let primary = inet[0]
            try file.setMethod("static", inStanza: primary)
            try file.setOption("address", [first.address.description], inStanza: primary)
            try file.setOption("netmask", [netmask.description], inStanza: primary)
            if let gateway = settings.gateway4 { try file.setOption("gateway", [gateway.description], inStanza: primary) }
            if let mtu = settings.mtu { try file.setOption("mtu", [String(mtu)], inStanza: primary) }
            if !settings.dnsServers.isEmpty {
                try file.setOption("dns-nameservers", settings.dnsServers.map(\.description), inStanza: primary)
            }
            if !settings.searchDomains.isEmpty {
                try file.setOption("dns-search", try settings.searchDomains.map(SearchDomain.checked), inStanza: primary)
            }
            if let mac { try file.setOption("hwaddress", ["ether", mac.description], inStanza: primary) }
            // ifupdown takes one `address` per stanza: further IPv4 addresses get stanzas of their own
            // (interfaces(5), "multiple addresses"), unless one already holds them.
            let present = Set(
                file.stanzas.indices.filter { Self.isIface(file.stanzas[$0], name) }.flatMap { index in
                    file.stanzas[index].options.filter { $0.keyword == "address" }.flatMap(\.arguments)
                })
            var extra: [[UInt8]] = []
            for address in v4.dropFirst() where !present.contains(address.address.description) && !present.contains(address.description) {
                extra += [
                    Array("iface \(name) inet static".utf8), file.optionIndent + Array("address \(address)".utf8),
                ]
            }
            if !extra.isEmpty {
                // Right after the main stanza, so the interface's IPv4 stanzas read together.
                let after = file.stanzas[primary].endIndex
                file.replaceLines(after..<after, with: extra)
            }
            // IPv6: an existing static inet6 stanza is updated; SLAAC and DHCPv6 stanzas stay as they are.
            if !v6.isEmpty,
                let static6 = file.stanzas.indices.first(where: {
                    Self.isIface(file.stanzas[$0], name) && Self.family(of: file.stanzas[$0]) == "inet6"
                        && file.stanzas[$0].header.words.count >= 4 && file.stanzas[$0].header.words[3] == "static"
                })
            {
                try file.setOption("address", [v6[0].description], inStanza: static6)
                if let gateway = settings.gateway6 { try file.setOption("gateway", [gateway.description], inStanza: static6) }
            }
        }
    }

    /// Applies `change` to every file ifupdown reads that has a stanza for `name`; unchanged files give no edit.
    private func edit(_ files: any GuestFileReader, configuring name: String, _ change: (inout InterfacesFile) throws -> Void) throws
        -> [FileEdit]
    {
        var edits: [FileEdit] = []
        var seen: Set<GuestPath> = []
        for loaded in try load(from: files) where seen.insert(loaded.path).inserted {
            guard loaded.file.stanzas.contains(where: { Self.isIface($0, name) }) else { continue }
            var file = loaded.file
            do {
                try change(&file)
            } catch var error as GuestprepError {
                error.path = error.path ?? loaded.path.description
                throw error
            }
            if file.bytes != loaded.file.bytes { edits.append(.write(loaded.path, file.bytes)) }
        }
        return edits
    }

    static func name(of interface: InterfaceConfig) throws -> String {
        guard let name = interface.name?.value else {
            throw GuestprepError(.refused, "an ifupdown interface always has a name; this one came from another dialect")
        }
        return name
    }

    static func isIface(_ stanza: InterfacesFile.Stanza, _ name: String) -> Bool {
        stanza.header.keyword == "iface" && stanza.header.words.count >= 2 && stanza.header.words[1] == name
    }

    static func family(of stanza: InterfacesFile.Stanza) -> String {
        stanza.header.words.count >= 3 ? stanza.header.words[2] : ""
    }

    /// The stanza a link-wide option goes in: the first inet one, else the first.
    static func primary(_ stanzas: [Int], in file: InterfacesFile) -> Int {
        stanzas.first { family(of: file.stanzas[$0]) == "inet" } ?? stanzas[0]
    }
}

extension InterfacesFile {
    /// Sets one option of stanza `index` to `values`: the first line giving it is rewritten (its
    /// indentation kept), later duplicates removed, or a new line added at the end of the stanza.
    /// A line already saying exactly this is left byte for byte.
    mutating func setOption(_ keyword: String, _ values: [String], inStanza index: Int) throws {
        let stanza = stanzas[index]
        let existing = stanza.options.filter { $0.keyword == keyword }
        let words = [keyword] + values
        let text = Array(words.joined(separator: " ").utf8)
        guard let first = existing.first else {
            let indent = stanza.options.first.map { self.indent(ofLine: $0.lineIndices.lowerBound) } ?? optionIndent
            replaceLines(stanza.endIndex..<stanza.endIndex, with: [indent + text])
            return
        }
        for duplicate in existing.dropFirst().reversed() { replaceLines(duplicate.lineIndices, with: []) }
        if first.words != words {
            replaceLines(first.lineIndices, with: [indent(ofLine: first.lineIndices.lowerBound) + text])
        }
    }

    /// Changes the method word of an `iface NAME FAMILY METHOD` header, keeping its spacing.
    mutating func setMethod(_ method: String, inStanza index: Int) throws {
        let header = stanzas[index].header
        guard header.words.count >= 4 else {
            throw GuestprepError(
                .refused, "the iface line has no method ('\(header.words.joined(separator: " "))'); add one, then run again",
                line: header.lineNumber)
        }
        guard header.words[3] != method else { return }
        let line = lines[header.lineIndices.lowerBound]
        let fields = line.fields()
        if header.lineIndices.count == 1, fields.count >= 4, fields[3].text == header.words[3] {
            replaceLines(header.lineIndices, with: [line.replacing(fields[3].range, with: Array(method.utf8)).content])
        } else {
            var words = header.words
            words[3] = method
            replaceLines(
                header.lineIndices, with: [indent(ofLine: header.lineIndices.lowerBound) + Array(words.joined(separator: " ").utf8)])
        }
    }
}
