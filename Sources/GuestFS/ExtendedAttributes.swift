import CGuestprepShim
import GuestprepCore

#if canImport(Glibc)
    import Glibc
#endif

/// Extended attributes of an open file, read and written by descriptor (never by path).
enum ExtendedAttributes {
    static func read(fd: Int32, path: String) throws -> [ExtendedAttribute] {
        var names: [String] = []
        while true {
            let size = guestprep_flistxattr(fd, nil, 0)
            if size < 0 {
                if errno == ENOTSUP { return [] }
                throw GuestprepError.system("listing extended attributes", path: path)
            }
            if size == 0 { return [] }
            var buffer = [CChar](repeating: 0, count: size)
            let got = guestprep_flistxattr(fd, &buffer, size)
            if got < 0 {
                if errno == ERANGE { continue }  // attributes changed between the two calls
                throw GuestprepError.system("listing extended attributes", path: path)
            }
            names = buffer[0..<got].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            break
        }
        var attributes: [ExtendedAttribute] = []
        for name in names.sorted() {
            while true {
                let size = guestprep_fgetxattr(fd, name, nil, 0)
                if size < 0 {
                    if errno == ENODATA { break }
                    throw GuestprepError.system("reading extended attribute \(name)", path: path)
                }
                var value = [UInt8](repeating: 0, count: size)
                let got = value.withUnsafeMutableBytes { guestprep_fgetxattr(fd, name, $0.baseAddress, size) }
                if got < 0 {
                    if errno == ERANGE { continue }
                    throw GuestprepError.system("reading extended attribute \(name)", path: path)
                }
                attributes.append(ExtendedAttribute(name: name, value: Array(value[0..<got])))
                break
            }
        }
        return attributes
    }

    /// Makes the file's attributes exactly `wanted`: sets each, removes any others (such as an ACL
    /// inherited from the directory's default ACL by a freshly created temp file).
    static func replace(fd: Int32, with wanted: [ExtendedAttribute], path: String) throws {
        let present = try read(fd: fd, path: path)
        for stale in present where !wanted.contains(where: { $0.name == stale.name }) {
            if guestprep_fremovexattr(fd, stale.name) != 0, errno != ENODATA {
                throw GuestprepError.system("removing extended attribute \(stale.name)", path: path)
            }
        }
        for attribute in wanted where !present.contains(attribute) {
            let result = attribute.value.withUnsafeBytes {
                guestprep_fsetxattr(fd, attribute.name, $0.baseAddress, attribute.value.count)
            }
            if result != 0 {
                throw GuestprepError.system("setting extended attribute \(attribute.name)", path: path)
            }
        }
    }
}
