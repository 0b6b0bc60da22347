// An HTTP/1.1 response and its bytes on the wire. The serializer always frames the body with Content-Length (no
// chunked responses yet), so a response can never be misread by the client about where it ends.

/// A response to send; `serialized()` adds Content-Length and, when asked, `Connection: close`.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    /// Header fields in the order to send; must not include Content-Length or Connection, which the serializer
    /// writes itself.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whether to tell the client, and the shell, that the connection closes after this response.
    public var closeConnection: Bool
    /// A `traceparent` field sent after `headers`, written from the context itself (no String is made for it);
    /// `headers` must not carry one as well.
    public var trace: TraceContext?

    public init(
        status: Int, reason: String? = nil, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        closeConnection: Bool = false, trace: TraceContext? = nil
    ) {
        precondition((100...999).contains(status), "HTTP status \(status) is not three digits")
        self.status = status
        self.reason = reason ?? HTTPResponse.reasonPhrase(for: status)
        self.headers = headers
        self.body = body
        self.closeConnection = closeConnection
        self.trace = trace
    }

    /// The answer to a refused request: its status, the message as plain text, and the connection closed.
    public static func error(_ error: HTTPParseError) -> HTTPResponse {
        HTTPResponse(
            status: error.status, headers: [("Content-Type", "text/plain; charset=utf-8")],
            body: Array((error.message + "\n").utf8), closeConnection: true)
    }

    /// The status line, headers, Content-Length, optional `Connection: close`, an empty line and the body.
    public func serialized() -> [UInt8] {
        // A CR or LF in a header would let its author forge further headers: that is a programmer error here,
        // since values from peers must be checked before they reach a response. The exact length first; then one
        // pass writing the bytes, each piece checked as it is copied (in the order the checks always came: the
        // reason, then each header's name and value), so a refused piece stops the process before the message
        // is used.
        httpBytes(count: serializedCount) { cursor in write(to: &cursor) }
    }

    /// How many bytes `serialized()` makes (and `write(into:)` writes).
    public var serializedCount: Int {
        var count = 9 + httpDecimalDigits(status) + 1 + reason.utf8.count + 2
        for (name, value) in headers { count += name.utf8.count + 2 + value.utf8.count + 2 }
        if trace != nil { count += HTTPByteCursor.traceparentFieldLength }
        return count + 16 + httpDecimalDigits(body.count) + 2 + (closeConnection ? 19 : 0) + 2 + body.count
    }

    /// Writes the bytes `serialized()` makes into `buffer`, which must hold `serializedCount` of them, with the
    /// same checks: no allocation, so a connection can send the answer straight from a buffer it reuses. Returns
    /// how many bytes were written.
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = serializedCount
        precondition(buffer.count >= count, "a response of \(count) bytes does not fit a buffer of \(buffer.count)")
        let start = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var cursor = HTTPByteCursor(next: start)
        write(to: &cursor)
        precondition(cursor.next - start == count, "response length \(cursor.next - start), expected \(count)")
        return count
    }

    @inline(__always)
    private func write(to cursor: inout HTTPByteCursor) {
        cursor.write(literal: "HTTP/1.1 ")
        cursor.writeDecimal(status, digits: httpDecimalDigits(status))
        cursor.write(0x20)
        precondition(!cursor.writeFlaggingLineBreaks(reason), "reason phrase contains CR, LF or NUL")
        cursor.writeCRLF()
        for (name, value) in headers {
            precondition(!isWrittenBySerializer(name), "header \(name) is written by the serializer")
            precondition(!cursor.writeFlaggingLineBreaks(name), "header name contains CR, LF or NUL")
            cursor.write(UInt8(ascii: ":"))
            cursor.write(0x20)
            precondition(!cursor.writeFlaggingLineBreaks(value), "header value contains CR, LF or NUL")
            cursor.writeCRLF()
        }
        if let trace { cursor.write(traceparentField: trace) }
        cursor.write(literal: "Content-Length: ")
        cursor.writeDecimal(body.count, digits: httpDecimalDigits(body.count))
        cursor.writeCRLF()
        if closeConnection { cursor.write(literal: "Connection: close\r\n") }
        cursor.writeCRLF()
        cursor.write(body)
    }

    /// Content-Length or Connection, in any case; other names are passed over on their length.
    private func isWrittenBySerializer(_ name: String) -> Bool {
        switch name.utf8.count {
        case 14: httpNamesEqual(name, "Content-Length")
        case 10: httpNamesEqual(name, "Connection")
        default: false
        }
    }

    public static func == (lhs: HTTPResponse, rhs: HTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.body == rhs.body
            && lhs.closeConnection == rhs.closeConnection && lhs.trace == rhs.trace
            && httpFieldsEqual(lhs.headers, rhs.headers)
    }

    /// The reason phrase RFC 9110 gives a status, or "Unknown" for one it does not name.
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }
}
