/// Runs a change's command inside the guest; apply and rollback get one from their caller, so
/// tests and the CLI decide how (live, or chrooted into an offline root).
public protocol CommandStepRunner: Sendable {
    /// Runs argv to its end. A command that ran and failed is a result; a command that could
    /// not be started at all is a thrown error.
    func run(_ argv: [String]) throws -> CommandStepResult
}

/// How a command ended, and the end of what it printed.
public struct CommandStepResult: Sendable, Equatable {
    public var status: Int32
    public var wasSignaled: Bool
    /// stdout then stderr, as bytes.
    public var output: [UInt8]

    public init(status: Int32, wasSignaled: Bool = false, output: [UInt8] = []) {
        self.status = status
        self.wasSignaled = wasSignaled
        self.output = output
    }

    public var succeeded: Bool { status == 0 && !wasSignaled }

    /// The last bytes of the output, for the journal and messages.
    public var outputTail: String { String(decoding: output.suffix(2048), as: UTF8.self) }
}
