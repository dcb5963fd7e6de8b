// swift-tools-version: 6.0
import PackageDescription

// Layers, bottom to top; each module imports only modules below it, and declares exactly those
// (`make test` builds with --explicit-target-dependency-import-check error):
//   C bindings → GuestprepCore → GuestFS, BlockProbe, MountTable, HostProcess → Executor, Dialects → GuestFacts
//   → Initramfs → Kernels → Rules → Planning → Journal (guest files only) → Apply → GuestprepCLI → guestprep
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
        // The compressors an initramfs may use (gzip, xz, zstd, lz4), for reading images in process.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLzma", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLz4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        // pipe2, and the fork into a chroot in a private mount namespace (only async-signal-safe calls before exec).
        .target(name: "CProcessShim"),

        // Error currency, findings, byte lines, unified diffs, hashing, test fault hook.
        .target(
            name: "GuestprepCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ]),
        // The only door to guest files: confined path resolution, atomic replace, metadata, locks.
        .target(name: "GuestFS", dependencies: ["GuestprepCore", "CGuestprepShim"]),
        // Host processes behind the swappable `ProcessRunner` (posix_spawn), and the parent's side of any child.
        .target(name: "HostProcess", dependencies: ["GuestprepCore", "CProcessShim"]),
        // Commands run inside the guest: live directly, offline chrooted in a private mount namespace.
        .target(name: "Executor", dependencies: ["GuestprepCore", "GuestFS", "HostProcess", "CProcessShim"]),
        // Block-device facts: libblkid on image files and devices, libudev enumeration in live mode.
        .target(name: "BlockProbe", dependencies: ["GuestprepCore", "CBlkid", "CUdev"]),
        // fstab as libmount itself reads it, parsed in process: the reference the validators check against.
        .target(name: "MountTable", dependencies: ["GuestprepCore", "CMount"]),
        // Lossless parsers/renderers, one per configuration format.
        .target(name: "Dialects", dependencies: ["GuestprepCore"]),
        // What the guest is: os-release, family table, init system, network stacks, kernels; shape checks.
        .target(name: "GuestFacts", dependencies: ["GuestprepCore", "GuestFS", "Dialects", "Yams"]),
        // Network configuration: one interface model, one dialect per configuration system, leases.
        .target(name: "Network", dependencies: ["GuestprepCore", "GuestFS", "Dialects", "GuestFacts", "Yams"]),
        // The running system's network links through libudev and ethtool: name, MACs, driver, bus, kind.
        .target(name: "LinkProbe", dependencies: ["GuestprepCore", "Network", "CUdev", "CGuestprepShim"]),
        // Initramfs images read in process: concatenated cpio archives, each raw or compressed.
        .target(name: "Initramfs", dependencies: ["GuestprepCore", "GuestFS", "CZlib", "CLzma", "CZstd", "CLz4"]),
        // Kernels three ways (package database, /boot, /lib/modules), version order, /boot space.
        .target(name: "Kernels", dependencies: ["GuestprepCore", "GuestFS", "Dialects", "GuestFacts", "Initramfs"]),
        // Remediations: inspect → findings → typed changes.
        .target(
            name: "Rules",
            dependencies: [
                "GuestprepCore", "GuestFS", "BlockProbe", "Dialects", "MountTable", "GuestFacts", "Executor", "Network", "LinkProbe",
                "Kernels", "Yams", "Initramfs",
            ]),
        // Playbooks and plans (what to change, shown as diffs), saved plans.
        .target(name: "Planning", dependencies: ["GuestprepCore", "GuestFS", "BlockProbe", "GuestFacts", "Executor", "Rules", "Yams"]),
        // Write-ahead journal records, run directories, history: guest files only.
        .target(name: "Journal", dependencies: ["GuestprepCore", "GuestFS"]),
        // Applying changes through the journal, validation after writing, rollback.
        .target(name: "Apply", dependencies: ["GuestprepCore", "GuestFS", "Journal", "Rules", "Executor"]),
        // Subcommands (one file each) over a context that tests can drive.
        .target(
            name: "GuestprepCLI",
            dependencies: [
                "GuestprepCore", "GuestFS", "BlockProbe", "GuestFacts", "HostProcess", "Executor", "Network", "LinkProbe", "Rules",
                "Planning",
                "Journal", "Apply", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Every shipped playbook (each a symlink to playbooks/), so the binary needs nothing beside it.
            resources: [
                .embedInCode("Resources/aws.yaml"), .embedInCode("Resources/azure.yaml"), .embedInCode("Resources/default.yaml"),
                .embedInCode("Resources/hyperv.yaml"), .embedInCode("Resources/kubevirt.yaml"), .embedInCode("Resources/linux-kvm.yaml"),
                .embedInCode("Resources/lxd.yaml"), .embedInCode("Resources/oci.yaml"), .embedInCode("Resources/olvm.yaml"),
                .embedInCode("Resources/openstack.yaml"), .embedInCode("Resources/oracle-pca.yaml"), .embedInCode("Resources/vmware.yaml"),
            ]),
        .executableTarget(name: "guestprep", dependencies: ["GuestprepCLI"]),

        // Test-only C helpers (pseudo-terminals).
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .testTarget(
            name: "GuestprepTests",
            dependencies: [
                "GuestprepCore", "GuestFS", "BlockProbe", "MountTable", "Dialects", "GuestFacts", "Network", "LinkProbe", "Rules",
                "Planning", "Journal", "Apply",
                "GuestprepCLI", "CGuestprepShim", "HostProcess", "Executor", "CTestSupport", "Kernels", "Initramfs",
            ], exclude: ["Fixtures", "Snapshots"]),
    ]
)
