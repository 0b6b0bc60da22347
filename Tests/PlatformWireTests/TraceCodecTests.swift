// The trace codec: every input kind survives encoding and decoding with its `now` and digest, ids and timers with
// flag bits delta-encode both ways, and damaged bytes give a TraceError with an offset instead of a trap.

import PlatformCore
import Testing

@testable import PlatformWire

@Suite struct TraceCodecTests {
    static let header = TraceHeader(
        reactorIndex: 2, reactorCount: 4, rateLimitPerMinute: 6_000, rateLimitBurst: 50,
        requestTimeout: .milliseconds(1_500), backendCount: 3,
        keys: [
            Gateway.APIKey(credential: "key-0", name: "alpha"),
            Gateway.APIKey(credential: "key-1", name: "beta", mayInfer: false),
        ])

    /// One of every input kind, with ids that go up, down and carry timer flag bits.
    static let inputs: [TraceInput] = {
        let request = InferenceRequest(
            id: RequestID(2 << 48 | 7), credential: "key-1", model: ModelID(0), version: 1, stickyKey: .max,
            inputElements: 4, timeout: .milliseconds(250))
        let route = RouteRequest(
            id: RequestID(2 << 48 | 7), model: ModelID(0), version: 0, stickyKey: 9, inputElements: 4,
            budget: .milliseconds(995))
        let execute = ExecuteRequest(
            id: RequestID(2 << 48 | 3), model: ModelID(0), version: 1, preferredBackend: BackendID(2), inputElements: 8,
            budget: .milliseconds(990))
        return [
            .gateway(.request(request)),
            .gateway(
                .request(
                    InferenceRequest(id: RequestID(1), credential: "refused", model: ModelID(5), inputElements: -1))),
            .gateway(
                .request(
                    InferenceRequest(
                        id: RequestID(0), credential: "literal secret?", model: ModelID(0), inputElements: 1))),
            .gateway(
                .request(
                    InferenceRequest(id: RequestID(.max), credential: "key-012", model: ModelID(0), inputElements: 1))),
            .gateway(
                .routerReplied(RouteReply(id: RequestID(2 << 48 | 7), outcome: .ok(backend: BackendID(1), version: 1)))),
            .gateway(.routerReplied(RouteReply(id: RequestID(9), outcome: .failed(.timeout, retryAfter: .zero)))),
            .gateway(.timerFired(TimerID(1 << 62 | 12))),
            .gateway(.timerFired(TimerID(11))),
            .gateway(.timerFired(TimerID(.max))),
            .gateway(.limiterAnswered(LimitAnswer(id: RequestID(8), decision: .granted))),
            .gateway(.limiterAnswered(LimitAnswer(id: RequestID(8), decision: .denied(retryAfter: .seconds(3))))),
            .gateway(.limiterAnswered(LimitAnswer(id: RequestID(8), decision: .unavailable))),
            .unreproducible(.apiKeysChanged(count: 3)),
            .unreproducible(.bearerKeysChanged),
            .router(.route(route, fromGateway: 2)),
            .router(
                .orchestratorReplied(
                    ExecuteReply(
                        id: RequestID(4), outcome: .failed(.unavailable, retryAfter: .seconds(1)),
                        preferredBackendFailed: true, attempts: 3))),
            .router(.timerFired(TimerID(1 << 62))),
            .router(.timerFired(TimerID(2 << 48 | 7))),
            .router(.canaryOverride(.start(stable: 1, canary: 2))),
            .router(.canaryOverride(.observed(version: 2, success: false, latency: .microseconds(1_234)))),
            .router(.canaryOverride(.timerFired)),
            .router(.canaryOverride(.pause)),
            .router(.canaryOverride(.resume)),
            .router(.canaryOverride(.promote)),
            .router(.canaryOverride(.abort)),
            .orchestrator(.execute(execute)),
            .orchestrator(.backendReplied(BackendReply(call: CallID(3 << 8 | 1), failure: nil))),
            .orchestrator(.backendReplied(BackendReply(call: CallID(2 << 8 | 2), failure: .connectionFailed))),
            .orchestrator(.backendReplied(BackendReply(call: CallID(.max), failure: .notFound))),
            .orchestrator(.timerFired(TimerID(3 << 9 | 1 << 1 | 1))),
        ]
    }()

    /// The encoded trace of `inputs`, with `now` going forwards and once backwards, and its end record.
    static func encoded() -> [UInt8] {
        var encoder = TraceEncoder()
        var now = Instant(nanoseconds: 5_000_000_000)
        for (position, input) in inputs.enumerated() {
            now = now + (position == 7 ? .nanoseconds(-40) : .microseconds(Int64(position * 37)))
            encoder.append(input, now: now)
            encoder.appendDigest(UInt64(position) * 0x1_0001)
        }
        encoder.appendEnd(inputs: UInt64(inputs.count), digest: 0xDEAD_BEEF_0123_4567)
        return TraceEncoder.header(header) + encoder.bytes
    }

