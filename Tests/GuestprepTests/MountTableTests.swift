import Foundation
import GuestprepCore
import HostProcess
import MountTable
import Testing

/// libmount in process: what it accepts, how it decodes, which lines it rejects, checked against
/// `findmnt --verify` (the same library behind a command line) where findmnt is installed.
@Suite("libmount fstab parsing")
struct MountTableTests {
    func parse(_ text: String) throws -> ParsedMountTable {
        try ParsedMountTable(fstab: Array(text.utf8), path: "/etc/fstab")
    }

    /// Lines `findmnt --verify --tab-file` calls parse errors, or nil without findmnt.
    static func findmntRejectedLines(_ bytes: [UInt8]) throws -> [Int]? {
        guard let findmnt = HostCommand.find("findmnt") else { return nil }
        let scratch = try Support.scratch("findmnt")
        defer { Support.cleanUp(scratch) }
        let file = scratch.appendingPathComponent("fstab")
        try Data(bytes).write(to: file)
        // Per-entry findings go to stdout and can be large; parse errors go to stderr.
        let result = try HostCommand.run(findmnt, ["--verify", "--tab-file", file.path], discardingStdout: true)
        return result.stderr.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: ": parse error at line ") else { return nil }
            return Int(line[range.upperBound...].prefix(while: \.isNumber))
        }
    }

    /// Odd lines and the verdicts libmount 2.38 gives them (lines 5–8 and 16 are rejected).
    static let oddities = [
        "/dev/sda1 /a\\040b ext4 defaults 0 1",  // escaped space
        "/dev/sda2 /c\\000d ext4 defaults 0 1",  // an escaped NUL ends libmount's C string
        "/dev/sda3 /e\\777f ext4 defaults 0 1",  // 0777 is 511: libmount keeps the low byte, 0xFF
        "/dev/sda4 /g\\400h ext4 defaults 0 1",  // 0400 is 256, whose low byte is NUL again
        "/dev/sda5 /x ext4 defaults 0 y",  // pass is not a number
        "/dev/sda6 /y ext4 defaults z",  // dump is not a number
        "/dev/sda7 /z ext4 de\u{0}faults 0 0",  // a raw NUL hides the line's newline from libmount
        "# comment \u{0} with a NUL",  // so even a comment with one is rejected
        "/dev/sda8 /w ext4 defaults +1 -2",
        "/dev/sda9 /v ext4 opt=\"unbalanced 0 0",
        "/dev/sda10 /u ext4 ,,a,,b, 0 0",
        "/dev/sda11 /t\\11 ext4",  // two digits: not an escape
        "/dev/sda12 /s ext4 defaults 0 0 extra fields",
        "  \r",
        "/dev/sda13 /r\\134 ext4 \\040 0 0\r",
        "/dev/sda14 /q ext4 defaults 1x 0",
        "/dev/sda15 /p ext4 defaults 99999999999 0",  // strtol, then cut to int
        "/dev/sda16 /o ext4 d 0 0 # not a comment, ignored after pass",
        "/dev/sda17 /n e\u{0}xt4 d 0 0",  // last line, no newline: read up to the NUL
    ].joined(separator: "\n")

    @Test("entries decoded as libmount decodes them; rejected lines by number")
    func oddLines() throws {
        let table = try parse(Self.oddities)
        #expect(table.rejectedLines == [5, 6, 7, 8, 16])
        let invalid = String(decoding: [0x2F, 0x65, 0xFF, 0x66], as: UTF8.self)  // "/e\xFFf", repaired as Swift repairs it
        #expect(
            table.entries.map(\.target) == [
                "/a b", "/c", invalid, "/g", "/w", "/v", "/u", "/t\\11", "/s", "/r\\", "/p", "/o", "/n",
            ])
        #expect(table.entries.map(\.source).last == "/dev/sda17")
        #expect(table.entries.last?.type == "e")
        #expect(table.entries[4] == .init(source: "/dev/sda8", target: "/w", type: "ext4", options: "defaults", freq: 1, passno: -2))
        #expect(table.entries[5].options == "opt=\"unbalanced")
        #expect(table.entries[6].options == ",,a,,b,")
        #expect(table.entries[7].options == nil)
        #expect(table.entries[9].options == " ")
        #expect(table.entries[10].freq == 1_215_752_191)
    }

    @Test(
        "rejected lines are the ones findmnt --verify calls parse errors",
        .enabled(if: HostCommand.find("findmnt") != nil, "findmnt is not installed"))
    func agreesWithFindmnt() throws {
        for text in [Self.oddities, "bug\n/dev/sda1 / ext4 defaults 0 1\nthis is broken line\n", "1 2 ext4 defaults 0 0\nx\n", ""] {
            let bytes = Array(text.utf8)
            #expect(try ParsedMountTable(fstab: bytes, path: "fstab").rejectedLines == Self.findmntRejectedLines(bytes))
        }
    }

    @Test("a first entry that looks like mountinfo or /proc/swaps is still read as fstab")
    func formatIsFstab() throws {
        let numbers = try parse("1 2 ext4 defaults 0 0\n/dev/sda1 /x ext4\n")
        #expect(numbers.rejectedLines.isEmpty)
        #expect(numbers.entries.map(\.target) == ["2", "/x"])
        let swaps = try parse("Filename\tType\n/dev/sda1 /x ext4\n")
        #expect(swaps.rejectedLines == [1])
        #expect(swaps.entries.map(\.source) == ["/dev/sda1"])
    }

    @Test("empty files, comments only, CRLF and no final newline")
    func edges() throws {
        let empty = try parse("")
        #expect(empty.entries.isEmpty && empty.rejectedLines.isEmpty)
        #expect(try parse("# only a comment\n\n").entries.isEmpty)
        let crlf = try parse("# x\r\n/dev/sda1 / ext4 defaults 0 1\r\nUUID=ab /b vfat\r\nbug")
        #expect(crlf.entries.map(\.target) == ["/", "/b"])
        #expect(crlf.entries[0].passno == 1)
        #expect(crlf.rejectedLines == [4])
    }
}
