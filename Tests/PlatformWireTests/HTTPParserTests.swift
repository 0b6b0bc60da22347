// The HTTP/1.1 request parser reads attacker bytes in whatever pieces the network delivers: the same requests
// must come out however the bytes are split, every framing ambiguity must be refused with the right status, and
// the response serializer's bytes are checked exactly.

import Testing

@testable import PlatformWire

/// Feeds `text` in one piece and collects every request, then the error if one was thrown.
private func parseAll(
    _ text: String, limits: HTTPLimits = HTTPLimits()
) -> (requests: [HTTPRequest], error: HTTPParseError?) {
    var parser = HTTPRequestParser(limits: limits)
    parser.feed(Array(text.utf8))
    return drain(&parser)
}

private func drain(_ parser: inout HTTPRequestParser) -> (requests: [HTTPRequest], error: HTTPParseError?) {
    var requests: [HTTPRequest] = []
    do {
        while let request = try parser.next() { requests.append(request) }
        return (requests, nil)
    } catch {
        return (requests, error)
    }
}

/// The parser's phase, read from a copy: its getter is `mutating`, which a macro's captured value cannot call.
private func phase(of parser: HTTPRequestParser) -> HTTPRequestParser.Phase {
    var parser = parser
    return parser.phase
}

@Suite struct HTTPParserTests {
    @Test func parsesSimpleGet() throws {
        var parser = HTTPRequestParser()
        #expect(phase(of: parser) == .idle)
        parser.feed(Array("GET /health?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  */* \r\nX-Trace: 1\r\n\r\n".utf8))
        let request = try #require(try parser.next())
        #expect(request.method == "GET")
        #expect(request.target == "/health?x=1")
        #expect(request.version == .http11)
        #expect(request.headers.map(\.name) == ["Host", "Accept", "X-Trace"])
        #expect(request.header("accept") == "*/*")
        #expect(request.header("HOST") == "a")
        #expect(request.header("missing") == nil)
        #expect(request.body.isEmpty)
        #expect(request.keepAlive)
        #expect(try parser.next() == nil)
        #expect(phase(of: parser) == .idle)
    }

