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
    public var traceIDHex: String { hex(traceIDHigh, digits: 16) + hex(traceIDLow, digits: 16) }

    /// The 16 lowercase hex digits of the parent id.
    public var parentIDHex: String { hex(parentID, digits: 16) }

    /// The header value to send, always version 00: we speak only that version, and the spec has a newer-version
    /// header continued downstream as 00 with the fields we understood.
    public var traceparent: String {
        // Written byte by byte: it is made for every request, and String concatenation costs several times more.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(55)
        bytes.append(contentsOf: "00-".utf8)
        appendHex(traceIDHigh, digits: 16, to: &bytes)
        appendHex(traceIDLow, digits: 16, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(parentID, digits: 16, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(UInt64(flags), digits: 2, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a `traceparent` value; nil when it is invalid, in which case the caller starts a new trace.
    ///
    /// Version 00 must be exactly 55 characters. A later version (any but `ff`, which is forbidden) may be longer, and
    /// is read as far as version 00's fields go, provided a dash or the end follows the flags; of its flags only
    /// `sampled` is kept, since what the other bits mean in that version is unknown to us. Hex must be lowercase.
    public init?(traceparent: String) {
        let bytes = Array(traceparent.utf8)
        guard bytes.count >= 55, let version = TraceContext.hexValue(bytes[0..<2]), version != 0xFF,
            bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            let high = TraceContext.hexValue(bytes[3..<19]), let low = TraceContext.hexValue(bytes[19..<35]),
            let parent = TraceContext.hexValue(bytes[36..<52]), let flags = TraceContext.hexValue(bytes[53..<55]),
            high | low != 0, parent != 0
        else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
            self.init(traceIDHigh: high, traceIDLow: low, parentID: parent, flags: UInt8(flags))
        } else {
            guard bytes.count == 55 || bytes[55] == UInt8(ascii: "-") else { return nil }
            self.init(traceIDHigh: high, traceIDLow: low, parentID: parent, flags: UInt8(flags) & 0x01)
        }
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

    /// The value of lowercase hex digits (at most 16), nil on any other byte.
    private static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(digit - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return value
    }
}

private func appendHex(_ value: UInt64, digits: Int, to bytes: inout [UInt8]) {
    for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
        let nibble = UInt8((value >> UInt64(shift)) & 0xF)
        bytes.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
    }
}

private func hex(_ value: UInt64, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: digits - text.count) + text
}

/// The `X-Request-ID` a client sent, when it is safe to echo in a response header and to write into logs.
public enum RequestIDHeader {
    /// Longer ids are refused: a log line or header should not grow with what a client chooses to send.
    public static let lengthMax = 128

    /// The id if it is 1 to `lengthMax` printable ASCII characters (space through tilde, not starting or ending with
    /// a space, which a header would lose); nil otherwise, and the caller makes a new id.
    public static func sanitized(_ value: String) -> String? {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= lengthMax, bytes.first != UInt8(ascii: " "),
            bytes.last != UInt8(ascii: " "), bytes.allSatisfy({ (0x20...0x7E).contains($0) })
        else { return nil }
        return value
    }
}
