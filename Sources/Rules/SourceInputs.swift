/// What the admin gave about the source VM beyond the guest's files: its VMware descriptors, and
/// whether the guest may reach the network while it is checked (`--online`).
public struct SourceInputs: Sendable {
    /// A file the admin named on the command line, read by the command: its path and bytes.
    public struct HostFile: Sendable {
        public var path: String
        public var contents: [UInt8]

        public init(path: String, contents: [UInt8]) {
            self.path = path
            self.contents = contents
        }
    }

    /// `--vmx FILE`: the VM's .vmx configuration.
    public var vmx: HostFile?
    /// `--ovf FILE`: the OVF descriptor it was exported with.
    public var ovf: HostFile?
    /// `--online`: the package manager may refresh its lists from the guest's repositories while
    /// planning (the one planned step that changes the guest: its metadata cache).
    public var online: Bool

    public init(vmx: HostFile? = nil, ovf: HostFile? = nil, online: Bool = false) {
        self.vmx = vmx
        self.ovf = ovf
        self.online = online
    }
}
