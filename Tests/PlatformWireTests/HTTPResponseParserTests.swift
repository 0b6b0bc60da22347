// The client's HTTP/1.1 response parser reads a backend's bytes in whatever pieces the network delivers: the same
// responses must come out however they are split, bodies must be framed by the request method and status as RFC
// 9112 section 6.3 says, every refusal must say what was wrong, and the request writer's bytes are checked
// exactly and against the server's own parser.

import Testing

@testable import PlatformWire

/// The outcome of feeding a connection's bytes: every response, then the error if one was thrown.
private struct Outcome: Equatable {
    var responses: [HTTPClientResponse] = []
    var error: HTTPResponseParseError?
}

private func drain(_ parser: inout HTTPResponseParser, into outcome: inout Outcome) {
    guard outcome.error == nil else { return }
    do {
        while let response = try parser.next() { outcome.responses.append(response) }
    } catch {
        outcome.error = error
    }
}

/// Feeds `bytes` in two pieces split at `split` (nil: one piece), then the close if asked, draining after each.
private func parse(
    _ bytes: [UInt8], methods: [String], split: Int? = nil, close: Bool = false,
    limits: HTTPResponseLimits = HTTPResponseLimits()
) -> (outcome: Outcome, parser: HTTPResponseParser) {
    var parser = HTTPResponseParser(limits: limits)
    for method in methods { parser.expect(method: method) }
    var outcome = Outcome()
    let split = split ?? bytes.count
    parser.feed(bytes[..<split])
    drain(&parser, into: &outcome)
    parser.feed(bytes[split...])
    drain(&parser, into: &outcome)
    if close {
        parser.connectionClosed()
        drain(&parser, into: &outcome)
    }
    return (outcome, parser)
}

private func parse(
    _ text: String, methods: [String] = ["GET"], close: Bool = false, limits: HTTPResponseLimits = HTTPResponseLimits()
) -> Outcome {
    parse(Array(text.utf8), methods: methods, close: close, limits: limits).outcome
}

private let jsonBody = String(repeating: "{\"k\":\"0123456789\"}", count: 10) + "01234567890123456789"

private let typicalResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n"
    + "Date: Sun, 29 Nov 2026 10:00:00 GMT\r\nServer: triton\r\n\r\n" + jsonBody

