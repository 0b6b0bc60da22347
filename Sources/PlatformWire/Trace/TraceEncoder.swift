// Writes trace records into a growing byte buffer. It runs on a reactor thread for every machine input, so it
// only appends bytes: no allocation beyond the buffer's growth, no strings built, no I/O. Integers are LEB128
// varints; signed ones and deltas are zigzag-mapped first, so small negative numbers stay small too. A record is
// written through a pointer into a small stack scratch and appended to the buffer in one copy, rather than byte by
// byte (each `Array.append` checks uniqueness and capacity).

import PlatformCore

/// Appends the records of one trace; the id and time contexts carry over when the buffer is taken.
public struct TraceEncoder: Sendable {
    /// The encoded bytes not yet taken.
    public private(set) var bytes: [UInt8]
    var context = TraceDeltas()

    /// An encoder whose buffer starts with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The file's opening bytes: magic, format version and header.
    public static func header(_ header: TraceHeader) -> [UInt8] {
        var encoder = TraceEncoder(capacity: 64)
        encoder.bytes.append(contentsOf: TraceTag.magic)
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
            encoder.bytes.append(key.mayInfer ? 1 : 0)
        }
        return encoder.bytes
    }

    /// Hands out the bytes written so far and continues in `buffer` (emptied, its capacity kept).
    public mutating func take(replacingWith buffer: [UInt8]) -> [UInt8] {
        var next = buffer
        next.removeAll(keepingCapacity: true)
        // A fresh buffer gets the old one's room at once rather than growing by doubling while the reactor waits.
        if next.capacity < bytes.capacity { next.reserveCapacity(bytes.capacity) }
        swap(&next, &bytes)
        return next
    }

    /// Writes one input; `appendDigest` must follow before the next input.
    public mutating func append(_ input: TraceInput, now: Instant) { append(input, now: now, keys: nil) }

    /// Writes one input as `append(_:now:)` does, except that a gateway request's credential is written as the
    /// pseudonym of the key in `keys` it selects, or as `refused` when it selects none (so no secret is written).
    public mutating func append(_ input: TraceInput, now: Instant, keys: TraceKeys?) {
        var deltas = context
        var literal: Int?
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.recordMax) { scratch in
            var out = TraceScratch(scratch.baseAddress!, deltas)
            out.record(input, now: now, keys: keys)
            if out.count > 0 {
                bytes.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress, count: out.count))
            }
            deltas = out.deltas
            literal = out.literal
        }
        context = deltas
        if let literal, case .gateway(.request(let request)) = input {
            appendLiteral(request, length: literal, now: now)
        }
    }

    /// Writes a gateway request whose credential is the configured key at `keyIndex`, or `refused` when nil:
    /// the same bytes as `append(.gateway(.request(request)))` with the credential replaced by that key's
    /// pseudonym (or by `refused`), without building the pseudonym.
    public mutating func appendRequest(_ request: InferenceRequest, keyIndex: Int?, now: Instant) {
        var deltas = context
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.recordMax) { scratch in
            var out = TraceScratch(scratch.baseAddress!, deltas)
            out.request(request, keyIndex.map { .key(UInt64($0)) } ?? .refused, literal: 0, now: now)
            if out.count > 0 {
                bytes.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress, count: out.count))
            }
            deltas = out.deltas
        }
        context = deltas
    }

    /// A request whose credential is written as itself (no configured key or pseudonym): room for its length.
    mutating func appendLiteral(_ request: InferenceRequest, length: Int, now: Instant) {
        var deltas = context
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.recordMax + length) { scratch in
            var out = TraceScratch(scratch.baseAddress!, deltas)
            out.request(request, .literal, literal: length, now: now)
            if out.count > 0 {
                bytes.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress, count: out.count))
            }
            deltas = out.deltas
        }
        context = deltas
    }

    /// Closes the input just written with the low 16 bits of the running action digest.
    public mutating func appendDigest(_ digest: UInt64) {
        bytes.append(UInt8(truncatingIfNeeded: digest))
        bytes.append(UInt8(truncatingIfNeeded: digest >> 8))
    }

    /// `appendDigest`, returning how many bytes the buffer holds then (one call for a recorder's hot path).
    public mutating func appendDigestCounting(_ digest: UInt64) -> Int {
        appendDigest(digest)
        return bytes.count
    }

    /// The final record: how many inputs were recorded and the full digest after the last one.
    public mutating func appendEnd(inputs: UInt64, digest: UInt64) {
        bytes.append(TraceTag.end)
        varint(inputs)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: digest >> UInt64(shift))) }
    }

    /// The most bytes any record but a request with a literal credential takes: a tag, and at most eight 10-byte
    /// varints and flag bytes.
    static let recordMax = 128

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
        bytes.append(contentsOf: text.utf8)
    }

    mutating func signed(_ value: Int64) { varint(zigzag(value)) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    @inline(__always)
    func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
}

