import Foundation
import GuestprepCore
import Planning
import Rules
import Testing

@testable import GuestprepCLI

/// Destination playbooks (`--to`), `extends:` and the destination block rules read.
@Suite("Destination playbooks")
struct DestinationPlaybookTests {
    static let platforms = [
        "aws", "azure", "hyperv", "kubevirt", "linux-kvm", "lxd", "oci", "olvm", "openstack", "oracle-pca", "vmware",
    ]

    @Test("every shipped destination extends default, states its platform, firmware and MACs, and cites a source")
    func shipped() throws {
        #expect(PlaybookLibrary.destinations == Self.platforms)
        let defaults = try PlaybookLibrary.load("default").steps.map(\.ruleID)
        for name in Self.platforms {
            let shipped = Array(try Data(contentsOf: Support.repository.appendingPathComponent("playbooks/\(name).yaml")))
            #expect(PlaybookLibrary.builtIn[name] == shipped, "\(name): the built-in copy is the file")
            let playbook = try PlaybookLibrary.load(name)
            #expect(playbook.name == name)
            #expect(playbook.parents.map(\.reference) == ["default"])
            let destination = try #require(playbook.destination, "\(name)")
            #expect(destination.platform == name)
            #expect(destination.firmware?.isEmpty == false && destination.keepsMACs != nil && !destination.guestAgents.isEmpty)
            #expect(String(decoding: shipped, as: UTF8.self).contains("# https://"), "\(name) cites no source")
            // Clouds that hand out addresses by DHCP drop dhcp-to-static: an old static address would not work there.
            let expected = destination.dhcpTypical == true ? defaults.filter { $0 != "dhcp-to-static" } : defaults
            #expect(playbook.steps.map(\.ruleID) == expected, "\(name)")
        }
        let aws = try #require(try PlaybookLibrary.load("aws").destination)
        #expect(aws.firmware == [.bios, .uefi] && aws.keepsMACs == false)
        #expect(try PlaybookLibrary.load("azure").destination?.firmware?.contains(.uefiSecureBoot) == false)
        #expect(try PlaybookLibrary.load("lxd").destination?.firmware?.contains(.bios) == false)
    }

    @Test("a playbook of one's own extends a shipped one: parameters override key by key, rules are disabled or added")
    func extendsMerge() throws {
        let directory = try Support.scratch("extends")
        defer { Support.cleanUp(directory) }
        let file = directory.appendingPathComponent("mine.yaml")
        try Support.write(
            """
            name: mine
            extends: aws
            destination:
              keeps-macs: true
            rules:
              - rule: stable-block-device-references
                with:
                  targets: [fstab]
              - rule: media-repos
                enabled: false
              - rule: dhcp-to-static

            """, to: file)
        let playbook = try PlaybookLibrary.load(file.path)
        // aws drops dhcp-to-static; mine disables media-repos and lists dhcp-to-static again, after the rest.
        let inherited = try PlaybookLibrary.load("aws").steps.map(\.ruleID).filter { $0 != "media-repos" }
        #expect(playbook.steps.map(\.ruleID) == inherited + ["dhcp-to-static"])
        #expect(playbook.parents.map(\.reference) == ["aws", "default"])
        #expect(playbook.description?.hasPrefix("Amazon EC2") == true)
        let destination = try #require(playbook.destination)
        #expect(destination.platform == "aws" && destination.keepsMACs == true && destination.firmware == [.bios, .uefi])

        // A file beside it, named relatively.
        try Support.write("name: child\nextends: mine.yaml\n", to: directory.appendingPathComponent("child.yaml"))
        #expect(try PlaybookLibrary.load(directory.appendingPathComponent("child.yaml").path).name == "child")
    }

