import GuestprepCore

/// A list value (URLs, suites) written on a key's line and its continuation lines, as `.repo`
/// files and deb822 write it: each word with where its bytes sit, so words can be taken out
/// while every other byte of the file stays.
public struct ListValue: Sendable {
    public struct Word: Sendable, Hashable {
        public var text: String
        /// Index of the physical line the word is on.
        public var index: Int
        /// Where the word's bytes sit in that line's content.
        public var range: Range<Int>
        public var lineNumber: Int { index + 1 }
    }

    public let words: [Word]
    /// The key's line, and how many physical lines the value covers (comment lines inside included).
    let first: Int
    let count: Int
    /// Offset in the first line just after the separator (`=`, `:`).
    let valueStart: Int
    let commentStarts: Set<UInt8>

    /// Splits the value at blanks (and at `extraSeparators`, such as the comma yum allows between
    /// URLs); continuation lines whose first non-blank byte is in `commentStarts` are skipped.
    public init(
        lines: [TextLine], first: Int, count: Int, valueStart: Int, extraSeparators: Set<UInt8> = [], commentStarts: Set<UInt8>
    ) {
        self.first = first
        self.count = count
        self.valueStart = valueStart
        self.commentStarts = commentStarts
        let isSeparator = { (byte: UInt8) in IniFile.isSpace(byte) || extraSeparators.contains(byte) }
        var words: [Word] = []
        for index in first..<(first + count) {
            let content = lines[index].content
            var position = index == first ? valueStart : 0
            if index != first, let head = content.firstIndex(where: { !IniFile.isSpace($0) }), commentStarts.contains(content[head]) {
                continue
            }
            while position < content.count {
                while position < content.count, isSeparator(content[position]) { position += 1 }
                guard position < content.count else { break }
                let start = position
                while position < content.count, !isSeparator(content[position]) { position += 1 }
                words.append(Word(text: String(decoding: content[start..<position], as: UTF8.self), index: index, range: start..<position))
            }
        }
        self.words = words
    }

    /// `lines` with `removed` taken out of this value: a word goes with the separator after it (or
    /// before it, when it is the last on its line); a continuation line left without words goes
    /// too; when the key's own line loses all its words, the next remaining line's words move up
    /// to it. Lines outside the value are untouched, and a file without a final newline keeps
    /// having none.
    public func removing(_ removed: Set<Word>, from lines: [TextLine]) -> [TextLine] {
        var result = lines
        var dropped: Set<Int> = []
        for index in (first..<(first + count)).reversed() {
            let lineWords = words.filter { $0.index == index }
            guard lineWords.contains(where: removed.contains) else { continue }
            var content = result[index].content
            var remaining = lineWords
            for word in lineWords.reversed() where removed.contains(word) {
                guard let position = remaining.firstIndex(of: word) else { continue }
                let cut: Range<Int>
                if position + 1 < remaining.count {
                    cut = word.range.lowerBound..<remaining[position + 1].range.lowerBound
                } else if position > 0 {
                    cut = remaining[position - 1].range.upperBound..<word.range.upperBound
                } else {
                    cut = word.range
                }
                content.removeSubrange(cut)
                remaining.remove(at: position)
            }
            if remaining.isEmpty {
                if index == first {
                    // Keep the key and the blanks after it; the words of the next line move up below.
                    content = Array(content[..<(lineWords[0].range.lowerBound)])
                } else {
                    dropped.insert(index)
                }
            }
            result[index].content = content
        }
        let firstWords = words.filter { $0.index == first }
        if !firstWords.isEmpty, firstWords.allSatisfy(removed.contains) {
            if let next = words.first(where: { $0.index != first && !removed.contains($0) && !dropped.contains($0.index) }) {
                let line = result[next.index].content
                let start = line.firstIndex { !IniFile.isSpace($0) } ?? line.count
                let end = line.lastIndex { !IniFile.isSpace($0) }.map { $0 + 1 } ?? start
                result[first].content += Array(line[start..<end])
                dropped.insert(next.index)
            } else {
                var content = result[first].content
                while content.count > valueStart, let last = content.last, IniFile.isSpace(last) { content.removeLast() }
                result[first].content = content
            }
        }
        let unterminated = lines.last?.terminator.isEmpty == true
        for index in dropped.sorted(by: >) { result.remove(at: index) }
        if unterminated, !result.isEmpty { result[result.count - 1].terminator = [] }
        return result
    }
}
