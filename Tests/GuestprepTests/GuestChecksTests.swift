import Apply
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import Planning
import Testing

@testable import GuestprepCLI
@testable import Rules

/// The readiness checks guest-agent and subscription against the fixture roots under
/// `Fixtures/agents/<case>/` and `Fixtures/subscription/<case>/`: each has `input/` (a guest
/// tree), `findings.txt` (`severity code path:line`, re-recorded with
/// GUESTPREP_RECORD_SNAPSHOTS=1) and, for agents, `to` (the destination playbook, when any).
@Suite("Guest readiness checks: agents and subscriptions")
struct GuestChecksTests {
    static let fixtures = Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures")

    static func cases(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent(folder).path)) ?? []).filter {
            !$0.hasSuffix(".md")
        }.sorted()
    }

    /// A scratch copy of a tree, planned with `steps`.
    struct Planned {
        var scratch: URL
        var guest: URL
        var root: GuestRoot
        var plan: Plan

        init(
            input: URL, steps: [(any Rule, String)], destination: Destination? = nil, executor: ((GuestRoot) -> any GuestExecutor)? = nil
        ) throws {
            scratch = try Support.scratch("checks")
            guest = scratch.appendingPathComponent("root")
            try Support.must("cp", ["-a", input.path, guest.path])
            root = try GuestRoot(hostPath: guest.path)
            plan = try Self.plan(root, steps: steps, destination: destination, executor: executor?(root))
        }

        static func plan(_ root: GuestRoot, steps: [(any Rule, String)], destination: Destination?, executor: (any GuestExecutor)?) throws
            -> Plan
        {
            let playbook = Playbook(
                name: "t", source: "t", steps: steps.enumerated().map { .init(rule: $1.0, ruleID: $1.1, line: $0 + 1) },
                destination: destination)
            return Planner.plan(
                root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
                executor: executor)
        }

        var findingLines: String { GuestChecksTests.lines(plan.findings, under: guest.path) }

        func cleanUp() { Support.cleanUp(scratch) }
    }

    /// Findings as `severity code path:line`, paths inside the guest.
    static func lines(_ findings: [Finding], under root: String) -> String {
        findings.map { finding in
            "\(finding.severity.rawValue) \(finding.code) \(finding.location.map { $0.replacingOccurrences(of: root, with: "") } ?? "-")\n"
        }.joined()
    }

    static func golden(_ planned: Planned, _ directory: URL, _ name: String) throws {
        #expect(planned.plan.failures.isEmpty, "\(name): \(planned.plan.failures)")
        let file = directory.appendingPathComponent("findings.txt")
        if NetworkFixtures.recording { try Data(planned.findingLines.utf8).write(to: file) }
        #expect(planned.findingLines == (try? String(contentsOf: file, encoding: .utf8)) ?? "", "\(name): findings")
    }

    @Test("guest-agent golden cases: installed, enabled, expected by the destination, left behind", arguments: cases("agents"))
    func agents(_ name: String) throws {
        let directory = Self.fixtures.appendingPathComponent("agents/\(name)")
        let to = try? String(contentsOf: directory.appendingPathComponent("to"), encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let destination = try to.map { try PlaybookLibrary.load($0).destination }
        let planned = try Planned(
            input: directory.appendingPathComponent("input"), steps: [(GuestAgentCheck(), GuestAgentCheck.id)],
            destination: destination ?? nil)
        defer { planned.cleanUp() }
        try Self.golden(planned, directory, name)
        #expect(planned.plan.changes.isEmpty, "\(name): checks only, unless remove-source-agents")
    }

    @Test("the messages name the fix: the family's install command, systemctl for the unit, the uninstaller")
    func agentMessages() throws {
        func findings(_ name: String) throws -> [Finding] {
            let directory = Self.fixtures.appendingPathComponent("agents/\(name)")
            let to = try String(contentsOf: directory.appendingPathComponent("to"), encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
            let planned = try Planned(
                input: directory.appendingPathComponent("input"), steps: [(GuestAgentCheck(), GuestAgentCheck.id)],
                destination: try PlaybookLibrary.load(to).destination)
            defer { planned.cleanUp() }
            return planned.plan.findings
        }
        let vmware = try findings("debian-qemu-agent-on-demand-to-vmware")
        #expect(vmware.first { $0.code == "agent.missing" }?.message.contains("apt-get install -y open-vm-tools") == true)
        #expect(
            vmware.first { $0.code == "agent.inventory" }?.message.contains("qemu-guest-agent 1:7.2+dfsg-7+deb12u5 started on demand")
                == true)
        let azure = try findings("ubuntu-walinuxagent-not-enabled-to-azure")
        #expect(azure.first { $0.code == "agent.missing" }?.message.contains("apt-get install -y linux-cloud-tools-virtual") == true)
        #expect(azure.first { $0.code == "agent.not-enabled" }?.message.contains("enable walinuxagent.service") == true)
        let hyperv = try findings("debian-hyperv-daemons-masked-to-hyperv")
        #expect(
            hyperv.first { $0.code == "agent.not-enabled" }?.message.contains(" unmask hv-kvp-daemon.service && systemctl --root=") == true)
        let kubevirt = try findings("debian-open-vm-tools-cloud-init-off-to-kubevirt")
        #expect(kubevirt.first { $0.code == "agent.source-agent" }?.message.contains("`apt-get purge -y open-vm-tools`") == false)
        #expect(kubevirt.first { $0.code == "agent.source-agent" }?.message.contains("remove-source-agents: true") == true)
        #expect(kubevirt.first { $0.code == "agent.not-enabled" }?.message.contains("/etc/cloud/cloud-init.disabled") == true)
        let aws = try findings("debian-vmware-tools-tarball-to-aws")
        #expect(aws.first { $0.code == "agent.source-agent" }?.message.contains("vmware-uninstall-tools.pl") == true)
    }

    @Test("subscription golden cases, after media-repos: each fact reported once", arguments: cases("subscription"))
    func subscriptions(_ name: String) throws {
        let directory = Self.fixtures.appendingPathComponent("subscription/\(name)")
        let planned = try Planned(
            input: directory.appendingPathComponent("input"),
            steps: [(MediaRepositories(), MediaRepositories.id), (SubscriptionCheck(), SubscriptionCheck.id)])
        defer { planned.cleanUp() }
        try Self.golden(planned, directory, name)
        // One finding per file: media-repos' repos.subscription and this rule's never name the same one.
        let subscriptionPaths = planned.plan.findings.filter { $0.code.hasPrefix("subscription.") || $0.code == "repos.subscription" }
            .compactMap(\.location)
        #expect(Set(subscriptionPaths).count == subscriptionPaths.count, "\(name): \(subscriptionPaths)")
    }

    @Test("without media-repos in the playbook, the subscription rule reports the registration itself")
    func subscriptionAlone() throws {
        for (name, code) in [
            ("rhel-rhsm-registered-redhat-repo", "subscription.rhsm"), ("rhel-rhui-repo-reported-by-media-repos", "subscription.rhui"),
            ("sles-suseconnect-service-reported-by-media-repos", "subscription.suse"),
        ] {
            let planned = try Planned(
                input: Self.fixtures.appendingPathComponent("subscription/\(name)/input"),
                steps: [(SubscriptionCheck(), SubscriptionCheck.id)])
            defer { planned.cleanUp() }
            #expect(planned.plan.findings.map(\.code) == [code], "\(name)")
        }
    }

    @Test("guestprep check --to vmware on a guest with qemu-guest-agent only: the expected-agent warning, in text and JSON")
    func checkReport() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let agentCase = Self.fixtures.appendingPathComponent("agents/debian-qemu-agent-on-demand-to-vmware/input")
        try Support.must("cp", ["-a", agentCase.path + "/.", guest.root.path])
        let base = ["check", "--to", "vmware", "--nic", "ens3=52:54:00:12:34:56"] + guest.arguments
        let text = try Support.guestprep(base)
        #expect(text.status == 2, "\(text.stdout)\(text.stderr)")
        #expect(
            text.stdout.contains(
                "vmware expects open-vm-tools, and none is installed; install it before migrating: apt-get install -y open-vm-tools [agent.missing]"
            ), "\(text.stdout)")
        let json = try JSONSerialization.jsonObject(with: Data(try Support.guestprep(base + ["--format", "json"]).stdout.utf8))
        let findings = try #require((json as? [String: Any])?["findings"] as? [[String: Any]])
        let missing = try #require(findings.first { $0["code"] as? String == "agent.missing" })
        #expect(missing["severity"] as? String == "warning" && missing["rule"] as? String == "guest-agent")
    }

    @Test("an ESM source file that does not parse is an error naming the file and line, never a finding")
    func esmUnparsable() throws {
        let scratch = try Support.scratch("esm")
        defer { Support.cleanUp(scratch) }
        try Support.write("ID=ubuntu\n", to: scratch.appendingPathComponent("etc/os-release"))
        try Support.write(
            "deb https://esm.ubuntu.com/apps/ubuntu\n", to: scratch.appendingPathComponent("etc/apt/sources.list.d/ubuntu-esm-apps.list"))
        let plan = try Planned.plan(
            try GuestRoot(hostPath: scratch.path), steps: [(SubscriptionCheck(), SubscriptionCheck.id)], destination: nil, executor: nil)
        #expect(plan.findings.isEmpty)
        let failure = try #require(plan.failures.first)
        #expect(failure.error.path?.hasSuffix("ubuntu-esm-apps.list") == true && failure.error.line == 1)
    }
}