/// One record being written into stack memory the encoder owns for the call; it never writes past the capacity
/// the encoder reserved for the record (`TraceEncoder.recordMax`, plus a literal credential's length).
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

    /// One switch over every kind of input, its patterns reaching the leaves, so the input is not copied case by
    /// case on the way down.
    mutating func record(_ input: TraceInput, now: Instant, keys: TraceKeys?) {
        switch input {
        case .gateway(.request(let request)):
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
        case .gateway(.routerReplied(let reply)):
            begin(TraceTag.gatewayRouterReplied, now)
            requestID(reply.id)
            outcome(reply.outcome)
        case .gateway(.timerFired(let timer)):
            begin(TraceTag.gatewayTimer, now)
            deltas.gatewayTimer = timerID(timer, last: deltas.gatewayTimer)
        case .gateway(.limiterAnswered(let answer)):
            begin(TraceTag.gatewayLimiterAnswered, now)
            requestID(answer.id)
            switch answer.decision {
            case .granted: byte(0)
            case .denied(let retryAfter):
                byte(1)
                signed(retryAfter.nanoseconds)
            case .unavailable: byte(2)
            }
        case .gateway(.apiKeysChanged(let entries)):
            begin(TraceTag.gatewayAPIKeysChanged, now)
            signed(Int64(entries.count))
        case .gateway(.bearerKeysChanged): begin(TraceTag.gatewayBearerKeysChanged, now)
        case .router(.route(let route, let gateway)):
            begin(TraceTag.routerRoute, now)
            requestID(route.id)
            signed(Int64(route.model.value))
            signed(Int64(route.version))
            varint(route.stickyKey)
            signed(Int64(route.inputElements))
            signed(route.budget.nanoseconds)
            signed(Int64(gateway))
        case .router(.orchestratorReplied(let reply)):
            begin(TraceTag.routerOrchestratorReplied, now)
            requestID(reply.id)
            outcome(reply.outcome)
            byte(reply.preferredBackendFailed ? 1 : 0)
            signed(Int64(reply.attempts))
        case .router(.timerFired(let timer)):
            begin(TraceTag.routerTimer, now)
            deltas.routerTimer = timerID(timer, last: deltas.routerTimer)
        case .router(.canaryOverride(let override)):
            begin(TraceTag.routerCanaryOverride, now)
            canary(override)
        case .orchestrator(.execute(let request)):
            begin(TraceTag.orchestratorExecute, now)
            requestID(request.id)
            signed(Int64(request.model.value))
            signed(Int64(request.version))
            signed(Int64(request.preferredBackend.value))
            signed(Int64(request.inputElements))
            signed(request.budget.nanoseconds)
        case .orchestrator(.backendReplied(let reply)):
            begin(TraceTag.orchestratorBackendReplied, now)
            varint(TraceScratch.zigzag(Int64(bitPattern: reply.call.value &- deltas.call)))
            deltas.call = reply.call.value
            byte(reply.failure.map(TraceCodes.code) ?? 0)
        case .orchestrator(.timerFired(let timer)):
            begin(TraceTag.orchestratorTimer, now)
            deltas.orchestratorTimer = timerID(timer, last: deltas.orchestratorTimer)
        case .unreproducible(.apiKeysChanged(let count)):
            begin(TraceTag.gatewayAPIKeysChanged, now)
            signed(Int64(count))
        case .unreproducible(.bearerKeysChanged): begin(TraceTag.gatewayBearerKeysChanged, now)
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
