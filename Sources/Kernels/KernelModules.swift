import GuestFS
import GuestprepCore
import Initramfs

/// The modules one kernel has: those in its modules directory (modules.dep, or the tree when
/// depmod never ran) and those built into it (modules.builtin).
public struct KernelModules: Sendable, Equatable {
    /// Normalised names (see `normalized`) of loadable modules.
    public var loadable: Set<String>
    /// Normalised names of modules built into the kernel image.
    public var builtin: Set<String>

    public init(loadable: Set<String>, builtin: Set<String>) {
        self.loadable = loadable
        self.builtin = builtin
    }

    /// Module names compare with `-` and `_` the same, as modprobe(8) does.
    public static func normalized(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }

    /// The normalised module name of a module file's path; nil for anything else.
    public static func name(ofPath path: Substring) -> String? {
        InitramfsImage.moduleName(ofPath: String(path)).map(normalized)
    }

    public func has(_ module: String) -> Bool {
        let name = Self.normalized(module)
        return loadable.contains(name) || builtin.contains(name)
    }

    public func isBuiltin(_ module: String) -> Bool { builtin.contains(Self.normalized(module)) }

    /// Reads `directory` (/lib/modules/<release>).
    public static func read(_ directory: GuestPath, root: GuestRoot) throws -> KernelModules {
        func names(_ file: GuestFile) -> Set<String> {
            Set(
                String(decoding: file.contents, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { line in
                    name(ofPath: line.prefix { $0 != ":" })
                })
        }
        let builtin = try root.readFile(directory.appending("modules.builtin")).map(names) ?? []
        if let dep = try root.readFile(directory.appending("modules.dep")) {
            return KernelModules(loadable: names(dep), builtin: builtin)
        }
        var loadable: Set<String> = []
        var pending = [directory.appending("kernel"), directory.appending("updates"), directory.appending("extra")]
        var visited = 0
        while let next = pending.popLast(), visited < 100_000 {
            visited += 1
            for entry in try root.listDirectory(next) {
                let path = next.appending(entry)
                if let module = name(ofPath: Substring(entry)) {
                    loadable.insert(module)
                } else if try root.isDirectory(path) {
                    pending.append(path)
                }
            }
        }
        return KernelModules(loadable: loadable, builtin: builtin)
    }
}