    @Test("extends loops, unknown parents and bad destination values are playbook errors with file and line")
    func errors() throws {
        let directory = try Support.scratch("extends-errors")
        defer { Support.cleanUp(directory) }
        func expectError(_ text: String, line: Int?, _ words: String) throws {
            let file = directory.appendingPathComponent("p.yaml")
            try Support.write(text, to: file)
            #expect { try PlaybookLibrary.load(file.path) } throws: {
                let error = $0 as? GuestprepError
                return error?.line == line && error?.message.contains(words) == true
            }
        }
        try Support.write("name: a\nextends: b.yaml\n", to: directory.appendingPathComponent("a.yaml"))
        try Support.write("name: b\nextends: a.yaml\n", to: directory.appendingPathComponent("b.yaml"))
        #expect { try PlaybookLibrary.load(directory.appendingPathComponent("a.yaml").path) } throws: {
            ($0 as? GuestprepError)?.message.contains("loop") == true
        }
        try expectError("name: x\nextends: nowhere\n", line: nil, "no playbook named 'nowhere'")
        try expectError("name: x\nextends: aws\ndestination:\n  firmware: [bios, coreboot]\n", line: 4, "coreboot")
        try expectError("name: x\nextends: aws\ndestination:\n  keeps-macs: sometimes\n", line: 4, "true or false")
        try expectError("name: x\nextends: aws\ndestination:\n  colour: blue\n", line: 4, "unknown destination key 'colour'")
        try expectError("name: x\nrules:\n  - rule: media-repos\n    enabled: maybe\n", line: 4, "true or false")
        try expectError("name: x\ndestination:\n  firmware: [bios]\nrules: []\n", line: 3, "needs 'platform'")
    }

    @Test("the destination's keeps-macs decides nic-mac-pinning when its parameter is silent; an explicit parameter wins")
    func keepsMACsFromDestination() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let nic = ["--nic", "ens3=52:54:00:12:34:56"]
        let aws = try Support.guestprep(["plan", "--to", "aws", "--format", "json"] + guest.arguments + nic)
        #expect(aws.stdout.contains("nic.names-follow-hardware"))
        let kvm = try Support.guestprep(["plan", "--to", "linux-kvm", "--format", "json"] + guest.arguments + nic)
        #expect(!kvm.stdout.contains("nic.names-follow-hardware"))
        let file = guest.directory.appendingPathComponent("keep.yaml")
        try Support.write(
            "name: keep\nextends: aws\nrules:\n  - rule: nic-mac-pinning\n    with:\n      destination-keeps-macs: true\n", to: file)
        let explicit = try Support.guestprep(["plan", "--playbook", file.path, "--format", "json"] + guest.arguments + nic)
        #expect(!explicit.stdout.contains("nic.names-follow-hardware"))
    }

    @Test("--to and --playbook together, or an unknown platform, are usage errors")
    func usage() throws {
        let both = try Support.guestprep(["check", "--to", "aws", "--playbook", "default"])
        #expect(both.status == 1 && both.stderr.contains("--to and --playbook"))
        let unknown = try Support.guestprep(["check", "--to", "mars"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no destination playbook 'mars'"))
    }

    @Test("a saved plan made with --to replays its extended playbooks from the plan file, not from the binary")
    func savedPlan() throws {
        let guest = try FixtureGuest()
        defer { guest.cleanUp() }
        let planFile = guest.directory.appendingPathComponent("aws.plan")
        let planned = try Support.guestprep(["plan", "--to", "aws", "--out", planFile.path] + guest.arguments)
        #expect(planned.status == 0, "\(planned.stderr)")
        let saved = try SavedPlan.decode(Array(try Data(contentsOf: planFile)), path: planFile.path)
        #expect(saved.playbookParents.map(\.reference) == ["default"])
        let applied = try Support.guestprep(["apply", "--plan", planFile.path, "--yes"] + guest.arguments)
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
    }

    @Test("guestprep playbooks lists default and every destination with its description")
    func listing() throws {
        let result = try Support.guestprep(["playbooks"])
        #expect(result.status == 0)
        let names = result.stdout.split(separator: "\n").prefix(12).compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(names == ["default"] + Self.platforms)
        #expect(result.stdout.contains("Amazon EC2"))
    }
}
