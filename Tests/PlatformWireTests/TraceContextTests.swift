// traceparent comes from any client: every malformed form the W3C spec names must be refused (so we start a fresh
// trace rather than join a bogus one), later versions read as the spec says, and what we send is always version 00.

import Testing

@testable import PlatformWire

@Suite struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func parsesAndFormatsVersion00() throws {
        let context = try #require(TraceContext(traceparent: TraceContextTests.valid))
        #expect(context.traceIDHigh == 0x4bf9_2f35_77b3_4da6)
        #expect(context.traceIDLow == 0xa3ce_929d_0e0e_4736)
        #expect(context.parentID == 0x00f0_67aa_0ba9_02b7)
        #expect(context.flags == 1)
        #expect(context.sampled)
        #expect(context.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.parentIDHex == "00f067aa0ba902b7")
        #expect(context.traceparent == TraceContextTests.valid)
        let unsampled = try #require(
            TraceContext(traceparent: "00-0000000000000000000000000000000a-0000000000000001-00"))
        #expect(!unsampled.sampled)
        #expect(unsampled.traceparent == "00-0000000000000000000000000000000a-0000000000000001-00")
        // Flags this version does not define yet are carried through unchanged.
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?.flags == 3)
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",  // short
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 has nothing after the flags
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
        "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // a later version still needs a dash after flags
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // and at least 55 characters
    ])
    func refusesMalformed(_ header: String) {
        #expect(TraceContext(traceparent: header) == nil, "accepted \(header)")
    }

    @Test func readsLaterVersionsAsFarAsVersion00Goes() throws {
        let exact = try #require(TraceContext(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(exact.traceparent == TraceContextTests.valid)
        let longer = try #require(
            TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-ever"))
        // Only `sampled` survives a later version's flags; the result is sent on as version 00.
        #expect(longer.flags == 1)
        #expect(longer.traceparent == TraceContextTests.valid)
    }

    @Test func childKeepsTheTraceAndTakesTheNewSpan() throws {
        let parent = try #require(TraceContext(traceparent: TraceContextTests.valid))
        let child = parent.child(spanIDBytes: [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03])
        #expect(child.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-deadbeef00010203-01")
        #expect(parent.child(spanIDBytes: Array(repeating: 0, count: 8)).parentID == 1)
    }

    @Test func rootStartsANewTrace() {
        let root = TraceContext.root(
            traceIDBytes: Array(1...16), spanIDBytes: [0, 0, 0, 0, 0, 0, 0, 0xff], sampled: true)
        #expect(root.traceparent == "00-0102030405060708090a0b0c0d0e0f10-00000000000000ff-01")
        let zero = TraceContext.root(
            traceIDBytes: Array(repeating: 0, count: 16), spanIDBytes: Array(repeating: 0, count: 8), sampled: false)
        #expect(zero.traceparent == "00-00000000000000000000000000000001-0000000000000001-00")
        #expect(TraceContext(traceparent: root.traceparent) == root)
    }

    /// The header written in place matches the plain formatting, digit for digit, and reads back as the same context.
    @Test func formatsEveryNibbleLikeThePlainFormatting() throws {
        func plain(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: digits - text.count) + text
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
        for round in 0..<500 {
            // Every fourth id has its high half cleared, so leading zeros are covered too.
            let high = round % 4 == 0 ? next() >> 40 : next()
            let context = TraceContext(
                traceIDHigh: high, traceIDLow: next() | 1, parentID: next() | 1,
                flags: UInt8(truncatingIfNeeded: next()))
            let expected =
                "00-" + plain(context.traceIDHigh, 16) + plain(context.traceIDLow, 16) + "-"
                + plain(context.parentID, 16) + "-" + plain(UInt64(context.flags), 2)
            #expect(context.traceparent == expected)
            #expect(context.traceparent.utf8.count == 55)
            #expect(context.traceIDHex == plain(context.traceIDHigh, 16) + plain(context.traceIDLow, 16))
            #expect(context.parentIDHex == plain(context.parentID, 16))
            #expect(TraceContext(traceparent: context.traceparent) == context)
        }
    }

    @Test func requestIDsArePrintableAndBounded() {
        #expect(RequestIDHeader.sanitized("abc-123") == "abc-123")
        #expect(RequestIDHeader.sanitized("a b~!") == "a b~!")
        #expect(RequestIDHeader.sanitized(String(repeating: "x", count: 128))?.count == 128)
        #expect(RequestIDHeader.sanitized(String(repeating: "x", count: 129)) == nil)
        #expect(RequestIDHeader.sanitized("") == nil)
        #expect(RequestIDHeader.sanitized(" lead") == nil)
        #expect(RequestIDHeader.sanitized("trail ") == nil)
        #expect(RequestIDHeader.sanitized("new\nline") == nil)
        #expect(RequestIDHeader.sanitized("tab\there") == nil)
        #expect(RequestIDHeader.sanitized("del\u{7F}") == nil)
        #expect(RequestIDHeader.sanitized("café") == nil)
        #expect(RequestIDHeader.sanitized(" ") == nil)
        #expect(RequestIDHeader.sanitized("~") == "~")
        // A bridged or substring-made id takes the same rules as a native one.
        let long = "0123456789abcdef0123456789abcdef-tail"
        #expect(RequestIDHeader.sanitized(String(long.dropLast(5))) == "0123456789abcdef0123456789abcdef")
    }

    /// A response or request carrying a context writes the same field a header list with its `traceparent`
    /// string would, byte for byte, and counts it in its length.
    @Test func aContextIsWrittenAsTheFieldItsStringWouldBe() throws {
        let context = try #require(TraceContext(traceparent: TraceContextTests.valid))
        let body = Array("{}".utf8)
        let withContext = HTTPResponse(status: 200, headers: [("X-Request-ID", "r1")], body: body, trace: context)
        let withString = HTTPResponse(
            status: 200, headers: [("X-Request-ID", "r1"), ("traceparent", TraceContextTests.valid)], body: body)
        #expect(withContext.serialized() == withString.serialized())
        #expect(withContext.serializedCount == withString.serializedCount)

        let writer = HTTPRequestWriter(host: "127.0.0.1:8000")
        let line = HTTPRequestWriter.RequestLine(method: "POST", target: "/v2/models/m/infer")
        let length = writer.length(line: line, bodyCount: body.count, field: nil, trace: context)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 1)
        defer { buffer.deallocate() }
        let written = writer.write(line: line, body: body, field: nil, trace: context, into: buffer)
        let expected = writer.serialized(
            method: "POST", target: "/v2/models/m/infer", body: body,
            extra: [("traceparent", TraceContextTests.valid)])
        #expect(written == length)
        #expect(Array(buffer[0..<written]) == expected)
    }

    /// The eight-at-a-time hex writer gives what the standard library's radix conversion gives, zero-padded.
    @Test func sixteenHexDigitsMatchTheRadixConversion() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var values: [UInt64] = [0, 1, 9, 10, 15, 16, 0xFF, 0xA0A0_A0A0_0909_0909, .max, 1 << 63]
        for _ in 0..<1_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(state)
        }
        for value in values {
            let written = String(unsafeUninitializedCapacity: 16) { buffer in
                writeHex16(value, to: buffer.baseAddress!)
                return 16
            }
            let text = String(value, radix: 16)
            #expect(written == String(repeating: "0", count: 16 - text.count) + text)
        }
    }
}
