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
        precondition(httpIsToken(method), "method \(method) is not a token")
        precondition(
            httpIsTarget(target), "request target \(target) is empty or has a space, control or non-ASCII byte")
        precondition(
            version == .http10 || headers.filter({ httpNamesEqual($0.name, "Host") }).count == 1,
            "an HTTP/1.1 request needs exactly one Host header")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + target.utf8.count + headers.count * 32 + body.count)
        appendUTF8(method, to: &bytes)
        bytes.append(0x20)
        appendUTF8(target, to: &bytes)
        bytes.append(0x20)
        appendUTF8(version.text, to: &bytes)
        appendCRLF(to: &bytes)
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
        let request = serialized(method: method, target: target, body: body, keepAlive: keepAlive, extra: extra)
        if bytes.isEmpty {
            bytes = request
        } else {
            bytes.append(contentsOf: request)
        }
    }

    /// One HTTP/1.1 request's bytes.
    public func serialized(
        method: String, target: String, body: [UInt8] = [], keepAlive: Bool = true,
        extra: [(name: String, value: String)] = []
    ) -> [UInt8] {
        // The request line's checks first; then the exact length, and one pass writing the bytes, each extra
        // field checked as it is written (a value while it is copied), in the order the checks always came.
        checkRequestLine(method: method, target: target)
        var count = length(method: method, target: target, bodyCount: body.count, keepAlive: keepAlive)
        for (name, value) in extra { count += name.utf8.count + 2 + value.utf8.count + 2 }
        return httpBytes(count: count) { cursor in
            write(method: method, target: target, body: body, keepAlive: keepAlive, to: &cursor) { cursor in
                for (name, value) in extra { Self.write(field: name, value, to: &cursor) }
            }
        }
    }

    /// A request line checked and encoded once (`POST /v2/models/m/infer HTTP/1.1` and its CRLF), for a caller
    /// that sends many requests to the same method and target.
    public struct RequestLine: Sendable {
        public let method: String
        public let target: String
        let bytes: [UInt8]
        /// POST, PUT and PATCH carry a Content-Length even when their body is empty.
        let lengthAlways: Bool

        /// Stops the process when `method` is not a token or `target` has a space, control or non-ASCII byte.
        public init(method: String, target: String) {
            precondition(httpIsToken(method), "method \(method) is not a token")
            precondition(
                httpIsTarget(target), "request target \(target) is empty or has a space, control or non-ASCII byte")
            self.method = method
            self.target = target
            bytes = Array(method.utf8) + [0x20] + Array(target.utf8) + Array(" HTTP/1.1\r\n".utf8)
            lengthAlways = method == "POST" || method == "PUT" || method == "PATCH"
        }

        func hasLength(bodyCount: Int) -> Bool { bodyCount > 0 || lengthAlways }
    }

    /// The exact length of the request `write(line:body:keepAlive:field:trace:into:)` writes.
    public func length(
        line: RequestLine, bodyCount: Int, keepAlive: Bool = true, field: (name: String, value: String)?,
        trace: TraceContext? = nil
    ) -> Int {
        var count = line.bytes.count + fieldBytes.count
        if let field { count += field.name.utf8.count + 2 + field.value.utf8.count + 2 }
        if trace != nil { count += HTTPByteCursor.traceparentFieldLength }
        if line.hasLength(bodyCount: bodyCount) { count += 16 + httpDecimalDigits(bodyCount) + 2 }
        if !keepAlive { count += 19 }
        return count + 2 + bodyCount
    }

    /// Writes one HTTP/1.1 request on a checked `line`, with at most one per-request field after the fixed ones
    /// and then, with `trace`, a `traceparent` field written from the context, into `buffer`, which must hold
    /// `length(line:…)` bytes: no allocation, so a connection can send it straight from the buffer. Returns how
    /// many bytes were written.
    public func write(
        line: RequestLine, body: [UInt8], keepAlive: Bool = true, field: (name: String, value: String)?,
        trace: TraceContext? = nil, into buffer: UnsafeMutableRawBufferPointer
    ) -> Int {
        let count = length(line: line, bodyCount: body.count, keepAlive: keepAlive, field: field, trace: trace)
        precondition(buffer.count >= count, "a request of \(count) bytes does not fit a buffer of \(buffer.count)")
        let start = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var cursor = HTTPByteCursor(next: start)
        cursor.write(line.bytes)
        cursor.write(fieldBytes)
        if let field { Self.write(field: field.name, field.value, to: &cursor) }
        if let trace { cursor.write(traceparentField: trace) }
        Self.writeFraming(
            hasLength: line.hasLength(bodyCount: body.count), body: body, keepAlive: keepAlive, to: &cursor)
        precondition(cursor.next - start == count, "request length \(cursor.next - start), expected \(count)")
        return count
    }

    /// The exact length of the request `serialized` writes, without its extra fields.
    private func length(method: String, target: String, bodyCount: Int, keepAlive: Bool) -> Int {
        var count = method.utf8.count + 1 + target.utf8.count + 11 + fieldBytes.count
        if Self.hasLength(method: method, bodyCount: bodyCount) { count += 16 + httpDecimalDigits(bodyCount) + 2 }
        if !keepAlive { count += 19 }
        return count + 2 + bodyCount
    }

    private func checkRequestLine(method: String, target: String) {
        precondition(httpIsToken(method), "method \(method) is not a token")
        precondition(
            httpIsTarget(target), "request target \(target) is empty or has a space, control or non-ASCII byte")
    }

    private static func hasLength(method: String, bodyCount: Int) -> Bool {
        bodyCount > 0 || method == "POST" || method == "PUT" || method == "PATCH"
    }

    /// The request line, the fixed fields, what `fields` writes, the framing, the empty line and the body.
    @inline(__always)
    private func write(
        method: String, target: String, body: [UInt8], keepAlive: Bool, to cursor: inout HTTPByteCursor,
        fields: (inout HTTPByteCursor) -> Void
    ) {
        cursor.write(method)
        cursor.write(0x20)
        cursor.write(target)
        cursor.write(literal: " HTTP/1.1\r\n")
        cursor.write(fieldBytes)
        fields(&cursor)
        Self.writeFraming(
            hasLength: Self.hasLength(method: method, bodyCount: body.count), body: body, keepAlive: keepAlive,
            to: &cursor)
    }

    /// Content-Length when the request has one, `Connection: close` unless kept alive, the empty line, the body.
    @inline(__always)
    private static func writeFraming(
        hasLength: Bool, body: [UInt8], keepAlive: Bool, to cursor: inout HTTPByteCursor
    ) {
        if hasLength {
            cursor.write(literal: "Content-Length: ")
            cursor.writeDecimal(body.count, digits: httpDecimalDigits(body.count))
            cursor.writeCRLF()
        }
        if !keepAlive { cursor.write(literal: "Connection: close\r\n") }
        cursor.writeCRLF()
        cursor.write(body)
    }

    /// One per-request field, checked as it is written (its value while it is copied).
    @inline(__always)
    private static func write(field name: String, _ value: String, to cursor: inout HTTPByteCursor) {
        precondition(httpIsToken(name), "header name \(name) is not a token")
        precondition(!isWrittenBySerializer(name), "header \(name) is written by the serializer")
        cursor.write(name)
        cursor.write(UInt8(ascii: ":"))
        cursor.write(0x20)
        precondition(!cursor.writeFlaggingLineBreaks(value), "header \(name) contains CR, LF or NUL")
        cursor.writeCRLF()
    }
}

