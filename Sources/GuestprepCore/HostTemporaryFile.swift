import Foundation

/// A private file on the host (never in the guest) holding bytes for a host tool to read;
/// removed with its directory when the value goes away.
public final class HostTemporaryFile {
    public let path: String
    private let directory: String

    public init(contents: [UInt8]) throws {
        var template = Array((NSTemporaryDirectory() + "/guestprep.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw GuestprepError.system("creating a temporary directory", path: NSTemporaryDirectory())
        }
        directory = String(cString: made)
        path = directory + "/file"
        guard FileManager.default.createFile(atPath: path, contents: Data(contents), attributes: [.posixPermissions: 0o600]) else {
            throw GuestprepError(.io, "could not write temporary file", path: path)
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
