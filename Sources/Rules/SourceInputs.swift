/// What the admin gave about the source VM beyond the guest's files: its VMware descriptors.
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

    public init(vmx: HostFile? = nil, ovf: HostFile? = nil) {
        self.vmx = vmx
        self.ovf = ovf
    }
}