/// The checks `appendField` makes, without writing.
private func checkField(name: String, value: String) {
    precondition(httpIsToken(name), "header name \(name) is not a token")
    precondition(!isWrittenBySerializer(name), "header \(name) is written by the serializer")
    precondition(!httpHasLineBreakOrNUL(value), "header \(name) contains CR, LF or NUL")
}

/// `name: value` CRLF, after checking the name is a token, the value cannot forge a line, and the field is not
/// one the writer derives itself.
private func appendField(name: String, value: String, to bytes: inout [UInt8]) {
    checkField(name: name, value: value)
    appendUTF8(name, to: &bytes)
    bytes.append(UInt8(ascii: ":"))
    bytes.append(0x20)
    appendUTF8(value, to: &bytes)
    appendCRLF(to: &bytes)
}

/// Content-Length, Transfer-Encoding or Connection, in any case; other names are passed over on their length.
private func isWrittenBySerializer(_ name: String) -> Bool {
    switch name.utf8.count {
    case 14: httpNamesEqual(name, "Content-Length")
    case 17: httpNamesEqual(name, "Transfer-Encoding")
    case 10: httpNamesEqual(name, "Connection")
    default: false
    }
}

/// Content-Length (RFC 9110 section 8.6: sent when there is content, or when the method gives content meaning
/// and it is empty), the Connection field keepAlive needs for `version`, and the empty line ending the head.
private func appendFraming(
    method: String, bodyCount: Int, version: HTTPVersion, keepAlive: Bool, to bytes: inout [UInt8]
) {
    if bodyCount > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
        appendUTF8("Content-Length: ", to: &bytes)
        appendDecimal(bodyCount, to: &bytes)
        appendCRLF(to: &bytes)
    }
    switch (version, keepAlive) {
    case (.http11, false): appendUTF8("Connection: close\r\n", to: &bytes)
    case (.http10, true): appendUTF8("Connection: keep-alive\r\n", to: &bytes)
    case (.http11, true), (.http10, false): break
    }
    appendCRLF(to: &bytes)
}
