/// What a file is besides its bytes; restored exactly on rollback. Extended attributes include
/// `security.selinux` and POSIX ACLs (`system.posix_acl_access`).
public struct FileMetadata: Sendable, Equatable, Codable {
    /// Permission bits including setuid/setgid/sticky (`st_mode & 07777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var xattrs: [ExtendedAttribute]

    public init(mode: UInt32, uid: UInt32, gid: UInt32, xattrs: [ExtendedAttribute] = []) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.xattrs = xattrs
    }

    /// For files guestprep creates: root-owned, world-readable, like the rest of /etc.
    public static let newConfigFile = FileMetadata(mode: 0o644, uid: 0, gid: 0)
}

public struct ExtendedAttribute: Sendable, Equatable, Codable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// A regular file read from the guest: its bytes and metadata.
public struct GuestFile: Sendable, Equatable {
    public var path: GuestPath
    public var contents: [UInt8]
    public var metadata: FileMetadata

    public init(path: GuestPath, contents: [UInt8], metadata: FileMetadata) {
        self.path = path
        self.contents = contents
        self.metadata = metadata
    }
}
