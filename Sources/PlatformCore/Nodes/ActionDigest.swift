// A running, process-independent digest of what the gateway, router and orchestrator of one host decided: every
// action of every input, in order. A recorded run stores it after each input and a replay recomputes it, so two
// runs agree exactly when every machine asked for the same things in the same order. It hashes integers only (ids,
// enum codes and nanoseconds) with its own fixed mixing, never Swift's per-process seeded `Hasher`.
//
// The fold runs on a reactor thread for every input a recording host handles, so a word costs one multiply: each
// step `state = (state ^ word) * K`, then `state ^= state >> 29`, is a bijection of the state for a fixed word and
// of the word for a fixed state, so two histories that differ in one word always end in different states. The
// full avalanche (`StableHasher.mix`) is paid once per reading of `value`.

/// Folds the actions of each handled input into one 64-bit value.
public struct ActionDigest: Sendable, Hashable {
    var hasher = DigestState(state: 0x5EED_AC71_0D16_E570)
    /// Inputs folded so far.
    public private(set) var inputs: UInt64 = 0

    public init() {}

    /// The digest of every input folded so far.
    public var value: UInt64 { hasher.value }

    /// Folds the gateway's actions for one input.
    public mutating func fold(_ actions: [Gateway.Action]) {
        begin(machine: 1, count: actions.count)
        for action in actions {
            switch action {
            case .forward(let route): combine(tag: 1, route)
            case .respond(let response):
                hasher.combine(2)
                hasher.combine(response.id.value)
                combine(response.outcome)
            case .checkLimit(let check):
                hasher.combine(3)
                hasher.combine(check.id.value)
                hasher.combine(check.keyIndex)
                hasher.combine(check.cost)
                // Only a check carrying a key's own limit hashes it, so every other check digests as before.
                if let own = check.ownLimit {
                    hasher.combine(1)
                    hasher.combine(own.id0)
                    hasher.combine(own.id1)
                    hasher.combine(own.id2)
                    hasher.combine(own.id3)
                    hasher.combine(own.requestsPerMinute)
                }
            case .setTimer(let timer, let at): combine(timer: timer, at: at)
            case .observe(let observation): combine(observation)
            }
        }
    }

    /// Folds the router's actions for one input.
    public mutating func fold(_ actions: [Router.Action]) {
        begin(machine: 2, count: actions.count)
        for action in actions {
            switch action {
            case .execute(let request, let orchestrator):
                hasher.combine(1)
                combine(request)
                hasher.combine(orchestrator.value)
            case .reply(let reply, let gateway):
                hasher.combine(2)
                hasher.combine(reply.id.value)
                combine(reply.outcome)
                hasher.combine(gateway)
            case .setTimer(let timer, let at): combine(timer: timer, at: at)
            case .observe(let observation): combine(observation)
            }
        }
    }

    /// Folds the orchestrator's actions for one input.
    public mutating func fold(_ actions: [Orchestrator.Action]) {
        begin(machine: 3, count: actions.count)
        for action in actions {
            switch action {
            case .call(let call):
                hasher.combine(1)
                hasher.combine(call.call.value)
                hasher.combine(call.backend.value)
                hasher.combine(call.model.value)
                hasher.combine(call.version)
                hasher.combine(call.inputElements)
            case .reply(let reply):
                hasher.combine(2)
                hasher.combine(reply.id.value)
                combine(reply.outcome)
                hasher.combine(reply.preferredBackendFailed ? 1 : 0)
                hasher.combine(reply.attempts)
            case .setTimer(let timer, let at): combine(timer: timer, at: at)
            case .observe(let observation): combine(observation)
            }
        }
    }

    /// The machine and the number of actions go in first, so an action moving to the next input changes the digest.
    @inline(__always)
    mutating func begin(machine: UInt64, count: Int) {
        inputs += 1
        hasher.combine(machine)
        hasher.combine(count)
    }

    @inline(__always)
    mutating func combine(timer: TimerID, at: Instant) {
        hasher.combine(4)
        hasher.combine(timer.value)
        hasher.combine(at.nanoseconds)
    }

    @inline(__always)
    mutating func combine(tag: UInt64, _ route: RouteRequest) {
        hasher.combine(tag)
        hasher.combine(route.id.value)
        hasher.combine(route.model.value)
        hasher.combine(route.version)
        hasher.combine(route.stickyKey)
        hasher.combine(route.inputElements)
        hasher.combine(route.budget.nanoseconds)
    }

