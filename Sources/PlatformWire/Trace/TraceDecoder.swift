// Reads a trace written by TraceEncoder. A trace may be cut off (the process died) or damaged, so every read
// is bounds-checked and every enum code validated: bad bytes give a TraceError naming the offset of the record
// or field, never a trap. Arithmetic on decoded values wraps, because a damaged delta must not overflow.

import PlatformCore

/// Reads the header, then one record at a time.
public struct TraceDecoder: Sendable {
    let bytes: [UInt8]
    /// Where the next read starts.
    public private(set) var offset = 0
    var context = TraceDeltas()
    var ended = false
    /// Where the last record read began, for errors about it as a whole.
    public private(set) var recordStart = 0

    /// The longest string a header holds (key names and pseudonyms are short).
    static let stringLengthMax = 4_096
    /// More keys than any configuration holds means the count is damaged.
    static let keysMax = 100_000

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Reads the magic, the format version and the header; call once, first.
    public mutating func header() throws(TraceError) -> TraceHeader {
        guard bytes.count >= TraceTag.magic.count, Array(bytes[0..<TraceTag.magic.count]) == TraceTag.magic else {
            throw TraceError(offset: 0, "not a trace file (it does not start with \"AIPTRACE\")")
        }
        offset = TraceTag.magic.count
        let versionOffset = offset
        let version = try varint()
        guard version == TraceTag.version else {
            throw TraceError(
                offset: versionOffset,
                "trace format version \(version) (this build reads version \(TraceTag.version))")
        }
        let reactorIndex = try int()
        let reactorCount = try int()
        let rate = try signed()
        let burst = try signed()
        let timeout = try signed()
        let backendCount = try int()
        let countOffset = offset
        let keyCount = try varint()
        guard keyCount <= UInt64(Self.keysMax) else {
            throw TraceError(offset: countOffset, "header claims \(keyCount) keys")
        }
        var keys: [Gateway.APIKey] = []
        for _ in 0..<Int(keyCount) {
            let credential = try string()
            let name = try string()
            let mayInfer = try flag()
            keys.append(Gateway.APIKey(credential: credential, name: name, mayInfer: mayInfer))
        }
        return TraceHeader(
            reactorIndex: reactorIndex, reactorCount: reactorCount, rateLimitPerMinute: rate, rateLimitBurst: burst,
            requestTimeout: .nanoseconds(timeout), backendCount: backendCount, keys: keys)
    }