/// guest-agent with the real dpkg and rpm: packages built here and installed into a throwaway root,
/// rpm's database read by the guest's own rpm through the chroot executor, and the opt-in removal
/// of the source's agent applied.
@Suite(
    "Guest agents with real package managers",
    .enabled(if: Support.isRoot && PhonyGuest.available, "needs root (chroot, namespaces) and busybox-static (make deps installs it)"))
struct GuestAgentPackageTests {
    static func unit(_ description: String, wantedBy: String?) -> String {
        "[Unit]\nDescription=\(description)\n\n[Service]\nExecStart=/bin/true\n" + (wantedBy.map { "\n[Install]\nWantedBy=\($0)\n" } ?? "")
    }

    static func plan(_ guest: KernelGuest, destination: String, removeSourceAgents: Bool) throws -> (GuestRoot, Plan) {
        let root = try guest.guestRoot()
        try Support.write("", to: guest.root.appendingPathComponent("lib/systemd/systemd"))
        let playbook = Playbook(
            name: "agents", source: "agents",
            steps: [.init(rule: GuestAgentCheck(removeSourceAgents: removeSourceAgents), ruleID: GuestAgentCheck.id, line: 1)],
            destination: try PlaybookLibrary.load(destination).destination)
        let plan = Planner.plan(
            root: root, devices: DeviceInventory(devices: []), facts: try GuestFacts.gather(from: root), playbook: playbook,
            executor: ChrootExecutor(root: root))
        return (root, plan)
    }