    @Test func everyInputKindRoundTrips() throws {
        var decoder = TraceDecoder(bytes: Self.encoded())
        #expect(try decoder.header() == Self.header)
        var now = Instant(nanoseconds: 5_000_000_000)
        for (position, input) in Self.inputs.enumerated() {
            now = now + (position == 7 ? .nanoseconds(-40) : .microseconds(Int64(position * 37)))
            guard case .input(let decoded, let decodedNow, let digest)? = try decoder.next() else {
                Issue.record("record \(position) missing")
                return
            }
            // The derived descriptions spell out every associated value, so equal text means equal inputs.
            #expect("\(decoded)" == "\(input)", "record \(position)")
            #expect(decoded.name == input.name)
            #expect(decodedNow == now)
            #expect(digest == UInt16(truncatingIfNeeded: UInt64(position) * 0x1_0001))
        }
        guard case .end(let count, let digest)? = try decoder.next() else {
            Issue.record("no end record")
            return
        }
        #expect(count == UInt64(Self.inputs.count))
        #expect(digest == 0xDEAD_BEEF_0123_4567)
        #expect(try decoder.next() == nil)
    }

    @Test func keyChangesAreMarkersOnly() throws {
        var encoder = TraceEncoder()
        encoder.append(.gateway(.apiKeysChanged([])), now: .zero)
        encoder.appendDigest(0)
        var decoder = TraceDecoder(bytes: TraceEncoder.header(Self.header) + encoder.bytes)
        _ = try decoder.header()
        guard case .input(.unreproducible(.apiKeysChanged(let count)), _, _)? = try decoder.next() else {
            Issue.record("expected an apiKeysChanged marker")
            return
        }
        #expect(count == 0)
    }

    @Test func pseudonymsAreRecognisedOnlyInCanonicalForm() {
        #expect(TraceCredential.index(of: "key-0") == 0)
        #expect(TraceCredential.index(of: "key-41") == 41)
        #expect(TraceCredential.index(of: "key-01") == nil)
        #expect(TraceCredential.index(of: "key-") == nil)
        #expect(TraceCredential.index(of: "key-4x") == nil)
        #expect(TraceCredential.index(of: "refused") == nil)
        #expect(TraceCredential.index(of: "key-1234567890") == nil)
    }

    /// The whole sample trace, pinned with the original byte-at-a-time encoder: the format must not move (re-pinned
    /// for format version 2, whose only change is the version varint).
    @Test func theEncodingIsPinned() {
        let bytes = Self.encoded()
        var hasher = StableHasher()
        for byte in bytes { hasher.combine(UInt64(byte)) }
        #expect(bytes.count == Self.pinnedCount, "new count: \(bytes.count)")
        #expect(hasher.value == Self.pinnedHash, "new value: 0x\(String(hasher.value, radix: 16))")
    }

    static let pinnedCount = 438
    static let pinnedHash: UInt64 = 0xDDF6_FEDA_F636_1321

    /// LEB128 as the format defines it, one byte at a time.
    static func reference(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
        return bytes
    }

    /// Values at both edges of every varint length (1 to 10 bytes), and zigzagged signed ones.
    @Test func varintsOfEveryLengthMatchTheFormat() throws {
        var values: [UInt64] = [0, 1, .max, .max - 1]
        for bits in 1..<64 {
            let edge = UInt64(1) << UInt64(bits)
            values += [edge - 1, edge, edge + 1, edge | 0x5555_5555_5555_5555 & (edge - 1)]
        }
        for value in values {
            var encoder = TraceEncoder()
            encoder.appendDigest(0xAB)
            encoder.varint(value)
            #expect(encoder.bytes == [0xAB, 0] + Self.reference(value), "\(value)")
            var decoder = TraceDecoder(bytes: Array(encoder.bytes.dropFirst(2)))
            #expect(try decoder.varint() == value)
        }
        for value in values.map({ Int64(bitPattern: $0) }) {
            var encoder = TraceEncoder()
            encoder.signed(value)
            #expect(encoder.bytes == Self.reference(UInt64(bitPattern: (value << 1) ^ (value >> 63))), "\(value)")
        }
    }

