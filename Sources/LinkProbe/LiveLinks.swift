import CGuestprepShim
import CUdev
import Foundation
import GuestprepCore
import Network

#if canImport(Glibc)
    import Glibc
#endif

/// A network link of the running system, as udev and sysfs describe it.
public struct NetworkLink: Sendable, Equatable, Codable {
    /// What the link is, which decides whether its name is pinned: only `physical` NICs are.
    public enum Kind: String, Sendable, Codable {
        case physical, loopback, bond, bridge, vlan, veth, tun, dummy, wireless
        /// Any other link the kernel makes itself (ifb, gre, wireguard, …).
        case virtual
    }

    public var name: String
    public var ifindex: Int?
    public var kind: Kind
    /// The current MAC (sysfs `address`).
    public var mac: MACAddress?
    /// The burned-in MAC from the driver (ethtool), when it has one and it is not all zeros.
    public var permanentMAC: MACAddress?
    /// The driver bound to the device (virtio_net, e1000, hv_netvsc, …).
    public var driver: String?
    /// The bus the device sits on: pci, virtio, vmbus, xen, usb.
    public var bus: String?
    /// The bond or bridge this link is a port of.
    public var master: String?

    public init(
        name: String, ifindex: Int? = nil, kind: Kind, mac: MACAddress? = nil, permanentMAC: MACAddress? = nil, driver: String? = nil,
        bus: String? = nil, master: String? = nil
    ) {
        self.name = name
        self.ifindex = ifindex
        self.kind = kind
        self.mac = mac
        self.permanentMAC = permanentMAC
        self.driver = driver
        self.bus = bus
        self.master = master
    }

    /// The MAC that identifies the NIC on the destination: the permanent one when known (a bond
    /// port's current MAC is the bond's), else the current one.
    public var identifyingMAC: MACAddress? { permanentMAC ?? mac }
}

/// The running system's network links, enumerated with libudev (`net` subsystem).
public enum LiveLinkProbe {
    public static func links() throws -> [NetworkLink] {
        guard let udev = udev_new() else {
            throw GuestprepError(.probe, "libudev could not be initialised", cause: String(cString: strerror(errno)))
        }
        defer { udev_unref(udev) }
        guard let enumerate = udev_enumerate_new(udev) else {
            throw GuestprepError(.probe, "libudev could not start enumerating network links")
        }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, "net")
        guard udev_enumerate_scan_devices(enumerate) >= 0 else {
            throw GuestprepError(.probe, "libudev could not scan network links (is /sys mounted?)")
        }
        var links: [NetworkLink] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            defer { entry = udev_list_entry_get_next(current) }
            guard let syspath = udev_list_entry_get_name(current), let device = udev_device_new_from_syspath(udev, syspath) else {
                continue
            }
            defer { udev_device_unref(device) }
            links.append(describe(device, syspath: String(cString: syspath)))
        }
        return links.sorted { ($0.ifindex ?? Int.max, $0.name) < ($1.ifindex ?? Int.max, $1.name) }
    }

    static func describe(_ device: OpaquePointer, syspath: String) -> NetworkLink {
        func attribute(_ name: String) -> String? {
            udev_device_get_sysattr_value(device, name).map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        func property(_ name: String) -> String? { udev_device_get_property_value(device, name).map { String(cString: $0) } }
        let name = udev_device_get_sysname(device).map { String(cString: $0) } ?? ""
        var link = NetworkLink(name: name, ifindex: attribute("ifindex").flatMap { Int($0) }, kind: .virtual)
        link.mac = attribute("address").flatMap(MACAddress.init)
        // sysfs `master` is a symlink to the bond or bridge; libudev reads only a few links itself.
        var target = [CChar](repeating: 0, count: 4096)
        let linkLength = readlink(syspath + "/master", &target, target.count - 1)
        if linkLength > 0 {
            let path = String(decoding: target[0..<linkLength].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            link.master = path.split(separator: "/").last.map(String.init)
        }
        let parent = udev_device_get_parent(device)
        if let parent {
            link.bus = udev_device_get_subsystem(parent).map { String(cString: $0) }
            link.driver = udev_device_get_driver(parent).map { String(cString: $0) }
        }
        var driverName = [CChar](repeating: 0, count: 64)
        let ethtoolDriver =
            name.withCString { guestprep_link_driver($0, &driverName, Int32(driverName.count)) } == 0
            ? String(decoding: driverName.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        link.driver = link.driver ?? ethtoolDriver
        link.kind = kind(
            devtype: property("DEVTYPE"), type: attribute("type"), hasDevice: parent != nil && !syspath.contains("/devices/virtual/"),
            has: { attribute($0) != nil }, driver: ethtoolDriver)
        var buffer = [UInt8](repeating: 0, count: 32)
        let length = name.withCString { guestprep_permanent_mac($0, &buffer, Int32(buffer.count)) }
        if length == 6 || length == 20, buffer[0..<Int(length)].contains(where: { $0 != 0 }) {
            link.permanentMAC = MACAddress(bytes: Array(buffer[0..<Int(length)]))
        }
        return link
    }

    /// Classifies a link by what the kernel says of it: the ARP hardware type, DEVTYPE, sysfs
    /// entries only some kinds have, whether a real device (a PCI function, a virtio or vmbus
    /// device) is behind it, and for virtual links the driver ethtool names.
    public static func kind(devtype: String?, type: String?, hasDevice: Bool, has: (String) -> Bool, driver: String?) -> NetworkLink.Kind {
        if type == "772" { return .loopback }
        switch devtype {
        case "bond": return .bond
        case "bridge": return .bridge
        case "vlan": return .vlan
        case "wlan": return .wireless
        default: break
        }
        if has("bonding/mode") { return .bond }
        if has("bridge/stp_state") { return .bridge }
        if has("tun_flags") { return .tun }
        if hasDevice { return has("phy80211/name") || has("wireless/status") ? .wireless : .physical }
        switch driver {
        case "veth": return .veth
        case "dummy": return .dummy
        case "tun": return .tun
        case "802.1Q VLAN Support": return .vlan
        default: return .virtual
        }
    }
}
