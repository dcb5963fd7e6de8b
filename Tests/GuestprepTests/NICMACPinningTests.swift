import Apply
import BlockProbe
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Journal
import LinkProbe
import Network
import Planning
import Testing

@testable import Rules

/// nic-mac-pinning against small guest trees under `Fixtures/network/pinning/<case>/`: `input/`
/// is planned and its file changes applied, then compared with `expected/` (absent: unchanged).
/// Re-record with GUESTPREP_RECORD_SNAPSHOTS=1.
@Suite("NICMACPinning")
struct NICMACPinningTests {
    static let cases = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/network/pinning")

    /// A scratch copy of a case's input tree, planned with the rule.
    struct Case {
        var name: String
        var root: URL
        var guest: GuestRoot
        var plan: Plan

        init(
            _ name: String, hints: [NICHint] = [], liveLinks: [NetworkLink]? = nil, keepsMACs: Bool = true,
            edit: (URL) throws -> Void = { _ in }
        ) throws {
            self.name = name
            root = try Support.scratch("pinning")
            try Support.must("cp", ["-a", NICMACPinningTests.cases.appendingPathComponent("\(name)/input").path + "/.", root.path])
            try edit(root)
            guest = try GuestRoot(hostPath: root.path)
            let rule = NICMACPinning(destinationKeepsMACs: keepsMACs)
            plan = Planner.plan(
                root: guest, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: guest),
                playbook: Playbook(name: "t", source: "t", steps: [.init(rule: rule, ruleID: NICMACPinning.id, line: 1)]),
                network: NetworkInputs(liveLinks: liveLinks, hints: hints))
        }

        func cleanUp() { Support.cleanUp(root) }

        func findings(_ code: String) -> [Finding] { plan.findings.filter { $0.code == code } }

        /// Applies the file changes (commands need the guest's executor, which tests do not run).
        @discardableResult
        func applyFiles() throws -> Applier.Outcome {
            try Applier(root: guest, tool: "test").apply(plan.changes.filter { $0.kind != .runCommand }, playbook: plan.playbook)
        }

        /// The tree without guestprep's own journal.
        func tree() throws -> [String: [UInt8]] {
            try NetworkFixtures.tree(root).filter { !$0.key.hasPrefix("var/lib/guestprep") }
        }

