// A sans-I/O HTTP/1.1 response parser (RFC 9112) for the client side: the orchestrator's connection to a Triton
// backend feeds whatever bytes a read returned and asks for complete responses. A response cannot be framed
// from its own bytes alone (the answer to HEAD, and 1xx, 204 and 304 answers, have no body whatever their
// headers say), so the shell tells the parser the method of every request it sends, in order. Responses on a
// pooled connection must never be misframed: one misread length hands the next caller someone else's answer,
// so anything ambiguous (Content-Length with Transfer-Encoding, differing lengths, bare CR or LF, obs-fold)
// fails the connection instead of being guessed at.

/// One response as the client receives it, body already de-chunked.
public struct HTTPClientResponse: HTTPFields, Sendable, Equatable, CustomStringConvertible {
    public var version: HTTPVersion
    public var status: Int
    public var reason: String
    /// Header fields in the order received; trailers of a chunked body are not included.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whether the connection may carry another request: false after `Connection: close`, an HTTP/1.0 answer
    /// without `Connection: keep-alive`, or a body that ran to the end of the connection.
    public var keepAlive: Bool

    public init(
        version: HTTPVersion = .http11, status: Int, reason: String = "",
        headers: [(name: String, value: String)] = [], body: [UInt8] = [], keepAlive: Bool = true
    ) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }

    public static func == (lhs: HTTPClientResponse, rhs: HTTPClientResponse) -> Bool {
        lhs.version == rhs.version && lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.body == rhs.body
            && lhs.keepAlive == rhs.keepAlive && httpFieldsEqual(lhs.headers, rhs.headers)
    }

    public var description: String {
        "\(version.text) \(status) \(reason) (\(headers.count) headers, \(body.count) body bytes)"
    }
    /// The first value of the header named `name`, compared without regard to ASCII case: the same as
    /// `HTTPFields.header(_:)`, without the protocol's dispatch.
    public func header(_ name: String) -> String? { httpFirstValue(named: name, in: headers) }
}

/// Why a connection's responses could not be read. The connection must then be closed; `kind` tells the shell
/// whether the backend may have acted on the request (for retry decisions) and which counter to bump.
public struct HTTPResponseParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The bytes are not a well-formed HTTP/1.1 response, or frame it ambiguously.
        case malformed
        /// A limit of `HTTPResponseLimits` was exceeded.
        case tooLarge
        /// Bytes arrived while no request was waiting for an answer.
        case unsolicited
        /// The connection closed before any byte of an awaited response: the backend may never have seen the
        /// request (the usual race with a backend closing an idle pooled connection).
        case closedBeforeResponse
        /// The connection closed part-way through a response.
        case truncated
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func malformed(_ message: String) -> HTTPResponseParseError { HTTPResponseParseError(.malformed, message) }
    static func truncated(_ message: String) -> HTTPResponseParseError { HTTPResponseParseError(.truncated, message) }
}

/// Limits on what a backend may send, each checked before the bytes are kept. Larger than the server's request
/// limits by default: inference outputs can be big, and the backend is more trusted than a client.
public struct HTTPResponseLimits: Sendable {
    /// The status line with its CRLF.
    public var statusLineBytesMax: Int = 4 << 10
    /// All header lines with their CRLFs (and, separately, all trailer lines).
    public var headerBytesMax: Int = 32 << 10
    /// Header fields in one response.
    public var headerCountMax: Int = 100
    /// The body after de-chunking.
    public var bodyBytesMax: Int = 64 << 20
    /// One chunk-size line with its extensions.
    public var chunkLineBytesMax: Int = 4 << 10
    public init() {}
}

/// Turns a client connection's bytes into responses, in the order the requests were sent.
public struct HTTPResponseParser: Sendable {
    /// Where the parser is in the connection, so the shell can tell a quiet pooled connection from a slow answer.
    public enum Phase: Sendable, Equatable {
        /// Between responses with nothing buffered (whether or not a request is awaiting its answer).
        case idle
        /// Part of a status line or header block has arrived.
        case head
        /// The head is complete and the body is arriving.
        case body
        /// The connection is done: a response did not keep it alive, or the peer closed it between responses.
        case closed
        /// The responses could not be read; the connection must be closed.
        case failed
    }

