/// A block device as the guest will see it, with the identifiers found on it by libblkid.
public struct BlockDevice: Sendable, Equatable, Codable {
    /// The guest's kernel name for it, e.g. "/dev/sda1" or "/dev/nvme0n1p2".
    public var name: String
    /// Other guest paths naming the same device (/dev/disk/by-id/…, /dev/disk/by-path/…).
    public var aliases: [String]
    /// Where it was read from on this host: an image file at an offset, or a device node.
    public var source: String
    public var type: String?
    public var uuid: String?
    /// Second UUID of multi-device filesystems (btrfs member devices).
    public var subUUID: String?
    public var label: String?
    public var partUUID: String?
    /// "filesystem", "crypto", "raid", "other"; nil when nothing was recognised.
    public var usage: String?
    /// Why libblkid could not tell what is on it, when it could not.
    public var problem: String?
    /// Why guestprep could not read the device at all (EACCES, EIO): not a fact about the guest,
    /// so a file that names this device gets an error, never a finding.
    public var readFailure: String?
    /// For a partition: the guest name of the whole disk it is on (where the boot code lives).
    public var disk: String?
    /// For a partition: its type in the partition table, a GPT type GUID (upper case) or an MBR
    /// type byte as "0xef".
    public var partitionType: String?
    /// For a whole disk: the partition table libblkid found ("gpt", "dos"), if any.
    public var partitionTable: String?

    public init(
        name: String, aliases: [String] = [], source: String, type: String? = nil, uuid: String? = nil,
        subUUID: String? = nil, label: String? = nil, partUUID: String? = nil, usage: String? = nil, problem: String? = nil,
        readFailure: String? = nil, disk: String? = nil, partitionType: String? = nil, partitionTable: String? = nil
    ) {
        self.readFailure = readFailure
        self.disk = disk
        self.partitionType = partitionType
        self.partitionTable = partitionTable
        self.name = name
        self.aliases = aliases
        self.source = source
        self.type = type
        self.uuid = uuid
        self.subUUID = subUUID
        self.label = label
        self.partUUID = partUUID
        self.usage = usage
        self.problem = problem
    }

    /// Every guest path that names this device.
    public var allNames: [String] { [name] + aliases }

    /// The UEFI spec's type GUID of an EFI system partition, and its MBR type byte.
    public static let espGPTType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    /// GRUB's core image lives here on a GPT disk booted by BIOS (grub-install(8)).
    public static let biosBootGPTType = "21686148-6449-6E6F-744E-656564454649"

    /// An EFI system partition by its partition-table type (GPT GUID or MBR 0xef).
    public var isEFISystemPartition: Bool {
        partitionType?.uppercased() == Self.espGPTType || partitionType == "0xef"
    }
}

/// Every block device the guest will have, indexed for exact lookups.
///
/// Names are compared as bytes, as the kernel, udev and libmount compare them: Swift's `String ==`
/// is canonical equivalence, under which a by-id name spelt with U+212A KELVIN SIGN equals one
/// with a plain "K", and the line would be rewritten to the other disk's UUID.
public struct DeviceInventory: Sendable {
    public let devices: [BlockDevice]
    private let byName: [[UInt8]: Int]
    private let byUUID: [[UInt8]: [Int]]

    public init(devices: [BlockDevice]) {
        self.devices = devices
        var byName: [[UInt8]: Int] = [:]
        var byUUID: [[UInt8]: [Int]] = [:]
        for (index, device) in devices.enumerated() {
            for name in device.allNames where byName[Array(name.utf8)] == nil { byName[Array(name.utf8)] = index }
            if let uuid = device.uuid { byUUID[Self.uuidKey(uuid), default: []].append(index) }
        }
        self.byName = byName
        self.byUUID = byUUID
    }

    /// The device a guest path names, matched exactly, byte for byte ("/dev/sda1" never matches
    /// "/dev/sda10", "ata-\u{212A}" never matches "ata-K").
    public func device(named path: String) -> BlockDevice? {
        device(namedBytes: Array(path.utf8))
    }

    /// The same for a name kept as the bytes the guest's file holds.
    public func device(namedBytes path: [UInt8]) -> BlockDevice? {
        byName[path].map { devices[$0] }
    }

    /// All probed devices carrying this filesystem UUID, ignoring ASCII case as blkid does (and
    /// nothing else: Unicode case folding would make "\u{212A}" a "k").
    public func devices(withUUID uuid: String) -> [BlockDevice] {
        (byUUID[Self.uuidKey(uuid)] ?? []).map { devices[$0] }
    }

    private static func uuidKey(_ uuid: String) -> [UInt8] {
        uuid.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
    }
}
