import CMount
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// One libmount table; unreferenced (and so freed) when the value goes away.
final class LibmountTable {
    let handle: OpaquePointer
    /// Line numbers the parser rejected, in the order it met them; filled by `recordRejectedLine`.
    private(set) var rejectedLines: [Int] = []

    init(path: String) throws {
        guard let handle = mnt_new_table() else {
            throw GuestprepError(.io, "libmount could not allocate a table", path: path, cause: String(cString: strerror(ENOMEM)))
        }
        self.handle = handle
    }

    deinit { mnt_unref_table(handle) }

    /// Parses `stream` (fstab syntax) into the table, collecting the numbers of rejected lines.
    /// Returns libmount's result: 0, or a negative errno when it could not read the stream at all.
    func parse(_ stream: UnsafeMutablePointer<FILE>, path: String) -> Int32 {
        // The callback is a C function pointer with no context of its own: it finds this object
        // through the table's userdata, which lives no longer than this call.
        mnt_table_set_userdata(handle, Unmanaged.passUnretained(self).toOpaque())
        mnt_table_set_parser_errcb(handle, recordRejectedLine)
        defer {
            mnt_table_set_parser_errcb(handle, nil)
            mnt_table_set_userdata(handle, nil)
        }
        return mnt_table_parse_stream(handle, stream, path)
    }

    fileprivate func reject(line: Int) {
        rejectedLines.append(line)
    }

    struct Entry {
        var source: String?
        var target: String?
        var type: String?
        var options: String?
        var freq: Int
        var passno: Int
    }

    /// Every entry, in file order, with its strings copied out at once.
    func entries(path: String) throws -> [Entry] {
        guard let iterator = mnt_new_iter(Int32(MNT_ITER_FORWARD)) else {
            throw GuestprepError(.io, "libmount could not allocate an iterator", path: path, cause: String(cString: strerror(ENOMEM)))
        }
        defer { mnt_free_iter(iterator) }
        var result: [Entry] = []
        result.reserveCapacity(Int(max(0, mnt_table_get_nents(handle))))
        var fs: OpaquePointer?
        while true {
            let status = mnt_table_next_fs(handle, iterator, &fs)
            if status == 1 { break }  // end of table
            guard status == 0, let fs else {
                throw GuestprepError(.io, "libmount could not walk its table", path: path, cause: String(cString: strerror(-status)))
            }
            result.append(
                Entry(
                    source: mnt_fs_get_source(fs).map { String(cString: $0) },
                    target: mnt_fs_get_target(fs).map { String(cString: $0) },
                    type: mnt_fs_get_fstype(fs).map { String(cString: $0) },
                    options: mnt_fs_get_options(fs).map { String(cString: $0) },
                    freq: Int(mnt_fs_get_freq(fs)), passno: Int(mnt_fs_get_passno(fs))))
        }
        return result
    }
}

/// libmount's parser-error callback: records the line and returns 1, "recoverable: skip the line
/// and go on" (mnt_table_set_parser_errcb(3)); 0 would keep the half-parsed entry, <0 would abort.
private func recordRejectedLine(_ table: OpaquePointer?, _ filename: UnsafePointer<CChar>?, _ line: Int32) -> Int32 {
    guard let table, let owner = mnt_table_get_userdata(table) else { return 1 }
    Unmanaged<LibmountTable>.fromOpaque(owner).takeUnretainedValue().reject(line: Int(line))
    return 1
}