    /// A recorder's ways of writing a request (key index given, or credentials resolved by `TraceKeys`) give the
    /// bytes of the request with its credential replaced by the pseudonym, or by `refused`.
    @Test func requestsWithResolvedKeysMatchPseudonyms() {
        let keys = TraceKeys(credentials: ["secret-a", "secret-b", "secret-a"])
        #expect(keys.index(of: "secret-a") == 2)
        #expect(keys.index(of: "secret-b") == 1)
        #expect(keys.index(of: "secret-c") == nil)
        let many = TraceKeys(credentials: (0..<20).map { "secret-\($0 % 15)" })
        #expect(many.index(of: "secret-3") == 18)
        #expect(many.index(of: "secret-14") == 14)
        #expect(many.index(of: "secret-15") == nil)
        for (credential, expected) in [("secret-a", "key-2"), ("secret-b", "key-1"), ("other", "refused")] {
            let request = InferenceRequest(
                id: RequestID(3 << 48 | 9), credential: credential, model: ModelID(1), version: 2, stickyKey: 77,
                inputElements: 4, timeout: .milliseconds(300))
            var pseudonymised = request
            pseudonymised.credential = expected
            var reference = TraceEncoder()
            reference.append(.gateway(.request(pseudonymised)), now: Instant(nanoseconds: 12_345_678))
            var resolved = TraceEncoder()
            resolved.append(.gateway(.request(request)), now: Instant(nanoseconds: 12_345_678), keys: keys)
            var indexed = TraceEncoder()
            indexed.appendRequest(
                request, keyIndex: keys.index(of: credential), now: Instant(nanoseconds: 12_345_678))
            #expect(resolved.bytes == reference.bytes, "\(credential)")
            #expect(indexed.bytes == reference.bytes, "\(credential)")
        }
    }

    /// Credentials written as themselves, of any length (empty, longer than a record's usual room), round-trip.
    @Test func literalCredentialsOfAnyLengthRoundTrip() throws {
        let credentials = ["", "x", String(repeating: "long secret ", count: 40)]
        var encoder = TraceEncoder()
        for (position, credential) in credentials.enumerated() {
            let request = InferenceRequest(
                id: RequestID(UInt64(position)), credential: credential, model: ModelID(0), inputElements: 1)
            encoder.append(.gateway(.request(request)), now: Instant(nanoseconds: Int64(position)))
            encoder.appendDigest(0)
        }
        var decoder = TraceDecoder(bytes: TraceEncoder.header(Self.header) + encoder.bytes)
        _ = try decoder.header()
        for credential in credentials {
            guard case .input(.gateway(.request(let request)), _, _)? = try decoder.next() else {
                Issue.record("expected a request")
                return
            }
            #expect(request.credential == credential)
        }
        #expect(try decoder.next() == nil)
    }

    @Test func everyTruncationIsATypedErrorWithinTheFile() {
        let bytes = Self.encoded()
        for length in 0..<bytes.count {
            var decoder = TraceDecoder(bytes: Array(bytes[0..<length]))
            do {
                _ = try decoder.header()
                while try decoder.next() != nil {}
                // Cut exactly between records: a clean end of bytes, which replay reports as "no end record".
            } catch {
                #expect(error.offset >= 0 && error.offset <= length, "\(error)")
            }
        }
    }

    /// A trace of another format version (version 1 folded its action hash differently) is refused by name,
    /// not replayed into a false divergence.
    @Test func otherFormatVersionsAreRefusedByName() {
        var bytes = TraceEncoder.header(Self.header)
        #expect(bytes[TraceTag.magic.count] == 2)
        bytes[TraceTag.magic.count] = 1
        var decoder = TraceDecoder(bytes: bytes)
        do {
            _ = try decoder.header()
            Issue.record("a version 1 trace was read")
        } catch {
            #expect(error.description.contains("trace format version 1 (this build reads version 2)"), "\(error)")
        }
    }

    @Test func damagedBytesAreTypedErrors() throws {
        let headerBytes = TraceEncoder.header(Self.header)
        var decoder = TraceDecoder(bytes: headerBytes + [0x77, 0])
        _ = try decoder.header()
        #expect(throws: TraceError(offset: headerBytes.count, "unknown record tag 119")) { try decoder.next() }

        var notATrace = TraceDecoder(bytes: Array("GET / HTTP/1.1".utf8))
        #expect(throws: TraceError.self) { try notATrace.header() }

        let tooLong = headerBytes + [TraceTag.gatewayTimer] + Array(repeating: 0xFF, count: 11)
        var overlong = TraceDecoder(bytes: tooLong)
        _ = try overlong.header()
        #expect(throws: TraceError(offset: headerBytes.count + 1, "integer longer than 64 bits")) {
            try overlong.next()
        }

        var afterEnd = TraceEncoder()
        afterEnd.appendEnd(inputs: 0, digest: 0)
        var trailing = TraceDecoder(bytes: headerBytes + afterEnd.bytes + [1])
        _ = try trailing.header()
        _ = try trailing.next()
        #expect(throws: TraceError.self) { try trailing.next() }
    }
}
