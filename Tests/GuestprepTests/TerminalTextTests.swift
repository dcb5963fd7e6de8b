import GuestprepCore
import Testing

/// Guest bytes reach a terminal only escaped: no control sequence from a guest file can act on it.
@Suite("Terminal-safe text")
struct TerminalTextTests {
    @Test(
        "controls are escaped",
        arguments: [
            ([0x1B, 0x5B, 0x32, 0x4A], "\\x1b[2J"),  // ESC [ 2 J: clear screen
            ([0x61, 0x0D, 0x62], "a\\rb"),  // CR: overwrite the line
            ([0x07], "\\x07"),  // BEL
            ([0x7F], "\\x7f"),  // DEL
            ([0x00, 0x08, 0x1F], "\\x00\\x08\\x1f"),
            ([0xC2, 0x9B, 0x32, 0x4A], "\\u{9b}2J"),  // U+009B CSI, a C1 control
            ([0xE2, 0x80, 0xAE], "\\u{202e}"),  // RIGHT-TO-LEFT OVERRIDE
            ([0x0A], "\\n"),
        ] as [([UInt8], String)])
    func controls(_ bytes: [UInt8], _ expected: String) {
        #expect(TerminalText.escape(bytes) == expected)
    }

    @Test("invalid UTF-8 is shown byte by byte")
    func invalid() {
        #expect(TerminalText.escape([0x61, 0xFF, 0x62]) == "a\\xffb")
        #expect(TerminalText.escape([0xC3]) == "\\xc3")  // truncated sequence
        #expect(TerminalText.escape([0xC3, 0x28]) == "\\xc3(")
        #expect(TerminalText.escape([0xC2, 0x9B]) != "\\x9b")  // valid U+009B is not the lone byte 0x9B
        #expect(TerminalText.escape([0x9B]) == "\\x9b")
        #expect(TerminalText.escape([0xED, 0xA0, 0x80]) == "\\xed\\xa0\\x80")  // an encoded surrogate
    }

    @Test("ordinary text, UTF-8 included, is kept as it is")
    func kept() {
        let text = "/mnt/café 中文 \\\\040 UUID=1\ttab"
        #expect(TerminalText.escape(text) == text)
        #expect(TerminalText.escape("a\tb", keeping: []) == "a\\tb")
        #expect(TerminalText.escape("a\nb", keeping: [.newline]) == "a\nb")
        #expect(TerminalText.escape("\u{1B}]0;title\u{07}") == "\\x1b]0;title\\x07")
    }
}
