// W3C Trace Context (`traceparent`) and `X-Request-ID`, parsed and written without I/O or randomness: the shell draws
// the random bytes for new ids and passes them in, so the same inputs always give the same header.

/// A `traceparent` header's content: which trace a request belongs to and which span called us.
public struct TraceContext: Sendable, Hashable {
    /// The trace id's first eight bytes, big-endian.
    public var traceIDHigh: UInt64
    /// The trace id's last eight bytes, big-endian.
    public var traceIDLow: UInt64
    /// The caller's span (the `parent-id` field).
    public var parentID: UInt64
    /// The trace flags; bit 0 is `sampled`.
    public var flags: UInt8

    public init(traceIDHigh: UInt64, traceIDLow: UInt64, parentID: UInt64, flags: UInt8) {
        precondition(traceIDHigh | traceIDLow != 0, "a trace id of all zeros is invalid")
        precondition(parentID != 0, "a parent id of all zeros is invalid")
        self.traceIDHigh = traceIDHigh
        self.traceIDLow = traceIDLow
        self.parentID = parentID
        self.flags = flags
    }

    /// Whether the caller recorded this trace.
    public var sampled: Bool { flags & 0x01 != 0 }

    /// The 32 lowercase hex digits of the trace id, as logs carry it.
    public var traceIDHex: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            writeHex16(traceIDHigh, to: buffer.baseAddress!)
            writeHex16(traceIDLow, to: buffer.baseAddress! + 16)
            return 32
        }
    }

    /// The 16 lowercase hex digits of the parent id.
    public var parentIDHex: String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            writeHex16(parentID, to: buffer.baseAddress!)
            return 16
        }
    }

    /// The header value to send, always version 00: we speak only that version, and the spec has a newer-version
    /// header continued downstream as 00 with the fields we understood.
    public var traceparent: String {
        String(unsafeUninitializedCapacity: TraceContext.traceparentLength) { buffer in
            writeTraceparent(to: buffer.baseAddress!)
            return TraceContext.traceparentLength
        }
    }

    /// The length of a version 00 `traceparent` value.
    public static let traceparentLength = 55

    /// Writes the `traceparent` value (`traceparentLength` bytes) at `base`: a request or response carrying the
    /// context writes it straight into the bytes it sends, with no String made for it.
    public func writeTraceparent(to base: UnsafeMutablePointer<UInt8>) {
        base[0] = UInt8(ascii: "0")
        base[1] = UInt8(ascii: "0")
        base[2] = UInt8(ascii: "-")
        writeHex16(traceIDHigh, to: base + 3)
        writeHex16(traceIDLow, to: base + 19)
        base[35] = UInt8(ascii: "-")
        writeHex16(parentID, to: base + 36)
        base[52] = UInt8(ascii: "-")
        writeHex(UInt64(flags), digits: 2, to: base + 53)
    }

    /// Parses a `traceparent` value; nil when it is invalid, in which case the caller starts a new trace.
    ///
    /// Version 00 must be exactly 55 characters. A later version (any but `ff`, which is forbidden) may be longer, and
    /// is read as far as version 00's fields go, provided a dash or the end follows the flags; of its flags only
    /// `sampled` is kept, since what the other bits mean in that version is unknown to us. Hex must be lowercase.
    public init?(traceparent: String) {
        var text = traceparent
        guard let fields = text.withUTF8({ TraceContext.fields(of: $0) }) else { return nil }
        self.init(traceIDHigh: fields.high, traceIDLow: fields.low, parentID: fields.parent, flags: fields.flags)
    }

    /// The fields of a valid `traceparent` value (flags already reduced for a later version), nil when invalid.
    private static func fields(
        of bytes: UnsafeBufferPointer<UInt8>
    ) -> (high: UInt64, low: UInt64, parent: UInt64, flags: UInt8)? {
        guard bytes.count >= 55, let version = hexValue(bytes, 0, 2), version != 0xFF,
            bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            let high = hexValue(bytes, 3, 19), let low = hexValue(bytes, 19, 35),
            let parent = hexValue(bytes, 36, 52), let flags = hexValue(bytes, 53, 55),
            high | low != 0, parent != 0
        else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
            return (high, low, parent, UInt8(flags))
        }
        guard bytes.count == 55 || bytes[55] == UInt8(ascii: "-") else { return nil }
        return (high, low, parent, UInt8(flags) & 0x01)
    }

    /// The context to send downstream for the span we start: same trace and flags, our span as the parent.
    /// `spanIDBytes` are 8 random bytes from the caller; all zeros (one chance in 2^64) become 1, never invalid.
    public func child(spanIDBytes: [UInt8]) -> TraceContext {
        TraceContext(
            traceIDHigh: traceIDHigh, traceIDLow: traceIDLow, parentID: TraceContext.nonZeroID(spanIDBytes),
            flags: flags)
    }

    /// A new trace for a request that came without a valid `traceparent`. `traceIDBytes` are 16 random bytes and
    /// `spanIDBytes` 8; all zeros become 1.
    public static func root(traceIDBytes: [UInt8], spanIDBytes: [UInt8], sampled: Bool) -> TraceContext {
        precondition(traceIDBytes.count == 16, "a trace id needs 16 bytes, got \(traceIDBytes.count)")
        let high = bigEndian(traceIDBytes[0..<8])
        var low = bigEndian(traceIDBytes[8..<16])
        if high | low == 0 { low = 1 }
        return TraceContext(
            traceIDHigh: high, traceIDLow: low, parentID: nonZeroID(spanIDBytes), flags: sampled ? 0x01 : 0x00)
    }

    private static func nonZeroID(_ bytes: [UInt8]) -> UInt64 {
        precondition(bytes.count == 8, "a span id needs 8 bytes, got \(bytes.count)")
        let id = bigEndian(bytes[0..<8])
        return id == 0 ? 1 : id
    }

    private static func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The value of the lowercase hex digits `bytes[start..<end]` (at most 16), nil on any other byte.
    private static func hexValue(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt64? {
        var value: UInt64 = 0
        var index = start
        while index < end {
            let digit = bytes[index]
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(digit - UInt8(ascii: "a") + 10)
            default: return nil
            }
            index += 1
        }
        return value
    }
}