/// Responses of every framing, pipelined on one connection, the last running until close.
private let mixedConnection: (text: String, methods: [String]) = (
    typicalResponse
        + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        + "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5;name=value\r\nhello\r\n6 ; ext\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        + "HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n"
        + "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        + "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n{\"error\":\"boom\"}",
    ["POST", "POST", "HEAD", "GET", "GET", "DELETE", "POST"]
)

@Suite struct HTTPResponseParserTests {
    @Test func parsesATypicalJSONResponse() throws {
        var parser = HTTPResponseParser()
        #expect(parser.phase == .idle)
        parser.expect(method: "POST")
        #expect(parser.pendingCount == 1)
        parser.feed(Array(typicalResponse.utf8))
        let response = try #require(try parser.next())
        #expect(response.version == .http11)
        #expect(response.status == 200)
        #expect(response.reason == "OK")
        #expect(response.headers.map(\.name) == ["Content-Type", "Content-Length", "Date", "Server"])
        #expect(response.header("content-type") == "application/json")
        #expect(response.body == Array(jsonBody.utf8))
        #expect(response.keepAlive)
        #expect(parser.pendingCount == 0)
        #expect(parser.phase == .idle)
        #expect(try parser.next() == nil)
    }

    @Test func mixedConnectionParses() {
        let (outcome, parser) = parse(
            Array(mixedConnection.text.utf8), methods: mixedConnection.methods, close: true)
        #expect(outcome.error == nil)
        #expect(outcome.responses.map(\.status) == [200, 201, 200, 204, 304, 200, 500])
        #expect(outcome.responses[1].body == Array("hello world".utf8))
        #expect(outcome.responses[1].header("X-Checksum") == nil)
        #expect(outcome.responses[2].body.isEmpty)
        #expect(outcome.responses[6].body == Array("{\"error\":\"boom\"}".utf8))
        #expect(outcome.responses.map(\.keepAlive) == [true, true, true, true, true, true, false])
        #expect(parser.phase == .closed)
        #expect(parser.pendingCount == 0)
    }

    @Test func everySplitGivesTheSameResult() {
        let bytes = Array(mixedConnection.text.utf8)
        let whole = parse(bytes, methods: mixedConnection.methods, close: true).outcome
        for split in 0...bytes.count {
            let pieces = parse(bytes, methods: mixedConnection.methods, split: split, close: true).outcome
            #expect(pieces == whole, "split at \(split)")
        }
    }

    @Test func byteByByteGivesTheSameResult() {
        let bytes = Array(mixedConnection.text.utf8)
        var parser = HTTPResponseParser()
        for method in mixedConnection.methods { parser.expect(method: method) }
        var outcome = Outcome()
        for byte in bytes {
            parser.feed([byte])
            drain(&parser, into: &outcome)
        }
        parser.connectionClosed()
        drain(&parser, into: &outcome)
        #expect(outcome == parse(bytes, methods: mixedConnection.methods, close: true).outcome)
    }

    @Test func reportsPhasesAsBytesArrive() throws {
        var parser = HTTPResponseParser()
        parser.expect(method: "GET")
        parser.feed(Array("HTTP/1.1 200 OK\r\nContent-".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.phase == .head)
        parser.feed(Array("Length: 4\r\n\r\nab".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.phase == .body)
        parser.feed(Array("cd".utf8))
        #expect(try parser.next()?.body == Array("abcd".utf8))
        #expect(parser.phase == .idle)
    }

    @Test func pipelinedResponsesComeOutInOrder() throws {
        var parser = HTTPResponseParser()
        for _ in 0..<3 { parser.expect(method: "POST") }
        parser.feed(
            Array(
                ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 429 Too Many Requests\r\nContent-Length: 1\r\n"
                    + "\r\nbHTTP/1.1 200 OK\r\nContent-Len").utf8))
        #expect(try parser.next()?.body == [UInt8(ascii: "a")])
        #expect(try parser.next()?.status == 429)
        #expect(parser.pendingCount == 1)
        #expect(try parser.next() == nil)
        parser.feed(Array("gth: 1\r\n\r\nc".utf8))
        #expect(try parser.next()?.body == [UInt8(ascii: "c")])
        #expect(parser.pendingCount == 0)
    }

    @Test func headAnd204And304HaveNoBodyWhateverTheirHeadersSay() {
        let text =
            "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let outcome = parse(text, methods: ["HEAD", "GET", "GET", "GET"])
        #expect(outcome.error == nil)
        #expect(outcome.responses.map(\.status) == [200, 204, 304, 200])
        #expect(outcome.responses.map(\.body.count) == [0, 0, 0, 2])
        // The same 200 to a GET waits for its 50 bytes.
        let get = parse("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", methods: ["GET"])
        #expect(get.responses.isEmpty && get.error == nil)
    }

    @Test func interimResponsesAreSkippedAnd101IsRefused() {
        let outcome = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(outcome.responses.map(\.status) == [200])
        let upgrade = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
        #expect(upgrade.error == .malformed("101 Switching Protocols without an upgrade request"))
        let cut = parse("HTTP/1.1 100 Continue\r\n\r\n", close: true)
        #expect(cut.error == .truncated("connection closed after an interim (1xx) response"))
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "a;a=1;b=\"x\"\r\n0123456789\r\n1\t;ext\r\n!\r\n0;last\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n"
        let outcome = parse(text)
        #expect(outcome.error == nil)
        #expect(outcome.responses.first?.body == Array("0123456789!".utf8))
        #expect(outcome.responses.first?.headers.map(\.name) == ["Transfer-Encoding"])
        #expect(outcome.responses.first?.keepAlive == true)
    }

    @Test func closeDelimitedBodiesEndAtTheClose() throws {
        var parser = HTTPResponseParser()
        parser.expect(method: "GET")
        parser.feed(Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome ".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.phase == .body)
        parser.feed(Array("text".utf8))
        #expect(try parser.next() == nil)
        parser.connectionClosed()
        let response = try #require(try parser.next())
        #expect(response.body == Array("some text".utf8))
        #expect(!response.keepAlive)
        #expect(parser.phase == .closed)
        // HTTP/1.1 without a length runs to the close as well, keep-alive or not.
        let eleven = parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nxyz", close: true)
        #expect(eleven.responses.map(\.body) == [Array("xyz".utf8)])
        #expect(eleven.responses.map(\.keepAlive) == [false])
    }

    @Test(arguments: [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            HTTPResponseParseError.truncated("connection closed 7 bytes short of a 10-byte Content-Length body")
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            .truncated("connection closed inside a chunked body")
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab",
            .truncated("connection closed inside a chunked body")
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
            .truncated("connection closed inside a chunked body")
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n",
            .truncated("connection closed inside the trailers of a chunked body")
        ),
        ("HTTP/1.1 200 OK\r\nContent-Le", .truncated("connection closed inside a header block")),
        ("HTTP/1.1 20", .truncated("connection closed inside a status line")),
        ("", HTTPResponseParseError(.closedBeforeResponse, "connection closed before a response arrived (1 awaited)")),
    ])
    func closeCutsAResponseShort(_ text: String, _ error: HTTPResponseParseError) {
        let outcome = parse(text, close: true)
        #expect(outcome.responses.isEmpty)
        #expect(outcome.error == error, "\(text.debugDescription)")
    }

    @Test func closeBetweenResponsesIsClean() throws {
        var parser = HTTPResponseParser()
        parser.connectionClosed()
        #expect(try parser.next() == nil)
        #expect(parser.phase == .closed)
    }

    @Test func bytesWithNoRequestSentAreRefused() {
        let outcome = parse("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n", methods: [])
        #expect(
            outcome.error
                == HTTPResponseParseError(.unsolicited, "bytes arrived with no request sent (the first is \"H\")"))
        let extra = parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab")
        #expect(extra.responses.count == 1)
        #expect(extra.error?.kind == .unsolicited)
    }

    @Test(arguments: [
        // Framing ambiguities, which on a pooled connection would hand one caller another's answer.
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Content-Length and Transfer-Encoding"
        ),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "differing Content-Length values"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd", "differing Content-Length values"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length \"-1\" is not a decimal number"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n\r\n", "Content-Length \"3,\" is not a decimal number"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer-coding \"gzip\" is not supported"),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Transfer-Encoding does not name chunked exactly once"
        ),
        ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 response"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", "chunk size \"z\" is not hexadecimal"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\n", "chunk size \"3x\" is not hexadecimal"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;\u{1}\r\n", "chunk extension has a control byte"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", "chunk data not followed by CRLF"),
        // Line and field syntax.
        ("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "line ends in a bare LF"),
        ("HTTP/1.1 200 OK\r\nA: 1\rB: 2\r\n\r\n", "bare CR inside a line"),
        (
            "HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n",
            "obsolete line folding (a header line starting with whitespace)"
        ),
        ("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "header line \"NoColon\" has no colon"),
        ("HTTP/1.1 200 OK\r\nA B: 1\r\n\r\n", "header name \"A B\" is not a token"),
        ("HTTP/1.1 200 OK\r\nA: x\u{7F}\r\n\r\n", "header \"A\" has control byte \"\\x7F\" in its value"),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n",
            "header line \"Bad Trailer\" has no colon"
        ),
        // Status line.
        ("HTTP/1.1 20 OK\r\n\r\n", "status line \"HTTP/1.1 20 OK\" is not 'HTTP/d.d SP 3-digit-status SP reason'"),
        ("HTTP/1.1  200 OK\r\n\r\n", "status line \"HTTP/1.1  200 OK\" is not 'HTTP/d.d SP 3-digit-status SP reason'"),
        ("HTTP/1.1 200OK\r\n\r\n", "status line \"HTTP/1.1 200OK\" is not 'HTTP/d.d SP 3-digit-status SP reason'"),
        ("http/1.1 200 OK\r\n\r\n", "status line \"http/1.1 200 OK\" is not 'HTTP/d.d SP 3-digit-status SP reason'"),
        ("HTTP/2.0 200 OK\r\n\r\n", "protocol version \"HTTP/2.0\" is not supported"),
        ("HTTP/1.1 600 Odd\r\n\r\n", "status code 600 is not in 100...599"),
        ("HTTP/1.1 099 Odd\r\n\r\n", "status code 99 is not in 100...599"),
        ("HTTP/1.1 200 O\u{1}K\r\n\r\n", "reason phrase has control byte \"\\x01\""),
    ])
    func refusesMalformedResponses(_ text: String, _ message: String) {
        let outcome = parse(text)
        #expect(outcome.responses.isEmpty, "\(text.debugDescription)")
        #expect(outcome.error == .malformed(message), "\(text.debugDescription)")
    }

    @Test func acceptsAnEmptyReasonWithOrWithoutItsSpace() {
        let outcome = parse(
            "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 \r\nContent-Length: 0\r\n\r\n",
            methods: ["GET", "GET"])
        #expect(outcome.error == nil)
        #expect(outcome.responses.map(\.reason) == ["", ""])
        #expect(outcome.responses.map(\.status) == [200, 202])
    }

    @Test(arguments: [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n", false),
        ("HTTP/1.1", "Connection: keep-alive\r\n", true),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
        ("HTTP/1.0", "Connection: keep-alive, close\r\n", false),
        ("HTTP/1.0", "Connection: x\r\nConnection: keep-alive\r\n", true),
    ])
    func keepAliveRules(_ version: String, _ connection: String, _ keepAlive: Bool) {
        let outcome = parse("\(version) 200 OK\r\n\(connection)Content-Length: 0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.responses.first?.keepAlive == keepAlive)
    }

    @Test func stopsAfterAResponseThatClosesTheConnection() {
        let text =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        let (outcome, parser) = parse(Array(text.utf8), methods: ["GET", "GET"])
        #expect(outcome.error == nil)
        #expect(outcome.responses.map(\.status) == [503])
        #expect(parser.phase == .closed)
        // The second request was never answered: the shell retries or fails it.
        #expect(parser.pendingCount == 1)
    }

    @Test func failsForGoodAfterAnError() {
        var parser = HTTPResponseParser()
        parser.expect(method: "GET")
        parser.feed(Array("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n".utf8))
        #expect(throws: HTTPResponseParseError.malformed("line ends in a bare LF")) { try parser.next() }
        #expect(parser.phase == .failed)
        parser.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))
        #expect(throws: HTTPResponseParseError.malformed("line ends in a bare LF")) { try parser.next() }
    }

    /// Lines repeated from earlier responses on the connection (taken without parsing them again) give exactly
    /// what a fresh parser gives for each response alone, wherever a line changes, moves, or breaks a limit.
    @Test(arguments: [
        [
            typicalResponse, typicalResponse,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX: 1\r\n\r\n{}",
            "HTTP/1.1 100 Continue\r\nContent-Type: application/json\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ],
        [
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        ],
        [
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ],
        [
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        ],
        [
            "HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\nB: \(String(repeating: "b", count: 80))\r\n\r\n",
        ],
        [
            "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\nC: 3\r\nD: 4\r\n\r\n",
        ],
    ])
    func repeatedLinesGiveWhatAFreshParserGives(_ responses: [String]) {
        var small = HTTPResponseLimits()
        small.headerBytesMax = 64 + 30
        small.headerCountMax = 4
        for (limits, split) in [(HTTPResponseLimits(), nil), (HTTPResponseLimits(), 7), (small, nil), (small, 7)]
            as [(HTTPResponseLimits, Int?)]
        {
            var parser = HTTPResponseParser(limits: limits)
            for text in responses {
                parser.expect(method: "POST")
                let bytes = Array(text.utf8)
                let cut = min(split ?? bytes.count, bytes.count)
                var got = Outcome()
                parser.feed(bytes[..<cut])
                drain(&parser, into: &got)
                parser.feed(bytes[cut...])
                drain(&parser, into: &got)
                let alone = parse(bytes, methods: ["POST"], limits: limits).outcome
                #expect(got == alone)
                #expect(got.responses.map(\.headers.count) == alone.responses.map(\.headers.count))
                if got.error != nil || got.responses.last?.keepAlive == false { break }
            }
        }
    }

    @Test func enforcesLimitsAsBytesArrive() {
        var limits = HTTPResponseLimits()
        limits.statusLineBytesMax = 32
        limits.headerBytesMax = 64
        limits.headerCountMax = 3
        limits.bodyBytesMax = 10
        limits.chunkLineBytesMax = 16
        let long = String(repeating: "a", count: 40)
        let tooLarge = { (message: String) in HTTPResponseParseError(.tooLarge, message) }
        // Refused before the line ends, so a backend cannot make the buffer grow without bound.
        #expect(parse("HTTP/1.1 200 \(long)", limits: limits).error == tooLarge("status line longer than 32 bytes"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nX: \(long)\(long)", limits: limits).error
                == tooLarge("header block larger than 64 bytes"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits: limits).error
                == tooLarge("more than 3 header fields"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", limits: limits).error
                == tooLarge("Content-Length \"11\" exceeds 10 bytes"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n").error?.kind == .tooLarge)
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n"
        #expect(parse(chunked, limits: limits).error == tooLarge("chunked body larger than 10 bytes"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n").error?.kind
                == .tooLarge)
        #expect(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;\(long)", limits: limits).error
                == .malformed("chunk size line longer than 16 bytes"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \(long)\(long)", limits: limits)
                .error == tooLarge("trailers larger than 64 bytes"))
        #expect(
            parse("HTTP/1.0 200 OK\r\n\r\n0123456789A", limits: limits).error == tooLarge("body larger than 10 bytes"))
        // Exactly at the limits is fine.
        let exact = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)
        #expect(exact.responses.count == 1 && exact.error == nil)
        let closeExact = parse("HTTP/1.0 200 OK\r\n\r\n0123456789", close: true, limits: limits)
        #expect(closeExact.responses.first?.body.count == 10)
    }

    @Test func headResponsesMayAnnounceLengthsBeyondTheBodyLimit() {
        var limits = HTTPResponseLimits()
        limits.bodyBytesMax = 10
        let outcome = parse("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", methods: ["HEAD"], limits: limits)
        #expect(outcome.error == nil)
        #expect(outcome.responses.count == 1)
    }
}

