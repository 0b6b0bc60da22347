// A sans-I/O HTTP/1.1 request parser (RFC 9112) for the server side: the shell feeds whatever bytes a read
// returned and asks for complete requests, so a request split across reads and several pipelined in one read
// come out the same. It is strict where leniency lets two parsers disagree about framing (request smuggling):
// both Content-Length and Transfer-Encoding, differing lengths, bare CR or LF, obs-fold are refused. After a
// refusal, or after a request that does not keep the connection alive, it takes no more input.

/// Turns a connection's bytes into requests, in order.
public struct HTTPRequestParser: Sendable {
    /// Where the parser is in the connection, so the shell can pick the header, body or idle timeout.
    public enum Phase: Sendable, Equatable {
        /// Between requests with nothing buffered: the idle timeout applies.
        case idle
        /// Part of a request line or header block has arrived: the header timeout applies.
        case headers
        /// The head is complete and the body is arriving: the body timeout applies.
        case body
        /// The last request asked to close the connection; further bytes are ignored.
        case closed
        /// A request was refused; the error response must be sent and the connection closed.
        case failed
    }

    private enum State: Sendable {
        case requestLine
        case headers
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case closed
        case failed(HTTPParseError)
    }

    /// The request being assembled; kept outside `State` so appending to the body does not copy it.
    private struct Head: Sendable {
        var method = ""
        var target = ""
        var version = HTTPVersion.http11
        var headers: [(name: String, value: String)] = []
        var headerBytes = 0
        /// How many leading fields are the last request's, not yet copied into `headers` (which is empty meanwhile):
        /// a head that repeats the last one whole shares its list instead of building another.
        var sharedFields = 0
        var body: [UInt8] = []
        // Framing facts noted from each field's bytes as it arrives, so the common request (one Content-Length,
        // no Transfer-Encoding, no Connection) is framed without searching the fields by name again.
        var hosts = 0
        var connectionFields = 0
        var transferEncodingFields = 0
        var contentLengthFields = 0
        /// The first Content-Length field's value when it is plain digits within the limit; nil sends framing
        /// down the general path, which also produces every error.
        var simpleContentLength: Int?
    }

    /// A line of an earlier request on this connection with what parsing it gave. A keep-alive connection sends
    /// mostly the same lines on every request: one that arrives again byte for byte is taken without scanning,
    /// checking or decoding it again (the result is a function of its bytes alone).
    private struct KnownField: Sendable {
        /// The line with its CRLF.
        var bytes: [UInt8]
        var name: String
        var value: String
        var kind: FieldKind
        var simpleLength: Int?
    }

    private struct KnownRequestLine: Sendable {
        /// The line with its CRLF.
        var bytes: [UInt8]
        var method: String
        var target: String
        var version: HTTPVersion
    }

    /// The fields of earlier requests by position in the header block (a field at the same place is likely the
    /// same), and the last request line.
    private var knownFields: [KnownField] = []
    private var knownRequestLine: KnownRequestLine?
    /// The last request's header list when every field of it is the known one at its place (so that
    /// `knownFields[i]` and `lastHeaders[i]` are the same field), else empty.
    private var lastHeaders: [(name: String, value: String)] = []

    public let limits: HTTPLimits
    private var state = State.requestLine
    private var head = Head()
    private var buffer: [UInt8] = []
    /// Bytes before `position` are consumed; `scanned` is where the search for the next LF resumes.
    private var position = 0
    private var scanned = 0

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Where the parser is. The getters are `mutating` only so that the parser is passed by address: they change
    /// nothing, and a non-mutating call copies the whole parser onto the stack first (twice per request).
    public var phase: Phase {
        mutating get {
            switch state {
            case .requestLine: position == buffer.count ? .idle : .headers
            case .headers: .headers
            case .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers: .body
            case .closed: .closed
            case .failed: .failed
            }
        }
    }

    public var isIdle: Bool { mutating get { phase == .idle } }
    public var inHeaders: Bool { mutating get { phase == .headers } }
    public var inBody: Bool { mutating get { phase == .body } }

