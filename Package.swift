// swift-tools-version: 6.0
import PackageDescription

// Layers, bottom to top (each module depends only on those above it in this list):
//   C bindings → GuestprepCore → GuestFS / BlockProbe / MountTable → Dialects → Rules → Planning → Journal → GuestprepCLI
let package = Package(
    name: "guestprep",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "guestprep", targets: ["guestprep"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C bindings: system libraries found through pkg-config, plus a shim for what Swift's Glibc lacks.
        .systemLibrary(name: "CBlkid", pkgConfig: "blkid", providers: [.apt(["libblkid-dev"])]),
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CMount", pkgConfig: "mount", providers: [.apt(["libmount-dev"])]),
        .target(name: "CGuestprepShim"),

        // Error currency, findings, byte lines, unified diffs, hashing, test fault hook.
        .target(
            name: "GuestprepCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ]),
        // The only door to guest files: confined path resolution, atomic replace, metadata, locks.
        .target(
            name: "GuestFS",
            dependencies: [
                "GuestprepCore", "CGuestprepShim",
            ]),
        // Block-device facts: libblkid on image files and devices, libudev enumeration in live mode.
        .target(name: "BlockProbe", dependencies: ["GuestprepCore", "CBlkid", "CUdev"]),
        // fstab as libmount itself reads it, parsed in process: the reference the validators check against.
        .target(name: "MountTable", dependencies: ["GuestprepCore", "CMount"]),
        // Lossless parsers/renderers, one per configuration format.
        .target(name: "Dialects", dependencies: ["GuestprepCore"]),
        // Remediations: inspect → findings → proposed changes.
        .target(name: "Rules", dependencies: ["GuestprepCore", "GuestFS", "BlockProbe", "Dialects", "MountTable"]),
        // Playbooks and plans (what to change, shown as diffs).
        .target(name: "Planning", dependencies: ["GuestprepCore", "GuestFS", "Rules", "Yams"]),
        // Write-ahead journal, apply, validate, rollback, history.
        .target(name: "Journal", dependencies: ["GuestprepCore", "GuestFS", "BlockProbe", "Dialects", "Planning"]),
        // Subcommands (one file each) over a context that tests can drive.
        .target(
            name: "GuestprepCLI",
            dependencies: [
                "GuestprepCore", "GuestFS", "BlockProbe", "Rules", "Planning", "Journal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], resources: [.embedInCode("Resources/default.yaml")]),
        .executableTarget(name: "guestprep", dependencies: ["GuestprepCLI"]),

        // Test-only C helpers (pseudo-terminals).
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .testTarget(
            name: "GuestprepTests",
            dependencies: [
                "GuestprepCore", "GuestFS", "BlockProbe", "MountTable", "Dialects", "Rules", "Planning", "Journal", "GuestprepCLI",
                "CGuestprepShim", "CTestSupport",
            ], exclude: ["Fixtures", "Snapshots"]),
    ]
)