@Suite struct HTTPRequestWriterTests {
    @Test func serializesARequestExactly() {
        let request = HTTPRequest(
            method: "POST", target: "/v2/models/m/infer",
            headers: [("Host", "triton:8000"), ("Content-Type", "application/json")], body: Array("{}".utf8))
        #expect(
            String(decoding: request.serialized(), as: UTF8.self)
                == "POST /v2/models/m/infer HTTP/1.1\r\nHost: triton:8000\r\nContent-Type: application/json\r\n"
                + "Content-Length: 2\r\n\r\n{}")
        let get = HTTPRequest(method: "GET", target: "/v2/health/ready", headers: [("Host", "t")], keepAlive: false)
        #expect(
            String(decoding: get.serialized(), as: UTF8.self)
                == "GET /v2/health/ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let old = HTTPRequest(method: "GET", target: "/", version: .http10)
        #expect(String(decoding: old.serialized(), as: UTF8.self) == "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let emptyPost = HTTPRequest(method: "POST", target: "/x", headers: [("Host", "t")])
        #expect(
            String(decoding: emptyPost.serialized(), as: UTF8.self)
                == "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func writerWritesExtraFieldsAndLengthsExactly() {
        let writer = HTTPRequestWriter(host: "h:1")
        let extra: [(name: String, value: String)] = [("traceparent", "00-abc-01"), ("X-Empty", "")]
        let body = Array(repeating: UInt8(ascii: "y"), count: 10_000)
        let expected =
            Array("PUT /a?b=c HTTP/1.1\r\nHost: h:1\r\ntraceparent: 00-abc-01\r\nX-Empty: \r\n".utf8)
            + Array("Content-Length: 10000\r\nConnection: close\r\n\r\n".utf8) + body
        #expect(
            writer.serialized(method: "PUT", target: "/a?b=c", body: body, keepAlive: false, extra: extra) == expected)
        var bytes: [UInt8] = [7]
        writer.append(method: "PUT", target: "/a?b=c", body: body, keepAlive: false, extra: extra, to: &bytes)
        #expect(bytes == [7] + expected)
        #expect(
            writer.serialized(method: "GET", target: "/") == Array("GET / HTTP/1.1\r\nHost: h:1\r\n\r\n".utf8))
    }

    /// The in-place writer (a checked request line, at most one extra field) writes exactly the bytes `serialized`
    /// makes, for every combination of method, body, field and keep-alive.
    @Test func inPlaceWritesMatchTheSerializer() {
        let writer = HTTPRequestWriter(host: "triton:8000", headers: [("Content-Type", "application/json")])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4_096, alignment: 16)
        defer { buffer.deallocate() }
        let bodies = [Array("{\"inputs\":[]}".utf8), [], Array(repeating: UInt8(ascii: "z"), count: 1_000)]
        let fields: [(name: String, value: String)?] = [nil, ("traceparent", "00-abc-01"), ("X-Empty", "")]
        for method in ["POST", "GET", "PUT"] {
            let line = HTTPRequestWriter.RequestLine(method: method, target: "/v2/models/m/versions/2/infer")
            for body in bodies {
                for field in fields {
                    for keepAlive in [true, false] {
                        let expected = writer.serialized(
                            method: method, target: line.target, body: body, keepAlive: keepAlive,
                            extra: field.map { [$0] } ?? [])
                        let byLine = writer.write(
                            line: line, body: body, keepAlive: keepAlive, field: field, into: buffer)
                        #expect(Array(buffer[0..<byLine]) == expected, "\(method) \(body.count) \(keepAlive)")
                        #expect(
                            writer.length(line: line, bodyCount: body.count, keepAlive: keepAlive, field: field)
                                == expected.count)
                    }
                }
            }
        }
    }

    @Test func writerMatchesTheRequestSerializerAndTheServerParser() throws {
        let fixed: [(name: String, value: String)] = [("Content-Type", "application/json"), ("User-Agent", "ai/1")]
        let writer = HTTPRequestWriter(host: "triton:8000", headers: fixed)
        var bytes: [UInt8] = []
        let bodies = [Array("{\"inputs\":[]}".utf8), [], Array(repeating: UInt8(ascii: "x"), count: 1234)]
        for (index, body) in bodies.enumerated() {
            writer.append(method: "POST", target: "/v2/models/m\(index)/infer", body: body, to: &bytes)
        }
        let expected = bodies.enumerated().flatMap { index, body in
            HTTPRequest(
                method: "POST", target: "/v2/models/m\(index)/infer", headers: [("Host", "triton:8000")] + fixed,
                body: body
            ).serialized()
        }
        #expect(bytes == expected)
        var parser = HTTPRequestParser()
        parser.feed(bytes)
        var parsed: [HTTPRequest] = []
        while let request = try parser.next() { parsed.append(request) }
        #expect(parsed.map(\.target) == ["/v2/models/m0/infer", "/v2/models/m1/infer", "/v2/models/m2/infer"])
        #expect(parsed.map(\.body) == bodies)
        #expect(parsed.allSatisfy { $0.keepAlive && $0.header("host") == "triton:8000" })
        let closing = writer.serialized(method: "GET", target: "/v2/health/live", keepAlive: false)
        #expect(
            String(decoding: closing, as: UTF8.self)
                == "GET /v2/health/live HTTP/1.1\r\nHost: triton:8000\r\nContent-Type: application/json\r\n"
                + "User-Agent: ai/1\r\nConnection: close\r\n\r\n")
    }
}