    /// Appends bytes read from the connection; ignored once the parser is closed or failed.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        switch state {
        case .closed, .failed: return
        case .requestLine, .headers, .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            buffer.append(contentsOf: bytes)
        }
    }

    /// The same for a read buffer, copied at once (the generic version, called from another module, is not
    /// specialized and copies byte by byte).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .closed, .failed: return
        case .requestLine, .headers, .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            buffer.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The next complete request, or nil until more bytes arrive (or for ever, once closed). Throws the same
    /// error on every call after a refusal.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        switch state {
        case .failed(let error): throw error
        case .closed: return nil
        case .requestLine, .headers, .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers: break
        }
        do {
            let request = try advance()
            compact()
            return request
        } catch {
            state = .failed(error)
            head = Head()
            buffer = []
            position = 0
            scanned = 0
            throw error
        }
    }

    private mutating func advance() throws(HTTPParseError) -> HTTPRequest? {
        while true {
            switch state {
            case .requestLine:
                // The same line as the last request's (accepted under the same limits): its parts again.
                if let known = knownRequestLine, bufferHas(known.bytes, at: position) {
                    position += known.bytes.count
                    scanned = position
                    head.method = known.method
                    head.target = known.target
                    head.version = known.version
                    state = .headers
                    continue
                }
                guard let line = try takeLine(bytesMax: limits.requestLineBytesMax, kind: .requestLine) else {
                    return nil
                }
                // RFC 9112 section 2.2: a server should ignore empty lines received before a request line.
                guard !line.isEmpty else { continue }
                try parseRequestLine(line)
                knownRequestLine = KnownRequestLine(
                    bytes: Array(buffer[line.lowerBound..<line.upperBound + 2]), method: head.method,
                    target: head.target, version: head.version)
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
                        throw HTTPParseError(status: 431, message: "more than \(limits.headerCountMax) header fields")
                    }
                    note(knownFields[index].kind, simpleLength: knownFields[index].simpleLength)
                    if head.headers.isEmpty && index < lastHeaders.count {
                        head.sharedFields += 1
                    } else {
                        unshareFields()
                        head.headers.append((knownFields[index].name, knownFields[index].value))
                    }
                    continue
                }
                guard let line = try takeLine(bytesMax: limits.headerBytesMax - head.headerBytes, kind: .headers) else {
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
                    if let request = try finishHead() { return request }
                    continue
                }
                guard index < limits.headerCountMax else {
                    throw HTTPParseError(status: 431, message: "more than \(limits.headerCountMax) header fields")
                }
                // One allocation for a typical request's fields instead of one per doubling.
                unshareFields()
                let field = try parseField(line, noteFraming: true)
                note(field.kind, simpleLength: field.simpleLength)
                head.headers.append((field.name, field.value))
                remember(field, line: line, at: index)
            case .body(let remaining):
                let left = takeBody(remaining)
                guard left == 0 else {
                    state = .body(remaining: left)
                    return nil
                }
                return finishRequest()
            case .chunkSize:
                guard let line = try takeLine(bytesMax: limits.chunkLineBytesMax, kind: .chunkSize) else {
                    return nil
                }
                let size = try parseChunkSize(buffer[line])
                if size == 0 {
                    head.headerBytes = 0
                    state = .trailers
                } else {
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let left = takeBody(remaining)
                guard left == 0 else {
                    state = .chunkData(remaining: left)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.count - position >= 2 else { return nil }
                guard buffer[position] == 0x0D, buffer[position + 1] == 0x0A else {
                    throw .badRequest("chunk data not followed by CRLF")
                }
                position += 2
                scanned = position
                state = .chunkSize
            case .trailers:
                guard let line = try takeLine(bytesMax: limits.headerBytesMax - head.headerBytes, kind: .trailers)
                else {
                    return nil
                }
                head.headerBytes += line.count + 2
                guard !line.isEmpty else { return finishRequest() }
                // Trailers are checked like headers, then dropped: nothing in the platform reads them.
                _ = try parseField(line, noteFraming: false)
            case .closed, .failed:
                return nil
            }
        }
    }

    /// Moves up to `remaining` buffered bytes into the body; returns how many are still to come.
    private mutating func takeBody(_ remaining: Int) -> Int {
        let available = min(remaining, buffer.count - position)
        head.body.append(contentsOf: buffer[position..<position + available])
        position += available
        return remaining - available
    }

    /// The next line's content without its CRLF, consumed; nil if no LF has arrived yet. A line of `bytesMax`
    /// bytes or more (with its CRLF) throws the kind's error, checked before the whole line has arrived.
    private mutating func takeLine(bytesMax: Int, kind: LineKind) throws(HTTPParseError) -> Range<Int>? {
        let position = self.position
        // An empty line (the end of a header block) is the CRLF itself: no search needed.
        if buffer.count - position >= 2, buffer[position] == 0x0D, buffer[position + 1] == 0x0A {
            guard 2 <= bytesMax else { throw tooLong(kind) }
            self.position = position + 2
            scanned = position + 2
            return position..<position
        }
        let start = max(scanned, position)
        // Word-at-a-time searches over the contiguous bytes: the LF, then a CR before the line's own CR.
        let (index, bareCR) = buffer.withUnsafeBufferPointer { bytes -> (Int, Bool) in
            let index = httpFirstIndex(of: 0x0A, in: bytes, from: start, to: bytes.count)
            guard index < bytes.count, index - 1 > position else { return (index, false) }
            return (index, httpFirstIndex(of: 0x0D, in: bytes, from: position, to: index - 1) < index - 1)
        }
        guard index < buffer.count else {
            scanned = index
            if buffer.count - position > bytesMax { throw tooLong(kind) }
            return nil
        }
        guard index - position + 1 <= bytesMax else { throw tooLong(kind) }
        guard index > position, buffer[index - 1] == 0x0D else { throw .badRequest("line ends in a bare LF") }
        guard !bareCR else { throw .badRequest("bare CR inside a line") }
        self.position = index + 1
        scanned = index + 1
        return position..<index - 1
    }

    /// Which line is being read, for the error a line over its limit gets.
    private enum LineKind {
        case requestLine, headers, chunkSize, trailers
    }

    /// Built only when thrown: the message's interpolation costs more than parsing a line.
    private func tooLong(_ kind: LineKind) -> HTTPParseError {
        switch kind {
        case .requestLine:
            HTTPParseError(status: 414, message: "request line longer than \(limits.requestLineBytesMax) bytes")
        case .headers: HTTPParseError(status: 431, message: "header block larger than \(limits.headerBytesMax) bytes")
        case .chunkSize: .badRequest("chunk size line longer than \(limits.chunkLineBytesMax) bytes")
        case .trailers: HTTPParseError(status: 431, message: "trailers larger than \(limits.headerBytesMax) bytes")
        }
    }

    private mutating func parseRequestLine(_ line: Range<Int>) throws(HTTPParseError) {
        // One pass over the bytes accepts exactly what the general path accepts; anything else goes there for its
        // error.
        let parsed = buffer.withUnsafeBufferPointer { bytes -> (String, String, HTTPVersion)? in
            let end = line.upperBound
            var index = line.lowerBound
            while index < end && isTokenByte(bytes[index]) { index += 1 }
            guard index > line.lowerBound, index < end, bytes[index] == 0x20 else { return nil }
            let firstSpace = index
            index += 1
            while index < end && bytes[index] > 0x20 && bytes[index] < 0x7F { index += 1 }
            guard index > firstSpace + 1, end - index == 9, bytes[index] == 0x20 else { return nil }
            let secondSpace = index
            guard bytes[index + 1] == UInt8(ascii: "H"), bytes[index + 2] == UInt8(ascii: "T"),
                bytes[index + 3] == UInt8(ascii: "T"), bytes[index + 4] == UInt8(ascii: "P"),
                bytes[index + 5] == UInt8(ascii: "/"), bytes[index + 6] == UInt8(ascii: "1"),
                bytes[index + 7] == UInt8(ascii: ".")
            else { return nil }
            let version: HTTPVersion
            switch bytes[index + 8] {
            case UInt8(ascii: "1"): version = .http11
            case UInt8(ascii: "0"): version = .http10
            default: return nil
            }
            return (
                String(decoding: UnsafeBufferPointer(rebasing: bytes[line.lowerBound..<firstSpace]), as: UTF8.self),
                String(decoding: UnsafeBufferPointer(rebasing: bytes[(firstSpace + 1)..<secondSpace]), as: UTF8.self),
                version
            )
        }
        guard let (method, target, version) = parsed else { return try parseRequestLineGeneral(buffer[line]) }
        head.method = method
        head.target = target
        head.version = version
    }

    private mutating func parseRequestLineGeneral(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        // method SP target SP version, found by hand: splitting into an array of slices allocates per request.
        guard let firstSpace = line.firstIndex(of: 0x20),
            let secondSpace = line[(firstSpace + 1)...].firstIndex(of: 0x20),
            !line[(secondSpace + 1)...].contains(0x20)
        else {
            throw .badRequest("request line \(httpQuoted(line)) is not 'method SP target SP version'")
        }
        let method = line[line.startIndex..<firstSpace]
        let target = line[(firstSpace + 1)..<secondSpace]
        guard !method.isEmpty, method.allSatisfy(isTokenByte) else {
            throw .badRequest("method \(httpQuoted(method)) is not a token")
        }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("request target \(httpQuoted(target)) is empty or has a control or non-ASCII byte")
        }
        head.method = String(decoding: method, as: UTF8.self)
        head.target = String(decoding: target, as: UTF8.self)
        head.version = try parseVersion(line[(secondSpace + 1)...])
    }

    private func parseVersion(_ text: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        let base = text.startIndex
        guard text.count == 8, text[base..<base + 5].elementsEqual("HTTP/".utf8), isDigit(text[base + 5]),
            text[base + 6] == UInt8(ascii: "."), isDigit(text[base + 7])
        else {
            throw .badRequest("protocol version \(httpQuoted(text)) is not HTTP/digit.digit")
        }
        switch (text[base + 5], text[base + 7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http11
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http10
        default:
            throw HTTPParseError(status: 505, message: "protocol version \(httpQuoted(text)) is not supported")
        }
    }

    /// A field line's name and value (without surrounding whitespace), checked in one pass over its bytes; with
    /// `noteFraming`, what it says about framing (for `note`). Refused lines get their error from the general path.
    private func parseField(_ line: Range<Int>, noteFraming: Bool) throws(HTTPParseError) -> (
        name: String, value: String, kind: FieldKind, simpleLength: Int?
    ) {
        let bodyBytesMax = limits.bodyBytesMax
        let parsed = buffer.withUnsafeBufferPointer { bytes -> (String, String, FieldKind, Int?)? in
            var colon = line.lowerBound
            while colon < line.upperBound && bytes[colon] != UInt8(ascii: ":") {
                guard isTokenByte(bytes[colon]) else { return nil }
                colon += 1
            }
            guard colon < line.upperBound, colon > line.lowerBound else { return nil }
            var start = colon + 1
            var end = line.upperBound
            while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
            while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
            for index in start..<end where (bytes[index] < 0x20 && bytes[index] != 0x09) || bytes[index] == 0x7F {
                return nil
            }
            let name = UnsafeBufferPointer(rebasing: bytes[line.lowerBound..<colon])
            let value = UnsafeBufferPointer(rebasing: bytes[start..<end])
            var kind = FieldKind.other
            var simpleLength: Int? = nil
            if noteFraming {
                switch name.count {
                case 4 where asciiLowercaseEquals(name, "host"): kind = .host
                case 10 where asciiLowercaseEquals(name, "connection"): kind = .connection
                case 14 where asciiLowercaseEquals(name, "content-length"):
                    kind = .contentLength
                    // Used only for the first Content-Length field; computed for every one, so that a known line
                    // carries it wherever it comes.
                    simpleLength = simpleDecimal(value, max: bodyBytesMax)
                case 17 where asciiLowercaseEquals(name, "transfer-encoding"): kind = .transferEncoding
                default: break
                }
            }
            return (httpFieldNameString(name), httpFieldValueString(value), kind, simpleLength)
        }
        guard let parsed else {
            let (name, value) = try parseFieldGeneral(buffer[line])
            return (name, value, .other, nil)
        }
        return parsed
    }

    /// Records what a header field says about framing.
    @inline(__always)
    private mutating func note(_ kind: FieldKind, simpleLength: Int?) {
        switch kind {
        case .other: break
        case .host: head.hosts += 1
        case .connection: head.connectionFields += 1
        case .contentLength:
            if head.contentLengthFields == 0 { head.simpleContentLength = simpleLength }
            head.contentLengthFields += 1
        case .transferEncoding: head.transferEncodingFields += 1
        }
    }

    /// Copies the shared leading fields into the head's own list, before a field that differs is added.
    @inline(__always)
    private mutating func unshareFields() {
        guard head.headers.isEmpty else { return }
        // One allocation for a typical head's fields instead of one per doubling.
        head.headers.reserveCapacity(Swift.max(12, head.sharedFields + 4))
        if head.sharedFields > 0 {
            head.headers.append(contentsOf: lastHeaders[0..<head.sharedFields])
            head.sharedFields = 0
        }
    }

    /// Keeps a parsed header line as the one known at `index`, for the next request.
    private mutating func remember(
        _ field: (name: String, value: String, kind: FieldKind, simpleLength: Int?), line: Range<Int>, at index: Int
    ) {
        guard index <= knownFields.count, index < 32 else { return }
        let bytes = buffer[line.lowerBound..<line.upperBound + 2]
        if index == knownFields.count {
            knownFields.append(
                KnownField(
                    bytes: Array(bytes), name: field.name, value: field.value, kind: field.kind,
                    simpleLength: field.simpleLength))
        } else {
            // The stale entry's storage is reused for the new bytes.
            knownFields[index].bytes.removeAll(keepingCapacity: true)
            knownFields[index].bytes.append(contentsOf: bytes)
            knownFields[index].name = field.name
            knownFields[index].value = field.value
            knownFields[index].kind = field.kind
            knownFields[index].simpleLength = field.simpleLength
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

    /// The fields that decide framing and connection reuse.
    private enum FieldKind {
        case other, host, connection, contentLength, transferEncoding
    }

    private func parseFieldGeneral(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (name: String, value: String) {
        if let first = line.first, first == 0x20 || first == 0x09 {
            throw .badRequest("obsolete line folding (a header line starting with whitespace)")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .badRequest("header line \(httpQuoted(line)) has no colon")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw .badRequest("header name \(httpQuoted(name)) is not a token")
        }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        if let bad = value.first(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw .badRequest("header \(httpQuoted(name)) has control byte \(httpQuoted([bad])) in its value")
        }
        // Values are ASCII in practice; obs-text bytes that are not UTF-8 become U+FFFD.
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// Decides how the body is framed once the empty line has arrived; returns the request if it has no body.
    private mutating func finishHead() throws(HTTPParseError) -> HTTPRequest? {
        if head.version == .http11 {
            guard head.hosts == 1 else {
                throw .badRequest("HTTP/1.1 request with \(head.hosts) Host headers, expected 1")
            }
        }
        guard head.transferEncodingFields == 0, head.contentLengthFields <= 1 else { return try finishHeadGeneral() }
        var length = 0
        if head.contentLengthFields == 1 {
            guard let simple = head.simpleContentLength else { return try finishHeadGeneral() }
            length = simple
        }
        guard length > 0 else { return finishRequest() }
        state = .body(remaining: length)
        return nil
    }

    /// Framing from the fields themselves, for Transfer-Encoding, several or unusual Content-Length fields.
    private mutating func finishHeadGeneral() throws(HTTPParseError) -> HTTPRequest? {
        // One pass over the fields for the three that decide framing (most requests have none of the last two).
        var hosts = 0
        var transferEncodings: [String] = []
        var contentLengths: [String] = []
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 4 where httpNamesEqual(name, "Host"): hosts += 1
            case 14 where httpNamesEqual(name, "Content-Length"): contentLengths.append(value)
            case 17 where httpNamesEqual(name, "Transfer-Encoding"): transferEncodings.append(value)
            default: break
            }
        }
        if head.version == .http11 {
            guard hosts == 1 else { throw .badRequest("HTTP/1.1 request with \(hosts) Host headers, expected 1") }
        }
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else { throw .badRequest("both Content-Length and Transfer-Encoding") }
            guard head.version == .http11 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            let codings = transferEncodings.flatMap(commaList).map { $0.lowercased() }
            if let unknown = codings.first(where: { $0 != "chunked" }) {
                throw HTTPParseError(
                    status: 501, message: "transfer-coding \(httpQuoted(Array(unknown.utf8))) is not implemented")
            }
            guard codings.count == 1 else { throw .badRequest("transfer-coding chunked applied more than once") }
            head.body = []
            state = .chunkSize
            return nil
        }
        let length = try parseContentLength(contentLengths)
        guard length > 0 else { return finishRequest() }
        state = .body(remaining: length)
        return nil
    }

    private func parseContentLength(_ values: [String]) throws(HTTPParseError) -> Int {
        var length: Int? = nil
        for text in values.flatMap(commaList) {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw .badRequest("Content-Length \(httpQuoted(Array(text.utf8))) is not a decimal number")
            }
            // Digits beyond what fits the limit are refused before they can overflow.
            let digits = text.utf8.drop { $0 == UInt8(ascii: "0") }
            guard digits.count <= String(limits.bodyBytesMax).utf8.count, let value = Int(text),
                value <= limits.bodyBytesMax
            else {
                throw HTTPParseError(
                    status: 413,
                    message: "Content-Length \(httpQuoted(Array(text.utf8))) exceeds \(limits.bodyBytesMax) bytes")
            }
            if let length, length != value { throw .badRequest("differing Content-Length values") }
            length = value
        }
        guard let length else { return 0 }
        return length
    }

    private func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = hexValue(line[index]) {
            size = size * 16 + digit
            guard size <= limits.bodyBytesMax - head.body.count else {
                throw HTTPParseError(status: 413, message: "chunked body larger than \(limits.bodyBytesMax) bytes")
            }
            index += 1
        }
        guard index > line.startIndex else { throw .badRequest("chunk size \(httpQuoted(line)) is not hexadecimal") }
        // Chunk extensions (after optional whitespace and ';') are allowed and ignored; nothing else may follow.
        var rest = line[index...]
        while let byte = rest.first, byte == 0x20 || byte == 0x09 { rest = rest.dropFirst() }
        guard rest.isEmpty || rest.first == UInt8(ascii: ";") else {
            throw .badRequest("chunk size \(httpQuoted(line)) is not hexadecimal")
        }
        if rest.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw .badRequest("chunk extension has a control byte")
        }
        return size
    }

    private mutating func finishRequest() -> HTTPRequest {
        // The head is moved out, not copied, and the parser starts on a fresh one.
        var done = Head()
        swap(&done, &head)
        var request = HTTPRequest(
            method: done.method, target: done.target, version: done.version, headers: done.headers, body: done.body)
        lastHeaders = request.headers.count <= 32 ? request.headers : []
        if done.connectionFields == 0 {
            request.keepAlive = request.version == .http11
        } else {
            let options = request.headers(named: "Connection").flatMap(commaList).map { $0.lowercased() }
            switch request.version {
            case .http11: request.keepAlive = !options.contains("close")
            case .http10: request.keepAlive = options.contains("keep-alive") && !options.contains("close")
            }
        }
        state = request.keepAlive ? .requestLine : .closed
        if !request.keepAlive {
            buffer = []
            position = 0
            scanned = 0
        }
        return request
    }

    /// Drops consumed bytes once they are at least half the buffer, so the cost stays linear in the input.
    private mutating func compact() {
        if position == buffer.count {
            // Everything consumed (the usual case): keep the storage for the next read.
            if position > 0 { buffer.removeAll(keepingCapacity: true) }
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

/// The elements of a comma-separated field value, trimmed of whitespace, empty elements dropped (RFC 9110 5.6.1).
func commaList(_ value: String) -> [String] {
    value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true).compactMap { element in
        var element = element
        while let byte = element.first, byte == 0x20 || byte == 0x09 { element = element.dropFirst() }
        while let byte = element.last, byte == 0x20 || byte == 0x09 { element = element.dropLast() }
        return element.isEmpty ? nil : String(decoding: element, as: UTF8.self)
    }
}

/// tchar from RFC 9110 section 5.6.2: ALPHA, DIGIT and ! # $ % & ' * + - . ^ _ ` | ~. A lookup in two 64-bit
/// masks (bytes 0-63 and 64-127) instead of a chain of comparisons: this runs for every byte of every field name.
@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    let mask: UInt64 = byte < 64 ? 0x03FF_6CFA_0000_0000 : 0x57FF_FFFF_C7FF_FFFE
    return byte < 128 && (mask >> UInt64(byte & 63)) & 1 != 0
}

