import GuestFS
import GuestFacts
import GuestprepCore

/// RHEL/Fedora initscripts configuration: /etc/sysconfig/network-scripts/ifcfg-* and route-*
/// (nm-settings-ifcfg-rh(5), initscripts' sysconfig.txt).
public struct IfcfgRHELDialect: NetworkConfigDialect {
    public let stack: NetworkStack = .ifcfgRHEL
    public static let directory: GuestPath = "/etc/sysconfig/network-scripts"

    public init() {}

    /// One `ifcfg-*` file read: the interface it names and its variables.
    struct Profile {
        var interface: String
        var variables: IfcfgVariables
    }

    public func isPresent(in files: any GuestFileReader) throws -> Bool {
        !(try profiles(in: files).isEmpty)
    }

    /// Every ifcfg file initscripts would bring up, in byte order of its name, with the device it
    /// configures: `DEVICE=` when set, else the file-name suffix.
    func profiles(in files: any GuestFileReader) throws -> [Profile] {
        let names = try files.listDirectory(Self.directory).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var result: [Profile] = []
        for name in names {
            guard let suffix = IfcfgFileNames.rhelInterface(fileName: name),
                let variables = try IfcfgVariables.read(Self.directory.appending(name), from: files)
            else { continue }
            let device = variables["DEVICE"] ?? suffix
            // DEVICE=eth0:1 is an alias (an address of eth0), whatever the file is called.
            guard device != "lo", !device.contains(":") else { continue }
            result.append(Profile(interface: device, variables: variables))
        }
        return result
    }

    public func interfaces(in files: any GuestFileReader) throws -> [InterfaceConfig] {
        var configs: [InterfaceConfig] = []
        let profiles = try profiles(in: files)
        for profile in profiles {
            var config = IfcfgRHELReader.config(profile.variables, device: profile.interface)
            // NM reads route-<file suffix>; initscripts route-<DEVICE>: both, when they differ.
            let suffix = String(profile.variables.path.name.dropFirst("ifcfg-".count))
            for name in Set([suffix, profile.interface]).sorted() {
                for (prefix, family) in [("route-", IPAddress.Family.v4), ("route6-", .v6)] {
                    let path = Self.directory.appending(prefix + name)
                    guard let file = try files.read(path) else { continue }
                    for route in IfcfgRoutes.rhel(file.contents, path: path, family: family) {
                        // A default route in a route file is the interface's gateway, unless GATEWAY= gave one.
                        if route.value.destination.prefix == 0, let gateway = route.value.gateway {
                            if gateway.family == .v4, config.gateway4 == nil { config.gateway4 = Sourced(gateway, at: route.location) }
                            if gateway.family == .v6, config.gateway6 == nil { config.gateway6 = Sourced(gateway, at: route.location) }
                            if gateway.family == .v4
                                ? config.gateway4?.location == route.location : config.gateway6?.location == route.location
                            {
                                continue
                            }
                        }
                        config.routes.append(route)
                    }
                    config.files.append(path)
                }
            }
            configs.append(config)
        }
        // A port names its bond (`MASTER=`) or bridge (`BRIDGE=`); the bond lists its ports.
        for index in configs.indices {
            guard let name = configs[index].name?.value else { continue }
            let ports = profiles.filter { profile in
                profile.variables["MASTER"] == name || profile.variables["BRIDGE"] == name
            }.map(\.interface)
            for port in ports where !configs[index].ports.contains(port) { configs[index].ports.append(port) }
        }
        return configs
    }
}
