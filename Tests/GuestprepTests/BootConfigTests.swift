import Apply
import BlockProbe
import Dialects
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Network
import Planning
import Testing

@testable import Rules

/// Golden boot-config cases: `Fixtures/boot/<case>/input` is a guest tree, planned with
/// stable-block-device-references and boot-config (the default playbook's order) against one GPT
/// image known as sda, vda and nvme0n1 (1 ext4 /, 2 swap); `expected/` holds the files as planned
/// and `findings.txt` (severity, code, location; then each planned command).
/// Re-record with GUESTPREP_RECORD_SNAPSHOTS=1.
@Suite("boot-config golden cases")
struct BootConfigTests {
    static let fixtures = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/boot")
    static let cases = ["grub-device-names", "bls-kernel-cmdline", "clean"]

    static func disk(in directory: URL) throws -> DeviceInventory {
        let image = try DiskImage.gpt(
            at: directory.appendingPathComponent("disk.img"),
            partitions: [
                .init(sizeMiB: 16, content: .ext4(uuid: FixtureGuest.rootUUID)),
                .init(sizeMiB: 8, content: .swap(uuid: FixtureGuest.swapUUID)),
            ])
        return try DiskImageProbe.inventory(["sda", "vda", "nvme0n1"].map { DiskMapping(guestName: "/dev/\($0)", hostPath: image.path) })
    }

    static let playbook = Playbook(
        name: "test", source: "test",
        steps: [
            .init(rule: StableBlockDeviceReferences(), ruleID: StableBlockDeviceReferences.id, line: 1),
            .init(rule: BootConfig(), ruleID: BootConfig.id, line: 2),
        ])

    /// The case's input copied to `directory`/root, and its plan with `playbook`.
    static func plan(_ name: String, in directory: URL, playbook: Playbook = playbook, prepare: (URL) throws -> Void = { _ in }) throws
        -> (root: URL, guest: GuestRoot, plan: Plan)
    {
        let root = directory.appendingPathComponent("root")
        try Support.must("cp", ["-a", fixtures.appendingPathComponent("\(name)/input").path, root.path])
        try prepare(root)
        let guest = try GuestRoot(hostPath: root.path)
        return (root, guest, try Planner.plan(root: guest, devices: try disk(in: directory), playbook: playbook))
    }

    @Test("input → planned files and findings, as recorded", arguments: cases)
    func golden(_ name: String) throws {
        let directory = try Support.scratch("boot-\(name)")
        defer { Support.cleanUp(directory) }
        let plan = try Self.plan(name, in: directory).plan
        #expect(plan.failures.isEmpty, "\(plan.failures)")

        var report = plan.findings.map { "\($0.severity.rawValue) \($0.code) \($0.location ?? "-")" }
        report += plan.changes.compactMap(\.command).map { "run \($0.argv.joined(separator: " "))" }
        let expected = Self.fixtures.appendingPathComponent("\(name)/expected")
        var files: [(String, [UInt8])] = [("findings.txt", Array((report.joined(separator: "\n") + "\n").utf8))]
        for change in plan.changes {
            guard let path = change.path, let proposed = change.proposed else { continue }
            files.append((String(path.description.dropFirst()), proposed))
        }
        if ProcessInfo.processInfo.environment["GUESTPREP_RECORD_SNAPSHOTS"] == "1" {
            try? FileManager.default.removeItem(at: expected)
            for (path, bytes) in files {
                let url = expected.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(bytes).write(to: url)
            }
            return
        }
        let recorded = try Support.snapshot(expected).filter { !$0.value.hasPrefix("40") }.keys.sorted()
        #expect(recorded == files.map(\.0).sorted(), "files planned differ from the recorded ones")
        for (path, bytes) in files {
            let want = Array(try Data(contentsOf: expected.appendingPathComponent(path)))
            #expect(bytes == want, "\(name)/\(path) differs; re-record with GUESTPREP_RECORD_SNAPSHOTS=1 if intended")
        }
    }

