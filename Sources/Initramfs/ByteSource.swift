import GuestprepCore

/// A forward-only stream of bytes with a little look-ahead: the file itself, or what a
/// decompressor makes of part of it. `position` counts bytes consumed, for messages.
final class ByteSource {
    /// Gives the next bytes; empty at the end.
    private let pull: () throws -> [UInt8]
    private var storage: [UInt8] = []
    private var start = 0
    private var ended = false
    /// Offset in this stream of the next byte to consume.
    private(set) var position = 0

    init(pull: @escaping () throws -> [UInt8]) {
        self.pull = pull
    }

    private var buffered: Int { storage.count - start }

    /// Fills the look-ahead to `count` bytes, or fewer at the end.
    private func fill(_ count: Int) throws {
        while buffered < count && !ended {
            let more = try pull()
            if more.isEmpty {
                ended = true
                break
            }
            if start > 0 && start >= storage.count / 2 {
                storage.removeSubrange(0..<start)
                start = 0
            }
            storage += more
        }
    }

    /// Up to `count` bytes from the current position without consuming them (fewer at the end).
    func peek(_ count: Int) throws -> ArraySlice<UInt8> {
        try fill(count)
        return storage[start..<(start + min(count, buffered))]
    }

    /// Whatever is buffered (reading more when nothing is), without consuming it; empty at the end.
    func available() throws -> ArraySlice<UInt8> {
        try fill(1)
        return storage[start...]
    }

    /// Consumes `count` bytes that `peek` or `available` returned.
    func consume(_ count: Int) {
        precondition(count <= buffered, "consuming bytes that were not looked at")
        start += count
        position += count
    }

    var isAtEnd: Bool {
        get throws { try peek(1).isEmpty }
    }

    /// Exactly `count` bytes, or nil when the stream ends first (nothing is consumed then).
    func read(_ count: Int) throws -> [UInt8]? {
        let bytes = try peek(count)
        guard bytes.count == count else { return nil }
        consume(count)
        return Array(bytes)
    }

    /// Skips `count` bytes; false when the stream ends first.
    func skip(_ count: Int) throws -> Bool {
        var left = count
        while left > 0 {
            let chunk = try available()
            if chunk.isEmpty { return false }
            let taken = min(left, chunk.count)
            consume(taken)
            left -= taken
        }
        return true
    }

    /// Skips zero bytes (the padding between concatenated archives).
    func skipZeros() throws {
        while true {
            let chunk = try available()
            guard !chunk.isEmpty else { return }
            let zeros = chunk.prefix { $0 == 0 }.count
            consume(zeros)
            if zeros < chunk.count { return }
        }
    }
}
