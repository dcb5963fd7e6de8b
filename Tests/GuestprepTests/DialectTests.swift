import Dialects
import GuestprepCore
import Testing

@Suite("fstab, crypttab and shell-assignment dialects")
struct DialectTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("comments, blanks, tabs, missing fields, CRLF and no final newline survive")
    func losslessOddities() {
        let text = "# comment\r\n\n  \t\n/dev/sda1\t/ ext4 defaults\r\n//srv/share\\040dir /mnt/x cifs guest\nUUID=abc /boot ext4 ro 0 2"
        let fstab = FstabFile(bytes: bytes(text))
        #expect(fstab.bytes == bytes(text))
        let entries = fstab.entries
        #expect(entries.count == 3)
        #expect(entries[0].source == "/dev/sda1")
        #expect(entries[0].lineNumber == 4)
        #expect(entries[0].options == ["defaults"])
        #expect(entries[1].source == "//srv/share dir")
        #expect(entries[2].type == "ext4")
    }

    @Test("replacing the source keeps separators, other fields and the terminator")
    func replaceSource() {
        var fstab = FstabFile(bytes: bytes("/dev/sda1\t /  ext4   defaults 0 1\r\n/dev/sda10 /x ext4 defaults"))
        fstab.replaceSource(ofLine: 0, with: "UUID=1234")
        #expect(fstab.bytes == bytes("UUID=1234\t /  ext4   defaults 0 1\r\n/dev/sda10 /x ext4 defaults"))
    }

    @Test("lines libmount skips are malformed and never edited: too few fields, dump or pass not a number, a NUL")
    func malformed() {
        let fstab = FstabFile(
            bytes: bytes("bug\n/dev/sda1 /\n/dev/sda1 / ext4 defaults 0 x\n/dev/sda1 / ext4 defaults 1x\n/dev/sda1 / ext4 a\u{0} 0 0\n"))
        #expect(fstab.entries.map(\.isMalformed) == [true, true, true, true, true])
        let fine = FstabFile(bytes: bytes("/dev/sda1 / ext4\n/dev/sda1 / ext4 defaults +1 -2 anything else\n"))
        #expect(fine.entries.map(\.isMalformed) == [false, false])
    }

    @Test("octal escapes decode as fstab(5) says, and as libmount does at the edges")
    func escapes() {
        #expect(OctalEscapes.decode(bytes("a\\040b\\011c\\134d")) == bytes("a b\tc\\d"))
        #expect(OctalEscapes.decode(bytes("tail\\04")) == bytes("tail\\04"))
        #expect(OctalEscapes.decode(bytes("\\999")) == bytes("\\999"))
        #expect(OctalEscapes.decode(bytes("a\\777")) == [UInt8(ascii: "a"), 0xFF])
        #expect(OctalEscapes.decode(bytes("/a\\000b")) == bytes("/a"))
        #expect(OctalEscapes.decode(bytes("/a\\400b")) == bytes("/a"))
    }

    @Test("crypttab device field is the second")
    func crypttab() {
        var crypttab = CrypttabFile(bytes: bytes("# <name> <device> <key> <opts>\ncryptroot /dev/vda3 none luks,discard\n"))
        let entry = crypttab.entries[0]
        #expect(entry.name == "cryptroot")
        #expect(entry.device == "/dev/vda3")
        crypttab.replaceDevice(ofLine: entry.index, with: "UUID=feed")
        #expect(crypttab.bytes == bytes("# <name> <device> <key> <opts>\ncryptroot UUID=feed none luks,discard\n"))
    }

    @Test("shell assignments: quoted, bare, exported, multi-line and escaped values")
    func shellAssignments() {
        let text = """
            GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=/dev/sda2"
            export RESUME=/dev/sda2
            GRUB_CMDLINE_LINUX='a  b'
            OPEN="spans
            lines"
            ESC="a\\"b"
            # RESUME=/dev/sdz
            """
        let file = ShellAssignmentsFile(bytes: bytes(text))
        let assignments = file.assignments
        #expect(assignments.map(\.key) == ["GRUB_CMDLINE_LINUX_DEFAULT", "RESUME", "GRUB_CMDLINE_LINUX", "OPEN", "ESC"])
        #expect(assignments[0].value == "quiet resume=/dev/sda2")
        #expect(assignments[0].isSimple)
        #expect(file.words(of: assignments[0]).map(\.text) == ["quiet", "resume=/dev/sda2"])
        #expect(assignments[1].value == "/dev/sda2")
        #expect(assignments[2].value == "a  b")
        #expect(!assignments[3].isSimple)
        #expect(!assignments[4].isSimple)
        #expect(file.bytes == bytes(text))
    }
}
