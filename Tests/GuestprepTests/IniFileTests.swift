import Dialects
import Foundation
import Testing

/// The shared INI parser: lossless, and edits that touch only their own lines.
@Suite("Ini file")
struct IniFileTests {
    @Test(
        "Every networkmanager, networkd and .link corpus file round-trips byte for byte",
        arguments: ["networkmanager", "networkd", "udev-net"])
    func corpusRoundTrip(folder: String) throws {
        guard Support.corpusAvailable else {
            print("notice: \(Support.corpus.path) is absent; corpus round-trip skipped")
            return
        }
        for url in Support.corpusFiles(folder) where folder != "udev-net" || url.lastPathComponent.contains(".link") {
            let bytes = [UInt8](try Data(contentsOf: url))
            for syntax in [IniFile.Syntax.keyfile, .systemd] {
                #expect(IniFile(bytes: bytes, syntax: syntax).bytes == bytes, "\(url.lastPathComponent)")
            }
        }
    }

    @Test("Sections, keys, white space around =, duplicates, comments of both kinds")
    func reads() {
        let ini = IniFile(bytes: Array("; top\n[A]\nk = v \r\n# c\nk=w\n[B]\nx=1\n[A]\nk=z".utf8), syntax: .systemd)
        #expect(ini.sections.map(\.name) == ["A", "B", "A"])
        #expect(ini.entries("A", "k").map(\.value) == ["v", "w", "z"])
        #expect(ini.last("A", "k")?.lineNumber == 9)
        #expect(IniFile(bytes: Array("; not a comment in GLib\n".utf8), syntax: .keyfile).strays.count == 1)
    }

    @Test("systemd continuation lines join with a space; comments inside are skipped")
    func continuation() {
        let ini = IniFile(bytes: Array("[Network]\nDNS=1.1.1.1 \\\n# skipped\n  8.8.8.8\nDHCP=no\n".utf8), syntax: .systemd)
        // As systemd joins them: the backslash becomes a space, the next line's leading blanks go.
        #expect(ini.last("Network", "DNS")?.value == "1.1.1.1  8.8.8.8")
        #expect(ini.last("Network", "DNS")?.lineCount == 3)
        #expect(ini.last("Network", "DHCP")?.lineNumber == 5)
        var edited = ini
        edited.set("Network", "DNS", to: "10.0.0.2")
        #expect(String(decoding: edited.bytes, as: UTF8.self) == "[Network]\nDNS=10.0.0.2\nDHCP=no\n")
    }

    @Test("Set replaces the last value in place, keeping spaces and CRLF")
    func setInPlace() {
        var ini = IniFile(bytes: Array("[a]\r\nk = 1\r\nk = 2\r\n".utf8), syntax: .keyfile)
        ini.set("a", "k", to: "3")
        #expect(String(decoding: ini.bytes, as: UTF8.self) == "[a]\r\nk = 1\r\nk = 3\r\n")
    }

    @Test("Set appends after the section's last entry, before trailing comments; a file without a final newline keeps none")
    func setAppends() {
        var ini = IniFile(bytes: Array("[a]\nk=1\n\n# about b\n[b]\nx=1".utf8), syntax: .systemd)
        ini.set("a", "n", to: "2")
        ini.set("b", "y", to: "3")
        ini.set("c", "z", to: "4")
        #expect(String(decoding: ini.bytes, as: UTF8.self) == "[a]\nk=1\nn=2\n\n# about b\n[b]\nx=1\ny=3\n\n[c]\nz=4")
    }

    @Test("Remove and setAll touch only their lines")
    func removeAndSetAll() {
        var ini = IniFile(bytes: Array("[N]\nAddress=1.2.3.4/24\n#x\nAddress=5.6.7.8/24\nDNS=1.1.1.1".utf8), syntax: .systemd)
        ini.setAll("N", "Address", to: ["10.0.0.5/24"])
        #expect(String(decoding: ini.bytes, as: UTF8.self) == "[N]\nAddress=10.0.0.5/24\n#x\nDNS=1.1.1.1")
        ini.setAll("N", "Address", to: ["10.0.0.5/24", "10.0.0.6/24"])
        #expect(String(decoding: ini.bytes, as: UTF8.self) == "[N]\nAddress=10.0.0.5/24\nAddress=10.0.0.6/24\n#x\nDNS=1.1.1.1")
        ini.remove("N", "DNS")
        #expect(String(decoding: ini.bytes, as: UTF8.self) == "[N]\nAddress=10.0.0.5/24\nAddress=10.0.0.6/24\n#x\n")
    }

    @Test("Arbitrary bytes round-trip, and an edit leaves every other line byte-identical")
    func arbitraryBytes() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("[]=#;\\ \t\r\nab".utf8)
        for _ in 0..<500 {
            let bytes = (0..<Int(next() % 60)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            for syntax in [IniFile.Syntax.keyfile, .systemd] {
                var ini = IniFile(bytes: bytes, syntax: syntax)
                #expect(ini.bytes == bytes)
                let before = ini.lines
                ini.set("zz", "k", to: "v")
                #expect(Array(ini.lines.prefix(max(0, before.count - 1))) == Array(before.dropLast()))
            }
        }
    }
}
