// Writes trace records into a growing byte buffer. It runs on a reactor thread for every machine input, so it
// only appends bytes: no allocation beyond the buffer's growth, no strings built, no I/O. Integers are LEB128
// varints; signed ones and deltas are zigzag-mapped first, so small negative numbers stay small too.

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
    public mutating func append(_ input: TraceInput, now: Instant) {
        switch input {
        case .gateway(let gatewayInput): append(gatewayInput, now: now)
        case .router(let routerInput): append(routerInput, now: now)
        case .orchestrator(let orchestratorInput): append(orchestratorInput, now: now)
        case .unreproducible(.apiKeysChanged(let count)):
            begin(TraceTag.gatewayAPIKeysChanged, now)
            signed(Int64(count))
        case .unreproducible(.bearerKeysChanged): begin(TraceTag.gatewayBearerKeysChanged, now)
        }
    }

    /// Closes the input just written with the low 16 bits of the running action digest.
    public mutating func appendDigest(_ digest: UInt64) {
        bytes.append(UInt8(truncatingIfNeeded: digest))
        bytes.append(UInt8(truncatingIfNeeded: digest >> 8))
    }

    /// The final record: how many inputs were recorded and the full digest after the last one.
    public mutating func appendEnd(inputs: UInt64, digest: UInt64) {
        bytes.append(TraceTag.end)
        varint(inputs)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: digest >> UInt64(shift))) }
    }

    mutating func append(_ input: Gateway.Input, now: Instant) {
        switch input {
        case .request(let request):
            begin(TraceTag.gatewayRequest, now)
            requestID(request.id)
            credential(request.credential)
            signed(Int64(request.model.value))
            signed(Int64(request.version))
            varint(request.stickyKey)
            signed(Int64(request.inputElements))
            signed(request.timeout.nanoseconds)
        case .routerReplied(let reply):
            begin(TraceTag.gatewayRouterReplied, now)
            requestID(reply.id)
            outcome(reply.outcome)
        case .timerFired(let timer):
            begin(TraceTag.gatewayTimer, now)
            context.gatewayTimer = timerID(timer, last: context.gatewayTimer)
        case .limiterAnswered(let answer):
            begin(TraceTag.gatewayLimiterAnswered, now)
            requestID(answer.id)
            switch answer.decision {
            case .granted: bytes.append(0)
            case .denied(let retryAfter):
                bytes.append(1)
                signed(retryAfter.nanoseconds)
            case .unavailable: bytes.append(2)
            }
        case .apiKeysChanged(let entries):
            begin(TraceTag.gatewayAPIKeysChanged, now)
            signed(Int64(entries.count))
        case .bearerKeysChanged: begin(TraceTag.gatewayBearerKeysChanged, now)
        }
    }

    mutating func append(_ input: Router.Input, now: Instant) {
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
            bytes.append(reply.preferredBackendFailed ? 1 : 0)
            signed(Int64(reply.attempts))
        case .timerFired(let timer):
            begin(TraceTag.routerTimer, now)
            context.routerTimer = timerID(timer, last: context.routerTimer)
        case .canaryOverride(let override):
            begin(TraceTag.routerCanaryOverride, now)
            canary(override)
        }
    }

    mutating func append(_ input: Orchestrator.Input, now: Instant) {
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
            varint(zigzag(Int64(bitPattern: reply.call.value &- context.call)))
            context.call = reply.call.value
            bytes.append(reply.failure.map(TraceCodes.code) ?? 0)
        case .timerFired(let timer):
            begin(TraceTag.orchestratorTimer, now)
            context.orchestratorTimer = timerID(timer, last: context.orchestratorTimer)
        }
    }

    mutating func canary(_ input: CanaryController.Input) {
        switch input {
        case .start(let stable, let canary):
            bytes.append(0)
            signed(Int64(stable))
            signed(Int64(canary))
        case .observed(let version, let success, let latency):
            bytes.append(1)
            signed(Int64(version))
            bytes.append(success ? 1 : 0)
            signed(latency.nanoseconds)
        case .timerFired: bytes.append(2)
        case .pause: bytes.append(3)
        case .resume: bytes.append(4)
        case .promote: bytes.append(5)
        case .abort: bytes.append(6)
        }
    }

    mutating func begin(_ tag: UInt8, _ now: Instant) {
        bytes.append(tag)
        varint(zigzag(now.nanoseconds &- context.now))
        context.now = now.nanoseconds
    }

    mutating func requestID(_ id: RequestID) {
        varint(zigzag(Int64(bitPattern: id.value &- context.request)))
        context.request = id.value
    }

    /// Timer ids keep flags in their top two bits (limiter and canary timers): the low 62 bits are delta-encoded
    /// against the machine's previous timer, within 62 bits, and the flags ride in the low two bits of the varint.
    /// Returns the new previous timer of the machine.
    mutating func timerID(_ timer: TimerID, last: UInt64) -> UInt64 {
        let low = timer.value & TraceDeltas.timerLowMask
        let delta = TraceDeltas.signExtend62((low &- last) & TraceDeltas.timerLowMask)
        varint(zigzag(delta) << 2 | timer.value >> 62)
        return low
    }

    mutating func outcome(_ outcome: InferenceOutcome) {
        switch outcome {
        case .ok(let backend, let version):
            bytes.append(0)
            signed(Int64(backend.value))
            signed(Int64(version))
        case .failed(let kind, let retryAfter):
            bytes.append(kind.rawValue &+ 1)
            signed(retryAfter.nanoseconds)
        }
    }

    mutating func credential(_ credential: String) {
        if credential == TraceCredential.refused {
            varint(1)
        } else if let index = TraceCredential.index(of: credential) {
            varint(UInt64(index) + 2)
        } else {
            varint(0)
            string(credential)
        }
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

    func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
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