        /// Applies and compares with `expected/` (or `input/` when the case changes nothing).
        func expectGolden(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
            try applyFiles()
            let got = try tree()
            let directory = NICMACPinningTests.cases.appendingPathComponent(name)
            let expectedDirectory = directory.appendingPathComponent("expected")
            if NetworkFixtures.recording {
                try NetworkFixtures.writeTree(got, to: expectedDirectory)
                return
            }
            try NetworkIfupdownTests.ifquery(got.filter { $0.key.hasPrefix("etc/network/interfaces") }, case: name)
            let hasExpected = FileManager.default.fileExists(atPath: expectedDirectory.path)
            let want = try NetworkFixtures.tree(directory.appendingPathComponent(hasExpected ? "expected" : "input"))
            for path in Set(got.keys).union(want.keys).sorted() where got[path] != want[path] {
                Issue.record(
                    "\(name): \(path) differs\n--- got\n\(got[path].map { String(decoding: $0, as: UTF8.self) } ?? "<missing>")\n--- expected\n\(want[path].map { String(decoding: $0, as: UTF8.self) } ?? "<missing>")",
                    sourceLocation: sourceLocation)
            }
        }
    }

    static let rulesPath: GuestPath = "/etc/udev/rules.d/70-persistent-net.rules"

    @Test("offline ifcfg guest with an upper-case HWADDR: pinned in udev, .link and ifcfg, all lower case; no dracut reported")
    func ifcfgUpperCase() throws {
        let run = try Case("ifcfg-upper-case-hwaddr-no-dracut")
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        #expect(!run.plan.findings.contains { $0.severity == .blocker }, "\(run.plan.findings)")
        #expect(run.findings("nic.initramfs-tool-missing").count == 1)
        #expect(!run.plan.changes.contains { $0.kind == .runCommand })
        #expect(run.plan.changes.contains { $0.path == "/etc/systemd/network/10-guestprep-ens3.link" })
        try run.expectGolden()
        let rules = try Support.read(run.root.appendingPathComponent("etc/udev/rules.d/70-persistent-net.rules"))
        #expect(rules.contains(#"ATTR{address}=="52:54:00:ab:cd:ef", NAME="ens3""#))
    }

    @Test("netplan guest named by --nic NAME=MAC: pinned, netplan matches the MAC, initramfs rebuild planned")
    func netplanHint() throws {
        let run = try Case("netplan-nic-hint-update-initramfs", hints: [.name("ens3", mac: try #require(MACAddress("52:54:00:12:34:56")))])
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        let command = try #require(run.plan.changes.last?.command)
        #expect(command.argv == ["update-initramfs", "-u", "-k", "all"])
        #expect(!command.isReversible && command.manualUndo != nil)
        #expect(run.findings("nic.initramfs-tool-missing").isEmpty)
        try run.expectGolden()
    }

    @Test("an unmatched MAC=IP hint is a warning; the rest is still planned")
    func unmatchedHint() throws {
        let run = try Case(
            "netplan-nic-hint-update-initramfs",
            hints: [
                .name("ens3", mac: try #require(MACAddress("52:54:00:12:34:56"))),
                .address(try #require(IPAddress("10.9.9.9")), mac: try #require(MACAddress("52:54:00:99:99:99"))),
            ])
        defer { run.cleanUp() }
        let unmatched = run.findings("nic.hint-unmatched")
        #expect(unmatched.count == 1 && unmatched[0].severity == .warning)
        #expect(unmatched[0].message.contains("10.9.9.9"))
        #expect(run.plan.changes.contains { $0.path == Self.rulesPath })
    }

    @Test("no MAC known offline: a warning naming the interface and --nic NAME=MAC, nothing written")
    func noMAC() throws {
        let run = try Case("netplan-nic-hint-update-initramfs")
        defer { run.cleanUp() }
        let finding = try #require(run.findings("nic.no-mac").first)
        #expect(finding.severity == .warning && finding.message.contains("--nic ens3=MAC"))
        #expect(run.plan.changes.isEmpty)
    }

    @Test("an existing rules file: the KERNELS== pin is rewritten to the MAC, a duplicate removed, other lines byte-identical")
    func existingRules() throws {
        let run = try Case("existing-rules-kernels-rewritten-duplicate-removed")
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        let change = try #require(run.plan.changes.first { $0.path == Self.rulesPath })
        #expect(change.kind == .modify)
        #expect(change.reasons.contains { $0.contains("bus position") })
        #expect(change.reasons.contains { $0.contains("second pin") })
        try run.expectGolden()
    }

    @Test("an admin's .link that already names the MAC is kept and not doubled; an unreadable directory is a warning, not a stop")
    func existingLinkAndUnreadable() throws {
        let run = try Case("existing-rules-kernels-rewritten-duplicate-removed") { root in
            try Support.write(
                "[Match]\nMACAddress=52:54:00:00:00:04\n\n[Link]\nName=ens4\n",
                to: root.appendingPathComponent("etc/systemd/network/50-admin.link"))
            let directory = root.appendingPathComponent("etc/NetworkManager/system-connections")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let bytes = Array((directory.path + "/caf").utf8) + [0xE9, 0]
            let fd = bytes.withUnsafeBufferPointer {
                open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o600)
            }
            close(fd)
        }
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        #expect(run.findings("nic.config-unreadable").first?.severity == .warning)
        let links = run.plan.changes.compactMap(\.path).filter { $0.name.hasSuffix(".link") }
        #expect(links == ["/etc/systemd/network/10-guestprep-ens3.link"])
    }

    @Test("one MAC with two names is a blocker and nothing is written")
    func macConflict() throws {
        let run = try Case("mac-conflict-nothing-written")
        defer { run.cleanUp() }
        let conflict = try #require(run.findings("nic.mac-conflict").first)
        #expect(conflict.severity == .blocker)
        #expect(conflict.message.contains("ens3") && conflict.message.contains("ens4"))
        #expect(run.plan.changes.isEmpty)
        try run.expectGolden()
    }

    @Test("one name with two MACs (config and --nic) is a blocker")
    func nameConflict() throws {
        let run = try Case("ifcfg-upper-case-hwaddr-no-dracut", hints: [.name("ens3", mac: try #require(MACAddress("52:54:00:00:00:99")))])
        defer { run.cleanUp() }
        #expect(run.findings("nic.name-conflict").first?.severity == .blocker)
        #expect(run.plan.changes.isEmpty)
    }

    @Test("eth0 without net.ifnames=0 is a warning; with it on the command line, none")
    func ethNamespace() throws {
        let run = try Case("eth0-without-net-ifnames")
        defer { run.cleanUp() }
        #expect(run.findings("nic.eth-namespace").first?.severity == .warning)
        try run.expectGolden()

        let fixed = try Case("eth0-without-net-ifnames") { root in
            try Support.write(
                "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"net.ifnames=0 biosdevname=0\"\n",
                to: root.appendingPathComponent("etc/default/grub"))
        }
        defer { fixed.cleanUp() }
        #expect(fixed.findings("nic.eth-namespace").isEmpty)
        let bls = try Case("eth0-without-net-ifnames") { root in
            try Support.write(
                "title Debian\nlinux /vmlinuz\noptions root=UUID=x ro net.ifnames=0\n",
                to: root.appendingPathComponent("boot/loader/entries/debian.conf"))
        }
        defer { bls.cleanUp() }
        #expect(bls.findings("nic.eth-namespace").isEmpty)
    }

    @Test("destination-keeps-macs: false removes MAC pins and pure naming .link files, warns, keeps an admin's .link")
    func destinationChangesMACs() throws {
        let run = try Case("destination-changes-macs-pins-removed", keepsMACs: false)
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        #expect(run.findings("nic.names-follow-hardware").first?.severity == .warning)
        #expect(run.findings("nic.link-kept").count == 1)
        let deletion = try #require(run.plan.changes.first { $0.kind == .delete })
        #expect(deletion.path == "/etc/systemd/network/10-guestprep-ens3.link")
        #expect(deletion.reasons.allSatisfy { $0.contains("destination-keeps-macs: false") })
        try run.expectGolden()
    }

    @Test(
        "destination-keeps-macs: false matches every dialect's configuration by name: hwaddress, HWADDR, LLADDR, mac-address, match: and MACAddress= go"
    )
    func destinationChangesMACsConfigs() throws {
        let run = try Case("destination-changes-macs-configs-by-name", keepsMACs: false) { root in
            // Git keeps no mode: NetworkManager loads only 0600 profiles.
            let connections = root.appendingPathComponent("etc/NetworkManager/system-connections")
            for name in try FileManager.default.contentsOfDirectory(atPath: connections.path) {
                try FileManager.default.setAttributes(
                    [.posixPermissions: 0o600], ofItemAtPath: connections.appendingPathComponent(name).path)
            }
        }
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        let paths = Set(run.plan.changes.compactMap(\.path?.description))
        #expect(
            paths == [
                "/etc/network/interfaces", "/etc/netplan/50-cloud-init.yaml",
                "/etc/NetworkManager/system-connections/cloud-init-ens5.nmconnection",
                "/etc/sysconfig/network-scripts/ifcfg-ens6", "/etc/sysconfig/network/ifcfg-ens7", "/etc/systemd/network/20-wired.network",
                "/etc/udev/rules.d/70-persistent-net.rules",
            ])
        // The profile for a MAC no source names cannot be matched by name: left, with a warning.
        let left = try #require(run.findings("nic.config-mac-match").first)
        #expect(left.path == "/etc/NetworkManager/system-connections/unknown.nmconnection" && left.line == 6)
        #expect(run.findings("nic.config-mac-match").count == 1)
        try run.expectGolden()
        // Each file alone still configures its interface, by name and without a MAC.
        let configs = try NetworkDialects.configs(in: run.guest)
        for name in ["eth0", "ens4", "ens5", "ens6", "ens7", "ens8"] {
            let config = try #require(configs.first { $0.name?.value == name }, "\(name)")
            #expect(config.mac == nil, "\(name)")
        }
    }

    @Test("the parameter is read from a playbook and refuses anything but true or false")
    func parameter() throws {
        let playbook = try Playbook.parse(
            "name: t\nrules:\n  - rule: nic-mac-pinning\n    with:\n      destination-keeps-macs: false\n", source: "t")
        #expect(playbook.steps.count == 1)
        #expect(throws: GuestprepError.self) {
            try Playbook.parse("name: t\nrules:\n  - rule: nic-mac-pinning\n    with:\n      destination-keeps-macs: maybe\n", source: "t")
        }
    }

    @Test("live: physical NICs pinned by permanent MAC, bond ports included, the bond and its VLAN left alone")
    func live() throws {
        let port = try #require(MACAddress("52:54:00:00:01:01"))
        let bondMAC = try #require(MACAddress("52:54:00:00:01:00"))
        let links = [
            NetworkLink(name: "lo", kind: .loopback),
            NetworkLink(name: "ens3", kind: .physical, mac: bondMAC, permanentMAC: port, master: "bond0"),
            NetworkLink(name: "ens4", kind: .physical, mac: MACAddress("52:54:00:00:01:02")),
            NetworkLink(name: "bond0", kind: .bond, mac: bondMAC),
            NetworkLink(name: "bond0.10", kind: .vlan, mac: bondMAC),
        ]
        let run = try Case("netplan-nic-hint-update-initramfs", liveLinks: links)
        defer { run.cleanUp() }
        #expect(run.plan.failures.isEmpty, "\(run.plan.failures)")
        let rules = String(decoding: try #require(run.plan.changes.first { $0.path == Self.rulesPath }?.proposed), as: UTF8.self)
        #expect(rules.contains(#"ATTR{address}=="52:54:00:00:01:01", NAME="ens3""#))
        #expect(rules.contains(#"NAME="ens4""#))
        #expect(!rules.contains("bond0"))
        let links2 = run.plan.changes.compactMap(\.path).filter { $0.name.hasSuffix(".link") }
        #expect(links2 == ["/etc/systemd/network/10-guestprep-ens3.link", "/etc/systemd/network/10-guestprep-ens4.link"])
    }

    @Test("a second plan after apply changes nothing: pins are recognised, never duplicated")
    func idempotent() throws {
        let run = try Case("existing-rules-kernels-rewritten-duplicate-removed")
        defer { run.cleanUp() }
        try run.applyFiles()
        let again = Planner.plan(
            root: run.guest, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: run.guest),
            playbook: Playbook(name: "t", source: "t", steps: [.init(rule: NICMACPinning(), ruleID: NICMACPinning.id, line: 1)]))
        #expect(again.changes.isEmpty, "\(again.changes.map(\.headline))")
    }

    @Test("apply then rollback leaves the guest byte-identical, the created /etc/systemd/network included")
    func rollback() throws {
        let run = try Case("ifcfg-upper-case-hwaddr-no-dracut")
        defer { run.cleanUp() }
        let before = try Support.snapshot(run.root, excluding: "var/lib/guestprep")
        #expect(run.plan.changes.contains { $0.kind == .createDirectory && $0.path == "/etc/systemd/network" })
        let outcome = try run.applyFiles()
        #expect(FileManager.default.fileExists(atPath: run.root.appendingPathComponent("etc/systemd/network").path))
        _ = try Rollback(root: run.guest).rollBack(runID: outcome.runID, force: false)
        #expect(try Support.snapshot(run.root, excluding: "var/lib/guestprep") == before)
        #expect(!FileManager.default.fileExists(atPath: run.root.appendingPathComponent("etc/systemd").path))
    }

    @Test("the written rules file passes udevadm's own check, where the host's udevadm has one")
    func udevadmVerify() throws {
        guard let udevadm = ["/bin/udevadm", "/usr/bin/udevadm"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            print("notice: udevadm is not installed; the rules file is not checked by udev itself")
            return
        }
        let help = try Support.run(udevadm, ["--help"])
        guard help.stdout.contains("verify") else {
            // systemd 252 (Debian 12) has no offline rules check; `udevadm verify` came in 253.
            print("notice: \(udevadm) has no 'verify' command (systemd < 253); the rules file is not checked by udev itself")
            return
        }
        let run = try Case("existing-rules-kernels-rewritten-duplicate-removed")
        defer { run.cleanUp() }
        try run.applyFiles()
        let result = try Support.run(udevadm, ["verify", run.root.appendingPathComponent("etc/udev/rules.d/70-persistent-net.rules").path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}

/// The validators on their own: they check meaning, and leave the admin's broken lines to the admin.
@Suite("NICMACPinning validators")
struct NICMACPinningValidatorTests {
    @Test("the udev validator finds the pin wherever it is, tolerates a malformed line that was there before, refuses a new one")
    func udevValidator() throws {
        let mac = try #require(MACAddress("52:54:00:12:34:56"))
        let validator = NICPinValidator(expected: [("ens3", mac)], format: .udevRules)
        let pin = UdevRulesFile.pinLine(mac: mac, name: "ens3") + "\n"
        let broken = "KERNEL=\"unterminated\n"
        try validator.validate(proposed: Array((broken + "# x\n" + pin).utf8), original: Array(broken.utf8), path: "/r")
        #expect(throws: GuestprepError.self) { try validator.validate(proposed: Array((broken + pin).utf8), original: nil, path: "/r") }
        #expect(throws: GuestprepError.self) {
            try validator.validate(proposed: Array(pin.uppercased().utf8), original: nil, path: "/r")
        }
    }

    @Test("the .link validator wants the MAC match and the name, and no NamePolicy= that would override it")
    func linkValidator() throws {
        let mac = try #require(MACAddress("52:54:00:12:34:56"))
        let validator = NICPinValidator(expected: [("ens3", mac)], format: .linkFile)
        try validator.validate(proposed: LinkFile.render(mac: mac, name: "ens3"), original: nil, path: "/l")
        #expect(throws: GuestprepError.self) {
            try validator.validate(
                proposed: LinkFile.render(mac: mac, name: "ens3") + Array("NamePolicy=path\n".utf8), original: nil, path: "/l")
        }
        #expect(throws: GuestprepError.self) {
            try validator.validate(proposed: LinkFile.render(mac: mac, name: "ens4"), original: nil, path: "/l")
        }
    }
}