    private enum State: Sendable {
        case statusLine
        case headers
        case body(remaining: Int)
        case untilClose
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case closed
        case failed(HTTPResponseParseError)
    }

    /// The response being assembled; kept outside `State` so appending to the body does not copy it.
    private struct Head: Sendable {
        var version = HTTPVersion.http11
        var status = 0
        var reason = ""
        var headers: [(name: String, value: String)] = []
        var headerBytes = 0
        /// How many leading fields are the last response's, not yet copied into `headers` (which is empty meanwhile):
        /// a head that repeats the last one whole shares its list instead of building another.
        var sharedFields = 0
        var body: [UInt8] = []
        // Framing facts gathered as each field arrives, from its bytes, so deciding the framing does not search
        // the fields by name again. A bad Content-Length is kept, not thrown: it matters only if a body follows.
        var contentLength: Int?
        var contentLengthError: HTTPResponseParseError?
        var transferEncodingFields = 0
        var connectionClose = false
        var connectionKeepAlive = false
    }

    /// A line of an earlier response on this connection with what parsing it gave. A backend answers with mostly
    /// the same lines every time: one that arrives again byte for byte is taken without scanning, checking or
    /// decoding it again (the result is a function of its bytes alone).
    private struct KnownField: Sendable {
        /// The line with its CRLF.
        var bytes: [UInt8]
        var name: String
        var value: String
        var framing: FieldFraming
    }

    private struct KnownStatusLine: Sendable {
        /// The line with its CRLF.
        var bytes: [UInt8]
        var version: HTTPVersion
        var status: Int
        var reason: String
    }

    /// The fields of earlier responses by position in the header block, and the last status line.
    private var knownFields: [KnownField] = []
    private var knownStatusLine: KnownStatusLine?
    /// The last response's header list when every field of it is the known one at its place (so that
    /// `knownFields[i]` and `lastHeaders[i]` are the same field), else empty.
    private var lastHeaders: [(name: String, value: String)] = []

    public let limits: HTTPResponseLimits
    private var state = State.statusLine
    private var head = Head()
    private var buffer: [UInt8] = []
    /// Bytes before `position` are consumed; `scanned` is where the search for the next LF resumes.
    private var position = 0
    private var scanned = 0
    /// Whether each request sent and not yet answered was a HEAD, oldest first from `awaitingStart`.
    private var awaitingHead: [Bool] = []
    private var awaitingStart = 0
    /// Whether a 1xx interim answer arrived for the oldest request: a close after it truncates a response.
    private var interimSeen = false
    private var peerClosed = false

    public init(limits: HTTPResponseLimits = HTTPResponseLimits()) {
        self.limits = limits
    }

    public var phase: Phase {
        switch state {
        case .statusLine: position == buffer.count ? .idle : .head
        case .headers: .head
        case .body, .untilClose, .chunkSize, .chunkData, .chunkDataEnd, .trailers: .body
        case .closed: .closed
        case .failed: .failed
        }
    }

    /// Requests sent whose final response has not yet come out of `next()`. When the connection ends (closed or
    /// failed) these were not answered, and the shell decides which of them to retry elsewhere.
    public var pendingCount: Int { awaitingHead.count - awaitingStart }

    /// Records that a request with `method` was written to the connection; call it in sending order.
    public mutating func expect(method: String) {
        // A 2xx answer to CONNECT turns the connection into a tunnel, which this parser does not model.
        precondition(method != "CONNECT", "CONNECT is not supported on a pooled client connection")
        awaitingHead.append(method == "HEAD")
    }