    @Test(
        "/etc/default/grub: one change for both rules, every other byte kept; the validators reject a wrong UUID and a kept GRUB_DISABLE_LINUX_UUID=true"
    )
    func oneChangeLossless() throws {
        let directory = try Support.scratch("boot-lossless")
        defer { Support.cleanUp(directory) }
        let plan = try Self.plan("grub-device-names", in: directory).plan
        let grub = try #require(plan.changes.first { $0.path == "/etc/default/grub" })
        #expect(grub.rules == [StableBlockDeviceReferences.id, BootConfig.id])
        let before = TextLines.split(try #require(grub.original?.contents))
        let after = TextLines.split(try #require(grub.proposed))
        #expect(before.count == after.count)
        for (old, new) in zip(before, after) where old != new {
            #expect(old.terminator == new.terminator)
            #expect(new.text.contains("UUID=") || new.text.hasPrefix(BootConfig.disableMarker))
        }
        // The validators check meaning, not lines.
        let wrong = String(decoding: try #require(grub.proposed), as: UTF8.self).replacingOccurrences(
            of: FixtureGuest.rootUUID, with: "00000000-0000-4000-8000-000000000000")
        let validators = grub.validators
        #expect(throws: GuestprepError.self) {
            for validator in validators { try validator.validate(proposed: Array(wrong.utf8), original: nil, path: "grub") }
        }
        #expect(throws: GuestprepError.self) {
            try GrubUUIDNamingValidator().validate(proposed: Array("GRUB_DISABLE_LINUX_UUID=true\n".utf8), original: nil, path: "grub")
        }
    }

    @Test("apply and rollback through the real Applier: byte-identical tree afterwards")
    func applyRollback() throws {
        let directory = try Support.scratch("boot-apply")
        defer { Support.cleanUp(directory) }
        var pristine: [String: String] = [:]
        let playbook = Playbook(
            name: "test", source: "test",
            steps: Self.playbook.steps + [.init(rule: BlockUdevRules(commentOut: true), ruleID: BlockUdevRules.id, line: 3)])
        let (root, guest, plan) = try Self.plan("grub-device-names", in: directory, playbook: playbook) { root in
            // No update-grub: nothing irreversible in this run.
            try FileManager.default.removeItem(at: root.appendingPathComponent("usr/sbin/update-grub"))
            try Support.write(UdevBlockFixtures.asmRules, to: root.appendingPathComponent("etc/udev/rules.d/99-oracle-asm.rules"))
            pristine = try Support.snapshot(root)
        }
        #expect(plan.failures.isEmpty)
        #expect(plan.changes.allSatisfy { $0.command == nil })
        #expect(Set(plan.changes.compactMap(\.path)) == ["/etc/fstab", "/etc/default/grub", "/etc/udev/rules.d/99-oracle-asm.rules"])
        let outcome = try Applier(root: guest, tool: "test").apply(plan)
        #expect(try Support.read(root.appendingPathComponent("etc/default/grub")).contains("root=UUID=\(FixtureGuest.rootUUID)"))
        #expect(try Support.read(root.appendingPathComponent("etc/udev/rules.d/99-oracle-asm.rules")).contains("#KERNEL==\"sd?1\""))
        _ = try Rollback(root: guest).rollBack(runID: outcome.runID, force: false)
        #expect(try Support.snapshot(root, excluding: "var/lib/guestprep") == pristine)
    }
}

enum UdevBlockFixtures {
    /// Oracle ASM disks bound by SCSI serial (scsi_id), a continuation line, and a NIC rule that stays.
    static let asmRules = """
        # Oracle ASM disks
        KERNEL=="sd?1", SUBSYSTEM=="block", PROGRAM=="/usr/lib/udev/scsi_id -g -u -d /dev/$parent", \\
          RESULT=="36000c29a8c2e1f1b2d3e4f5a6b7c8d9e", SYMLINK+="oracleasm/disk1", OWNER="grid", GROUP="asmadmin", MODE="0660"
        SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"
        SUBSYSTEM=="block", ATTRS{vendor}=="VMware  ", ATTRS{model}=="Virtual disk    ", ATTR{queue/scheduler}="none"
        KERNEL=="sdb", OWNER="oracle"
        SUBSYSTEM=="block", ENV{ID_SERIAL}=="?*", SYMLINK+="disk/by-serial/$env{ID_SERIAL}"
        """
}

