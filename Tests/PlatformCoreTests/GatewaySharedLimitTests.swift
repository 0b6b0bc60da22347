// The gateway with a shared limiter store: a request waits for the store's token, a denial is a 429 with the
// store's Retry-After, and when the store is down or slow the configured outage policy decides (fail-open: the
// gateway's own share of the limit; fail-closed: 503). The store's breaker stops the waiting once it is down.

import Testing

@testable import PlatformCore

@Suite struct GatewaySharedLimitTests {
    /// The transcript tests' gateway (key "good": 60 a minute, burst 2) with a shared limiter store.
    func gateway(_ policy: LimiterPolicy, sabotage: Sabotage = []) -> Gateway {
        GatewayTests().gateway(sabotage: sabotage) { $0.rateLimitMode = .shared(SharedLimitSettings(policy: policy)) }
    }

    func request(_ id: UInt64) -> InferenceRequest {
        InferenceRequest(id: RequestID(id), credential: "sk-good", model: ModelID(0), version: 0, inputElements: 4)
    }

    func checks(_ actions: [Gateway.Action]) -> [LimitCheck] {
        actions.compactMap { if case .checkLimit(let check) = $0 { return check } else { return nil } }
    }

    func outcomes(_ actions: [Gateway.Action]) -> [InferenceOutcome] {
        actions.compactMap { if case .respond(let response) = $0 { return response.outcome } else { return nil } }
    }

    func forwarded(_ actions: [Gateway.Action]) -> [RequestID] {
        actions.compactMap { if case .forward(let request) = $0 { return request.id } else { return nil } }
    }

    func ms(_ value: Int64) -> Instant { Instant(nanoseconds: value * 1_000_000) }

    @Test func grantedRequestsGoOnAndDeniedOnesGetTheStoresRetryAfter() {
        var machine = gateway(.failClosed)
        var actions: [Gateway.Action] = []
        machine.handle(.request(request(1)), now: ms(0), into: &actions)
        #expect(checks(actions) == [LimitCheck(id: RequestID(1), keyIndex: 0)])
        #expect(forwarded(actions).isEmpty && outcomes(actions).isEmpty)
        actions.removeAll()
        machine.handle(.limiterAnswered(LimitAnswer(id: RequestID(1), decision: .granted)), now: ms(2), into: &actions)
        #expect(forwarded(actions) == [RequestID(1)])
        actions.removeAll()
        machine.handle(.request(request(2)), now: ms(3), into: &actions)
        machine.handle(
            .limiterAnswered(LimitAnswer(id: RequestID(2), decision: .denied(retryAfter: .seconds(4)))), now: ms(4),
            into: &actions)
        #expect(outcomes(actions) == [.failed(.rateLimited, retryAfter: .seconds(4))])
        // A late or repeated answer changes nothing.
        actions.removeAll()
        machine.handle(.limiterAnswered(LimitAnswer(id: RequestID(2), decision: .granted)), now: ms(5), into: &actions)
        #expect(actions.isEmpty)
    }

    @Test func failClosedRefusesWith503WhenTheStoreTimesOut() {
        var machine = gateway(.failClosed)
        var actions: [Gateway.Action] = []
        machine.handle(.request(request(1)), now: ms(0), into: &actions)
        let timer = actions.compactMap {
            if case .setTimer(let timer, let at) = $0 { return (timer, at) } else { return nil }
        }
        #expect(timer.count == 1 && timer[0].1 == ms(20))
        actions.removeAll()
        machine.handle(.timerFired(timer[0].0), now: ms(20), into: &actions)
        #expect(outcomes(actions) == [.failed(.unavailable, retryAfter: .seconds(1))])
        #expect(
            actions.contains {
                if case .observe(.limiterUnavailable(RequestID(1), .failClosed)) = $0 { true } else { false }
            })
        // The answer arriving after the timeout is ignored: the client already has its one answer.
        actions.removeAll()
        machine.handle(.limiterAnswered(LimitAnswer(id: RequestID(1), decision: .granted)), now: ms(21), into: &actions)
        #expect(actions.isEmpty)
    }

    @Test func failOpenFallsBackToTheGatewaysOwnShare() {
        var machine = gateway(.failOpen)
        var actions: [Gateway.Action] = []
        // The local share has a burst of 2: two requests go on, the third is limited, all without the store.
        for id in UInt64(1)...3 {
            machine.handle(.request(request(id)), now: ms(Int64(id)), into: &actions)
            machine.handle(
                .limiterAnswered(LimitAnswer(id: RequestID(id), decision: .unavailable)), now: ms(Int64(id)),
                into: &actions)
        }
        #expect(forwarded(actions) == [RequestID(1), RequestID(2)])
        #expect(outcomes(actions).count == 1)
        if case .failed(.rateLimited, _) = outcomes(actions).first {
        } else {
            Issue.record("the third request was not rate-limited locally: \(outcomes(actions))")
        }
    }

    @Test func theStoresBreakerStopsTheWaitWhileItIsDown() {
        var machine = gateway(.failClosed)
        var actions: [Gateway.Action] = []
        for id in UInt64(1)...5 {
            machine.handle(.request(request(id)), now: ms(Int64(id) * 30), into: &actions)
            machine.handle(
                .limiterAnswered(LimitAnswer(id: RequestID(id), decision: .unavailable)), now: ms(Int64(id) * 30),
                into: &actions)
        }
        #expect(machine.limiterPhase == .open)
        actions.removeAll()
        machine.handle(.request(request(6)), now: ms(200), into: &actions)
        #expect(checks(actions).isEmpty)
        #expect(outcomes(actions) == [.failed(.unavailable, retryAfter: .seconds(1))])
        // After the open period a probe goes to the store again, and a grant closes the breaker.
        actions.removeAll()
        machine.handle(.request(request(7)), now: ms(800), into: &actions)
        #expect(checks(actions).map(\.id) == [RequestID(7)])
        machine.handle(
            .limiterAnswered(LimitAnswer(id: RequestID(7), decision: .granted)), now: ms(801), into: &actions)
        #expect(machine.limiterPhase == .closed)
    }

    @Test func theFlipSabotageAppliesTheOppositePolicy() {
        var machine = gateway(.failClosed, sabotage: .flipLimiterPolicy)
        var actions: [Gateway.Action] = []
        machine.handle(.request(request(1)), now: ms(0), into: &actions)
        machine.handle(
            .limiterAnswered(LimitAnswer(id: RequestID(1), decision: .unavailable)), now: ms(1), into: &actions)
        #expect(forwarded(actions) == [RequestID(1)])
    }

    @Test func theStoreModelHoldsOneBucketPerKeyForEveryGateway() {
        var limits = RateLimiter.Configuration()
        limits.overrides = [
            RateLimiter.Override(key: "k", rate: TokenBucket.Rate(requests: 60, per: .minutes(1)), burst: 3)
        ]
        var store = LimiterStoreModel(limits: limits)
        let decisions = (1...4).map {
            store.take(LimitCheck(id: RequestID(UInt64($0)), keyIndex: 0), key: "k", now: ms(0))
        }
        #expect(decisions == [.granted, .granted, .granted, .denied(retryAfter: .seconds(1))])
        #expect(store.take(LimitCheck(id: RequestID(5), keyIndex: 0), key: "k", now: ms(1_000)) == .granted)
    }
}
