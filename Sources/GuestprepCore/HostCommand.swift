import Foundation

/// Runs a host tool (findmnt, …) with arguments, never through a shell, and captures its output.
public enum HostCommand {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The tool's path if it is installed in the usual system directories.
    public static func find(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs `executable` with a minimal environment (C locale, system PATH) plus `environment`,
    /// feeding it `input` (or nothing) on stdin.
    /// `discardingStdout` sends stdout to /dev/null, for tools whose report can be huge when only
    /// their stderr matters.
    public static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil,
                           environment: [String: String] = [:], discardingStdout: Bool = false) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"].merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = discardingStdout ? FileHandle.nullDevice : out
        process.standardError = err
        let inputPipe = input.map { _ in Pipe() }
        process.standardInput = inputPipe ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw GuestprepError(.io, "could not run \(executable)", cause: "\(error)")
        }
        if let inputPipe, let input {
            inputPipe.fileHandleForWriting.write(Data(input))
            try? inputPipe.fileHandleForWriting.close()
        }
        // Read both pipes before waiting so a chatty tool cannot block on a full pipe.
        let stderrBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            stderrBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdoutData = discardingStdout ? Data() : out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let stderrData = stderrBox.data
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

/// Hands bytes from the reader thread back; the DispatchGroup orders the accesses.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