    @Test func postWithContentLengthSplitByteByByte() throws {
        let text = "POST /v1/infer HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
        var parser = HTTPRequestParser()
        var requests: [HTTPRequest] = []
        for (offset, byte) in text.utf8.enumerated() {
            parser.feed([byte])
            if let request = try parser.next() { requests.append(request) }
            if offset < 10 { #expect(phase(of: parser) == .headers) }
            if offset > 60 && offset < text.utf8.count - 1 { #expect(phase(of: parser) == .body) }
        }
        #expect(requests.count == 1)
        #expect(requests.first?.body == Array("hello world".utf8))
        #expect(phase(of: parser) == .idle)
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        let text =
            "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
            + "GET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HT"
        var parser = HTTPRequestParser()
        parser.feed(Array(text.utf8))
        let (requests, error) = drain(&parser)
        #expect(error == nil)
        #expect(requests.map(\.target) == ["/a", "/b", "/c"])
        #expect(requests[1].body == Array("xyz".utf8))
        #expect(phase(of: parser) == .headers)
        parser.feed(Array("TP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(drain(&parser).requests.map(\.target) == ["/d"])
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let text =
            "POST /v1/batch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n6 ; ext\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
        // Every split point must give the same requests.
        for split in 0...text.utf8.count {
            var parser = HTTPRequestParser()
            parser.feed(Array(text.utf8).prefix(split))
            var (requests, error) = drain(&parser)
            parser.feed(Array(text.utf8).dropFirst(split))
            let rest = drain(&parser)
            requests += rest.requests
            error = error ?? rest.error
            #expect(error == nil)
            #expect(requests.map(\.target) == ["/v1/batch", "/next"])
            #expect(requests.first?.body == Array("hello world".utf8))
            #expect(requests.first?.header("X-Checksum") == nil)
        }
    }

    @Test func ignoresEmptyLinesBeforeTheRequestLine() {
        #expect(parseAll("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").requests.count == 1)
    }

    @Test(arguments: [
        // Framing ambiguities (request smuggling).
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        // Line syntax.
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}b\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET /a\u{1}b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
        ("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ("GET / HTTP/0.9\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ])
    func refusesMalformedRequests(_ text: String, _ status: Int) {
        let (requests, error) = parseAll(text)
        #expect(requests.isEmpty, "\(text.debugDescription)")
        #expect(error?.status == status, "\(text.debugDescription): \(String(describing: error))")
    }

    @Test(arguments: [
        // One plain field takes the fast path; the others take the general one and must agree.
        "Content-Length: 5", "content-length: 0005", "Content-Length: 5, 5", "CONTENT-LENGTH:5 ",
        "Content-Length: 000000000000000000000000005", "Content-Length: 5\r\nContent-Length: 5",
    ])
    func contentLengthSpellingsFrameAlike(_ field: String) throws {
        let (requests, error) = parseAll(
            "POST / HTTP/1.1\r\nHost: h\r\n\(field)\r\n\r\nhelloGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(error == nil)
        #expect(requests.map(\.body) == [Array("hello".utf8), []])
    }

    @Test func contentLengthErrorsAreWordedAsBefore() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\n"
        #expect(
            parseAll(head + "Content-Length: 99999999999999999999\r\n\r\n").error
                == HTTPParseError(
                    status: 413, message: "Content-Length \"99999999999999999999\" exceeds 16777216 bytes"))
        #expect(
            parseAll(head + "Content-Length: 16777217\r\n\r\n").error
                == HTTPParseError(status: 413, message: "Content-Length \"16777217\" exceeds 16777216 bytes"))
        #expect(
            parseAll(head + "Content-Length: +5\r\n\r\n").error
                == .badRequest("Content-Length \"+5\" is not a decimal number"))
        #expect(parseAll(head + "Content-Length: 16777216\r\n\r\n").error == nil)
    }

    @Test func fieldNamesAndValuesKeepTheirSpelling() throws {
        let (requests, error) = parseAll(
            "GET / HTTP/1.1\r\nhOsT: h\r\ncontent-type: application/json\r\nContent-Type: Application/JSON\r\n"
                + "Authorization: Bearer x\r\n\r\n")
        #expect(error == nil)
        let request = try #require(requests.first)
        #expect(request.headers.map(\.name) == ["hOsT", "content-type", "Content-Type", "Authorization"])
        #expect(request.headers.map(\.value) == ["h", "application/json", "Application/JSON", "Bearer x"])
        #expect(request.header("CONTENT-TYPE") == "application/json")
        #expect(request.header("authorization") == "Bearer x")
    }

    @Test func bareCRAndLFAreFoundAtEveryOffset() {
        // The line search reads eight bytes at a time: a stray byte must be found wherever it falls.
        for length in 0..<20 {
            let filler = String(repeating: "a", count: length)
            for (line, message) in [
                ("X-A: \(filler)\rb", "bare CR inside a line"), ("X-A: \(filler)\nb", "line ends in a bare LF"),
            ] {
                let text = "GET / HTTP/1.1\r\nHost: h\r\n\(line)\r\n\r\n"
                #expect(parseAll(text).error == .badRequest(message), "\(text.debugDescription)")
                var parser = HTTPRequestParser()
                var error: HTTPParseError? = nil
                for byte in text.utf8 where error == nil {
                    parser.feed([byte])
                    do { _ = try parser.next() } catch let thrown { error = thrown }
                }
                #expect(error == .badRequest(message), "\(text.debugDescription) byte by byte")
            }
            let text = "GET /\(filler) HTTP/1.1\r\nHost: h\r\nX-A: \(filler)\r\n\r\n"
            #expect(parseAll(text).requests.first?.header("x-a") == filler)
        }
    }

    @Test func errorMessagesNameWhatWasWrong() {
        #expect(
            parseAll("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n").error
                == HTTPParseError(status: 501, message: "transfer-coding \"gzip\" is not implemented"))
        #expect(
            parseAll("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{1}b\r\n\r\n").error?.message
                == "header \"X-A\" has control byte \"\\x01\" in its value")
        #expect(
            parseAll("GET / HTTP/3.0\r\n\r\n").error?.description
                == "505 HTTP Version Not Supported: protocol version \"HTTP/3.0\" is not supported")
    }

    @Test func refusesInputAfterAnError() {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET / HTTP/1.1\nHost: h\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(parser.phase == .failed)
        parser.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.badRequest("line ends in a bare LF")) { try parser.next() }
    }

    @Test(arguments: [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n", false),
        ("HTTP/1.1", "Connection: keep-alive\r\n", true),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
        ("HTTP/1.0", "Connection: close\r\n", false),
    ])
    func keepAliveRules(_ version: String, _ connection: String, _ keepAlive: Bool) {
        let (requests, error) = parseAll("GET / \(version)\r\nHost: h\r\n\(connection)\r\n")
        #expect(error == nil)
        #expect(requests.first?.keepAlive == keepAlive)
    }

    @Test func stopsAfterARequestThatClosesTheConnection() {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n".utf8))
        #expect(drain(&parser).requests.map(\.target) == ["/a"])
        #expect(parser.phase == .closed)
    }

    /// Lines repeated from earlier requests on the connection (taken without parsing them again) give exactly what
    /// a fresh parser gives for each request alone, wherever a line changes, moves, or breaks a limit.
    @Test(arguments: [
        [
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer 0123456789abcdef0123\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer 0123456789abcdef0123\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n[]",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer 0123456789abcdef0123\r\n"
                + "Content-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer 0123456789abcdef0123\r\n"
                + "\r\n",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer 0123456789abcdef0123\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\nX-Extra: 1\r\n\r\n{}",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nX-Request-ID: r1\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nX-Request-ID: r1\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "GET /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nX-Request-ID: r1\r\n\r\n",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ],
        [
            "GET /a HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: \(String(repeating: "b", count: 80))\r\n\r\n",
        ],
        [
            "GET /a HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        ],
        [
            "GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ],
        [
            "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            "GET /a HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
        ],
    ])
    func repeatedLinesGiveWhatAFreshParserGives(_ requests: [String]) {
        var small = HTTPLimits()
        small.headerBytesMax = 64 + 30
        small.headerCountMax = 4
        for (limits, split) in [(HTTPLimits(), nil), (HTTPLimits(), 7), (small, nil), (small, 7)]
            as [(HTTPLimits, Int?)]
        {
            var parser = HTTPRequestParser(limits: limits)
            var outcomes: [String] = []
            var expected: [String] = []
            for text in requests {
                let bytes = Array(text.utf8)
                let cut = min(split ?? bytes.count, bytes.count)
                parser.feed(bytes[..<cut])
                var got = drain(&parser)
                parser.feed(bytes[cut...])
                let rest = drain(&parser)
                got.requests += rest.requests
                got.error = got.error ?? rest.error
                outcomes.append(
                    "\(got.requests.map { "\($0) \($0.headers.map { "\($0.name)=\($0.value)" })" }) \(got.error.map(\.description) ?? "")"
                )
                let alone = parseAll(text, limits: limits)
                expected.append(
                    "\(alone.requests.map { "\($0) \($0.headers.map { "\($0.name)=\($0.value)" })" }) \(alone.error.map(\.description) ?? "")"
                )
                #expect(got.requests == alone.requests)
                #expect(got.error == alone.error)
                if got.error != nil || got.requests.last?.keepAlive == false { break }
            }
            #expect(outcomes == expected)
        }
    }

    @Test func enforcesLimits() {
        var limits = HTTPLimits()
        limits.requestLineBytesMax = 32
        limits.headerBytesMax = 64
        limits.headerCountMax = 3
        limits.bodyBytesMax = 10
        let long = String(repeating: "a", count: 40)
        #expect(parseAll("GET /\(long) HTTP/1.1\r\n", limits: limits).error?.status == 414)
        // Refused before the line ends, so a peer cannot make the buffer grow without bound.
        #expect(parseAll("GET /\(long)", limits: limits).error?.status == 414)
        #expect(parseAll("GET / HTTP/1.1\r\nHost: h\r\nX: \(long)\(long)", limits: limits).error?.status == 431)
        let many = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        #expect(parseAll(many, limits: limits).error?.status == 431)
        let body = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
        #expect(parseAll(body, limits: limits).error?.status == 413)
        #expect(
            parseAll("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n").error?.status
                == 413)
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n"
        #expect(parseAll(chunked, limits: limits).error?.status == 413)
        #expect(
            parseAll("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n").error?
                .status == 413)
        let exact = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"
        #expect(parseAll(exact, limits: limits).requests.count == 1)
    }

    @Test func serializesResponsesExactly() {
        let response = HTTPResponse(
            status: 200, headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        #expect(
            String(decoding: response.serialized(), as: UTF8.self)
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        let closing = HTTPResponse(status: 204, closeConnection: true)
        #expect(
            String(decoding: closing.serialized(), as: UTF8.self)
                == "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let custom = HTTPResponse(status: 299, reason: "Fine")
        #expect(
            String(decoding: custom.serialized(), as: UTF8.self) == "HTTP/1.1 299 Fine\r\nContent-Length: 0\r\n\r\n")
        // Written in place, each is the same bytes.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1_024, alignment: 16)
        defer { buffer.deallocate() }
        let large = HTTPResponse(
            status: 503, headers: [("Retry-After", "1"), ("X-Request-ID", "gw0-1f")],
            body: Array(repeating: UInt8(ascii: "e"), count: 700), closeConnection: true)
        for answer in [response, closing, custom, large] {
            let count = answer.write(into: buffer)
            #expect(count == answer.serializedCount)
            #expect(Array(buffer[0..<count]) == answer.serialized())
        }
    }

    @Test func serializesParseErrors() {
        let error = HTTPParseError(status: 431, message: "more than 100 header fields")
        #expect(
            String(decoding: HTTPResponse.error(error).serialized(), as: UTF8.self)
                == "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: 28\r\nConnection: close\r\n\r\nmore than 100 header fields\n")
    }
}
