import Dialects
import GuestFS
import GuestprepCore

/// Static routes from RHEL `route-IFACE`/`route6-IFACE` files and SUSE `ifroute-IFACE`/`routes`.
enum IfcfgRoutes {
    /// A RHEL route file: either `ADDRESSn=`/`NETMASKn=`/`GATEWAYn=`/`METRICn=` keys or
    /// `ip route` argument lines (`10.0.0.0/8 via 10.1.1.1 metric 5`), as initscripts' ifup-routes reads it.
    static func rhel(_ bytes: [UInt8], path: GuestPath, family: IPAddress.Family) -> [Sourced<Route>] {
        let variables = IfcfgVariables(path: path, bytes: bytes)
        let keyed = variables.numbered("ADDRESS")
        if !keyed.isEmpty {
            return keyed.compactMap { number, key in
                guard let address = variables[key].flatMap(IPAddress.init) else { return nil }
                // A missing NETMASKn is a host route (ifup-routes defaults to 255.255.255.255).
                let mask = variables["NETMASK\(number)"].flatMap(IPAddress.init) ?? IPAddress("255.255.255.255")!
                guard let destination = InterfaceAddress(address: address, netmask: mask) else { return nil }
                let route = Route(
                    destination: destination, gateway: variables["GATEWAY\(number)"].flatMap(IPAddress.init),
                    metric: variables["METRIC\(number)"].flatMap { Int($0) })
                return Sourced(route, at: variables.location(key))
            }
        }
        var routes: [Sourced<Route>] = []
        for (index, line) in TextLines.split(bytes).enumerated() {
            let words = line.fields().map(\.text)
            guard let first = words.first, !first.hasPrefix("#"), let destination = destination(first, family: family) else { continue }
            var route = Route(destination: destination)
            var position = 1
            while position + 1 < words.count {
                switch words[position] {
                case "via": route.gateway = IPAddress(words[position + 1])
                case "metric": route.metric = Int(words[position + 1])
                default: break
                }
                position += 1
            }
            routes.append(Sourced(route, at: SourceLocation(path, line: index + 1)))
        }
        return routes
    }

    /// `default`, `a.b.c.d/p`, or a bare address (a host route, as ip(8) reads it).
    static func destination(_ word: String, family: IPAddress.Family) -> InterfaceAddress? {
        if word == "default" {
            return InterfaceAddress(address: IPAddress(family == .v4 ? "0.0.0.0" : "::")!, prefix: 0)
        }
        if let cidr = InterfaceAddress(cidr: word) { return cidr }
        guard let address = IPAddress(word) else { return nil }
        return InterfaceAddress(address: address, prefix: address.family == .v4 ? 32 : 128)
    }

    /// One SUSE routes line: `DESTINATION GATEWAY NETMASK INTERFACE [TYPE] [OPTIONS]` (routes(5));
    /// `-` is an empty column. Returns the route and the interface column, when given.
    static func suse(_ line: TextLine) -> (route: Route, interface: String?)? {
        let words = line.fields().map(\.text)
        guard words.count >= 2, !words[0].hasPrefix("#") else { return nil }
        let gateway = IPAddress(words[1])
        let family = gateway?.family ?? (words[0].contains(":") ? .v6 : .v4)
        var destination: InterfaceAddress?
        if words[0] == "default" {
            destination = Self.destination("default", family: family)
        } else if words[0].contains("/") {
            destination = InterfaceAddress(cidr: words[0])
        } else if let address = IPAddress(words[0]) {
            let mask = words.count > 2 ? words[2] : "-"
            if let prefix = Int(mask) {
                destination = InterfaceAddress(address: address, prefix: prefix)
            } else if let netmask = IPAddress(mask) {
                destination = InterfaceAddress(address: address, netmask: netmask)
            } else {
                destination = InterfaceAddress(address: address, prefix: address.family == .v4 ? 32 : 128)
            }
        }
        guard let destination else { return nil }
        let allZero = gateway?.bytes.allSatisfy { $0 == 0 } ?? true
        let interface = words.count > 3 && words[3] != "-" ? words[3] : nil
        return (Route(destination: destination, gateway: allZero ? nil : gateway), interface)
    }
}
