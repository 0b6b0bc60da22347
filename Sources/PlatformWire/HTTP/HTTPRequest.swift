// The values the HTTP/1.1 request parser produces and the error it refuses a connection with. Headers keep their
// order and their case as sent; lookups ignore ASCII case, as RFC 9110 asks of field names.

/// The protocol versions a request line may name; anything else is answered with 505.
public enum HTTPVersion: Sendable, Equatable {
    case http10
    case http11

    /// The version as it appears on a request or status line.
    public var text: String {
        switch self {
        case .http10: "HTTP/1.0"
        case .http11: "HTTP/1.1"
        }
    }
}

/// One complete request, body already de-chunked.
public struct HTTPRequest: HTTPFields, Sendable, Equatable, CustomStringConvertible {
    public var method: String
    public var target: String
    public var version: HTTPVersion
    /// Header fields in the order received; trailers of a chunked body are not included.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whether the connection may carry another request after this one is answered.
    public var keepAlive: Bool

    public init(
        method: String, target: String, version: HTTPVersion = .http11,
        headers: [(name: String, value: String)] = [], body: [UInt8] = [], keepAlive: Bool = true
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.version == rhs.version
            && lhs.body == rhs.body && lhs.keepAlive == rhs.keepAlive && httpFieldsEqual(lhs.headers, rhs.headers)
    }

    public var description: String {
        "\(method) \(target) \(version.text) (\(headers.count) headers, \(body.count) body bytes)"
    }
    /// The first value of the header named `name`, compared without regard to ASCII case: the same as
    /// `HTTPFields.header(_:)`, without the protocol's dispatch.
    public func header(_ name: String) -> String? { httpFirstValue(named: name, in: headers) }
}

/// Why a request was refused: the status to answer with and what was wrong. The connection must then close.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400, 413, 414, 431, 501 or 505.
    public var status: Int
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(HTTPResponse.reasonPhrase(for: status)): \(message)" }

    static func badRequest(_ message: String) -> HTTPParseError { HTTPParseError(status: 400, message: message) }
}

/// Limits that keep a hostile peer from exhausting memory; each is checked before the bytes are kept.
public struct HTTPLimits: Sendable {
    /// The request line with its CRLF; longer is answered with 414.
    public var requestLineBytesMax: Int = 8 << 10
    /// All header lines with their CRLFs (and, separately, all trailer lines); more is answered with 431.
    public var headerBytesMax: Int = 16 << 10
    /// Header fields in one request; more is answered with 431.
    public var headerCountMax: Int = 100
    /// The body after de-chunking; larger is answered with 413.
    public var bodyBytesMax: Int = 16 << 20
    /// One chunk-size line with its extensions; longer is answered with 400.
    public var chunkLineBytesMax: Int = 4 << 10
    public init() {}
}

/// Compares two field names ignoring ASCII case, without allocating.
/// A message with header fields in the order received: requests the server parsed, responses the client parsed.
public protocol HTTPFields {
    var headers: [(name: String, value: String)] { get }
}

extension HTTPFields {
    /// The first value of the header named `name`, compared without regard to ASCII case.
    public func header(_ name: String) -> String? { httpFirstValue(named: name, in: headers) }

    /// Every value of the header named `name`, in the order received.
    public func headers(named name: String) -> [String] {
        headers.filter { httpNamesEqual($0.name, name) }.map(\.value)
    }
}

/// The first value of the field named `name` (compared without regard to ASCII case) in `headers`.
@inline(__always)
func httpFirstValue(named name: String, in headers: [(name: String, value: String)]) -> String? {
    // The wanted name's bytes are fetched once; most fields are passed over on their length alone.
    var name = name
    return name.withUTF8 { wanted -> String? in
        for field in headers where field.name.utf8.count == wanted.count {
            if httpNameEquals(field.name, wanted) { return field.value }
        }
        return nil
    }
}

/// A non-negative integer (a status, a length) in decimal, without building a String.
func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
    precondition(value >= 0, "negative length or status")
    // Digits into a small buffer from the right, then one append.
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
        var index = 20
        var rest = value
        repeat {
            index -= 1
            digits[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index..<20]))
    }
}

/// Same fields, same order, same case.
func httpFieldsEqual(_ lhs: [(name: String, value: String)], _ rhs: [(name: String, value: String)]) -> Bool {
    lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
}

/// Whether `name` equals the bytes `wanted` ignoring ASCII case.
@inline(__always)
func httpNameEquals(_ name: String, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
    if let equal = name.utf8.withContiguousStorageIfAvailable({ httpBytesEqualIgnoringCase($0, wanted) }) {
        return equal
    }
    var name = name
    return name.withUTF8 { httpBytesEqualIgnoringCase($0, wanted) }
}