    @Test(
        "dpkg: open-vm-tools leaving for KubeVirt is removed by dpkg --purge when asked; qemu-guest-agent enabled; rollback says it cannot return"
    )
    func dpkg() throws {
        let guest = try KernelGuest("agents-dpkg", osRelease: "ID=debian\nVERSION_ID=12\n")
        defer { guest.cleanUp() }
        try guest.installDpkg()
        try guest.installDebs([
            DummyPackage(name: "open-vm-tools", version: "2:12.2.0-1+deb12u1", files: ["lib/systemd/system/open-vm-tools.service": 10]),
            DummyPackage(name: "qemu-guest-agent", version: "1:7.2+dfsg-7+deb12u5", files: ["usr/sbin/qemu-ga": 100]),
        ])
        // The dummy packages' files are filler: write real units over them.
        try guest.write(
            GuestAgentPackageTests.unit("VMware", wantedBy: "multi-user.target"), to: "lib/systemd/system/open-vm-tools.service")
        try guest.write(
            GuestAgentPackageTests.unit("QEMU Guest Agent", wantedBy: "multi-user.target"),
            to: "lib/systemd/system/qemu-guest-agent.service")
        try FileManager.default.createDirectory(
            at: guest.root.appendingPathComponent("etc/systemd/system/multi-user.target.wants"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: guest.root.appendingPathComponent("etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service").path,
            withDestinationPath: "/lib/systemd/system/qemu-guest-agent.service")

        let (_, report) = try Self.plan(guest, destination: "kubevirt", removeSourceAgents: false)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.changes.isEmpty)
        #expect(report.findings.filter { $0.severity == .warning }.map(\.code) == ["agent.source-agent"])
        #expect(report.findings.first { $0.code == "agent.source-agent" }?.message.contains("`dpkg --purge open-vm-tools`") == true)
        #expect(
            report.findings.first { $0.code == "agent.inventory" }?.message.contains("qemu-guest-agent 1:7.2+dfsg-7+deb12u5 enabled")
                == true)

