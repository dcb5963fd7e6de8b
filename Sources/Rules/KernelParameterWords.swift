import GuestprepCore

/// One kernel command-line parameter (`console=ttyS0,115200n8`, `nvme_core.io_timeout=4294967295`,
/// `quiet`) and which existing word it replaces.
struct KernelParameter: Sendable, Equatable {
    var word: String

    /// Parameters the kernel takes more than once, each adding to the others; every other key
    /// is single-valued (the kernel's __setup handlers and module parameters keep the last one),
    /// so a new value replaces the old word instead of joining it.
    static let repeatable: [String: String] = [
        // kernel-parameters.txt: "console= ... can be given several times; output goes to all,
        // the last one is /dev/console". console=tty0 and console=ttyS0 both stay.
        "console": "output goes to every console named; the last one becomes /dev/console"
    ]

    var key: String { word.firstIndex(of: "=").map { String(word[..<$0]) } ?? word }

    var isRepeatable: Bool { Self.repeatable[key] != nil }

    /// What two words share when one replaces the other: the key, or for console= the device
    /// (console=ttyS0,9600 gives way to console=ttyS0,115200n8; console=tty0 does not).
    var identity: String {
        guard isRepeatable, let equals = word.firstIndex(of: "=") else { return key }
        let value = word[word.index(after: equals)...]
        return key + "=" + String(value.prefix { $0 != "," })
    }

    /// Whether an existing word is the same setting with another value, which this one replaces.
    func replaces(_ other: String) -> Bool {
        other != word && KernelParameter(word: other).identity == identity
    }

    /// Bytes a parameter may not hold: blanks split it, the rest would need shell quoting in
    /// /etc/default/grub or grubby's argument.
    static func check(_ word: String) -> String? {
        if word.isEmpty { return "is empty" }
        if let bad = word.first(where: { " \t\n\"'\\$`;&|<>".contains($0) }) {
            return "'\(word)' holds '\(bad)', which a kernel parameter guestprep writes may not"
        }
        return nil
    }
}

/// The edits that make a list of words (one kernel command line, maybe spread over several
/// places) carry the wanted parameters: words replaced in place, words appended.
struct KernelCommandLineEdit {
    /// An existing word and what it becomes.
    struct Replacement {
        var place: Int
        var field: Field
        var with: String
    }

    var replacements: [Replacement] = []
    var appended: [String] = []
    var reasons: [String] = []

    var isEmpty: Bool { replacements.isEmpty && appended.isEmpty }

    /// `places` are the word lists in command-line order (GRUB_CMDLINE_LINUX before
    /// GRUB_CMDLINE_LINUX_DEFAULT); a missing parameter is appended to place 0.
    init(places: [[Field]], wanted: [KernelParameter], why: (KernelParameter) -> String) {
        for parameter in wanted {
            if Self.unmet([parameter], in: places.flatMap { $0.map(\.text) }) == nil { continue }
            var replaced = false
            for (place, words) in places.enumerated() {
                for field in words where parameter.replaces(field.text) {
                    replacements.append(Replacement(place: place, field: field, with: parameter.word))
                    reasons.append("\(field.text) → \(parameter.word): \(why(parameter))")
                    replaced = true
                }
            }
            if !replaced {
                appended.append(parameter.word)
                let note = parameter.isRepeatable ? " (\(KernelParameter.repeatable[parameter.key] ?? ""))" : ""
                reasons.append("add \(parameter.word): \(why(parameter))\(note)")
            }
        }
    }

    /// The words of `line` with the replacements for `place` made, right to left so ranges stay valid.
    static func apply(_ replacements: [Replacement], to line: TextLine) -> TextLine {
        var line = line
        for replacement in replacements.sorted(by: { $0.field.range.lowerBound > $1.field.range.lowerBound }) {
            line = line.replacing(replacement.field.range, with: Array(replacement.with.utf8))
        }
        return line
    }

    /// Whether `words` (the whole command line, in order) means every wanted parameter: present,
    /// and for single-valued keys the last word with that key is the wanted one.
    static func unmet(_ wanted: [KernelParameter], in words: [String]) -> KernelParameter? {
        wanted.first { parameter in
            guard words.contains(parameter.word) else { return true }
            if parameter.isRepeatable { return false }
            return words.last { KernelParameter(word: $0).key == parameter.key } != parameter.word
        }
    }
}
