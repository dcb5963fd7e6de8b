import Apply
import BlockProbe
import Dialects
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import Planning
import Testing

@testable import Rules

/// lvm-identity, multipath and bootloader-device against the golden cases under
/// `Fixtures/storage/<case>/` (see the README there): findings, applied tree, rollback byte for byte.
@Suite("StorageIdentity")
struct StorageIdentityTests {
    static let folder = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/storage")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasSuffix(".md") }.sorted()

    static let steps: [Playbook.Step] = [
        .init(rule: LvmIdentity(), ruleID: LvmIdentity.id, line: 1),
        .init(rule: Multipath(), ruleID: Multipath.id, line: 2),
        .init(rule: BootloaderDevice(), ruleID: BootloaderDevice.id, line: 3),
    ]

    struct Planned {
        var scratch: URL
        var guest: URL
        var root: GuestRoot
        var devices: DeviceInventory
        var destination: Destination?
        var plan: Plan

        init(case directory: URL) throws {
            scratch = try Support.scratch("storage")
            guest = scratch.appendingPathComponent("root")
            try Support.must("cp", ["-a", directory.appendingPathComponent("input").path, guest.path])
            root = try GuestRoot(hostPath: guest.path)
            let devicesFile = directory.appendingPathComponent("devices.json")
            devices = DeviceInventory(
                devices: FileManager.default.fileExists(atPath: devicesFile.path)
                    ? try JSONDecoder().decode([BlockDevice].self, from: Data(contentsOf: devicesFile)) : [])
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("cloud-destination").path) {
                destination = Destination(platform: "test-cloud", cloud: true)
            }
            plan = try Self.plan(root, devices, destination)
        }

        static func plan(_ root: GuestRoot, _ devices: DeviceInventory, _ destination: Destination?) throws -> Plan {
            Planner.plan(
                root: root, devices: devices, facts: try GuestFacts.gather(from: root),
                playbook: Playbook(name: "t", source: "t", steps: StorageIdentityTests.steps, destination: destination))
        }

        var findingLines: String {
            plan.findings.map { finding in
                let location = finding.location.map { $0.replacingOccurrences(of: guest.path, with: "") } ?? "-"
                return "\(finding.severity.rawValue) \(finding.code) \(location)\n"
            }.joined()
        }

