import GuestFS
import GuestFacts
import GuestprepCore
import Network

/// After converting: the file, read by its own dialect *alone* (as a migration tool reads each
/// config file on its own), configures the interface statically with the planned IPv4 addresses.
/// It checks meaning, not lines, so other rules' edits to the same file cannot upset it.
struct StaticInterfaceValidator: ChangeValidator {
    let path: GuestPath
    let stack: NetworkStack
    let interface: String
    let addresses: [InterfaceAddress]

    func validate(proposed: [UInt8], original: [UInt8]?, path shown: String) throws {
        let files = SingleFile(path: path, bytes: proposed, alias: stack == .ifupdown ? IfupdownDialect.mainFile : nil)
        let configs = try NetworkDialects.dialect(for: stack).interfaces(in: files).filter { $0.name?.value == interface }
        guard !configs.isEmpty else {
            throw GuestprepError(.validation, "\(interface) is no longer configured in this file after converting it to static", path: shown)
        }
        for config in configs {
            guard config.ipv4?.value == .static else {
                throw GuestprepError(
                    .validation, "\(interface) reads as \(config.ipv4?.value.rawValue ?? "unconfigured") for IPv4, not static", path: shown,
                    line: config.ipv4?.location.line)
            }
            let found = Set(config.addresses.map(\.value))
            if let missing = addresses.first(where: { !found.contains($0) }) {
                throw GuestprepError(
                    .validation, "\(interface) lacks the planned address \(missing); it has \(found.map(\.description).sorted())",
                    path: shown, line: config.addresses.first?.location.line)
            }
        }
    }

    /// One file on its own, as root-owned 0600 (NetworkManager skips anything laxer). ifupdown
    /// starts from /etc/network/interfaces, so a sourced file is also served there.
    struct SingleFile: GuestFileReader {
        let path: GuestPath
        let bytes: [UInt8]
        let alias: GuestPath?

        func read(_ wanted: GuestPath) throws -> GuestFile? {
            guard wanted == path || wanted == alias else { return nil }
            return GuestFile(path: wanted, contents: bytes, metadata: FileMetadata(mode: 0o100600, uid: 0, gid: 0))
        }

        func listDirectory(_ directory: GuestPath) throws -> [String] {
            [path, alias].compactMap { $0 }.filter { $0.parent == directory }.map(\.name)
        }
    }
}