/// The first index in `from..<to` holding `target`, or `to`: eight bytes at a time where the platform allows.
@inline(__always)
func httpFirstIndex(of target: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
    guard let base = bytes.baseAddress, start < end else { return max(start, end) }
    var index = start
    #if _endian(little)
        let pattern = UInt64(target) &* 0x0101_0101_0101_0101
        while index &+ 8 <= end {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self) ^ pattern
            // The lowest flagged byte is the first zero byte of `word`, i.e. the first `target`.
            let zeros = (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
            if zeros != 0 { return index &+ zeros.trailingZeroBitCount >> 3 }
            index &+= 8
        }
    #endif
    while index < end && base[index] != target { index &+= 1 }
    return index
}

/// The first index in `from..<to` holding CR or LF, or `to`: eight bytes at a time where the platform allows.
@inline(__always)
func httpFirstLineBreak(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
    guard let base = bytes.baseAddress, start < end else { return max(start, end) }
    var index = start
    #if _endian(little)
        while index &+ 8 <= end {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            let lf = word ^ 0x0A0A_0A0A_0A0A_0A0A
            let cr = word ^ 0x0D0D_0D0D_0D0D_0D0D
            // Each term's lowest flagged byte is exact, so the lowest of both is the first CR or LF.
            let found =
                ((lf &- 0x0101_0101_0101_0101) & ~lf | (cr &- 0x0101_0101_0101_0101) & ~cr)
                & 0x8080_8080_8080_8080
            if found != 0 { return index &+ found.trailingZeroBitCount >> 3 }
            index &+= 8
        }
    #endif
    while index < end && base[index] != 0x0A && base[index] != 0x0D { index &+= 1 }
    return index
}

