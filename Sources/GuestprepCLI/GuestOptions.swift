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
        return SourceInputs(vmx: try read(vmx), ovf: try read(ovf))
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

    func load() throws -> Playbook {
        try PlaybookLibrary.load(playbook ?? "default")
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Playbooks built into the binary, so it works with nothing beside it.
enum PlaybookLibrary {
    static let builtIn: [String: [UInt8]] = ["default": PackageResources.default_yaml]

    /// A playbook saved inside a plan file, parsed again exactly as it was.
    static func replay(_ saved: SavedPlan, from path: String) throws -> Playbook {
        try Playbook.parse(saved.playbookText, source: "\(saved.playbookSource) (saved in \(path))")
    }

    static func load(_ nameOrFile: String) throws -> Playbook {
        let looksLikeFile = nameOrFile.contains("/") || nameOrFile.hasSuffix(".yaml") || nameOrFile.hasSuffix(".yml")
        if !looksLikeFile, let shipped = builtIn[nameOrFile] {
            return try Playbook.parse(String(decoding: shipped, as: UTF8.self), source: "playbooks/\(nameOrFile).yaml (built in)")
        }
        guard FileManager.default.fileExists(atPath: nameOrFile) else {
            if looksLikeFile {
                throw GuestprepError(.notFound, "playbook file not found", path: nameOrFile)
            }
            throw GuestprepError(
                .usage,
                "no playbook named '\(nameOrFile)'; shipped playbooks: \(builtIn.keys.sorted().joined(separator: ", ")), or give a file path"
            )
        }
        guard let data = FileManager.default.contents(atPath: nameOrFile) else {
            throw GuestprepError(.io, "could not read playbook", path: nameOrFile)
        }
        return try Playbook.parse(String(decoding: data, as: UTF8.self), source: nameOrFile)
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
