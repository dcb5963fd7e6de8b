import Apply
import BlockProbe
import Foundation
import GuestFS
import GuestprepCore
import HostProcess
import Journal
import Planning
import Rules
import Testing

/// Validators check meaning, not line numbers: libmount's reading of the proposal, and each
/// planned reference found on the entry it was planned for, wherever other edits moved it.
@Suite("fstab validation by meaning")
struct FstabValidationTests {
    static let rootUUID = "11111111-2222-4333-8444-555555555555"
    static let bootUUID = "0a0a0a0a-0000-4000-8000-000000000001"
    static let devices = DeviceInventory(devices: [
        BlockDevice(name: "/dev/sda1", source: "test", type: "ext4", uuid: rootUUID, usage: "filesystem"),
        BlockDevice(name: "/dev/sda2", source: "test", type: "ext4", uuid: bootUUID, usage: "filesystem"),
    ])

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func expectValidationError(_ body: () throws -> Void, line: Int, mentioning text: String) {
        #expect {
            try body()
        } throws: { error in
            guard let error = error as? GuestprepError else { return false }
            return error.code == .validation && error.line == line && error.path == "/etc/fstab" && error.message.contains(text)
        }
    }

    // MARK: libmount's reading

    @Test("a rewrite that breaks a line fails at that line; old problems, even moved ones, do not count")
    func parseErrors() throws {
        let good = bytes("/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /srv ext4 defaults 0 2\n")
        let broken = bytes("/dev/sda1 / ext4 defaults 0 1\nbug\n")
        let validator = LibmountFstabValidator(expected: [])
        expectValidationError(
            { try validator.validate(proposed: broken, original: good, path: "/etc/fstab") }, line: 2, mentioning: "\"bug\"")
        try validator.validate(proposed: broken, original: broken, path: "/etc/fstab")
        // The broken line moved down by two inserted lines is still the original's problem.
        try validator.validate(proposed: bytes("# a\n# b\n") + broken, original: broken, path: "/etc/fstab")
        // Same count, different line: one fixed, another broken, is still a new problem.
        let otherBroken = bytes("/dev/sda1 / ext4 defaults 0 x\n/dev/sda2 /srv ext4 defaults 0 2\n")
        expectValidationError(
            { try validator.validate(proposed: otherBroken, original: broken, path: "/etc/fstab") }, line: 1, mentioning: "0 x")
        // A new file has nothing to excuse its problems.
        expectValidationError({ try validator.validate(proposed: broken, original: nil, path: "/etc/fstab") }, line: 2, mentioning: "bug")
    }

    @Test(
        "the verdict on parse errors agrees with comparing findmnt --verify's counts",
        .enabled(if: HostCommand.find("findmnt") != nil, "findmnt is not installed"))
    func agreesWithFindmnt() throws {
        let good = bytes("/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /srv ext4 defaults 0 2\n")
        let cases: [(original: [UInt8], proposed: [UInt8])] = [
            (good, bytes("/dev/sda1 / ext4 defaults 0 1\nbug\n")),
            (good, bytes("UUID=\(Self.rootUUID) / ext4 defaults 0 1\n/dev/sda2 /srv ext4 defaults 0 2\n")),
            (good, bytes("/dev/sda1 / ext4 defaults 0 1\ntmpfs /tmp tmpfs defaults 0 0\n")),
            (bytes("bug\n"), bytes("# new\nbug\n")),
            (good, bytes("/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /srv ext4 defaults 1x 2\n")),
            (good, bytes("/dev/sda1 /\n")),
        ]
        for (original, proposed) in cases {
            let before = try #require(try MountTableTests.findmntRejectedLines(original)).count
            let after = try #require(try MountTableTests.findmntRejectedLines(proposed)).count
            var accepted = true
            do {
                try LibmountFstabValidator(expected: []).validate(proposed: proposed, original: original, path: "/etc/fstab")
            } catch let error as GuestprepError where error.code == .validation {
                accepted = false
            }
            #expect(accepted == (after <= before), "\(String(decoding: proposed, as: UTF8.self))")
        }
    }

    @Test("each planned source is on the entry with the same mount point and type, as libmount decodes them")
    func expectedSources() throws {
        let key = LibmountFstabValidator.key(target: "/mnt/a b", type: "ext4")
        let validator = LibmountFstabValidator(expected: [KeyedReference(key: key, value: "UUID=\(Self.rootUUID)", line: 1)])
        let original = bytes("/dev/sda1 /mnt/a\\040b ext4 defaults 0 2\n")
        try validator.validate(
            proposed: bytes("UUID=\(Self.rootUUID) /mnt/a\\040b ext4 defaults 0 2\n"), original: original, path: "/etc/fstab")
        try validator.validate(
            proposed: bytes("tmpfs /tmp tmpfs defaults 0 0\n\nUUID=\(Self.rootUUID) /mnt/a\\040b ext4 defaults 0 2\n"), original: original,
            path: "/etc/fstab")
        // Undone by a later edit: the message names where the entry is now.
        expectValidationError(
            {
                try validator.validate(
                    proposed: bytes("# moved\n/dev/sda1 /mnt/a\\040b ext4 defaults 0 2\n"), original: original, path: "/etc/fstab")
            }, line: 2, mentioning: "reads /dev/sda1 for the entry mounted at /mnt/a b (ext4)")
        // Mounted elsewhere, or as another type: not the entry that was planned.
        expectValidationError(
            {
                try validator.validate(
                    proposed: bytes("UUID=\(Self.rootUUID) /mnt/ab ext4 defaults 0 2\n"), original: original, path: "/etc/fstab")
            },
            line: 1, mentioning: "no source")
    }

    @Test("two swap entries on the same mount point need two matching entries")
    func duplicateKeys() throws {
        let key = LibmountFstabValidator.key(target: "none", type: "swap")
        let validator = LibmountFstabValidator(expected: [
            KeyedReference(key: key, value: "UUID=a", line: 1), KeyedReference(key: key, value: "UUID=b", line: 2),
        ])
        let original = bytes("/dev/sda1 none swap sw\n/dev/sda2 none swap sw\n")
        try validator.validate(proposed: bytes("UUID=b none swap sw\nUUID=a none swap sw\n"), original: original, path: "/etc/fstab")
        expectValidationError(
            {
                try validator.validate(
                    proposed: bytes("UUID=a none swap sw\nUUID=a none swap sw\n"), original: original, path: "/etc/fstab")
            },
            line: 1, mentioning: "expected UUID=b")
    }

    @Test("UUID references are found by key wherever their line went, and must name one probed device")
    func uuidReferences() throws {
        let extract: UUIDReferenceValidator.Extractor = { bytes in
            TextLines.split(bytes).enumerated().compactMap { index, line in
                let fields = line.fields()
                guard fields.count == 2 else { return nil }
                return KeyedReference(key: fields[0].text, value: fields[1].text, line: index + 1)
            }
        }
        let validator = UUIDReferenceValidator(
            expected: [KeyedReference(key: "root", value: "UUID=\(Self.rootUUID)", line: 1)], devices: Self.devices, extract: extract)
        try validator.validate(proposed: bytes("x y\nz w\nroot UUID=\(Self.rootUUID)\n"), original: nil, path: "/etc/fstab")
        expectValidationError(
            { try validator.validate(proposed: bytes("x y\nroot /dev/sda1\n"), original: nil, path: "/etc/fstab") }, line: 2,
            mentioning: "found /dev/sda1 (line 2)")
        let unknown = UUIDReferenceValidator(
            expected: [KeyedReference(key: "root", value: "UUID=feed", line: 1)], devices: Self.devices, extract: extract)
        expectValidationError(
            { try unknown.validate(proposed: bytes("# moved\nroot UUID=feed\n"), original: nil, path: "/etc/fstab") }, line: 2,
            mentioning: "0 probed devices")
    }

    @Test("a line libmount skips is left as it is, with a warning, and the other rewrites still validate")
    func skippedLineLeftAlone() throws {
        let directory = try Support.scratch("skipped-line")
        defer { Support.cleanUp(directory) }
        try Support.write(
            "/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /boot ext4 defaults 0 two\n", to: directory.appendingPathComponent("etc/fstab"))
        let root = try GuestRoot(hostPath: directory.path)
        let playbook = Playbook(
            name: "test", source: "test",
            steps: [.init(rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 1)])
        let plan = try Planner.plan(root: root, devices: Self.devices, playbook: playbook)
        #expect(plan.findings.map(\.location) == ["/etc/fstab:2"])
        #expect(plan.findings.first?.severity == .warning)
        #expect(plan.changes.first?.proposed == bytes("UUID=\(Self.rootUUID) / ext4 defaults 0 1\n/dev/sda2 /boot ext4 defaults 0 two\n"))
    }

    // MARK: two rules, one file

    /// Puts two lines (a comment and an entry) above everything else in fstab.
    struct InsertsAtTop: TestRule {
        static let id = "test-inserts-at-top"

        func evaluate(in context: RuleContext) throws {
            let fstab = try #require(try context.read("/etc/fstab"))
            try context.propose(
                "/etc/fstab", contents: Array("# scratch space\ntmpfs /tmp tmpfs defaults 0 0\n".utf8) + fstab.contents, rule: Self.id,
                reasons: ["tmpfs on /tmp"])
        }
    }

    @Test(
        "one rule inserts two lines at the top, the other rewrites /dev/sda1 (line 3 once moved): both validate, in either order",
        arguments: [true, false])
    func twoRulesOneFile(insertFirst: Bool) throws {
        let directory = try Support.scratch("two-rules")
        defer { Support.cleanUp(directory) }
        let fstab = directory.appendingPathComponent("etc/fstab")
        try Support.write("/dev/sda1 / ext4 errors=remount-ro 0 1\n/dev/sda2 /boot ext4 defaults 0 2\n", to: fstab)
        let root = try GuestRoot(hostPath: directory.path)
        let insert = Playbook.Step(rule: InsertsAtTop(), ruleID: InsertsAtTop.id, line: 1)
        let rewrite = Playbook.Step(
            rule: StableBlockDeviceReferences(targets: [.fstab]), ruleID: StableBlockDeviceReferences.id, line: 2)
        let playbook = Playbook(name: "test", source: "test", steps: insertFirst ? [insert, rewrite] : [rewrite, insert])

        let plan = try Planner.plan(root: root, devices: Self.devices, playbook: playbook)
        #expect(plan.findings.filter { $0.severity == .blocker }.isEmpty, "\(plan.findings)")
        let change = try #require(plan.changes.first)
        #expect(Set(change.rules) == [InsertsAtTop.id, StableBlockDeviceReferences.id])
        let expected = """
            # scratch space
            tmpfs /tmp tmpfs defaults 0 0
            UUID=\(Self.rootUUID) / ext4 errors=remount-ro 0 1
            UUID=\(Self.bootUUID) /boot ext4 defaults 0 2

            """
        #expect(change.proposed == bytes(expected))
        // Apply runs every validator again on the bytes read back from the guest.
        _ = try Applier(root: root, tool: "test").apply(plan)
        #expect(try Support.read(fstab) == expected)
    }
}