        func cleanUp() { Support.cleanUp(scratch) }
    }

    @Test("golden case: findings, applied tree, nothing left to do, then rollback byte-identical", arguments: cases)
    func golden(_ name: String) throws {
        let directory = Self.folder.appendingPathComponent(name)
        let planned = try Planned(case: directory)
        defer { planned.cleanUp() }
        #expect(planned.plan.failures.isEmpty, "\(name): \(planned.plan.failures)")

        let findingsFile = directory.appendingPathComponent("findings.txt")
        if NetworkFixtures.recording { try Data(planned.findingLines.utf8).write(to: findingsFile) }
        #expect(planned.findingLines == (try? String(contentsOf: findingsFile, encoding: .utf8)) ?? "", "\(name): findings")

        let before = try Support.snapshot(planned.guest, excluding: "var/lib/guestprep")
        let expectedDirectory = directory.appendingPathComponent("expected")
        guard planned.plan.changes.contains(where: \.touchesFile) else {
            #expect(!FileManager.default.fileExists(atPath: expectedDirectory.path), "\(name): expected/ but no change planned")
            return
        }
        let outcome = try Applier(root: planned.root, tool: "test").apply(planned.plan)
        let after = try NetworkFixtures.tree(planned.guest).filter { !$0.key.hasPrefix("var/lib/guestprep") }
        if NetworkFixtures.recording { try NetworkFixtures.writeTree(after, to: expectedDirectory) }
        MediaRepositoriesTests.compare(after, try NetworkFixtures.tree(expectedDirectory), name)

        let again = try Planned.plan(planned.root, planned.devices, planned.destination)
        #expect(again.changes.filter(\.touchesFile).isEmpty, "\(name): \(again.changes.map(\.headline))")

        _ = try Rollback(root: planned.root).rollBack(runID: outcome.runID, force: false)
        #expect(try Support.snapshot(planned.guest, excluding: "var/lib/guestprep") == before, "\(name): rollback")
    }

    // MARK: lvm.conf

    static let lvmConf = """
        # "quoted" words in a comment, and a } brace
        devices {
        \tdir = "/dev"   # trailing comment with "quotes"
        \tscan = [ "/dev" ]
        \tfilter = [ "a|^/dev/sda2$|", # first
        \t           'r|#.*|' ,
        \t  "r|.*|" ]
        \tsysfs_scan = 1
        }
        global {
        \tlocking_dir = "/run/lock/lvm"
        \tnested {
        \t\tvalue = 1.5
        \t}
        }
        """

    @Test("lvm.conf: sections, settings, arrays over lines, quotes and # inside strings; unchanged renders byte-identical")
    func lvmConfParse() throws {
        let bytes = Array((Self.lvmConf + "\r\n").utf8)
        let conf = try LvmConfFile(bytes: bytes, path: "lvm.conf")
        #expect(conf.bytes == bytes)
        let filter = try #require(conf.setting("filter", in: ["devices"]))
        #expect(filter.isArray && filter.items.map(\.text) == ["a|^/dev/sda2$|", "r|#.*|", "r|.*|"])
        #expect(filter.lineNumber == 5 && filter.items.map(\.lineNumber) == [5, 6, 7])
        #expect(conf.setting("value", in: ["global", "nested"])?.items.first?.text == "1.5")
        #expect(conf.setting("sysfs_scan", in: ["devices"])?.items.first?.isString == false)
        #expect(conf.sections.map(\.path) == [["devices"], ["global", "nested"], ["global"]])
    }

    @Test("lvm.conf: editing one key touches only its value, adds a line before the brace, or appends the section")
    func lvmConfEdit() throws {
        let conf = try LvmConfFile(bytes: Array(Self.lvmConf.utf8), path: "lvm.conf")
        let replaced = try conf.setting("sysfs_scan", in: "devices", to: "0", comment: ["why"], path: "lvm.conf")
        #expect(
            String(decoding: replaced.bytes, as: UTF8.self)
                == Self.lvmConf.replacingOccurrences(of: "\tsysfs_scan = 1", with: "\t# why\n\tsysfs_scan = 0"))
        let added = try conf.setting("use_devicesfile", in: "devices", to: "0", comment: ["a", "b"], path: "lvm.conf")
        #expect(
            String(decoding: added.bytes, as: UTF8.self)
                == Self.lvmConf.replacingOccurrences(
                    of: "\tsysfs_scan = 1\n}", with: "\tsysfs_scan = 1\n\t# a\n\t# b\n\tuse_devicesfile = 0\n}"))
        #expect(added.setting("use_devicesfile", in: ["devices"])?.items.first?.text == "0")
        let appended = try conf.setting("x", in: "log", to: "\"y\"", comment: [], path: "lvm.conf")
        #expect(String(decoding: appended.bytes, as: UTF8.self) == Self.lvmConf + "\n\nlog {\n\tx = \"y\"\n}\n")
        let oneLine = try LvmConfFile(bytes: Array("devices { scan = [ \"/dev\" ] }".utf8), path: "l")
        let edited = try oneLine.setting("use_devicesfile", in: "devices", to: "0", comment: [], path: "l")
        #expect(edited.setting("use_devicesfile", in: ["devices"])?.items.first?.text == "0")
        #expect(edited.setting("scan", in: ["devices"])?.items.first?.text == "/dev")
    }

    @Test(
        "lvm.conf that does not parse is an error with its line",
        arguments: [
            ("devices {\n\tfilter = [ \"a|x|\"\n", 2), ("devices {\n}\n}\n", 3), ("devices {\n\tdir = \"/dev\n}\n", 2),
            ("devices {\n\tdir \"/dev\"\n}\n", 2), ("devices {\n", 1),
        ])
    func lvmConfErrors(_ text: String, _ line: Int) {
        let error = #expect(throws: GuestprepError.self) { try LvmConfFile(bytes: Array(text.utf8), path: "lvm.conf") }
        #expect(error?.code == .parse && error?.line == line, "\(String(describing: error))")
    }

    @Test("the lvm.conf Debian ships round-trips byte for byte (read in place: installed, or unpacked by make deps)")
    func shippedLvmConf() throws {
        let candidates = ["/etc/lvm/lvm.conf", Support.repository.appendingPathComponent(".build/tools/lvm2/etc/lvm/lvm.conf").path]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
            let data = FileManager.default.contents(atPath: path)
        else {
            print("NOTICE: no lvm.conf (lvm2 neither installed nor unpacked by make deps); shipped lvm.conf round-trip skipped")
            return
        }
        let conf = try LvmConfFile(bytes: Array(data), path: path)
        #expect(conf.bytes == Array(data))
        #expect(!conf.sections.isEmpty)
        let edited = try conf.setting("use_devicesfile", in: "devices", to: "0", comment: ["test"], path: path)
        #expect(edited.setting("use_devicesfile", in: ["devices"])?.items.first?.text == "0")
        #expect(edited.bytes.count == data.count + "\t# test\n\tuse_devicesfile = 0\n".utf8.count)
    }

    @Test("filter items: which name hardware, and which of those are exact paths")
    func filterPatterns() {
        func named(_ text: String) -> String? {
            guard let name = LvmFilterPattern(text)?.hardwareName else { return nil }
            return name.literalPath ?? "pattern"
        }
        #expect(named("a|^/dev/sda2$|") == "/dev/sda2")
        #expect(named("a|^/dev/sd[ab]2$|") == "pattern")
        #expect(named("a|/dev/nvme0n1p3|") == "/dev/nvme0n1p3")
        #expect(named("a|sda|") == "pattern")
        #expect(named("a|/dev/vd.*|") == "pattern")
        #expect(named("a|/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2|") == "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2")
        #expect(named("a|^/dev/disk/by-id/lvm-pv-uuid-abc$|") == nil)
        #expect(named("a|.*|") == nil)
        #expect(named("r|/dev/cdrom|") == nil)
        #expect(named("a|^/dev/mapper/|") == nil)
        #expect(LvmFilterPattern("x|y|") == nil && LvmFilterPattern("a|y") == nil)
    }

    @Test("the lvm.conf validator re-reads the file alone: a changed or missing filter fails")
    func lvmValidator() throws {
        let validator = LvmConfValidator(expected: [.init(section: ["devices"], key: "filter", items: ["a|x|", "r|.*|"])])
        try validator.validate(proposed: Array("devices {\n filter = [ \"a|x|\", \"r|.*|\" ]\n}\n".utf8), original: nil, path: "l")
        for bad in ["devices {\n filter = [ \"a|y|\", \"r|.*|\" ]\n}\n", "devices {\n}\n", "devices {\n filter = [ \"a|x|\"\n"] {
            #expect(throws: GuestprepError.self) { try validator.validate(proposed: Array(bad.utf8), original: nil, path: "l") }
        }
    }

    // MARK: debconf and device.map

    @Test("config.dat: records, Variables lines, Value edited alone; unchanged renders byte-identical")
    func debconf() throws {
        let text = """
            Name: a/b
            Template: a/b
            Value:\u{20}
            Variables:
             X = 1
             Y = a: b

            Name: grub-pc/install_devices
            Value: /dev/disk/by-id/ata-X, /dev/md/boot\\, odd
            Flags: seen

            """
        let database = try DebconfDatabase(bytes: Array(text.utf8), path: "config.dat")
        #expect(database.bytes == Array(text.utf8))
        #expect(database.records.map(\.name) == ["a/b", "grub-pc/install_devices"])
        #expect(database.record(named: "a/b")?.field("value")?.value == "")
        let value = try #require(database.record(named: "grub-pc/install_devices")?.field("Value"))
        #expect(DebconfDatabase.items(of: value.value) == ["/dev/disk/by-id/ata-X", "/dev/md/boot\\, odd"])
        let edited = try database.settingValue("", of: "grub-pc/install_devices", path: "config.dat")
        #expect(
            String(decoding: edited.bytes, as: UTF8.self)
                == text.replacingOccurrences(of: "Value: /dev/disk/by-id/ata-X, /dev/md/boot\\, odd", with: "Value: "))
        #expect(throws: GuestprepError.self) { try DebconfDatabase(bytes: Array("Name: x\nno colon here\n".utf8), path: "c") }
        #expect(throws: GuestprepError.self) { try DebconfDatabase(bytes: Array("Template: x\n".utf8), path: "c") }
    }

    @Test("multipath.conf: sections, quoted values, ! and # comments; find_multipaths set in place or added")
    func multipathConf() throws {
        let text =
            "defaults {\n\tfind_multipaths \"greedy\" # why\n}\ndevices {\n\tdevice {\n\t\tvendor \"NETAPP\"\n\t}\n}\nblacklist { wwid \".*\" }\n"
        let conf = try MultipathConfFile(bytes: Array(text.utf8), path: "m")
        #expect(conf.bytes == Array(text.utf8))
        #expect(conf.setting("find_multipaths", in: ["defaults"])?.value == "greedy")
        #expect(conf.setting("vendor", in: ["devices", "device"])?.value == "NETAPP")
        #expect(conf.setting("wwid", in: ["blacklist"])?.value == ".*")
        let edited = try conf.setting("find_multipaths", in: "defaults", to: "yes", comment: ["c"], path: "m")
        #expect(
            String(decoding: edited.bytes, as: UTF8.self)
                == text.replacingOccurrences(of: "\tfind_multipaths \"greedy\"", with: "\t# c\n\tfind_multipaths yes"))
        let bare = try MultipathConfFile(bytes: Array("blacklist {\n}\n".utf8), path: "m")
        let added = try bare.setting("find_multipaths", in: "defaults", to: "yes", comment: [], path: "m")
        #expect(String(decoding: added.bytes, as: UTF8.self) == "blacklist {\n}\ndefaults {\n\tfind_multipaths yes\n}\n")
        #expect(throws: GuestprepError.self) { try MultipathConfFile(bytes: Array("defaults {\n".utf8), path: "m") }
    }

    @Test("bootloader-device finds the disk holding /boot through the partition naming (by UUID, PARTUUID or path)")
    func bootDiskLookup() {
        let devices = DeviceInventory(devices: [
            BlockDevice(name: "/dev/vda", aliases: ["/dev/disk/by-id/virtio-abc"], source: "d"),
            BlockDevice(
                name: "/dev/vda1", aliases: ["/dev/disk/by-id/virtio-abc-part1"], source: "d", type: "ext4", uuid: "U1", partUUID: "P1"),
        ])
        #expect(BootloaderDevice.device(for: "UUID=U1", in: devices)?.name == "/dev/vda1")
        #expect(BootloaderDevice.device(for: "PARTUUID=p1", in: devices)?.name == "/dev/vda1")
        #expect(BootloaderDevice.device(for: "/dev/disk/by-uuid/U1", in: devices)?.name == "/dev/vda1")
        #expect(BootloaderDevice.device(for: "UUID=U2", in: devices) == nil)
    }
}