@inline(__always)
func httpBytesEqualIgnoringCase(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where lhs[index] != rhs[index] {
        guard asciiLower(lhs[index]) == asciiLower(rhs[index]) else { return false }
    }
    return true
}

/// Whether `bytes` are exactly `text`.
@inline(__always)
func httpBytesEqual(_ bytes: UnsafeBufferPointer<UInt8>, _ text: StaticString) -> Bool {
    guard bytes.count == text.utf8CodeUnitCount else { return false }
    let expected = text.utf8Start
    for index in 0..<bytes.count where bytes[index] != expected[index] { return false }
    return true
}

/// A field name as a String. The names most messages carry, spelled the usual way, come from literals: the
/// same String without decoding or allocating one.
func httpFieldNameString(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    switch bytes.count {
    case 4:
        if httpBytesEqual(bytes, "Host") { return "Host" }
        if httpBytesEqual(bytes, "Date") { return "Date" }
    case 6:
        if httpBytesEqual(bytes, "Accept") { return "Accept" }
        if httpBytesEqual(bytes, "Server") { return "Server" }
    case 10:
        if httpBytesEqual(bytes, "User-Agent") { return "User-Agent" }
        if httpBytesEqual(bytes, "Connection") { return "Connection" }
    case 11: if httpBytesEqual(bytes, "traceparent") { return "traceparent" }
    case 12:
        if httpBytesEqual(bytes, "Content-Type") { return "Content-Type" }
        if httpBytesEqual(bytes, "X-Request-ID") { return "X-Request-ID" }
    case 13: if httpBytesEqual(bytes, "Authorization") { return "Authorization" }
    case 14: if httpBytesEqual(bytes, "Content-Length") { return "Content-Length" }
    default: break
    }
    // Values are ASCII in practice; obs-text bytes that are not UTF-8 become U+FFFD.
    return String(decoding: bytes, as: UTF8.self)
}

/// A field value as a String; the commonest value, the JSON media type, comes from a literal.
func httpFieldValueString(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if bytes.count == 16 && httpBytesEqual(bytes, "application/json") { return "application/json" }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes a message whose exact length is known into uninitialized memory, with no per-piece capacity checks.
struct HTTPByteCursor {
    var next: UnsafeMutablePointer<UInt8>

    /// The bytes `write(traceparentField:)` writes: `traceparent: `, the value and CRLF.
    static let traceparentFieldLength = 13 + TraceContext.traceparentLength + 2

    /// A `traceparent` field carrying `context`, its value written from the context's fields (hex digits and
    /// dashes only, so there is nothing to check).
    @inline(__always)
    mutating func write(traceparentField context: TraceContext) {
        write(literal: "traceparent: ")
        context.writeTraceparent(to: next)
        next += TraceContext.traceparentLength
        writeCRLF()
    }

    @inline(__always)
    mutating func write(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { source in
            guard let base = source.baseAddress, source.count > 0 else { return }
            next.update(from: base, count: source.count)
            next += source.count
        }
        if copied == nil {
            for byte in text.utf8 { write(byte) }
        }
    }

    /// Copies `text`; true when it holds CR, LF or NUL (which would let it forge a line). One pass both checks
    /// and copies, eight bytes at a time.
    @inline(__always)
    mutating func writeFlaggingLineBreaks(_ text: String) -> Bool {
        let found: Bool? = text.utf8.withContiguousStorageIfAvailable { source in
            guard let base = source.baseAddress else { return false }
            let found = httpCopyFlaggingLineBreaks(from: base, to: next, count: source.count)
            next += source.count
            return found
        }
        if let found { return found }
        var flagged = false
        for byte in text.utf8 {
            if byte == 0x0D || byte == 0x0A || byte == 0 { flagged = true }
            write(byte)
        }
        return flagged
    }

    /// Copies a literal's bytes, without the String machinery.
    @inline(__always)
    mutating func write(literal text: StaticString) {
        next.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        next += text.utf8CodeUnitCount
    }

    @inline(__always)
    mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress, source.count > 0 else { return }
            next.update(from: base, count: source.count)
            next += source.count
        }
    }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        next.initialize(to: byte)
        next += 1
    }

    @inline(__always)
    mutating func writeCRLF() {
        write(0x0D)
        write(0x0A)
    }

    /// `value` (non-negative) in decimal, `digits` of them (from `httpDecimalDigits`).
    @inline(__always)
    mutating func writeDecimal(_ value: Int, digits: Int) {
        var rest = value
        var index = digits
        while index > 0 {
            index -= 1
            next[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
        next += digits
    }
}

/// Copies `count` bytes from `source` to `target`; true when any is CR, LF or NUL.
@inline(__always)
func httpCopyFlaggingLineBreaks(
    from source: UnsafePointer<UInt8>, to target: UnsafeMutablePointer<UInt8>, count: Int
) -> Bool {
    var index = 0
    var flags: UInt64 = 0
    #if _endian(little)
        if count >= 8 {
            // Whole words, the last one overlapping the bytes before it rather than a byte loop for the rest.
            while true {
                let word = UnsafeRawPointer(source + index).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(target + index).storeBytes(of: word, as: UInt64.self)
                // Flags a byte below 0x0E, the range CR, LF and NUL are in: exact as to whether one is present.
                flags |= (word &- 0x0E0E_0E0E_0E0E_0E0E) & ~word
                if index &+ 8 == count { break }
                index = Swift.min(index &+ 8, count &- 8)
            }
            guard flags & 0x8080_8080_8080_8080 != 0 else { return false }
            // A low byte (a tab, usually): which one it is decides.
            for index in 0..<count where source[index] <= 0x0D {
                if source[index] == 0x0D || source[index] == 0x0A || source[index] == 0 { return true }
            }
            return false
        }
    #endif
    while index < count {
        let byte = source[index]
        target[index] = byte
        if byte <= 0x0D && (byte == 0x0D || byte == 0x0A || byte == 0) { flags = 1 }
        index &+= 1
    }
    return flags != 0
}

/// How many decimal digits a non-negative `value` has.
@inline(__always)
func httpDecimalDigits(_ value: Int) -> Int {
    precondition(value >= 0, "negative length or status")
    var digits = 1
    var rest = value
    while rest >= 10 {
        rest /= 10
        digits += 1
    }
    return digits
}

/// A byte array of exactly `count` bytes written by `body`, which must write all of them.
@inline(__always)
func httpBytes(count: Int, _ body: (inout HTTPByteCursor) -> Void) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var cursor = HTTPByteCursor(next: buffer.baseAddress!)
        body(&cursor)
        initialized = buffer.baseAddress!.distance(to: cursor.next)
        precondition(initialized == count, "message length miscounted")
    }
}

