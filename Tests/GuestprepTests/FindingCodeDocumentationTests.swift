import Foundation
import Rules
import Testing

/// docs/checks.md describes every finding code the sources can report: a new code without its
/// description fails here.
@Suite("Finding code documentation")
struct FindingCodeDocumentationTests {
    /// Literals in the sources that look like codes and are not (file names).
    static let notCodes: Set<String> = ["journal.jsonl"]

    static func sourceCodes() throws -> Set<String> {
        let sources = Support.repository.appendingPathComponent("Sources")
        var texts: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: sources.path)
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".swift") else { continue }
            texts.append(try Support.read(sources.appendingPathComponent(relative)))
        }
        func matches(_ pattern: String, in text: String) throws -> [String] {
            let regex = try NSRegularExpression(pattern: pattern)
            return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                Range(match.range(at: 1), in: text).map { String(text[$0]) }
            }
        }
        let all = texts.joined(separator: "\n")
        func matches(_ pattern: String) throws -> [String] { try matches(pattern, in: all) }
        // A file whose reporter prefixes its domain (`code: "bootloader.\(code)"`) names the rest
        // in its report calls: `report("grub", .info, …)`, `report(context, "x", .warning, …)`.
        var composed: Set<String> = []
        for text in texts {
            for domain in try matches(#"code: "([a-z-]+)\.\\\(code\)""#, in: text) {
                for suffix in try matches(#"report\(\s*(?:context,\s*)?"([a-z0-9-]+)","#, in: text) {
                    composed.insert("\(domain).\(suffix)")
                }
            }
        }
        // Domains proven by a literal used as a code; then every literal in such a domain is one.
        let used =
            try matches(#"code: "([a-z]+(?:-[a-z]+)*\.[a-z0-9-]+)""#)
            + matches(#""([a-z]+(?:-[a-z]+)*\.[a-z0-9-]+)",\s*(?:severity: )?\.(?:blocker|warning|info)"#)
        let domains = Set(used.map { String($0.split(separator: ".")[0]) })
        var codes = Set(
            try matches(#""([a-z]+(?:-[a-z]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*)""#).filter {
                domains.contains(String($0.split(separator: ".")[0]))
            })
        codes.formUnion(composed)
        // Device-reference refusals are composed as "<where>.<why>".
        let reasons = ["not-probed", "unreadable", "no-uuid", "uuid-ambiguous", "type-mismatch"]
        for site in ["fstab", "crypttab", "resume"] {
            for reason in reasons { codes.insert("\(site).\(reason)") }
        }
        // boot-config: "<parameter>-<why>" for root= and resume= on the kernel command line.
        for parameter in ["root", "resume"] {
            for reason in reasons { codes.insert("boot-config.\(parameter)-\(reason)") }
        }
        #expect(RefusalReason(rawValue: "type-mismatch") != nil && RefusalReason(rawValue: "no-uuid") != nil)
        return codes.subtracting(notCodes)
    }

    @Test("every code in the sources has an entry in docs/checks.md")
    func documented() throws {
        let document = try Support.read(Support.repository.appendingPathComponent("docs/checks.md"))
        let codes = try Self.sourceCodes()
        #expect(codes.count > 40, "the scan found too few codes: \(codes.sorted())")
        let missing = codes.filter { !document.contains("`\($0)`") }.sorted()
        #expect(missing.isEmpty, "codes without a description in docs/checks.md: \(missing.joined(separator: ", "))")
    }
}
