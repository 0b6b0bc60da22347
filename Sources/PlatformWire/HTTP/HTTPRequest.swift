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
    public func header(_ name: String) -> String? {
        headers.first { httpNamesEqual($0.name, name) }?.value
    }

    /// Every value of the header named `name`, in the order received.
    public func headers(named name: String) -> [String] {
        headers.filter { httpNamesEqual($0.name, name) }.map(\.value)
    }
}

/// A non-negative integer (a status, a length) in decimal, without building a String.
func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
    precondition(value >= 0, "negative length or status")
    var divisor = 1
    while divisor <= value / 10 { divisor *= 10 }
    var rest = value
    while divisor > 0 {
        bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
        rest %= divisor
        divisor /= 10
    }
}

/// Same fields, same order, same case.
func httpFieldsEqual(_ lhs: [(name: String, value: String)], _ rhs: [(name: String, value: String)]) -> Bool {
    lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
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