    @inline(__always)
    mutating func combine(_ request: ExecuteRequest) {
        hasher.combine(request.id.value)
        hasher.combine(request.model.value)
        hasher.combine(request.version)
        hasher.combine(request.preferredBackend.value)
        hasher.combine(request.inputElements)
        hasher.combine(request.budget.nanoseconds)
    }

    @inline(__always)
    mutating func combine(_ outcome: InferenceOutcome) {
        switch outcome {
        case .ok(let backend, let version):
            hasher.combine(1)
            hasher.combine(backend.value)
            hasher.combine(version)
        case .failed(let kind, let retryAfter):
            hasher.combine(2)
            hasher.combine(UInt64(kind.rawValue))
            hasher.combine(retryAfter.nanoseconds)
        }
    }

    @inline(__always)
    mutating func combine(_ observation: Observation) {
        hasher.combine(5)
        switch observation {
        case .admitted(let id, let keyIndex): combine(1, id.value, UInt64(bitPattern: Int64(keyIndex)))
        case .rejectedAtGateway(let id, let kind): combine(2, id.value, UInt64(kind.rawValue))
        case .limiterUnavailable(let id, let policy): combine(3, id.value, policy == .failOpen ? 1 : 2)
        case .routed(let id, let model, let version, let state, let backend, let orchestrator):
            combine(4, id.value, UInt64(model.value))
            combine(UInt64(bitPattern: Int64(version)), UInt64(state.rawValue), UInt64(backend.value))
            hasher.combine(orchestrator.value)
        case .backendEjected(let backend): combine(5, UInt64(backend.value), 0)
        case .backendReadmitted(let backend): combine(6, UInt64(backend.value), 0)
        case .orchestratorEjected(let orchestrator): combine(7, UInt64(orchestrator.value), 0)
        case .orchestratorReadmitted(let orchestrator): combine(8, UInt64(orchestrator.value), 0)
        case .orchestratorTimedOut(let id, let orchestrator): combine(9, id.value, UInt64(orchestrator.value))
        case .executionStarted(let id): combine(10, id.value, 0)
        case .callStarted(let id, let call, let backend, let retry):
            combine(11, id.value, call.value)
            combine(UInt64(backend.value), retry ? 1 : 0, 0)
        case .callFinished(let call, let backend, let succeeded, let latency):
            combine(12, call.value, UInt64(backend.value))
            combine(succeeded ? 1 : 0, UInt64(bitPattern: latency.nanoseconds), 0)
        case .breakerChanged(let backend, let phase): combine(13, UInt64(backend.value), Self.code(phase))
        case .breakerRejected(let backend): combine(14, UInt64(backend.value), 0)
        case .canaryDecided(let model): combine(15, UInt64(model.value), 0)
        case .retryRefused(let id, let reason): combine(16, id.value, Self.code(reason))
        }
    }

    @inline(__always)
    mutating func combine(_ first: UInt64, _ second: UInt64, _ third: UInt64) {
        hasher.combine(first)
        hasher.combine(second)
        hasher.combine(third)
    }

    /// Explicit codes rather than declaration order, so reordering an enum's cases never changes a digest.
    static func code(_ phase: CircuitBreaker.Phase) -> UInt64 {
        switch phase {
        case .closed: 1
        case .halfOpen: 2
        case .open: 3
        }
    }

    static func code(_ reason: RetryPolicy.GiveUpReason) -> UInt64 {
        switch reason {
        case .notRetryable: 1
        case .attemptsExhausted: 2
        case .deadlineExceeded: 3
        case .budgetExhausted: 4
        }
    }
}

/// The digest's running state: one multiply and one shift per word folded.
struct DigestState: Sendable, Hashable {
    var state: UInt64

    @inline(__always) mutating func combine(_ word: UInt64) {
        state = (state ^ word) &* 0x9E37_79B9_7F4A_7C15
        state ^= state >> 29
    }
    @inline(__always) mutating func combine(_ value: Int) { combine(UInt64(bitPattern: Int64(value))) }
    @inline(__always) mutating func combine(_ value: Int64) { combine(UInt64(bitPattern: value)) }

    @inline(__always) var value: UInt64 { StableHasher.mix(state ^ 0xA076_1D64_78BD_642F) }
}
