// Writes trace records into a byte buffer. It runs on a reactor thread for every machine input, so it only writes
// bytes: no allocation beyond the buffer's growth, no strings built, no I/O. Integers are LEB128 varints; signed
// ones and deltas are zigzag-mapped first, so small negative numbers stay small too. The buffer is kept at its full
// size (the bytes past `count` are room, not trace), so a record is written in place through one pointer, with one
// room check per record, rather than byte by byte (each `Array.append` checks uniqueness and capacity) or through
// a scratch copied in afterwards.

import PlatformCore

/// Appends the records of one trace; the id and time contexts carry over when the buffer is taken.
public struct TraceEncoder: Sendable {
    /// `storage[0..<count]` are the encoded bytes not yet taken; the rest is room for the next records.
    var storage: [UInt8]
    /// How many bytes are encoded and not yet taken.
    public private(set) var count = 0
    var context = TraceDeltas()

    /// An encoder whose buffer starts with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        storage = Array(repeating: 0, count: max(capacity, Self.recordRoom))
    }

    /// The encoded bytes not yet taken (a copy: for tests and cold paths).
    public var bytes: [UInt8] { Array(storage[0..<count]) }

    /// The file's opening bytes: magic, format version and header.
    public static func header(_ header: TraceHeader) -> [UInt8] {
        var encoder = TraceEncoder(capacity: 64)
        for byte in TraceTag.magic { encoder.byte(byte) }
        encoder.varint(TraceTag.version)
        encoder.signed(Int64(header.reactorIndex))
        encoder.signed(Int64(header.reactorCount))
        encoder.signed(header.rateLimitPerMinute)
        encoder.signed(header.rateLimitBurst)
        encoder.signed(header.requestTimeout.nanoseconds)
        encoder.signed(Int64(header.backendCount))
        encoder.varint(UInt64(header.keys.count))
        for key in header.keys {
            encoder.string(key.credential)
            encoder.string(key.name)
            encoder.byte(key.mayInfer ? 1 : 0)
        }
        return encoder.bytes
    }

    /// Hands out the bytes written so far (exactly those) and continues in `buffer`, whose contents are
    /// discarded and which is brought to this buffer's size at once, rather than growing while the reactor waits.
    public mutating func take(replacingWith buffer: [UInt8]) -> [UInt8] {
        var next = buffer
        if next.count < storage.count { next.append(contentsOf: repeatElement(0, count: storage.count - next.count)) }
        swap(&next, &storage)
        next.removeSubrange(count...)
        count = 0
        return next
    }

    /// Writes one input; `appendDigest` must follow before the next input.
    public mutating func append(_ input: TraceInput, now: Instant) { append(input, now: now, keys: nil) }

    /// Writes one input as `append(_:now:)` does, except that a gateway request's credential is written as the
    /// pseudonym of the key in `keys` it selects, or as `refused` when it selects none (so no secret is written).
    public mutating func append(_ input: TraceInput, now: Instant, keys: TraceKeys?) {
        if case .gateway(let input) = input { return append(input, now: now, keys: keys) }
        write(room: Self.recordRoom) { $0.record(input, now: now, keys: keys) }
    }

    /// Writes one gateway input as `append(.gateway(input), now:, keys:)` does, without wrapping it first.
    public mutating func append(_ input: Gateway.Input, now: Instant, keys: TraceKeys?) {
        if let literal = write(room: Self.recordRoom, { $0.gateway(input, now: now, keys: keys) }),
            case .request(let request) = input
        {
            write(room: Self.recordRoom + literal) { $0.request(request, .literal, literal: literal, now: now) }
        }
    }

    /// Writes one router input as `append(.router(input), now:)` does.
    public mutating func append(_ input: Router.Input, now: Instant) {
        write(room: Self.recordRoom) { $0.router(input, now: now) }
    }

    /// Writes one orchestrator input as `append(.orchestrator(input), now:)` does.
    public mutating func append(_ input: Orchestrator.Input, now: Instant) {
        write(room: Self.recordRoom) { $0.orchestrator(input, now: now) }
    }

    /// Writes a gateway request whose credential is the configured key at `keyIndex`, or `refused` when nil:
    /// the same bytes as `append(.gateway(.request(request)))` with the credential replaced by that key's
    /// pseudonym (or by `refused`), without building the pseudonym.
    public mutating func appendRequest(_ request: InferenceRequest, keyIndex: Int?, now: Instant) {
        write(room: Self.recordRoom) {
            $0.request(request, keyIndex.map { .key(UInt64($0)) } ?? .refused, literal: 0, now: now)
        }
    }

    /// Writes one record in place at the end of the buffer, after making `room` bytes of room there; returns the
    /// length of a literal credential the record asked room for instead of writing itself (see `TraceScratch`).
    @inline(__always) @discardableResult
    mutating func write(room: Int, _ body: (inout TraceScratch) -> Void) -> Int? {
        if count &+ room > storage.count { grow(room: room) }
        let start = count
        let deltas = context
        let (written, after, literal) = storage.withUnsafeMutableBufferPointer { buffer in
            var out = TraceScratch(buffer.baseAddress! + start, deltas)
            body(&out)
            return (out.count, out.deltas, out.literal)
        }
        count = start &+ written
        context = after
        return literal
    }

    /// At least doubles the buffer, so growth is rare and its cost spread thin.
    mutating func grow(room: Int) {
        let size = max(storage.count * 2, count + room)
        storage.append(contentsOf: repeatElement(0, count: size - storage.count))
    }

    /// One byte at the end, for the cold paths (header, digest, end record).
    @inline(__always)
    mutating func byte(_ value: UInt8) {
        if count == storage.count { grow(room: 1) }
        storage[count] = value
        count &+= 1
    }

    /// Closes the input just written with the low 16 bits of the running action digest.
    public mutating func appendDigest(_ digest: UInt64) {
        if count &+ 2 > storage.count { grow(room: 2) }
        storage[count] = UInt8(truncatingIfNeeded: digest)
        storage[count &+ 1] = UInt8(truncatingIfNeeded: digest >> 8)
        count &+= 2
    }

    /// `appendDigest`, returning how many bytes the buffer holds then (one call for a recorder's hot path).
    public mutating func appendDigestCounting(_ digest: UInt64) -> Int {
        appendDigest(digest)
        return count
    }

    /// The final record: how many inputs were recorded and the full digest after the last one.
    public mutating func appendEnd(inputs: UInt64, digest: UInt64) {
        byte(TraceTag.end)
        varint(inputs)
        for shift in stride(from: 0, to: 64, by: 8) { byte(UInt8(truncatingIfNeeded: digest >> UInt64(shift))) }
    }

    /// The most bytes any record but a request with a literal credential takes: a tag, and at most eight 10-byte
    /// varints and flag bytes.
    static let recordMax = 128
    /// The room made before each record: a record, and the digest that closes its input.
    static let recordRoom = recordMax + 2

    /// How a request's credential is written: `refused`, a configured key's index, or the literal text.
    enum CredentialCode {
        case refused
        case key(UInt64)
        case literal
    }

    static func credentialCode(_ credential: String) -> CredentialCode {
        if credential == TraceCredential.refused { return .refused }
        if let index = TraceCredential.index(of: credential) { return .key(UInt64(index)) }
        return .literal
    }

    mutating func string(_ text: String) {
        varint(UInt64(text.utf8.count))
        for unit in text.utf8 { byte(unit) }
    }

    mutating func signed(_ value: Int64) { varint(zigzag(value)) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            byte(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        byte(UInt8(rest))
    }

    @inline(__always)
    func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
}