/// Appends a String's UTF-8 bytes with one copy.
@inline(__always)
func appendUTF8(_ text: String, to bytes: inout [UInt8]) {
    if text.utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil {
        bytes.append(contentsOf: text.utf8)
    }
}

/// Appends CR LF.
@inline(__always)
func appendCRLF(to bytes: inout [UInt8]) {
    bytes.append(0x0D)
    bytes.append(0x0A)
}

/// Whether any byte of `text` is CR, LF or NUL (which would let the text forge a line).
@inline(__always)
func httpHasLineBreakOrNUL(_ text: String) -> Bool {
    let scan = { (bytes: UnsafeBufferPointer<UInt8>) -> Bool in
        for byte in bytes where byte <= 0x0D && (byte == 0x0D || byte == 0x0A || byte == 0) { return true }
        return false
    }
    if let found = text.utf8.withContiguousStorageIfAvailable(scan) { return found }
    return text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
}

/// Whether `text` is a non-empty token (RFC 9110 section 5.6.2).
@inline(__always)
func httpIsToken(_ text: String) -> Bool {
    let scan = { (bytes: UnsafeBufferPointer<UInt8>) -> Bool in
        for byte in bytes where !isTokenByte(byte) { return false }
        return !bytes.isEmpty
    }
    if let isToken = text.utf8.withContiguousStorageIfAvailable(scan) { return isToken }
    return !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
}

/// Whether `text` is a non-empty request target of visible ASCII (no space, control or non-ASCII byte).
@inline(__always)
func httpIsTarget(_ text: String) -> Bool {
    let scan = { (bytes: UnsafeBufferPointer<UInt8>) -> Bool in
        for byte in bytes where byte <= 0x20 || byte >= 0x7F { return false }
        return !bytes.isEmpty
    }
    if let isTarget = text.utf8.withContiguousStorageIfAvailable(scan) { return isTarget }
    return !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
}

func httpNamesEqual(_ lhs: String, _ rhs: String) -> Bool {
    guard lhs.utf8.count == rhs.utf8.count else { return false }
    // Over contiguous bytes: a generic zip of two UTF-8 views costs ten times as much, and every request does
    // a dozen of these lookups.
    var lhs = lhs
    var rhs = rhs
    return lhs.withUTF8 { left in
        rhs.withUTF8 { right in
            for index in 0..<left.count where asciiLower(left[index]) != asciiLower(right[index]) { return false }
            return true
        }
    }
}

func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte + 32 : byte
}

/// Shows peer bytes in a message without letting them forge lines: printable ASCII kept, the rest as \xNN.
func httpQuoted(_ bytes: some Collection<UInt8>, limit: Int = 40) -> String {
    var text = "\""
    for byte in bytes.prefix(limit) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return text + (bytes.count > limit ? "...\"" : "\"")
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
