import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// An fstab-syntax file as libmount itself reads it, parsed in process from memory (no temporary
/// file, no child process): the entries it accepts, decoded, and the lines it rejects.
public struct ParsedMountTable: Sendable, Equatable {
    /// One entry as libmount decodes it: octal escapes such as `\040` resolved, missing optional
    /// fields as nil or 0.
    public struct Entry: Sendable, Equatable {
        public var source: String
        public var target: String
        public var type: String
        public var options: String?
        public var freq: Int
        public var passno: Int

        public init(source: String, target: String, type: String, options: String? = nil, freq: Int = 0, passno: Int = 0) {
            self.source = source
            self.target = target
            self.type = type
            self.options = options
            self.freq = freq
            self.passno = passno
        }
    }

    /// Accepted entries, in file order.
    public var entries: [Entry]
    /// 1-based numbers of the lines libmount rejected (and skipped), in file order.
    public var rejectedLines: [Int]

    /// libmount guesses a table's format from its first entry (two numbers make it mountinfo,
    /// "Filename\t" makes it /proc/swaps), and only mnt_table_parse_fstab, which needs a path,
    /// forces fstab. A first line that can only be fstab fixes the guess; it is dropped below.
    static let formatLine = Array("none /guestprep-fstab-format none\n".utf8)

    /// Parses `bytes` as fstab(5); `path` names the file in errors. Throws `.io` only when libmount
    /// cannot parse at all (no memory); lines it cannot read are in `rejectedLines`, not errors.
    public init(fstab bytes: [UInt8], path: String) throws {
        let table = try LibmountTable(path: path)
        var stream = Self.formatLine + bytes
        let status = stream.withUnsafeMutableBytes { buffer -> Int32 in
            guard let file = fmemopen(buffer.baseAddress, buffer.count, "r") else { return -errno }
            defer { fclose(file) }
            return table.parse(file, path: path)
        }
        guard status == 0 else {
            throw GuestprepError(
                .io, "libmount could not parse the file at all", path: path,
                cause: "\(String(cString: strerror(-status))) (libmount returned \(status))")
        }
        var all = try table.entries(path: path)
        guard let first = all.first, first.target == "/guestprep-fstab-format" else {
            throw GuestprepError(.io, "libmount did not read its format line as fstab; cannot check the file", path: path)
        }
        all.removeFirst()
        entries = all.map { entry in
            Entry(
                source: entry.source ?? "", target: entry.target ?? "", type: entry.type ?? "", options: entry.options,
                freq: entry.freq, passno: entry.passno)
        }
        rejectedLines = table.rejectedLines.map { $0 - 1 }
    }
}