/// One record being written in place into the encoder's buffer; it never writes past the room the encoder made for
/// the record (`TraceEncoder.recordMax`, plus a literal credential's length).
struct TraceScratch {
    let base: UnsafeMutablePointer<UInt8>
    var count = 0
    var deltas: TraceDeltas
    /// Set, with nothing written, when a request's credential must be written as itself: the caller makes room
    /// for this many more bytes (possibly none: an empty credential) and writes the record again.
    var literal: Int?

    @inline(__always) init(_ base: UnsafeMutablePointer<UInt8>, _ deltas: TraceDeltas) {
        self.base = base
        self.deltas = deltas
    }

    @inline(__always) static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    @inline(__always) mutating func byte(_ value: UInt8) {
        base[count] = value
        count &+= 1
    }

    /// LEB128; most values (small deltas, tags, flags) take the one-byte branch.
    @inline(__always) mutating func varint(_ value: UInt64) {
        if value < 0x80 { return byte(UInt8(truncatingIfNeeded: value)) }
        longVarint(value)
    }

    mutating func longVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: rest) | 0x80
            count &+= 1
            rest >>= 7
        }
        byte(UInt8(truncatingIfNeeded: rest))
    }

    @inline(__always) mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
}

/// The configured credentials a recorder writes as pseudonyms, resolved as the gateway resolves them (a later key
/// with the same credential wins), so a pseudonym names the key the gateway will pick.
public struct TraceKeys: Sendable {
    let indexByCredential: [String: Int]
    /// The same table as a list when it is short: comparing a few strings is cheaper than hashing one.
    let list: [(credential: String, index: Int)]?
    static let listMax = 8

