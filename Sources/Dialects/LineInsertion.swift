import GuestprepCore

extension Array where Element == TextLine {
    /// The newline the file already uses (its first terminated line's), LF when it has none.
    public var newline: [UInt8] {
        first { !$0.terminator.isEmpty }?.terminator ?? [UInt8(ascii: "\n")]
    }

    /// Inserts lines after line `index` (-1: at the start), each ending in the file's newline. A
    /// file without a final newline keeps having none: the line before gets the file's newline,
    /// the new last line none.
    public mutating func insertTextLines(_ texts: [String], after index: Int) {
        guard !texts.isEmpty else { return }
        let nl = newline
        var new = texts.map { TextLine(content: [UInt8]($0.utf8), terminator: nl) }
        if index >= 0, self[index].terminator.isEmpty {
            self[index].terminator = nl
            new[new.count - 1].terminator = []
        }
        insert(contentsOf: new, at: index + 1)
    }
}
