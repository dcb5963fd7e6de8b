import CLz4
import CLzma
import CZlib
import CZstd

/// Why compressed data could not be read, in words; the reader adds the file and offsets.
struct DamagedData: Error {
    var message: String
}

/// Turns compressed bytes from a source into plain ones, a chunk at a time.
protocol Decompressor: AnyObject {
    /// The next decompressed bytes (possibly empty while input is being consumed), or nil once
    /// the compressed stream has ended; the source is left just after it.
    func produce(from input: ByteSource) throws -> [UInt8]?
}

/// How much plain output one call makes at most.
private let chunkSize = 1 << 16

/// One call of a streaming decoder on whatever input is buffered: `code` gets the input and an
/// output buffer and says how much it consumed and made. The consumed input is taken from the source.
private func decodeChunk(
    from input: ByteSource, format: String,
    _ code: (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws -> (consumed: Int, made: Int)
) throws -> [UInt8] {
    let chunk = try input.available()
    guard !chunk.isEmpty else { throw DamagedData(message: "it ends before the end of the \(format) stream") }
    var output = [UInt8](repeating: 0, count: chunkSize)
    let (consumed, made) = try chunk.withUnsafeBytes { inBuffer in try output.withUnsafeMutableBytes { try code(inBuffer, $0) } }
    input.consume(consumed)
    output.removeSubrange(made...)
    return output
}

/// gzip through zlib (one member, as the kernel unpacks it).
final class GzipDecompressor: Decompressor {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var finished = false

    init() throws {
        stream.initialize(to: z_stream())
        // 16 + 15: a gzip wrapper around a 32 KiB window (zlib.h, inflateInit2).
        let status = inflateInit2_(stream, 16 + 15, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw DamagedData(message: "zlib could not start (status \(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    func produce(from input: ByteSource) throws -> [UInt8]? {
        guard !finished else { return nil }
        return try decodeChunk(from: input, format: "gzip") { inBuffer, outBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.bindMemory(to: UInt8.self).baseAddress)
            stream.pointee.avail_in = UInt32(inBuffer.count)
            stream.pointee.next_out = outBuffer.bindMemory(to: UInt8.self).baseAddress
            stream.pointee.avail_out = UInt32(outBuffer.count)
            let status = inflate(stream, Z_NO_FLUSH)
            let progress = (inBuffer.count - Int(stream.pointee.avail_in), outBuffer.count - Int(stream.pointee.avail_out))
            switch status {
            case Z_OK: break
            case Z_STREAM_END: finished = true
            case Z_BUF_ERROR where progress == (0, 0): throw DamagedData(message: "zlib made no progress")
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                throw DamagedData(message: "the gzip data is corrupt (zlib: \(reason))")
            }
            return progress
        }
    }
}

/// xz through liblzma, one stream (the kernel's own decoder wants CRC32 or no check).
final class XzDecompressor: Decompressor {
    private let stream = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
    private var finished = false
    /// Enough for any preset xz(1) makes (-9e needs 65 MiB to decode).
    private static let memoryLimit: UInt64 = 1 << 30

    init() throws {
        stream.initialize(to: lzma_stream())
        let status = lzma_stream_decoder(stream, Self.memoryLimit, 0)
        guard status == LZMA_OK else {
            stream.deallocate()
            throw DamagedData(message: "liblzma could not start (status \(status.rawValue))")
        }
    }

    deinit {
        lzma_end(stream)
        stream.deallocate()
    }

    func produce(from input: ByteSource) throws -> [UInt8]? {
        guard !finished else { return nil }
        return try decodeChunk(from: input, format: "xz") { inBuffer, outBuffer in
            stream.pointee.next_in = inBuffer.bindMemory(to: UInt8.self).baseAddress
            stream.pointee.avail_in = inBuffer.count
            stream.pointee.next_out = outBuffer.bindMemory(to: UInt8.self).baseAddress
            stream.pointee.avail_out = outBuffer.count
            let status = lzma_code(stream, LZMA_RUN)
            let progress = (inBuffer.count - stream.pointee.avail_in, outBuffer.count - stream.pointee.avail_out)
            switch status {
            case LZMA_OK: break
            case LZMA_STREAM_END: finished = true
            case LZMA_MEMLIMIT_ERROR: throw DamagedData(message: "the xz data needs more than 1 GiB of memory to decode")
            case LZMA_FORMAT_ERROR: throw DamagedData(message: "the xz header is not valid")
            case LZMA_DATA_ERROR: throw DamagedData(message: "the xz data is corrupt")
            case LZMA_BUF_ERROR where progress == (0, 0): throw DamagedData(message: "liblzma made no progress")
            default: throw DamagedData(message: "liblzma failed (status \(status.rawValue))")
            }
            return progress
        }
    }
}

/// zstd through libzstd, one frame.
final class ZstdDecompressor: Decompressor {
    private let context: OpaquePointer
    private var finished = false

    init() throws {
        guard let context = ZSTD_createDCtx() else { throw DamagedData(message: "libzstd could not start") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    func produce(from input: ByteSource) throws -> [UInt8]? {
        guard !finished else { return nil }
        return try decodeChunk(from: input, format: "zstd") { inBuffer, outBuffer in
            var inDescriptor = ZSTD_inBuffer(src: inBuffer.baseAddress, size: inBuffer.count, pos: 0)
            var outDescriptor = ZSTD_outBuffer(dst: outBuffer.baseAddress, size: outBuffer.count, pos: 0)
            let result = ZSTD_decompressStream(context, &outDescriptor, &inDescriptor)
            if ZSTD_isError(result) != 0 {
                throw DamagedData(message: "the zstd data is corrupt (libzstd: \(String(cString: ZSTD_getErrorName(result))))")
            }
            if result == 0 { finished = true }  // a frame fully decoded and flushed
            return (inDescriptor.pos, outDescriptor.pos)
        }
    }
}

/// lz4's legacy format, the one the kernel unpacks (`lz4 -l`): a magic number, then blocks of
/// at most 8 MiB of output, each led by its compressed size.
final class LZ4LegacyDecompressor: Decompressor {
    static let magic: [UInt8] = [0x02, 0x21, 0x4C, 0x18]
    private static let blockSize = 8 << 20
    private var started = false
    private var finished = false

    func produce(from input: ByteSource) throws -> [UInt8]? {
        guard !finished else { return nil }
        if !started {
            guard try input.read(4) == Self.magic else { throw DamagedData(message: "the lz4 magic number is missing") }
            started = true
        }
        // The stream ends at the end of the file, at another legacy stream (the kernel reads it
        // as the same one) or at a word that cannot be a block size (padding, the next archive).
        guard let sizeBytes = try input.peek(4).count == 4 ? Array(try input.peek(4)) : nil else {
            finished = true
            return nil
        }
        if sizeBytes == Self.magic {
            input.consume(4)
            return []
        }
        let size = sizeBytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard size > 0, size <= Int(LZ4_compressBound(Int32(Self.blockSize))) else {
            finished = true
            return nil
        }
        input.consume(4)
        guard let block = try input.read(size) else {
            throw DamagedData(message: "it ends inside an lz4 block of \(size) bytes")
        }
        var output = [UInt8](repeating: 0, count: Self.blockSize)
        let made = block.withUnsafeBytes { inBuffer in
            output.withUnsafeMutableBytes { outBuffer in
                LZ4_decompress_safe(
                    inBuffer.baseAddress!.assumingMemoryBound(to: CChar.self), outBuffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(size), Int32(Self.blockSize))
            }
        }
        guard made >= 0 else { throw DamagedData(message: "an lz4 block of \(size) bytes is corrupt") }
        output.removeSubrange(Int(made)...)
        return output
    }
}