    /// The next record, or nil at the end of the bytes.
    public mutating func next() throws(TraceError) -> TraceRecord? {
        guard offset < bytes.count else { return nil }
        recordStart = offset
        guard !ended else { throw TraceError(offset: offset, "bytes after the end record") }
        let tag = bytes[offset]
        offset += 1
        if tag == TraceTag.end {
            ended = true
            let inputs = try varint()
            var digest: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 8) { digest |= UInt64(try byte()) << UInt64(shift) }
            return .end(inputs: inputs, digest: digest)
        }
        let now = context.now &+ (try signed())
        context.now = now
        let input = try input(tag)
        let low = try byte()
        let high = try byte()
        return .input(input, now: Instant(nanoseconds: now), digest: UInt16(low) | UInt16(high) << 8)
    }

    mutating func input(_ tag: UInt8) throws(TraceError) -> TraceInput {
        switch tag {
        case TraceTag.gatewayRequest:
            let id = try requestID()
            let credential = try credential()
            let request = InferenceRequest(
                id: id, credential: credential, model: ModelID(try int()), version: try int(), stickyKey: try varint(),
                inputElements: try int(), timeout: .nanoseconds(try signed()))
            return .gateway(.request(request))
        case TraceTag.gatewayRouterReplied:
            return .gateway(.routerReplied(RouteReply(id: try requestID(), outcome: try outcome())))
        case TraceTag.gatewayTimer:
            let (timer, low) = try timerID(last: context.gatewayTimer)
            context.gatewayTimer = low
            return .gateway(.timerFired(timer))
        case TraceTag.gatewayLimiterAnswered:
            let id = try requestID()
            let decision: LimitDecision
            switch try byte() {
            case 0: decision = .granted
            case 1: decision = .denied(retryAfter: .nanoseconds(try signed()))
            case 2: decision = .unavailable
            case let other: throw TraceError(offset: offset - 1, "unknown limiter decision \(other)")
            }
            return .gateway(.limiterAnswered(LimitAnswer(id: id, decision: decision)))
        case TraceTag.gatewayAPIKeysChanged: return .unreproducible(.apiKeysChanged(count: try int()))
        case TraceTag.gatewayBearerKeysChanged: return .unreproducible(.bearerKeysChanged)
        case TraceTag.routerRoute:
            let route = RouteRequest(
                id: try requestID(), model: ModelID(try int()), version: try int(), stickyKey: try varint(),
                inputElements: try int(), budget: .nanoseconds(try signed()))
            return .router(.route(route, fromGateway: try int()))
        case TraceTag.routerOrchestratorReplied:
            let reply = ExecuteReply(
                id: try requestID(), outcome: try outcome(), preferredBackendFailed: try flag(), attempts: try int())
            return .router(.orchestratorReplied(reply))
        case TraceTag.routerTimer:
            let (timer, low) = try timerID(last: context.routerTimer)
            context.routerTimer = low
            return .router(.timerFired(timer))
        case TraceTag.routerCanaryOverride: return .router(.canaryOverride(try canary()))
        case TraceTag.orchestratorExecute:
            let request = ExecuteRequest(
                id: try requestID(), model: ModelID(try int()), version: try int(),
                preferredBackend: BackendID(try int()), inputElements: try int(), budget: .nanoseconds(try signed()))
            return .orchestrator(.execute(request))
        case TraceTag.orchestratorBackendReplied:
            let call = context.call &+ UInt64(bitPattern: try signed())
            context.call = call
            let code = try byte()
            guard code == 0 || TraceCodes.failure(code) != nil else {
                throw TraceError(offset: offset - 1, "unknown backend failure code \(code)")
            }
            return .orchestrator(.backendReplied(BackendReply(call: CallID(call), failure: TraceCodes.failure(code))))
        case TraceTag.orchestratorTimer:
            let (timer, low) = try timerID(last: context.orchestratorTimer)
            context.orchestratorTimer = low
            return .orchestrator(.timerFired(timer))
        default: throw TraceError(offset: recordStart, "unknown record tag \(tag)")
        }
    }

    mutating func canary() throws(TraceError) -> CanaryController.Input {
        switch try byte() {
        case 0: return .start(stable: try int(), canary: try int())
        case 1: return .observed(version: try int(), success: try flag(), latency: .nanoseconds(try signed()))
        case 2: return .timerFired
        case 3: return .pause
        case 4: return .resume
        case 5: return .promote
        case 6: return .abort
        case let other: throw TraceError(offset: offset - 1, "unknown canary override \(other)")
        }
    }

    mutating func outcome() throws(TraceError) -> InferenceOutcome {
        let code = try byte()
        if code == 0 { return .ok(backend: BackendID(try int()), version: try int()) }
        guard let kind = ErrorKind(rawValue: code &- 1) else {
            throw TraceError(offset: offset - 1, "unknown outcome code \(code)")
        }
        return .failed(kind, retryAfter: .nanoseconds(try signed()))
    }

    mutating func requestID() throws(TraceError) -> RequestID {
        let id = context.request &+ UInt64(bitPattern: try signed())
        context.request = id
        return RequestID(id)
    }

    /// The timer and the machine's new previous timer (see `TraceEncoder.timerID`).
    mutating func timerID(last: UInt64) throws(TraceError) -> (TimerID, UInt64) {
        let word = try varint()
        let flags = word & 3
        let delta = Int64(bitPattern: TraceDecoder.unzigzag(word >> 2))
        let low = (last &+ UInt64(bitPattern: delta)) & TraceDeltas.timerLowMask
        return (TimerID(flags << 62 | low), low)
    }

    mutating func credential() throws(TraceError) -> String {
        let start = offset
        switch try varint() {
        case 0: return try string()
        case 1: return TraceCredential.refused
        case let slot:
            guard slot - 2 < 1_000_000_000 else {
                throw TraceError(offset: start, "key pseudonym \(slot) out of range")
            }
            return TraceCredential.pseudonym(Int(slot - 2))
        }
    }

    mutating func string() throws(TraceError) -> String {
        let start = offset
        let length = try varint()
        guard length <= UInt64(Self.stringLengthMax) else {
            throw TraceError(offset: start, "string of \(length) bytes (at most \(Self.stringLengthMax))")
        }
        guard bytes.count - offset >= Int(length) else {
            throw TraceError(offset: start, "string runs past the end of the file (truncated)")
        }
        let text = String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
        offset += Int(length)
        return text
    }

    mutating func flag() throws(TraceError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        case let other: throw TraceError(offset: offset - 1, "expected 0 or 1, found \(other)")
        }
    }

    mutating func byte() throws(TraceError) -> UInt8 {
        guard offset < bytes.count else {
            throw TraceError(offset: recordStart, "cut off at the end of the file (truncated)")
        }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func int() throws(TraceError) -> Int { Int(truncatingIfNeeded: try signed()) }

    mutating func signed() throws(TraceError) -> Int64 { Int64(bitPattern: TraceDecoder.unzigzag(try varint())) }

    mutating func varint() throws(TraceError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            if shift == 63 && next > 1 { throw TraceError(offset: start, "integer longer than 64 bits") }
            value |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return value }
            shift += 7
        }
    }

    static func unzigzag(_ value: UInt64) -> UInt64 { (value >> 1) ^ (0 &- (value & 1)) }
}