@Suite("block-udev-rules")
struct BlockUdevRulesTests {
    @Test("fixture: naming by serial and by kernel name are warnings, tuning by vendor is info, generic and NIC rules are not reported")
    func classification() throws {
        let found = BlockUdevClassifier.classify(UdevRulesFile(bytes: Array(UdevBlockFixtures.asmRules.utf8)))
        #expect(found.map(\.rule.lineNumber) == [2, 5, 6])
        #expect(found.map(\.match.effect) == [.naming, .other, .ownership])
        #expect(found[0].match.identity.map(\.key) == ["RESULT"])
    }

    static let corpus = Support.corpusFiles("udev-block")

    @Test("every corpus file round-trips, and commenting out every rule found leaves all other lines byte-identical", arguments: corpus)
    func corpusLossless(_ file: URL) throws {
        let bytes = Array(try Data(contentsOf: file))
        var rules = UdevRulesFile(bytes: bytes)
        #expect(rules.bytes == bytes)
        let found = BlockUdevClassifier.classify(rules).filter { $0.match.effect != .other }
        let kept = rules.rules.filter { rule in !found.contains { $0.rule.index == rule.index } }.map(\.tokens)
        for (rule, _) in found.reversed() { rules.commentOutRule(at: rule.index, marker: BlockUdevRules.marker) }
        try UdevRulesKeptValidator(kept: kept).validate(proposed: rules.bytes, original: bytes, path: file.lastPathComponent)
        // Removing the markers and the '#' put in front gives the original back.
        var lines = TextLines.split(rules.bytes).filter { $0.text != BlockUdevRules.marker }
        let commented = Set(found.flatMap { match in (0..<match.rule.lineCount).map { match.rule.index + $0 } })
        for index in commented { lines[index].content.removeFirst() }
        #expect(TextLines.join(lines) == bytes)
    }

    @Test("the corpus is classified sensibly")
    func corpusClassification() throws {
        guard Support.corpusAvailable else {
            print("NOTICE: \(Support.corpus.path) is absent; udev-block corpus classification ran on no files")
            return
        }
        func classify(_ name: String) throws -> [(line: Int, effect: BlockUdevClassifier.Match.Effect)] {
            let bytes = Array(try Data(contentsOf: Support.corpus.appendingPathComponent("udev-block/\(name)")))
            return BlockUdevClassifier.classify(UdevRulesFile(bytes: bytes)).map { ($0.rule.lineNumber, $0.match.effect) }
        }
        // Generic rules that match any disk by pattern name nothing by hardware identity (ata_id
        // imported for ATTRS{vendor}=="ATA" disks is a match, not a name).
        #expect(try classify("systemd-60-persistent-storage.rules").map(\.effect) == [.other])
        #expect(try classify("systemd-60-block.rules").isEmpty)
        #expect(try classify("util-linux-example-udev-raw.rules").isEmpty)
        // CD aliases generated for one PCI path: each names a device by ID_PATH.
        let cd = try classify("opensuse122-70-persistent-cd.rules")
        #expect(cd.count == 6 && cd.allSatisfy { $0.effect == .naming })
        // Vendor-specific naming (EBS model, Google vendor, Azure vendor/model gates) is naming.
        for name in ["amazon-ec2-utils-70-ec2-nvme-devices.rules", "gce-65-gce-disk-naming.rules", "waagent-66-azure-storage.rules"] {
            #expect(try classify(name).contains { $0.effect == .naming }, "\(name)")
        }
        // A timeout by model names nothing.
        #expect(try classify("kiwi-aws-69-nvme-timeout.rules").map(\.effect) == [.other])
    }

