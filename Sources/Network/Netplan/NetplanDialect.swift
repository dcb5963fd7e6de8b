import GuestFS
import GuestFacts
import GuestprepCore

/// netplan as a network-config dialect: reads the merged YAML into the interface model and
/// edits every file that defines an interface, so each of them alone carries the full result
/// (a migration tool that reads one file at a time must see the same as netplan does).
public struct NetplanDialect: NetworkConfigDialect {
    public init() {}

    public var stack: NetworkStack { .netplan }

    public func isPresent(in files: any GuestFileReader) throws -> Bool {
        try !NetplanFiles.paths(in: files).isEmpty
    }

    public func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        try NetplanConfig.read(files).devices.map(\.config)
    }

    /// Sets `match: {macaddress: "<mac>"}` (always double-quoted: unquoted, a YAML 1.1 reader
    /// takes `52:54:00:12:34:56` for a sexagesimal integer) and `set-name:` in every file.
    public func pin(_ interface: InterfaceConfig, to mac: MACAddress, in files: any GuestFileReader) throws -> [FileEdit] {
        let (config, device) = try find(interface, in: files)
        return try edit(device, config: config, files: files) { editor in
            try Self.pin(&editor, device: device, name: interface.name?.value, mac: mac)
        }
    }

    /// Replaces a `match:` with a MAC by `match: {name: …}` (`set-name:` then renames nothing).
    /// Other match keys go too: the name is what the destination keeps.
    public func unpin(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> [FileEdit] {
        let (config, device) = try find(interface, in: files)
        guard device.config.mac != nil else { return [] }
        guard let name = interface.name?.value ?? device.config.name?.value else {
            throw GuestprepError(
                .refused, "'\(device.id)' matches its NIC only by MAC, and guestprep does not know that NIC's name",
                path: interface.files.first?.description)
        }
        return try edit(device, config: config, files: files) { editor in
            let step = try editor.device(section: device.section, id: device.id).step
            let pad = String(repeating: " ", count: step)
            try editor.set("match", to: .lines([pad + "name: \"\(name)\""]), section: device.section, id: device.id)
        }
    }

    public func setStatic(_ interface: InterfaceConfig, _ settings: StaticSettings, mac: MACAddress?, in files: any GuestFileReader) throws
        -> [FileEdit]
    {
        guard !settings.addresses.isEmpty else {
            throw GuestprepError(.usage, "no address to set for '\(interface.name?.value ?? "?")'; pass --address NAME=ADDRESS/PREFIX")
        }
        let (config, device) = try find(interface, in: files)
        return try edit(device, config: config, files: files) { editor in
            if let mac { try Self.pin(&editor, device: device, name: interface.name?.value, mac: mac) }
            try Self.setStatic(&editor, device: device, settings)
        }
    }

    /// `match:` is replaced whole: a leftover `name:` or `driver:` beside the MAC would stop it
    /// matching once the NIC has another name or driver on the destination.
    public static func pin(_ editor: inout NetplanEditor, device: NetplanDevice, name: String?, mac: MACAddress) throws {
        let step = try editor.device(section: device.section, id: device.id).step
        let pad = String(repeating: " ", count: step)
        try editor.set("match", to: .lines([pad + "macaddress: \"\(mac)\""]), section: device.section, id: device.id)
        let name = name ?? device.config.name?.value ?? device.id
        try editor.set("set-name", to: .inline(YAMLText.scalar(name)), section: device.section, id: device.id)
    }

    public static func setStatic(_ editor: inout NetplanEditor, device: NetplanDevice, _ settings: StaticSettings) throws {
        let (section, id) = (device.section, device.id)
        let step = try editor.device(section: section, id: id).step
        let pad = String(repeating: " ", count: step)
        try editor.set("dhcp4", to: .inline("false"), section: section, id: id)
        try editor.set("addresses", to: .inline(YAMLText.flowList(settings.addresses.map { "\"\($0)\"" })), section: section, id: id)
        if let gateway = settings.gateway4 {
            if try editor.child("gateway4", section: section, id: id) != nil {
                // The file already uses the (deprecated) gateway4 key: keep its vocabulary.
                try editor.set("gateway4", to: .inline(gateway.description), section: section, id: id)
            } else {
                try editor.set(
                    "routes", to: .lines(try routes(editor, device: device, gateway: gateway, pad: pad)), section: section, id: id)
            }
        }
        if !settings.dnsServers.isEmpty || !settings.searchDomains.isEmpty {
            var body: [String] = []
            if !settings.dnsServers.isEmpty { body.append(pad + "addresses: " + YAMLText.flowList(settings.dnsServers.map(\.description))) }
            if !settings.searchDomains.isEmpty {
                body.append(pad + "search: " + YAMLText.flowList(settings.searchDomains.map(YAMLText.scalar)))
            }
            try editor.set("nameservers", to: .lines(body), section: section, id: id)
        }
        if let mtu = settings.mtu {
            try editor.set("mtu", to: .inline(String(mtu)), section: section, id: id)
        }
    }

    /// The file's routes with the IPv4 default replaced: other routes are kept line for line.
    static func routes(_ editor: NetplanEditor, device: NetplanDevice, gateway: IPAddress, pad: String) throws -> [String] {
        var kept: [String] = []
        var dash = pad
        if let existing = try editor.child("routes", section: device.section, id: device.id) {
            guard case .sequence(let sequence) = existing.value else {
                throw editor.refuse("holds 'routes' that is not a list", line: existing.line + 1)
            }
            guard !editor.isFlow(existing.value) else {
                throw editor.refuse("writes 'routes' in flow style ([…])", line: existing.line + 1)
            }
            let items = Array(sequence)
            for (index, item) in items.enumerated() {
                let start = (item.mark?.line ?? existing.line + 1) - 1
                var end = index + 1 < items.count ? (items[index + 1].mark?.line ?? 1) - 1 : existing.end
                while end - 1 > start, editor.isBlankOrComment(end - 1) { end -= 1 }
                let text = editor.lines[start].text
                dash = String(text.prefix { $0 == " " }.dropFirst(existing.column))
                let to = item.mapping?["to"]?.scalar?.string
                if to == "default" || to == "0.0.0.0/0" { continue }
                kept += editor.lines[start..<end].map { String($0.text.dropFirst(existing.column)) }
            }
        }
        return kept + [dash + "- to: default", dash + "  via: " + gateway.description]
    }

    /// The device a model interface came from (by name and MAC, as `interfaces(in:)` gave it).
    func find(_ interface: InterfaceConfig, in files: any GuestFileReader) throws -> (NetplanConfig, NetplanDevice) {
        let config = try NetplanConfig.read(files)
        let exact = config.devices.first { $0.config.name?.value == interface.name?.value && $0.config.mac?.value == interface.mac?.value }
        let byName = interface.name.flatMap { name in config.devices.first { $0.config.name?.value == name.value } }
        let byMAC = interface.mac.flatMap { mac in config.devices.first { $0.config.mac?.value == mac.value } }
        guard let device = exact ?? byName ?? byMAC else {
            throw GuestprepError(
                .notFound, "netplan defines no interface '\(interface.name?.value ?? interface.mac?.value.description ?? "?")'",
                path: interface.files.first?.description)
        }
        return (config, device)
    }

    func edit(_ device: NetplanDevice, config: NetplanConfig, files: any GuestFileReader, _ change: (inout NetplanEditor) throws -> Void)
        throws -> [FileEdit]
    {
        var edits: [FileEdit] = []
        for path in device.config.files {
            guard let document = config.documents.first(where: { $0.path == path }) else { continue }
            var editor = NetplanEditor(path: path, bytes: document.bytes)
            try change(&editor)
            // The result must still be YAML netplan can read, and still define the device.
            _ = try editor.device(section: device.section, id: device.id)
            if editor.bytes != document.bytes { edits.append(.write(path, editor.bytes)) }
        }
        return edits
    }
}

/// Writing YAML scalars and flow lists that every YAML 1.1 and 1.2 reader reads as strings.
enum YAMLText {
    /// Plain when it cannot be mistaken for anything else, double-quoted otherwise.
    static func scalar(_ text: String) -> String {
        let safe =
            !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
            && !(text.first?.isNumber ?? false)
            && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(text.lowercased())
        if safe { return text }
        return "\"" + text.replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"") + "\""
    }

    static func flowList(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        replacing(target, with: replacement)
    }
}
