import GuestFS
import GuestFacts
import GuestprepCore

/// SUSE's sysconfig network files as wicked reads them: /etc/sysconfig/network/ifcfg-*, ifroute-*,
/// routes, and the DNS settings in /etc/sysconfig/network/config (ifcfg(5), routes(5)).
public struct IfcfgSUSEDialect: NetworkConfigDialect {
    public let stack: NetworkStack = .ifcfgSUSE
    public static let directory: GuestPath = "/etc/sysconfig/network"
    public static let routesFile: GuestPath = "/etc/sysconfig/network/routes"
    public static let configFile: GuestPath = "/etc/sysconfig/network/config"

    public init() {}

    func profiles(in files: any GuestFileReader) throws -> [(interface: String, variables: IfcfgVariables)] {
        let names = try files.listDirectory(Self.directory).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var result: [(interface: String, variables: IfcfgVariables)] = []
        for name in names {
            guard let interface = IfcfgFileNames.suseInterface(fileName: name),
                let variables = try IfcfgVariables.read(Self.directory.appending(name), from: files)
            else { continue }
            result.append((interface, variables))
        }
        return result
    }

    public func isPresent(in files: any GuestFileReader) throws -> Bool {
        !(try profiles(in: files).isEmpty)
    }

    public func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        var configs = try profiles(in: files).map { IfcfgSUSEReader.config($0.variables, interface: $0.interface) }
        // Routes: ifroute-IFACE belongs to IFACE; the global routes file names its interface in
        // column 4, or leaves it to the one whose subnet holds the gateway.
        for index in configs.indices {
            let name = configs[index].name!.value
            let path = Self.directory.appending("ifroute-" + name)
            guard let file = try files.read(path) else { continue }
            configs[index].files.append(path)
            IfcfgSUSEReader.addRoutes(file.contents, path: path, to: &configs[index], fixedInterface: true)
        }
        if let file = try files.read(Self.routesFile) {
            for index in configs.indices {
                IfcfgSUSEReader.addRoutes(file.contents, path: Self.routesFile, to: &configs[index], fixedInterface: false)
            }
        }
        // netconfig's static DNS is global: every interface resolves through it.
        if let config = try IfcfgVariables.read(Self.configFile, from: files) {
            let servers = words(config["NETCONFIG_DNS_STATIC_SERVERS"]).compactMap(IPAddress.init).map {
                Sourced($0, at: config.location("NETCONFIG_DNS_STATIC_SERVERS"))
            }
            let search = words(config["NETCONFIG_DNS_STATIC_SEARCHLIST"]).map {
                Sourced($0, at: config.location("NETCONFIG_DNS_STATIC_SEARCHLIST"))
            }
            for index in configs.indices where configs[index].kind != .loopback {
                configs[index].dnsServers += servers
                configs[index].searchDomains += search
            }
        }
        return configs
    }

    func words(_ value: String?) -> [String] {
        value?.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) ?? []
    }
}
