import Foundation

/// A fixture guest root copied to a scratch directory, with its disk built as an image file.
struct FixtureGuest {
    static let rootUUID = "11111111-2222-4333-8444-555555555555"
    static let swapUUID = "66666666-7777-4888-8999-000000000000"
    static let espID = "C0DEF00D"  // blkid shows C0DE-F00D

    var name: String
    var directory: URL
    var root: URL
    var disk: URL

    /// Copies `Fixtures/guests/<name>` and builds sda.img: 1 ext4 `/`, 2 swap, 3 vfat ESP (typed as
    /// one, so the boot checks see a UEFI guest; its files are not mounted in the root).
    init(_ name: String = "debian-sda-gpt") throws {
        directory = try Support.scratch(name)
        root = directory.appendingPathComponent("root")
        self.name = name
        try Support.must("cp", ["-a", Self.fixture(name).path, root.path])
        disk = try DiskImage.gpt(
            at: directory.appendingPathComponent("sda.img"),
            partitions: [
                .init(sizeMiB: 16, content: .ext4(uuid: Self.rootUUID)),
                .init(sizeMiB: 8, content: .swap(uuid: Self.swapUUID)),
                .init(sizeMiB: 33, content: .vfat(id: Self.espID), type: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
            ])
    }

    /// Puts the pristine fixture tree back (the disk image is kept).
    func reset() throws {
        try? FileManager.default.removeItem(at: root)
        try Support.must("cp", ["-a", Self.fixture(name).path, root.path])
    }

    static func fixture(_ name: String) -> URL {
        Support.repository.appendingPathComponent("Tests/GuestprepTests/Fixtures/guests/\(name)")
    }

    var arguments: [String] { ["--root", root.path, "--disk", "sda=\(disk.path)"] }

    func file(_ path: String) -> URL { root.appendingPathComponent(path) }

    func read(_ path: String) throws -> String { try Support.read(file(path)) }

    /// The guest tree as bytes and modes, without guestprep's own state directory.
    func snapshot() throws -> [String: String] {
        try Support.snapshot(root, excluding: "var/lib/guestprep")
    }

    func cleanUp() { Support.cleanUp(directory) }
}
