import CTestSupport
import Foundation
import Testing

/// A pseudo-terminal pair: the master end for the test, the slave end for guestprep's stdin or
/// stdout, so it sees a terminal there.
struct PseudoTerminal {
    let master: Int32
    let slave: Int32

    init() throws {
        var path = [CChar](repeating: 0, count: 128)
        master = test_open_pty(&path, UInt(path.count))
        try #require(master >= 0, "could not open a pseudo-terminal")
        let slavePath = String(decoding: path.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        slave = open(slavePath, O_RDWR | O_NOCTTY)
        try #require(slave >= 0)
    }

    /// The slave end as a file handle that closes it when released.
    var slaveHandle: FileHandle { FileHandle(fileDescriptor: slave, closeOnDealloc: true) }

    func closeMaster() { close(master) }
}