    @Test("the rule: warnings with file:line; comment-out: true plans a lossless change")
    func rule() throws {
        let directory = try Support.scratch("udev-block-rule")
        defer { Support.cleanUp(directory) }
        try Support.write("ID=debian\n", to: directory.appendingPathComponent("etc/os-release"))
        try Support.write(UdevBlockFixtures.asmRules, to: directory.appendingPathComponent("etc/udev/rules.d/99-oracle-asm.rules"))
        let guest = try GuestRoot(hostPath: directory.path)
        for commentOut in [false, true] {
            let playbook = Playbook(
                name: "t", source: "t", steps: [.init(rule: BlockUdevRules(commentOut: commentOut), ruleID: BlockUdevRules.id, line: 1)])
            let plan = try Planner.plan(root: guest, devices: DeviceInventory(devices: []), playbook: playbook)
            #expect(
                plan.findings.map { "\($0.severity.rawValue) \($0.code) \($0.location ?? "")" } == [
                    "warning udev.block-hardware-name /etc/udev/rules.d/99-oracle-asm.rules:2",
                    "info udev.block-hardware-match /etc/udev/rules.d/99-oracle-asm.rules:5",
                    "warning udev.block-hardware-owner /etc/udev/rules.d/99-oracle-asm.rules:6",
                ])
            #expect(plan.changes.count == (commentOut ? 1 : 0))
        }
        let parameters = RuleParameters(values: ["comment-out": .init(content: .scalar("yes"), line: 4)], rule: BlockUdevRules.id)
        #expect(throws: GuestprepError.self) { try BlockUdevRules(parameters: parameters) }
    }
}

@Suite("vmware-hw-version")
struct VMwareHardwareVersionTests {
    static func vmx(_ version: Int) -> String {
        """
        .encoding = "UTF-8"
        config.version = "8"
        virtualHW.version = "\(version)"
        displayName = "web01"
        guestOS = "debian11-64"

        """
    }

    static func ovf(_ types: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
          <VirtualSystem ovf:id="web01">
            <VirtualHardwareSection>
              <System>
                <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
                <vssd:VirtualSystemType>\(types)</vssd:VirtualSystemType>
              </System>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>

        """
    }

    @Test("parsing: .vmx virtualHW.version, OVF vmx-NN (the highest of a list)")
    func parsing() {
        #expect(VMwareHardwareVersion.fromVMX(Array(Self.vmx(11).utf8)) == .init(version: 11, line: 3, text: "virtualHW.version = \"11\""))
        #expect(VMwareHardwareVersion.fromVMX(Array(Self.vmx(19).utf8))?.version == 19)
        #expect(VMwareHardwareVersion.fromVMX(Array("displayName = \"x\"\n".utf8)) == nil)
        #expect(VMwareHardwareVersion.fromOVF(Array(Self.ovf("vmx-10").utf8)) == .init(version: 10, line: 7, text: "vmx-10"))
        #expect(VMwareHardwareVersion.fromOVF(Array(Self.ovf("vmx-19").utf8))?.version == 19)
        #expect(VMwareHardwareVersion.fromOVF(Array(Self.ovf("vmx-07 vmx-13").utf8))?.version == 13)
        #expect(VMwareHardwareVersion.fromOVF(Array(Self.ovf("xen-3.0-x86_64").utf8)) == nil)
    }

    @Test("through the CLI: --vmx 11 and --ovf vmx-10 block, 19 is ready; no file, nothing reported")
    func cli() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let files = [
            ("old.vmx", Self.vmx(11)), ("new.vmx", Self.vmx(19)), ("old.ovf", Self.ovf("vmx-10")), ("new.ovf", Self.ovf("vmx-19")),
        ]
        for (name, text) in files { try Support.write(text, to: guest.directory.appendingPathComponent(name)) }
        func codes(_ extra: [String]) throws -> [String] {
            let result = try Support.guestprep(["plan"] + guest.arguments + extra + ["--format", "json"])
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let findings = json?["findings"] as? [[String: Any]] ?? []
            return findings.filter { ($0["rule"] as? String) == VMwareHardwareVersionCheck.id }.map {
                "\($0["severity"] ?? "") \($0["code"] ?? "") \($0["line"] ?? "")"
            }
        }
        func file(_ name: String) -> String { guest.directory.appendingPathComponent(name).path }
        #expect(try codes([]) == [])
        #expect(try codes(["--vmx", file("old.vmx")]) == ["blocker vmware.hw-version-old 3"])
        #expect(try codes(["--vmx", file("new.vmx")]) == ["info vmware.hw-version-ok 3"])
        #expect(try codes(["--ovf", file("old.ovf")]) == ["blocker vmware.hw-version-old 7"])
        #expect(
            try codes(["--ovf", file("new.ovf"), "--vmx", file("new.vmx")]) == [
                "info vmware.hw-version-ok 3", "info vmware.hw-version-ok 7",
            ])
        let missing = try Support.guestprep(["plan"] + guest.arguments + ["--vmx", file("missing.vmx")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("missing.vmx"))
    }
}