/// Writes the `digits` low nibbles of `value` as lowercase hex, most significant first, at `start`.
@inline(__always)
private func writeHex(_ value: UInt64, digits: Int, to start: UnsafeMutablePointer<UInt8>) {
    let table = hexDigits.utf8Start
    var rest = value
    var index = digits
    while index > 0 {
        index -= 1
        start[index] = table[Int(truncatingIfNeeded: rest & 0xF)]
        rest >>= 4
    }
}

private let hexDigits: StaticString = "0123456789abcdef"

/// Writes `value` as 16 lowercase hex digits, most significant first, at `start`: eight digits at a time, each
/// nibble spread into a byte of its own and turned into its digit with the same arithmetic on all eight bytes.
@inline(__always)
func writeHex16(_ value: UInt64, to start: UnsafeMutablePointer<UInt8>) {
    let raw = UnsafeMutableRawPointer(start)
    raw.storeBytes(of: hexDigitsWord(UInt32(truncatingIfNeeded: value >> 32)), as: UInt64.self)
    raw.storeBytes(of: hexDigitsWord(UInt32(truncatingIfNeeded: value)), toByteOffset: 8, as: UInt64.self)
}

/// The eight hex digits of `value` as the bytes of a word laid out so that storing it writes them in reading
/// order, whatever the machine's byte order.
@inline(__always)
func hexDigitsWord(_ value: UInt32) -> UInt64 {
    var nibbles = UInt64(value)
    nibbles = (nibbles | nibbles << 16) & 0x0000_FFFF_0000_FFFF
    nibbles = (nibbles | nibbles << 8) & 0x00FF_00FF_00FF_00FF
    nibbles = (nibbles | nibbles << 4) & 0x0F0F_0F0F_0F0F_0F0F
    // Each byte now holds one nibble, the least significant in the lowest byte. A nibble of 10 or more gets the
    // distance from '0' + 10 to 'a' (39) on top of '0'.
    let letters = ((nibbles &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
    let digits = nibbles &+ 0x3030_3030_3030_3030 &+ letters &* 39
    return UInt64(bigEndian: digits)
}

/// The `X-Request-ID` a client sent, when it is safe to echo in a response header and to write into logs.
public enum RequestIDHeader {
    /// Longer ids are refused: a log line or header should not grow with what a client chooses to send.
    public static let lengthMax = 128

    /// The id if it is 1 to `lengthMax` printable ASCII characters (space through tilde, not starting or ending with
    /// a space, which a header would lose); nil otherwise, and the caller makes a new id.
    public static func sanitized(_ value: String) -> String? {
        let acceptable =
            value.utf8.withContiguousStorageIfAvailable { acceptableBytes($0) } ?? acceptableBytes(Array(value.utf8))
        return acceptable ? value : nil
    }

    private static func acceptableBytes<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> Bool
    where Bytes.Index == Int {
        guard !bytes.isEmpty, bytes.count <= lengthMax, bytes.first != UInt8(ascii: " "),
            bytes.last != UInt8(ascii: " ")
        else { return false }
        for byte in bytes where byte < 0x20 || byte > 0x7E { return false }
        return true
    }
}
