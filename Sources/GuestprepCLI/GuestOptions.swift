import ArgumentParser
import BlockProbe
import Executor
import Foundation
import GuestFS
import GuestFacts
import GuestprepCore
import LinkProbe
import Network
import Planning
import Rules

/// --root and --disk: which guest, and which images stand for its disks.
struct GuestOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The guest's root directory: / for the running system, or where an offline guest is mounted.", valueName: "DIR"))
    var root: String = "/"

    @Option(
        name: .customLong("disk"),
        help: ArgumentHelp(
            "The guest's disk NAME (sda, nvme0n1, /dev/disk/by-id/…) is the image file or block device PATH. Repeatable.",
            valueName: "NAME=PATH"))
    var disks: [String] = []

    @Option(
        name: .customLong("nic"),
        help: ArgumentHelp(
            "The source VM's NIC: NAME=MAC (interface NAME had MAC) or MAC=IP (the NIC with MAC had IP, as the hypervisor reports). Repeatable.",
            valueName: "NAME=MAC|MAC=IP"))
    var nics: [String] = []

    @Option(
        name: .customLong("address"),
        help: ArgumentHelp(
            "Static settings for an interface no lease or live system describes: NAME=ADDR/PREFIX[,gw=IP][,dns=IP]…[,search=DOMAIN]…[,mtu=N]. Repeatable.",
            valueName: "SPEC"))
    var addresses: [String] = []

    @Option(
        name: .customLong("vmx"),
        help: ArgumentHelp("The source VM's VMware .vmx file, to check its virtual hardware version.", valueName: "FILE"))
    var vmx: String?

    @Option(
        name: .customLong("ovf"),
        help: ArgumentHelp("The OVF descriptor the source VM was exported with, to check its virtual hardware version.", valueName: "FILE"))
    var ovf: String?

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Refresh the guest's package lists from its repositories while checking (apt-get update, dnf makecache, zypper refresh; 5-minute limit) and report the ones that fail. Changes the guest's package metadata cache, nothing else."
        ))
    var online = false

    func validate() throws {
        for disk in disks { _ = try DiskMapping(argument: disk) }
        for nic in nics { _ = try NICHint(argument: nic) }
        var seen: Set<String> = []
        for address in addresses {
            let parsed = try StaticAddressArgument(argument: address)
            guard seen.insert(parsed.interface).inserted else {
                throw GuestprepError(.usage, "--address names \(parsed.interface) twice; give all its settings in one --address")
            }
        }
    }

    /// The admin's network hints, and on the running system its links.
    func networkInputs(for guest: GuestRoot) throws -> NetworkInputs {
        let parsed = try addresses.map(StaticAddressArgument.init(argument:))
        return NetworkInputs(
            liveLinks: guest.isLive ? try LiveLinkProbe.links() : nil, hints: try nics.map(NICHint.init(argument:)),
            staticAddresses: Dictionary(uniqueKeysWithValues: parsed.map { ($0.interface, $0.settings) }))
    }

    /// The admin's files about the source VM, read from the host (not the guest).
    func sourceInputs() throws -> SourceInputs {
        func read(_ path: String?) throws -> SourceInputs.HostFile? {
            try path.map { SourceInputs.HostFile(path: $0, contents: try HostFiles.read($0, limit: 16 << 20)) }
        }
        return SourceInputs(vmx: try read(vmx), ovf: try read(ovf), online: online)
    }

    func openRoot() throws -> GuestRoot {
        try GuestRoot(hostPath: root)
    }

    /// How commands run inside this guest (live, or chrooted into the offline root).
    func executor(for guest: GuestRoot) -> any GuestExecutor {
        GuestExecutors.make(for: guest, runner: CommandEnvironment.runner)
    }

    /// The root, refused unless it looks like an installed (and fully mounted) guest, and the
    /// facts every rule shares.
    func openGuest() throws -> (GuestRoot, GuestFacts) {
        let guest = try openRoot()
        try GuestShape.check(guest)
        return (guest, try GuestFacts.gather(from: guest))
    }

    /// Probed devices: the --disk images when given, the live system's devices for "/", or
    /// nothing (with a finding saying so) for an offline root without --disk.
    func inventory(for guest: GuestRoot) throws -> (DeviceInventory, [Finding]) {
        try GuestDevices.inventory(disks: disks.map(DiskMapping.init(argument:)), isLive: guest.isLive)
    }
}