    public init(credentials: [String]) {
        var index: [String: Int] = [:]
        var list: [(credential: String, index: Int)] = []
        for (position, credential) in credentials.enumerated() {
            if index.updateValue(position, forKey: credential) == nil {
                list.append((credential, position))
            } else if let entry = list.firstIndex(where: { $0.credential == credential }) {
                list[entry].index = position
            }
        }
        indexByCredential = index
        self.list = list.count <= Self.listMax ? list : nil
    }

    /// The index of the configured key `credential` selects, if any.
    public func index(of credential: String) -> Int? {
        guard let list else { return indexByCredential[credential] }
        for entry in list where entry.credential == credential { return entry.index }
        return nil
    }
}

/// The running values deltas are taken against; encoder and decoder keep identical copies.
struct TraceDeltas: Sendable {
    var now: Int64 = 0
    var request: UInt64 = 0
    var call: UInt64 = 0
    var gatewayTimer: UInt64 = 0
    var routerTimer: UInt64 = 0
    var orchestratorTimer: UInt64 = 0

    static let timerLowMask: UInt64 = (1 << 62) - 1

    /// Reads a 62-bit two's complement value as an Int64.
    static func signExtend62(_ value: UInt64) -> Int64 { Int64(bitPattern: value << 2) >> 2 }
}

/// Codes of the small enums a trace carries, fixed here rather than taken from declaration order.
enum TraceCodes {
    static func code(_ failure: RetryPolicy.Failure) -> UInt8 {
        switch failure {
        case .timeout: 1
        case .connectionFailed: 2
        case .unavailable: 3
        case .overloaded: 4
        case .serverError: 5
        case .badRequest: 6
        case .notFound: 7
        }
    }

    static func failure(_ code: UInt8) -> RetryPolicy.Failure? {
        switch code {
        case 1: .timeout
        case 2: .connectionFailed
        case 3: .unavailable
        case 4: .overloaded
        case 5: .serverError
        case 6: .badRequest
        case 7: .notFound
        default: nil
        }
    }
}

/// The records themselves, field by field (the layout is in TraceFormat.swift).
extension TraceScratch {
    mutating func request(
        _ request: InferenceRequest, _ credential: TraceEncoder.CredentialCode, literal: Int, now: Instant
    ) {
        begin(TraceTag.gatewayRequest, now)
        requestID(request.id)
        switch credential {
        case .refused: byte(1)
        case .key(let index): varint(index &+ 2)
        case .literal:
            byte(0)
            varint(UInt64(literal))
            for unit in request.credential.utf8 { byte(unit) }
        }
        signed(Int64(request.model.value))
        signed(Int64(request.version))
        varint(request.stickyKey)
        signed(Int64(request.inputElements))
        signed(request.timeout.nanoseconds)
    }

    mutating func record(_ input: TraceInput, now: Instant, keys: TraceKeys?) {
        switch input {
        case .gateway(let input): gateway(input, now: now, keys: keys)
        case .router(let input): router(input, now: now)
        case .orchestrator(let input): orchestrator(input, now: now)
        case .unreproducible(.apiKeysChanged(let count)):
            begin(TraceTag.gatewayAPIKeysChanged, now)
            signed(Int64(count))
        case .unreproducible(.bearerKeysChanged): begin(TraceTag.gatewayBearerKeysChanged, now)
        }
    }

    @inline(__always)
    mutating func gateway(_ input: Gateway.Input, now: Instant, keys: TraceKeys?) {
        switch input {
        case .request(let request):
            let code: TraceEncoder.CredentialCode
            if let keys {
                code = keys.index(of: request.credential).map { .key(UInt64($0)) } ?? .refused
            } else {
                code = TraceEncoder.credentialCode(request.credential)
            }
            if case .literal = code {
                literal = request.credential.utf8.count
                return
            }
            self.request(request, code, literal: 0, now: now)
        case .routerReplied(let reply):
            begin(TraceTag.gatewayRouterReplied, now)
            requestID(reply.id)
            outcome(reply.outcome)
        case .timerFired(let timer):
            begin(TraceTag.gatewayTimer, now)
            deltas.gatewayTimer = timerID(timer, last: deltas.gatewayTimer)
        case .limiterAnswered(let answer):
            begin(TraceTag.gatewayLimiterAnswered, now)
            requestID(answer.id)
            switch answer.decision {
            case .granted: byte(0)
            case .denied(let retryAfter):
                byte(1)
                signed(retryAfter.nanoseconds)
            case .unavailable: byte(2)
            }
        case .apiKeysChanged(let entries):
            begin(TraceTag.gatewayAPIKeysChanged, now)
            signed(Int64(entries.count))
        case .bearerKeysChanged: begin(TraceTag.gatewayBearerKeysChanged, now)
        }
    }

