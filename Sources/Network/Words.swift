extension Substring {
    /// Without leading and trailing blanks (space, tab), as the config readers trim list items.
    var trimmingBlanks: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}

extension String {
    /// Without leading and trailing blanks (space, tab).
    var trimmingBlanks: String { String(Substring(self).trimmingBlanks) }

    /// Blank-separated words (systemd list values such as `DNS=a b`).
    var words: [String] { split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
}