        let (root, plan) = try Self.plan(guest, destination: "kubevirt", removeSourceAgents: true)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        #expect(plan.changes.compactMap(\.command).map(\.argv) == [["dpkg", "--purge", "open-vm-tools"]])
        #expect(plan.irreversibleChanges.count == 1)
        #expect(plan.findings.map(\.code).contains("agent.source-agent-removed"))
        let outcome = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        let installed = try Support.must(
            "dpkg-query", ["--admindir", guest.root.path + "/var/lib/dpkg", "-W", "-f", "${Package} ${db:Status-Abbrev}\n"])
        #expect(
            installed.split(separator: "\n").filter { $0.hasSuffix("ii ") }.map { String($0.split(separator: " ")[0]) } == [
                "qemu-guest-agent"
            ])
        let rolledBack = try Rollback(root: root, runner: ChrootExecutor(root: root)).rollBack(runID: outcome.runID, force: false)
        #expect(rolledBack.manualSteps.contains { $0.contains("open-vm-tools=2:12.2.0-1+deb12u1") })
    }

    @Test(
        "rpm: the guest's rpm lists the agents; Azure expects WALinuxAgent and the Hyper-V daemons; open-vm-tools is rpm -e'd when asked",
        .enabled(if: KernelGuest.rpmAvailable, "needs rpm and rpmbuild (Debian's rpm package; make deps installs it)"))
    func rpm() throws {
        let guest = try KernelGuest("agents-rpm", osRelease: "ID=rocky\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=9.3\n")
        defer { guest.cleanUp() }
        try guest.installRPM()
        try guest.installRPMs([
            DummyPackage(name: "open-vm-tools", version: "12.3.5-2.el9", files: ["usr/bin/vmtoolsd": 100]),
            DummyPackage(name: "cloud-init", version: "23.4-7.el9", files: ["usr/bin/cloud-init": 100]),
        ])
        try guest.write(GuestAgentPackageTests.unit("VMware", wantedBy: "multi-user.target"), to: "usr/lib/systemd/system/vmtoolsd.service")
        let (root, plan) = try Self.plan(guest, destination: "azure", removeSourceAgents: true)
        #expect(plan.failures.isEmpty, "\(plan.failures)")
        let missing = plan.findings.filter { $0.code == "agent.missing" }
        #expect(missing.count == 1, "cloud-init is one of Azure's choices; the Hyper-V daemons are not: \(missing)")
        #expect(missing.first?.message.contains("dnf install -y hyperv-daemons") == true)
        #expect(missing.first?.path == "/var/lib/rpm", "guest paths in findings")
        #expect(plan.findings.first { $0.code == "agent.preferred-missing" }?.message.contains("dnf install -y WALinuxAgent") == true)
        #expect(plan.changes.compactMap(\.command).map(\.argv) == [["rpm", "-e", "open-vm-tools-12.3.5-2.el9.noarch"]])
        _ = try Applier(root: root, tool: "test", runner: ChrootExecutor(root: root)).apply(plan)
        let left = try Support.must("rpm", ["--root", guest.root.path, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}\n"])
        #expect(left.split(separator: "\n") == ["cloud-init"])
    }
}