    /// Appends bytes read from the connection; ignored once the parser is closed or failed.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        switch state {
        case .closed, .failed: return
        case .statusLine, .headers, .body, .untilClose, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            buffer.append(contentsOf: bytes)
        }
    }

    /// The same for a read buffer, copied at once (the generic version, called from another module, is not
    /// specialized and copies byte by byte).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .closed, .failed: return
        case .statusLine, .headers, .body, .untilClose, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            buffer.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Records that the peer closed the connection (a read returned end of file). The next `next()` ends a body
    /// that runs until close, or reports what the close cut short.
    public mutating func connectionClosed() {
        peerClosed = true
    }

    /// The next complete final response, or nil until more bytes arrive (or for ever, once closed). 1xx interim
    /// responses are read and dropped. Throws the same error on every call after a failure.
    public mutating func next() throws(HTTPResponseParseError) -> HTTPClientResponse? {
        switch state {
        case .failed(let error): throw error
        case .closed: return nil
        case .statusLine, .headers, .body, .untilClose, .chunkSize, .chunkData, .chunkDataEnd, .trailers: break
        }
        do {
            let response = try advance()
            compact()
            return response
        } catch {
            state = .failed(error)
            head = Head()
            buffer = []
            position = 0
            scanned = 0
            throw error
        }
    }

    private mutating func advance() throws(HTTPResponseParseError) -> HTTPClientResponse? {
        while true {
            switch state {
            case .statusLine:
                guard position < buffer.count else {
                    guard peerClosed else { return nil }
                    if interimSeen { throw .truncated("connection closed after an interim (1xx) response") }
                    if pendingCount > 0 {
                        throw HTTPResponseParseError(
                            .closedBeforeResponse,
                            "connection closed before a response arrived (\(pendingCount) awaited)")
                    }
                    state = .closed
                    return nil
                }
                guard pendingCount > 0 else {
                    // Only the first byte is quoted: how many more have arrived depends on how reads split them.
                    throw HTTPResponseParseError(
                        .unsolicited,
                        "bytes arrived with no request sent (the first is \(httpQuoted([buffer[position]])))")
                }
                // The same line as the last response's (accepted under the same limits): its parts again.
                if let known = knownStatusLine, bufferHas(known.bytes, at: position) {
                    position += known.bytes.count
                    scanned = position
                    head.version = known.version
                    head.status = known.status
                    head.reason = known.reason
                    state = .headers
                    continue
                }
                guard let line = try takeLine(bytesMax: limits.statusLineBytesMax, kind: .status) else {
                    if peerClosed { throw .truncated("connection closed inside a status line") }
                    return nil
                }
                try parseStatusLine(line)
                knownStatusLine = KnownStatusLine(
                    bytes: Array(buffer[line.lowerBound..<line.upperBound + 2]), version: head.version,
                    status: head.status, reason: head.reason)
                state = .headers
            case .headers:
                let index = head.sharedFields + head.headers.count
                // A line seen at this place before, within what is left of the header budget: the checks
                // `takeLine` and `parseField` would make passed for these bytes, and give the same field.
                if index < knownFields.count, bufferHas(knownFields[index].bytes, at: position),
                    knownFields[index].bytes.count <= limits.headerBytesMax - head.headerBytes
                {
                    let count = knownFields[index].bytes.count
                    position += count
                    scanned = position
                    head.headerBytes += count
                    guard index < limits.headerCountMax else {
                        throw HTTPResponseParseError(.tooLarge, "more than \(limits.headerCountMax) header fields")
                    }
                    apply(knownFields[index].framing)
                    if head.headers.isEmpty && index < lastHeaders.count {
                        head.sharedFields += 1
                    } else {
                        unshareFields()
                        head.headers.append((knownFields[index].name, knownFields[index].value))
                    }
                    continue
                }
                guard let line = try takeLine(bytesMax: limits.headerBytesMax - head.headerBytes, kind: .header) else {
                    if peerClosed { throw .truncated("connection closed inside a header block") }
                    return nil
                }
                head.headerBytes += line.count + 2
                if line.isEmpty {
                    if head.sharedFields > 0 {
                        // All of the last head's fields again, or a prefix of them.
                        head.headers =
                            head.sharedFields == lastHeaders.count
                            ? lastHeaders : Array(lastHeaders[0..<head.sharedFields])
                        head.sharedFields = 0
                    }
                    if let response = try finishHead() { return response }
                    continue
                }
                guard index < limits.headerCountMax else {
                    throw HTTPResponseParseError(.tooLarge, "more than \(limits.headerCountMax) header fields")
                }
                // Most responses carry a handful of fields: one allocation up front instead of four regrowths.
                unshareFields()
                let (name, value) = try parseField(line)
                let framing = self.framing(name: name, value: value)
                apply(framing)
                // Values are ASCII in practice; obs-text bytes that are not UTF-8 become U+FFFD.
                let field = buffer.withUnsafeBufferPointer { bytes in
                    (
                        name: httpFieldNameString(UnsafeBufferPointer(rebasing: bytes[name])),
                        value: httpFieldValueString(UnsafeBufferPointer(rebasing: bytes[value]))
                    )
                }
                head.headers.append(field)
                remember(field, framing: framing, line: line, at: index)
            case .body(let remaining):
                let left = takeBody(remaining)
                guard left == 0 else {
                    if peerClosed {
                        let length = head.contentLength ?? 0
                        throw .truncated(
                            "connection closed \(left) bytes short of a \(length)-byte Content-Length body")
                    }
                    state = .body(remaining: left)
                    return nil
                }
                return finishResponse(closeDelimited: false)
            case .untilClose:
                guard buffer.count - position <= limits.bodyBytesMax - head.body.count else {
                    throw HTTPResponseParseError(.tooLarge, "body larger than \(limits.bodyBytesMax) bytes")
                }
                _ = takeBody(buffer.count - position)
                guard peerClosed else { return nil }
                return finishResponse(closeDelimited: true)
            case .chunkSize:
                guard let line = try takeLine(bytesMax: limits.chunkLineBytesMax, kind: .chunkSize) else {
                    if peerClosed { throw .truncated("connection closed inside a chunked body") }
                    return nil
                }
                let size = try parseChunkSize(line)
                if size == 0 {
                    head.headerBytes = 0
                    state = .trailers
                } else {
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let left = takeBody(remaining)
                guard left == 0 else {
                    if peerClosed { throw .truncated("connection closed inside a chunked body") }
                    state = .chunkData(remaining: left)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.count - position >= 2 else {
                    // A lone byte that is not CR is already wrong, whether or not more bytes would come.
                    if position < buffer.count, buffer[position] != 0x0D {
                        throw .malformed("chunk data not followed by CRLF")
                    }
                    if peerClosed { throw .truncated("connection closed inside a chunked body") }
                    return nil
                }
                guard buffer[position] == 0x0D, buffer[position + 1] == 0x0A else {
                    throw .malformed("chunk data not followed by CRLF")
                }
                position += 2
                scanned = position
                state = .chunkSize
            case .trailers:
                guard let line = try takeLine(bytesMax: limits.headerBytesMax - head.headerBytes, kind: .trailer) else {
                    if peerClosed { throw .truncated("connection closed inside the trailers of a chunked body") }
                    return nil
                }
                head.headerBytes += line.count + 2
                guard !line.isEmpty else { return finishResponse(closeDelimited: false) }
                // Trailers are checked like headers, then dropped: nothing in the platform reads them.
                _ = try parseField(line)
            case .closed, .failed:
                return nil
            }
        }
    }

    /// Moves up to `remaining` buffered bytes into the body; returns how many are still to come.
    private mutating func takeBody(_ remaining: Int) -> Int {
        let available = min(remaining, buffer.count - position)
        guard available > 0 else { return remaining }
        head.body.append(contentsOf: buffer[position..<position + available])
        position += available
        scanned = position
        return remaining - available
    }

    /// Which line `takeLine` reads, so an over-long one is named in the error. The error is built only when
    /// thrown: formatting its message for every line would cost more than parsing the line.
    private enum LineKind {
        case status
        case header
        case chunkSize
        case trailer
    }

    private func lineTooLong(_ kind: LineKind) -> HTTPResponseParseError {
        switch kind {
        case .status: HTTPResponseParseError(.tooLarge, "status line longer than \(limits.statusLineBytesMax) bytes")
        case .header: HTTPResponseParseError(.tooLarge, "header block larger than \(limits.headerBytesMax) bytes")
        case .chunkSize: .malformed("chunk size line longer than \(limits.chunkLineBytesMax) bytes")
        case .trailer: HTTPResponseParseError(.tooLarge, "trailers larger than \(limits.headerBytesMax) bytes")
        }
    }

    /// The next line's content without its CRLF, consumed; nil if no LF has arrived yet. A line longer than
    /// `bytesMax` bytes (with its CRLF) is refused before the whole line has arrived.
    private mutating func takeLine(bytesMax: Int, kind: LineKind) throws(HTTPResponseParseError) -> Range<Int>? {
        // One pass that stops at the first CR or LF: a well-formed line ends at a CR followed by LF, so a stop
        // anywhere else is a bare CR or LF, found without a second scan of the line.
        let start = max(scanned, position)
        let stop = buffer.withUnsafeBufferPointer { httpFirstLineBreak(in: $0, from: start, to: $0.count) }
        // The limit is checked before the line's syntax, the same way whether or not the rest has arrived.
        guard stop < buffer.count, buffer[stop] == 0x0A || stop + 1 < buffer.count else {
            scanned = stop
            if buffer.count - position > bytesMax { throw lineTooLong(kind) }
            return nil
        }
        guard stop - position + 2 <= bytesMax else { throw lineTooLong(kind) }
        guard buffer[stop] == 0x0D else { throw .malformed("line ends in a bare LF") }
        guard buffer[stop + 1] == 0x0A else { throw .malformed("bare CR inside a line") }
        let line = position..<stop
        position = stop + 2
        scanned = position
        return line
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]`; a missing space before an empty reason is accepted, as servers send it.
    private mutating func parseStatusLine(_ line: Range<Int>) throws(HTTPResponseParseError) {
        let text = buffer[line]
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        let start = line.lowerBound
        guard line.count >= 12, buffer[start + 8] == 0x20, buffer[start] == UInt8(ascii: "H"),
            buffer[start + 1] == UInt8(ascii: "T"), buffer[start + 2] == UInt8(ascii: "T"),
            buffer[start + 3] == UInt8(ascii: "P"), buffer[start + 4] == UInt8(ascii: "/"),
            isDigit(buffer[start + 5]), buffer[start + 6] == UInt8(ascii: "."), isDigit(buffer[start + 7]),
            isDigit(buffer[start + 9]), isDigit(buffer[start + 10]), isDigit(buffer[start + 11]),
            line.count == 12 || buffer[start + 12] == 0x20
        else {
            throw .malformed("status line \(httpQuoted(text)) is not 'HTTP/d.d SP 3-digit-status SP reason'")
        }
        switch (buffer[start + 5], buffer[start + 7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): head.version = .http11
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): head.version = .http10
        default: throw .malformed("protocol version \(httpQuoted(text.prefix(8))) is not supported")
        }
        let digits = (buffer[start + 9], buffer[start + 10], buffer[start + 11])
        head.status = Int(digits.0 &- 0x30) * 100 + Int(digits.1 &- 0x30) * 10 + Int(digits.2 &- 0x30)
        guard (100...599).contains(head.status) else {
            throw .malformed("status code \(head.status) is not in 100...599")
        }
        let reason = line.count > 13 ? buffer[(start + 13)..<line.upperBound] : []
        if let bad = reason.first(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw .malformed("reason phrase has control byte \(httpQuoted([bad]))")
        }
        head.reason = String(decoding: reason, as: UTF8.self)
    }

    /// The name and value of a field line, checked; the value without surrounding whitespace.
    private func parseField(_ line: Range<Int>) throws(HTTPResponseParseError) -> (name: Range<Int>, value: Range<Int>)
    {
        // One unchecked pass over the line's bytes finds the colon and any fault; messages are built only after.
        let (colon, valueStart, valueEnd, fault) = buffer.withUnsafeBufferPointer {
            bytes -> (Int, Int, Int, FieldFault?) in
            var colon = line.lowerBound
            while colon < line.upperBound && bytes[colon] != UInt8(ascii: ":") {
                guard isTokenByte(bytes[colon]) else {
                    // RFC 9112 lets a client unfold obs-fold; refusing it instead keeps framing questions simple.
                    let folded = colon == line.lowerBound && (bytes[colon] == 0x20 || bytes[colon] == 0x09)
                    return (0, 0, 0, folded ? .folded : .nameNotToken)
                }
                colon += 1
            }
            guard colon < line.upperBound else { return (0, 0, 0, .noColon) }
            guard colon > line.lowerBound else { return (0, 0, 0, .nameNotToken) }
            var start = colon + 1
            var end = line.upperBound
            while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
            while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
            for index in start..<end where (bytes[index] < 0x20 && bytes[index] != 0x09) || bytes[index] == 0x7F {
                return (colon, index, end, .controlByte)
            }
            return (colon, start, end, nil)
        }
        switch fault {
        case nil:
            return (line.lowerBound..<colon, valueStart..<valueEnd)
        case .folded:
            throw .malformed("obsolete line folding (a header line starting with whitespace)")
        case .noColon:
            throw .malformed("header line \(httpQuoted(buffer[line])) has no colon")
        case .nameNotToken:
            // A line with no colon at all is described as such, whatever its name bytes.
            guard let colon = buffer[line].firstIndex(of: UInt8(ascii: ":")) else {
                throw .malformed("header line \(httpQuoted(buffer[line])) has no colon")
            }
            throw .malformed("header name \(httpQuoted(buffer[line.lowerBound..<colon])) is not a token")
        case .controlByte:
            let name = httpQuoted(buffer[line.lowerBound..<colon])
            throw .malformed("header \(name) has control byte \(httpQuoted([buffer[valueStart]])) in its value")
        }
    }

    private enum FieldFault {
        case folded
        case noColon
        case nameNotToken
        case controlByte
    }

    /// Decides how the body is framed once the empty line has arrived (RFC 9112 section 6.3); returns the
    /// response if it has no body.
    private mutating func finishHead() throws(HTTPResponseParseError) -> HTTPClientResponse? {
        if head.status < 200 {
            // Nothing asked for a protocol switch, so a 101 would leave the connection speaking something else.
            guard head.status != 101 else { throw .malformed("101 Switching Protocols without an upgrade request") }
            // Interim answers (100 Continue, 103 Early Hints) precede the final one to the same request. Their
            // fields are now the known ones, so the last final answer's list no longer matches them.
            head = Head()
            lastHeaders = []
            interimSeen = true
            state = .statusLine
            return nil
        }
        let answersHead = awaitingHead[awaitingStart]
        if answersHead || head.status == 204 || head.status == 304 {
            // Content-Length here describes what a GET would have returned, not bytes that follow.
            return finishResponse(closeDelimited: false)
        }
        if head.transferEncodingFields > 0 {
            guard head.contentLength == nil && head.contentLengthError == nil else {
                throw .malformed("both Content-Length and Transfer-Encoding")
            }
            guard head.version == .http11 else { throw .malformed("Transfer-Encoding in an HTTP/1.0 response") }
            try checkChunkedOnly()
            state = .chunkSize
            return nil
        }
        if let error = head.contentLengthError { throw error }
        if let length = head.contentLength {
            guard length > 0 else { return finishResponse(closeDelimited: false) }
            state = .body(remaining: length)
            return nil
        }
        state = .untilClose
        return nil
    }

    /// The only transfer-coding accepted is a single `chunked`: a compressed body would need a decoder here, and
    /// `chunked` twice is a framing error (RFC 9112 section 6.1).
    private func checkChunkedOnly() throws(HTTPResponseParseError) {
        var chunkedCount = 0
        for field in head.headers where httpNamesEqual(field.name, "Transfer-Encoding") {
            for coding in commaList(field.value) {
                guard httpNamesEqual(coding, "chunked") else {
                    throw .malformed("transfer-coding \(httpQuoted(Array(coding.utf8))) is not supported")
                }
                chunkedCount += 1
            }
        }
        guard chunkedCount == 1 else { throw .malformed("Transfer-Encoding does not name chunked exactly once") }
    }

    /// Copies the shared leading fields into the head's own list, before a field that differs is added.
    @inline(__always)
    private mutating func unshareFields() {
        guard head.headers.isEmpty else { return }
        // One allocation for a typical head's fields instead of one per doubling.
        head.headers.reserveCapacity(Swift.max(8, head.sharedFields + 4))
        if head.sharedFields > 0 {
            head.headers.append(contentsOf: lastHeaders[0..<head.sharedFields])
            head.sharedFields = 0
        }
    }

    /// Keeps a parsed header line as the one known at `index`, for the next response.
    private mutating func remember(
        _ field: (name: String, value: String), framing: FieldFraming, line: Range<Int>, at index: Int
    ) {
        guard index <= knownFields.count, index < 32 else { return }
        let bytes = buffer[line.lowerBound..<line.upperBound + 2]
        if index == knownFields.count {
            knownFields.append(KnownField(bytes: Array(bytes), name: field.name, value: field.value, framing: framing))
        } else {
            // The stale entry's storage is reused for the new bytes.
            knownFields[index].bytes.removeAll(keepingCapacity: true)
            knownFields[index].bytes.append(contentsOf: bytes)
            knownFields[index].name = field.name
            knownFields[index].value = field.value
            knownFields[index].framing = framing
        }
    }

    /// Whether the buffer holds `bytes` from `start` on.
    @inline(__always)
    private func bufferHas(_ bytes: [UInt8], at start: Int) -> Bool {
        let count = bytes.count
        guard buffer.count - start >= count else { return false }
        return buffer.withUnsafeBufferPointer { buffer in
            bytes.withUnsafeBufferPointer { bytes in
                httpBytesEqual(buffer.baseAddress! + start, bytes.baseAddress!, count: count)
            }
        }
    }

    /// What one field says about framing, on its own.
    private enum FieldFraming: Sendable {
        case none
        case contentLength(Result<Int, HTTPResponseParseError>)
        case transferEncoding
        case connection(close: Bool, keepAlive: Bool)
    }

    /// Records what a field says about framing. A bad Content-Length is kept, not thrown.
    private mutating func apply(_ framing: FieldFraming) {
        switch framing {
        case .none: break
        case .contentLength(let result):
            guard head.contentLengthError == nil else { return }
            switch result {
            case .success(let length):
                if let earlier = head.contentLength, earlier != length {
                    head.contentLengthError = .malformed("differing Content-Length values")
                } else {
                    head.contentLength = length
                }
            case .failure(let error):
                head.contentLengthError = error
            }
        case .transferEncoding:
            head.transferEncodingFields += 1
        case .connection(let close, let keepAlive):
            head.connectionClose = head.connectionClose || close
            head.connectionKeepAlive = head.connectionKeepAlive || keepAlive
        }
    }

    /// What a field says about framing, reading its bytes without building strings.
    private func framing(name: Range<Int>, value: Range<Int>) -> FieldFraming {
        // Most fields are passed over on their name's length alone.
        let kind = buffer.withUnsafeBufferPointer { bytes -> FramingField? in
            let name = UnsafeBufferPointer(rebasing: bytes[name])
            switch name.count {
            case 14 where asciiLowercaseEquals(name, "content-length"): return .contentLength
            case 17 where asciiLowercaseEquals(name, "transfer-encoding"): return .transferEncoding
            case 10 where asciiLowercaseEquals(name, "connection"): return .connection
            default: return nil
            }
        }
        guard let kind else { return .none }
        let value = buffer[value]
        switch kind {
        case .contentLength:
            do throws(HTTPResponseParseError) {
                return .contentLength(.success(try parseContentLength(value)))
            } catch {
                return .contentLength(.failure(error))
            }
        case .transferEncoding:
            return .transferEncoding
        case .connection:
            return .connection(close: listHasToken(value, "close"), keepAlive: listHasToken(value, "keep-alive"))
        }
    }

    private enum FramingField {
        case contentLength, transferEncoding, connection
    }

    /// One Content-Length field's length: each comma-separated element decimal, all equal, within the limit.
    private func parseContentLength(_ value: ArraySlice<UInt8>) throws(HTTPResponseParseError) -> Int {
        var length: Int? = nil
        var current = 0
        var digits = 0
        var spaceAfterDigits = false
        let notDecimal = { () -> HTTPResponseParseError in
            .malformed("Content-Length \(httpQuoted(value)) is not a decimal number")
        }
        // One pass over the bytes: elements separated by commas, each optional whitespace, digits, whitespace.
        for byte in value {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard !spaceAfterDigits else { throw notDecimal() }
                // Bounded per digit, so no number of digits can overflow.
                current = current * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                guard current <= limits.bodyBytesMax else {
                    throw HTTPResponseParseError(
                        .tooLarge,
                        "Content-Length \(httpQuoted(value)) exceeds \(limits.bodyBytesMax) bytes")
                }
            case 0x20, 0x09:
                spaceAfterDigits = digits > 0
            case UInt8(ascii: ","):
                guard digits > 0 else { throw notDecimal() }
                if let length, length != current { throw .malformed("differing Content-Length values") }
                length = current
                current = 0
                digits = 0
                spaceAfterDigits = false
            default:
                throw notDecimal()
            }
        }
        guard digits > 0 else { throw notDecimal() }
        if let length, length != current { throw .malformed("differing Content-Length values") }
        return current
    }

    private func parseChunkSize(_ line: Range<Int>) throws(HTTPResponseParseError) -> Int {
        let text = buffer[line]
        var size = 0
        var index = line.lowerBound
        while index < line.upperBound, let digit = hexValue(buffer[index]) {
            size = size * 16 + digit
            guard size <= limits.bodyBytesMax - head.body.count else {
                throw HTTPResponseParseError(.tooLarge, "chunked body larger than \(limits.bodyBytesMax) bytes")
            }
            index += 1
        }
        guard index > line.lowerBound else { throw .malformed("chunk size \(httpQuoted(text)) is not hexadecimal") }
        // Chunk extensions (after optional whitespace and ';') are allowed and ignored; nothing else may follow.
        var rest = buffer[index..<line.upperBound]
        while let byte = rest.first, byte == 0x20 || byte == 0x09 { rest = rest.dropFirst() }
        guard rest.isEmpty || rest.first == UInt8(ascii: ";") else {
            throw .malformed("chunk size \(httpQuoted(text)) is not hexadecimal")
        }
        if rest.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw .malformed("chunk extension has a control byte")
        }
        return size
    }

    private mutating func finishResponse(closeDelimited: Bool) -> HTTPClientResponse {
        // The head is moved out, not copied, and the parser starts on a fresh one.
        var done = Head()
        swap(&done, &head)
        let keepAlive: Bool
        switch done.version {
        case .http11: keepAlive = !done.connectionClose && !closeDelimited
        case .http10: keepAlive = done.connectionKeepAlive && !done.connectionClose && !closeDelimited
        }
        let response = HTTPClientResponse(
            version: done.version, status: done.status, reason: done.reason, headers: done.headers, body: done.body,
            keepAlive: keepAlive)
        lastHeaders = response.headers.count <= 32 ? response.headers : []
        interimSeen = false
        awaitingStart += 1
        if awaitingStart == awaitingHead.count {
            awaitingHead.removeAll(keepingCapacity: true)
            awaitingStart = 0
        }
        state = keepAlive ? .statusLine : .closed
        if !keepAlive {
            buffer = []
            position = 0
            scanned = 0
        }
        return response
    }

    /// Drops consumed bytes once they are at least half the buffer, so the cost stays linear in the input; a
    /// fully consumed buffer keeps its storage for the next read.
    private mutating func compact() {
        if position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
            scanned = 0
            return
        }
        guard position > 0, position * 2 >= buffer.count else { return }
        buffer.removeSubrange(0..<position)
        scanned -= position
        position = 0
    }
}

/// Whether `bytes` equals `lowercase` ignoring ASCII case; `lowercase` must be lower case already.
private func asciiLowercaseEquals(_ bytes: ArraySlice<UInt8>, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    var index = 0
    for byte in bytes {
        guard asciiLower(byte) == lowercase.utf8Start[index] else { return false }
        index += 1
    }
    return true
}

/// Whether the comma-separated list `bytes` has an element equal to `token` (lower case) ignoring ASCII case
/// (RFC 9110 section 5.6.1 list syntax, whitespace around elements allowed).
private func listHasToken(_ bytes: ArraySlice<UInt8>, _ token: StaticString) -> Bool {
    var elementStart = bytes.startIndex
    var index = bytes.startIndex
    while true {
        if index == bytes.endIndex || bytes[index] == UInt8(ascii: ",") {
            var element = bytes[elementStart..<index]
            while let byte = element.first, byte == 0x20 || byte == 0x09 { element = element.dropFirst() }
            while let byte = element.last, byte == 0x20 || byte == 0x09 { element = element.dropLast() }
            if asciiLowercaseEquals(element, token) { return true }
            if index == bytes.endIndex { return false }
            elementStart = index + 1
        }
        index += 1
    }
}
