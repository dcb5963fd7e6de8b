import GuestFS
import HostProcess

/// Runs commands inside a guest: the running system directly, or an offline root through chroot.
public protocol GuestExecutor: Sendable {
    /// Where commands run, for messages and plans.
    var mode: ExecutionMode { get }

    /// Runs `command` with `input` (or nothing) on stdin. Throws only when the command could not
    /// be run at all (not found, or a fork/namespace/mount/chroot/exec failure); a command that
    /// runs and fails is a result with its status.
    func run(_ command: GuestCommand, input: [UInt8]?) throws -> GuestCommandResult
}

extension GuestExecutor {
    public func run(_ command: GuestCommand) throws -> GuestCommandResult {
        try run(command, input: nil)
    }
}

/// Where a guest executor runs commands.
public enum ExecutionMode: Sendable, Equatable, CustomStringConvertible {
    case live
    /// Chrooted into the guest root at this host path, inside a private mount namespace.
    case chroot(hostPath: String)

    public var description: String {
        switch self {
        case .live: "on the running system"
        case .chroot(let hostPath): "chrooted into \(hostPath) in a private mount namespace"
        }
    }
}

/// Picks the executor for a guest.
public enum GuestExecutors {
    /// Live for the running system's own root, chroot for an offline guest root.
    public static func make(for root: GuestRoot, runner: any ProcessRunner = SpawnProcessRunner()) -> any GuestExecutor {
        root.isLive ? LiveExecutor(runner: runner) : ChrootExecutor(root: root)
    }
}