/// Whether `bytes` equals `lowercase` ignoring ASCII case; `lowercase` must be lower case already.
@inline(__always)
func asciiLowercaseEquals(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    let expected = lowercase.utf8Start
    for index in 0..<bytes.count where asciiLower(bytes[index]) != expected[index] { return false }
    return true
}

/// `bytes` as a decimal number when they are only digits and the number is at most `max`; nil otherwise (the
/// general parser then decides, and words any error).
func simpleDecimal(_ bytes: UnsafeBufferPointer<UInt8>, max: Int) -> Int? {
    guard !bytes.isEmpty else { return nil }
    var value = 0
    var significant = 0
    for byte in bytes {
        let digit = byte &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        if significant > 0 || digit != 0 { significant += 1 }
        // Eighteen digits always fit an Int; anything longer is left to the general path.
        guard significant <= 18 else { return nil }
        value = value &* 10 &+ Int(digit)
    }
    return value <= max ? value : nil
}

func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
    default: nil
    }
}

/// Whether `count` bytes at `lhs` and `rhs` are equal, compared eight at a time.
@inline(__always)
func httpBytesEqual(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, count: Int) -> Bool {
    var index = 0
    if count >= 8 {
        while index &+ 8 < count {
            let left = UnsafeRawPointer(lhs + index).loadUnaligned(as: UInt64.self)
            let right = UnsafeRawPointer(rhs + index).loadUnaligned(as: UInt64.self)
            guard left == right else { return false }
            index &+= 8
        }
        // The last eight bytes as one word, overlapping the ones already compared.
        let left = UnsafeRawPointer(lhs + (count &- 8)).loadUnaligned(as: UInt64.self)
        let right = UnsafeRawPointer(rhs + (count &- 8)).loadUnaligned(as: UInt64.self)
        return left == right
    }
    while index < count {
        guard lhs[index] == rhs[index] else { return false }
        index &+= 1
    }
    return true
}