    @inline(__always)
    mutating func router(_ input: Router.Input, now: Instant) {
        switch input {
        case .route(let route, let gateway):
            begin(TraceTag.routerRoute, now)
            requestID(route.id)
            signed(Int64(route.model.value))
            signed(Int64(route.version))
            varint(route.stickyKey)
            signed(Int64(route.inputElements))
            signed(route.budget.nanoseconds)
            signed(Int64(gateway))
        case .orchestratorReplied(let reply):
            begin(TraceTag.routerOrchestratorReplied, now)
            requestID(reply.id)
            outcome(reply.outcome)
            byte(reply.preferredBackendFailed ? 1 : 0)
            signed(Int64(reply.attempts))
        case .timerFired(let timer):
            begin(TraceTag.routerTimer, now)
            deltas.routerTimer = timerID(timer, last: deltas.routerTimer)
        case .canaryOverride(let override):
            begin(TraceTag.routerCanaryOverride, now)
            canary(override)
        }
    }

    @inline(__always)
    mutating func orchestrator(_ input: Orchestrator.Input, now: Instant) {
        switch input {
        case .execute(let request):
            begin(TraceTag.orchestratorExecute, now)
            requestID(request.id)
            signed(Int64(request.model.value))
            signed(Int64(request.version))
            signed(Int64(request.preferredBackend.value))
            signed(Int64(request.inputElements))
            signed(request.budget.nanoseconds)
        case .backendReplied(let reply):
            begin(TraceTag.orchestratorBackendReplied, now)
            varint(TraceScratch.zigzag(Int64(bitPattern: reply.call.value &- deltas.call)))
            deltas.call = reply.call.value
            byte(reply.failure.map(TraceCodes.code) ?? 0)
        case .timerFired(let timer):
            begin(TraceTag.orchestratorTimer, now)
            deltas.orchestratorTimer = timerID(timer, last: deltas.orchestratorTimer)
        }
    }

    mutating func canary(_ input: CanaryController.Input) {
        switch input {
        case .start(let stable, let canary):
            byte(0)
            signed(Int64(stable))
            signed(Int64(canary))
        case .observed(let version, let success, let latency):
            byte(1)
            signed(Int64(version))
            byte(success ? 1 : 0)
            signed(latency.nanoseconds)
        case .timerFired: byte(2)
        case .pause: byte(3)
        case .resume: byte(4)
        case .promote: byte(5)
        case .abort: byte(6)
        }
    }

    @inline(__always)
    mutating func begin(_ tag: UInt8, _ now: Instant) {
        byte(tag)
        varint(TraceScratch.zigzag(now.nanoseconds &- deltas.now))
        deltas.now = now.nanoseconds
    }

    @inline(__always)
    mutating func requestID(_ id: RequestID) {
        varint(TraceScratch.zigzag(Int64(bitPattern: id.value &- deltas.request)))
        deltas.request = id.value
    }

    /// Timer ids keep flags in their top two bits (limiter and canary timers): the low 62 bits are delta-encoded
    /// against the machine's previous timer, within 62 bits, and the flags ride in the low two bits of the varint.
    /// Returns the new previous timer of the machine.
    mutating func timerID(_ timer: TimerID, last: UInt64) -> UInt64 {
        let low = timer.value & TraceDeltas.timerLowMask
        let delta = TraceDeltas.signExtend62((low &- last) & TraceDeltas.timerLowMask)
        varint(TraceScratch.zigzag(delta) << 2 | timer.value >> 62)
        return low
    }

    mutating func outcome(_ outcome: InferenceOutcome) {
        switch outcome {
        case .ok(let backend, let version):
            byte(0)
            signed(Int64(backend.value))
            signed(Int64(version))
        case .failed(let kind, let retryAfter):
            byte(kind.rawValue &+ 1)
            signed(retryAfter.nanoseconds)
        }
    }
}
