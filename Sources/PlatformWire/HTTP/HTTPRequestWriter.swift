// Request bytes for the client side. Every request is framed with Content-Length (never chunked), so the backend
// and the response parser agree on where each pipelined request ends. Header text comes from the platform's own
// configuration and code, not from peers: a CR, LF or NUL in it, or a field the writer owns, is a programmer
// error and stops the process rather than letting a forged header reach a backend.

extension HTTPRequest {
    /// The request line, the headers in order, `Content-Length` when there is a body or the method carries one,
    /// the `Connection` field `keepAlive` calls for, an empty line and the body. An HTTP/1.1 request must carry
    /// exactly one Host header; Content-Length, Transfer-Encoding and Connection are written here and must not be
    /// among `headers`.
    public func serialized() -> [UInt8] {
        precondition(!method.isEmpty && method.utf8.allSatisfy(isTokenByte), "method \(method) is not a token")
        precondition(
            !target.isEmpty && target.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F },
            "request target \(target) is empty or has a space, control or non-ASCII byte")
        precondition(
            version == .http10 || headers.filter({ httpNamesEqual($0.name, "Host") }).count == 1,
            "an HTTP/1.1 request needs exactly one Host header")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + target.utf8.count + headers.count * 32 + body.count)
        bytes.append(contentsOf: method.utf8)
        bytes.append(0x20)
        bytes.append(contentsOf: target.utf8)
        bytes.append(0x20)
        bytes.append(contentsOf: version.text.utf8)
        bytes.append(contentsOf: [0x0D, 0x0A])
        for (name, value) in headers { appendField(name: name, value: value, to: &bytes) }
        appendFraming(method: method, bodyCount: body.count, version: version, keepAlive: keepAlive, to: &bytes)
        bytes.append(contentsOf: body)
        return bytes
    }
}

/// Writes requests that share a Host and a fixed set of header fields, as every call to one backend does: the
/// shared fields are checked and encoded once, so each request costs a request line, a length and a copy.
public struct HTTPRequestWriter: Sendable {
    public let host: String
    /// `Host` and the fixed fields, encoded, each line ending in CRLF.
    private let fieldBytes: [UInt8]

    /// `headers` follow Host on every request, in this order; they must not include Host, Content-Length,
    /// Transfer-Encoding or Connection.
    public init(host: String, headers: [(name: String, value: String)] = []) {
        self.host = host
        var bytes: [UInt8] = []
        precondition(!headers.contains { httpNamesEqual($0.name, "Host") }, "Host is given separately")
        appendField(name: "Host", value: host, to: &bytes)
        for (name, value) in headers { appendField(name: name, value: value, to: &bytes) }
        fieldBytes = bytes
    }

    /// Appends one HTTP/1.1 request to `bytes`, which may already hold earlier pipelined requests. `extra` fields
    /// (e.g. a per-request `traceparent`) follow the fixed ones.
    public func append(
        method: String, target: String, body: [UInt8], keepAlive: Bool = true,
        extra: [(name: String, value: String)] = [], to bytes: inout [UInt8]
    ) {
        precondition(!method.isEmpty && method.utf8.allSatisfy(isTokenByte), "method \(method) is not a token")
        precondition(
            !target.isEmpty && target.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F },
            "request target \(target) is empty or has a space, control or non-ASCII byte")
        bytes.reserveCapacity(bytes.count + method.utf8.count + target.utf8.count + fieldBytes.count + 64 + body.count)
        bytes.append(contentsOf: method.utf8)
        bytes.append(0x20)
        bytes.append(contentsOf: target.utf8)
        bytes.append(contentsOf: " HTTP/1.1\r\n".utf8)
        bytes.append(contentsOf: fieldBytes)
        for (name, value) in extra { appendField(name: name, value: value, to: &bytes) }
        appendFraming(method: method, bodyCount: body.count, version: .http11, keepAlive: keepAlive, to: &bytes)
        bytes.append(contentsOf: body)
    }

    /// One HTTP/1.1 request's bytes.
    public func serialized(
        method: String, target: String, body: [UInt8] = [], keepAlive: Bool = true,
        extra: [(name: String, value: String)] = []
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        append(method: method, target: target, body: body, keepAlive: keepAlive, extra: extra, to: &bytes)
        return bytes
    }
}

/// `name: value` CRLF, after checking the name is a token, the value cannot forge a line, and the field is not
/// one the writer derives itself.
private func appendField(name: String, value: String, to bytes: inout [UInt8]) {
    precondition(!name.isEmpty && name.utf8.allSatisfy(isTokenByte), "header name \(name) is not a token")
    precondition(
        !httpNamesEqual(name, "Content-Length") && !httpNamesEqual(name, "Transfer-Encoding")
            && !httpNamesEqual(name, "Connection"),
        "header \(name) is written by the serializer")
    precondition(!value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }, "header \(name) contains CR, LF or NUL")
    bytes.append(contentsOf: name.utf8)
    bytes.append(contentsOf: [UInt8(ascii: ":"), 0x20])
    bytes.append(contentsOf: value.utf8)
    bytes.append(contentsOf: [0x0D, 0x0A])
}

/// Content-Length (RFC 9110 section 8.6: sent when there is content, or when the method gives content meaning
/// and it is empty), the Connection field keepAlive needs for `version`, and the empty line ending the head.
private func appendFraming(
    method: String, bodyCount: Int, version: HTTPVersion, keepAlive: Bool, to bytes: inout [UInt8]
) {
    if bodyCount > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
        bytes.append(contentsOf: "Content-Length: ".utf8)
        appendDecimal(bodyCount, to: &bytes)
        bytes.append(contentsOf: [0x0D, 0x0A])
    }
    switch (version, keepAlive) {
    case (.http11, false): bytes.append(contentsOf: "Connection: close\r\n".utf8)
    case (.http10, true): bytes.append(contentsOf: "Connection: keep-alive\r\n".utf8)
    case (.http11, true), (.http10, false): break
    }
    bytes.append(contentsOf: [0x0D, 0x0A])
}
