// The action digest recorded traces are checked with: pinned to a value, so a change to what it hashes (or to how
// it mixes) is noticed before old traces stop replaying, and sensitive to the order and grouping of actions.

import Testing

@testable import PlatformCore

@Suite struct ActionDigestTests {
    static let route = RouteRequest(
        id: RequestID(7), model: ModelID(0), version: 1, stickyKey: 3, inputElements: 4, budget: .milliseconds(995))

    static func sample() -> ActionDigest {
        var digest = ActionDigest()
        digest.fold([
            Gateway.Action.observe(.admitted(RequestID(7), keyIndex: 1)),
            .setTimer(TimerID(7), at: Instant(nanoseconds: 1_000)),
            .forward(route),
        ])
        digest.fold([
            Router.Action.execute(
                ExecuteRequest(
                    id: RequestID(7), model: ModelID(0), version: 1, preferredBackend: BackendID(0), inputElements: 4,
                    budget: .milliseconds(993)), to: OrchestratorID(0))
        ])
        digest.fold([
            Orchestrator.Action.call(
                BackendCall(
                    call: CallID(256 | 1), backend: BackendID(0), model: ModelID(0), version: 1, inputElements: 4)
            ),
            .observe(.callFinished(CallID(257), BackendID(0), succeeded: true, latency: .microseconds(80))),
        ])
        digest.fold([Gateway.Action]())
        return digest
    }

    @Test func theDigestIsPinned() {
        let digest = Self.sample()
        #expect(digest.inputs == 4)
        #expect(digest.value == Self.pinned, "new value: 0x\(String(digest.value, radix: 16))")
    }

    @Test func orderAndGroupingMatter() {
        let admitted = Gateway.Action.observe(.admitted(RequestID(7), keyIndex: 1))
        let forward = Gateway.Action.forward(Self.route)
        var inOrder = ActionDigest()
        inOrder.fold([admitted, forward])
        var swapped = ActionDigest()
        swapped.fold([forward, admitted])
        var split = ActionDigest()
        split.fold([admitted])
        split.fold([forward])
        #expect(inOrder.value != swapped.value)
        #expect(inOrder.value != split.value)
        // The same actions from another machine are another history.
        var empty = ActionDigest()
        empty.fold([Router.Action]())
        var emptyGateway = ActionDigest()
        emptyGateway.fold([Gateway.Action]())
        #expect(empty.value != emptyGateway.value)
    }

    /// Every action and observation kind of every machine, with extreme and negative values, folded in order.
    static func everyKind() -> ActionDigest {
        var digest = ActionDigest()
        let id = RequestID(2 << 48 | 7)
        let observations: [Observation] = [
            .admitted(id, keyIndex: -1),
            .rejectedAtGateway(id, .rateLimited),
            .limiterUnavailable(id, .failOpen),
            .limiterUnavailable(id, .failClosed),
            .routed(id, model: ModelID(3), version: -2, state: .canary, backend: BackendID(4), via: OrchestratorID(5)),
            .backendEjected(BackendID(1)),
            .backendReadmitted(BackendID(2)),
            .orchestratorEjected(OrchestratorID(3)),
            .orchestratorReadmitted(OrchestratorID(4)),
            .orchestratorTimedOut(id, OrchestratorID(6)),
            .executionStarted(RequestID(.max)),
            .callStarted(id, CallID(.max), BackendID(7), retry: true),
            .callStarted(id, CallID(0), BackendID(7), retry: false),
            .callFinished(CallID(9), BackendID(8), succeeded: false, latency: .nanoseconds(-5)),
            .callFinished(CallID(9), BackendID(8), succeeded: true, latency: .seconds(2)),
            .breakerChanged(BackendID(1), .closed),
            .breakerChanged(BackendID(1), .halfOpen),
            .breakerChanged(BackendID(1), .open),
            .breakerRejected(BackendID(9)),
            .canaryDecided(ModelID(2)),
            .retryRefused(id, .notRetryable),
            .retryRefused(id, .attemptsExhausted),
            .retryRefused(id, .deadlineExceeded),
            .retryRefused(id, .budgetExhausted),
        ]
        let ok = InferenceOutcome.ok(backend: BackendID(3), version: -1)
        let failed = InferenceOutcome.failed(.unavailable, retryAfter: .milliseconds(-7))
        digest.fold(
            [
                Gateway.Action.forward(route),
                .respond(InferenceResponse(id: id, outcome: ok)),
                .respond(InferenceResponse(id: RequestID(1), outcome: failed)),
                .checkLimit(LimitCheck(id: id, keyIndex: 3, cost: -4)),
                .setTimer(TimerID(1 << 62 | 5), at: Instant(nanoseconds: -3)),
            ] + observations.map(Gateway.Action.observe))
        digest.fold(
            [
                Router.Action.execute(
                    ExecuteRequest(
                        id: id, model: ModelID(1), version: 2, preferredBackend: BackendID(3), inputElements: -4,
                        budget: .nanoseconds(.max)), to: OrchestratorID(7)),
                .reply(RouteReply(id: id, outcome: ok), toGateway: 3),
                .reply(RouteReply(id: id, outcome: failed), toGateway: -1),
                .setTimer(TimerID(.max), at: Instant(nanoseconds: .max)),
            ] + observations.map(Router.Action.observe))
        digest.fold(
            [
                Orchestrator.Action.call(
                    BackendCall(
                        call: CallID(.max), backend: BackendID(1), model: ModelID(2), version: 3, inputElements: 4)),
                .reply(ExecuteReply(id: id, outcome: ok, preferredBackendFailed: true, attempts: 2)),
                .reply(ExecuteReply(id: id, outcome: failed, preferredBackendFailed: false, attempts: -1)),
                .setTimer(TimerID(0), at: Instant(nanoseconds: .min)),
            ] + observations.map(Orchestrator.Action.observe))
        digest.fold([Router.Action]())
        digest.fold([Orchestrator.Action]())
        return digest
    }

    /// Pinned, so a faster fold must give the same value for every kind of action (re-pinned once, with trace
    /// format version 2, when the fold moved to one multiply per word).
    @Test func everyKindOfActionIsPinned() {
        let digest = Self.everyKind()
        #expect(digest.inputs == 5)
        #expect(digest.value == Self.pinnedEveryKind, "new value: 0x\(String(digest.value, radix: 16))")
    }

    static let pinnedEveryKind: UInt64 = 0x9890_35F0_73B7_3EDB

    static let pinned: UInt64 = 0xBDC4_2948_077A_B5BC
}