struct PlaybookOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A shipped playbook's name, or a playbook file (default: default).", valueName: "NAME|FILE"))
    var playbook: String?

    @Option(
        name: .customLong("to"),
        help: ArgumentHelp(
            "The destination platform: its shipped playbook (aws, azure, openstack, vmware, hyperv, olvm, kubevirt, oci, oracle-pca, lxd, linux-kvm; see 'guestprep playbooks').",
            valueName: "PLATFORM"))
    var destination: String?

    func validate() throws {
        if playbook != nil && destination != nil {
            throw GuestprepError(
                .usage, "--to and --playbook both choose the playbook; give one (a playbook of your own can say 'extends: PLATFORM')")
        }
        if let destination, PlaybookLibrary.builtIn[destination] == nil || destination == "default" {
            throw GuestprepError(
                .usage, "no destination playbook '\(destination)'; shipped: \(PlaybookLibrary.destinations.joined(separator: ", "))")
        }
    }

    func load() throws -> Playbook {
        try PlaybookLibrary.load(destination ?? playbook ?? "default")
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Playbooks built into the binary, so it works with nothing beside it.
enum PlaybookLibrary {
    static let builtIn: [String: [UInt8]] = [
        "default": PackageResources.default_yaml, "aws": PackageResources.aws_yaml, "azure": PackageResources.azure_yaml,
        "openstack": PackageResources.openstack_yaml, "vmware": PackageResources.vmware_yaml, "hyperv": PackageResources.hyperv_yaml,
        "olvm": PackageResources.olvm_yaml, "kubevirt": PackageResources.kubevirt_yaml, "oci": PackageResources.oci_yaml,
        "oracle-pca": PackageResources.oracle_pca_yaml, "lxd": PackageResources.lxd_yaml, "linux-kvm": PackageResources.linux_kvm_yaml,
    ]

    /// The destination playbooks, by name.
    static var destinations: [String] { builtIn.keys.filter { $0 != "default" }.sorted() }

    /// A playbook saved inside a plan file, parsed again exactly as it was, with the playbooks
    /// it extended as they were then.
    static func replay(_ saved: SavedPlan, from path: String) throws -> Playbook {
        try Playbook.parse(saved.playbookText, source: "\(saved.playbookSource) (saved in \(path))") { reference, from in
            guard let parent = saved.playbookParents.first(where: { $0.reference == reference }) else {
                throw GuestprepError(.usage, "extends '\(reference)', which the saved plan does not hold", path: path)
            }
            return parent
        }
    }

    static func load(_ nameOrFile: String) throws -> Playbook {
        let document = try self.document(nameOrFile, from: nil)
        return try Playbook.parse(document.text, source: document.source) { reference, from in
            try self.document(reference, from: from)
        }
    }

    static func isFileReference(_ reference: String) -> Bool {
        reference.contains("/") || reference.hasSuffix(".yaml") || reference.hasSuffix(".yml")
    }

    /// A shipped playbook by name, or a file; a relative file named by `extends:` is found beside
    /// the playbook that names it.
    static func document(_ reference: String, from: String?) throws -> PlaybookDocument {
        if !isFileReference(reference), let shipped = builtIn[reference] {
            return PlaybookDocument(
                reference: reference, source: "playbooks/\(reference).yaml (built in)", text: String(decoding: shipped, as: UTF8.self))
        }
        var path = reference
        if let from, !reference.hasPrefix("/"), isFileReference(from), !from.hasSuffix("(built in)") {
            path =
                (from as NSString).deletingLastPathComponent.isEmpty
                ? reference : (from as NSString).deletingLastPathComponent + "/" + reference
        }
        guard FileManager.default.fileExists(atPath: path) else {
            if isFileReference(reference) {
                throw GuestprepError(.notFound, "playbook file not found", path: path)
            }
            throw GuestprepError(
                .usage,
                "no playbook named '\(reference)'; shipped playbooks: \(builtIn.keys.sorted().joined(separator: ", ")), or give a file path",
                path: from)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GuestprepError(.io, "could not read playbook", path: path)
        }
        return PlaybookDocument(reference: reference, source: path, text: String(decoding: data, as: UTF8.self))
    }
}

/// Runs a command body, turning guestprep errors into one clear line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as GuestprepError {
        CommandEnvironment.console.warn("guestprep: error: \(error)\n")
        throw ExitCode(Verdict.error.rawValue)
    }
}
