import GuestFS

#if canImport(Glibc)
    import Glibc
#endif

/// Shell wildcards expanded inside the guest (never on the host), as glob(3) would: one
/// component at a time, sorted, no match for names starting with "." unless the pattern does.
enum GuestGlob {
    static func hasWildcard(_ component: String) -> Bool {
        component.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    static func expand(_ pattern: GuestPath, in files: any GuestFileReader) throws -> [GuestPath] {
        var matches: [GuestPath] = [GuestPath(components: [])]
        for component in pattern.components {
            guard hasWildcard(component) else {
                matches = matches.map { $0.appending(component) }
                continue
            }
            var next: [GuestPath] = []
            for directory in matches {
                let names = try files.listDirectory(directory).filter { fnmatch(component, $0, FNM_PERIOD) == 0 }
                next += names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { directory.appending($0) }
            }
            matches = next
        }
        return matches
    }
}
