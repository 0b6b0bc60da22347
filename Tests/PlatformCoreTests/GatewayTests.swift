// The gateway as a transcript: authentication, validation, rate limiting, deadlines, and exactly
// one answer per request.

import Testing

@testable import PlatformCore

@Suite struct GatewayTests {
    func gateway(sabotage: Sabotage = [], configure: (inout Gateway.Configuration) -> Void = { _ in }) -> Gateway {
        var configuration = Gateway.Configuration()
        configuration.keys = [
            Gateway.APIKey(credential: "sk-good", name: "good"),
            Gateway.APIKey(credential: "sk-reader", name: "reader", mayInfer: false),
        ]
        configuration.rateLimits.overrides = [
            RateLimiter.Override(key: "good", rate: TokenBucket.Rate(requests: 60, per: .minutes(1)), burst: 2)
        ]
        configuration.deployment = Deployment(
            models: [
                Deployment.Model(
                    name: "m",
                    versions: [Deployment.Version(number: 1, state: .serving, weight: 1, backends: [BackendID(0)])],
                    inputElementsMax: 100)
            ], backendCount: 1)
        configuration.sabotage = sabotage
        configure(&configuration)
        return Gateway(configuration: configuration)
    }

    func request(_ id: UInt64, credential: String = "sk-good", elements: Int = 4, version: Int = 0) -> InferenceRequest
    {
        InferenceRequest(
            id: RequestID(id), credential: credential, model: ModelID(0), version: version, inputElements: elements)
    }

    func responses(_ actions: [Gateway.Action]) -> [InferenceResponse] {
        actions.compactMap { if case .respond(let response) = $0 { return response } else { return nil } }
    }

    func forwards(_ actions: [Gateway.Action]) -> [RouteRequest] {
        actions.compactMap { if case .forward(let request) = $0 { return request } else { return nil } }
    }

    @Test(arguments: [
        ("sk-bad", 4, 0, ErrorKind.unauthorized), ("sk-reader", 4, 0, .forbidden), ("sk-good", 0, 0, .badRequest),
        ("sk-good", 101, 0, .badRequest), ("sk-good", 4, 7, .badRequest),
    ])
    func rejectsWithTheRightStatus(_ credential: String, _ elements: Int, _ version: Int, _ expected: ErrorKind) {
        var machine = gateway()
        var actions: [Gateway.Action] = []
        machine.handle(
            .request(request(1, credential: credential, elements: elements, version: version)), now: .zero,
            into: &actions)
        #expect(responses(actions).map(\.outcome) == [.failed(expected, retryAfter: .zero)])
        #expect(forwards(actions).isEmpty)
    }

    @Test func forwardsWithABudgetAndAnswersOnce() {
        var machine = gateway()
        var actions: [Gateway.Action] = []
        machine.handle(.request(request(1)), now: .zero, into: &actions)
        let forwarded = forwards(actions)
        #expect(forwarded.count == 1)
        #expect(forwarded[0].budget == .seconds(1) - .milliseconds(5))
        actions.removeAll()
        let ok = InferenceOutcome.ok(backend: BackendID(0), version: 1)
        machine.handle(
            .routerReplied(RouteReply(id: RequestID(1), outcome: ok)), now: .zero + .milliseconds(9), into: &actions)
        #expect(responses(actions).map(\.outcome) == [ok])
        actions.removeAll()
        machine.handle(
            .routerReplied(RouteReply(id: RequestID(1), outcome: ok)), now: .zero + .milliseconds(10), into: &actions)
        machine.handle(.timerFired(TimerID(1)), now: .zero + .seconds(1), into: &actions)
        #expect(actions.isEmpty, "a duplicate reply and the stale deadline timer are ignored")
    }

    @Test func deadlineAnswers504() {
        var machine = gateway()
        var actions: [Gateway.Action] = []
        machine.handle(.request(request(1)), now: .zero, into: &actions)
        actions.removeAll()
        machine.handle(.timerFired(TimerID(1)), now: .zero + .seconds(1), into: &actions)
        #expect(responses(actions).map(\.outcome) == [.failed(.timeout, retryAfter: .zero)])
        #expect(machine.pendingCount == 0)
    }

    @Test func rateLimitAnswers429WithRetryAfter() {
        var machine = gateway()
        var actions: [Gateway.Action] = []
        for id in 1...3 { machine.handle(.request(request(UInt64(id))), now: .zero, into: &actions) }
        let limited = responses(actions)
        #expect(limited.count == 1, "burst 2 admits two, the third is limited")
        #expect(limited.first?.outcome == .failed(.rateLimited, retryAfter: .seconds(1)))
    }

    @Test func noRateLimitSabotageAdmitsEverything() {
        var machine = gateway(sabotage: .noRateLimit)
        var actions: [Gateway.Action] = []
        for id in 1...10 { machine.handle(.request(request(UInt64(id))), now: .zero, into: &actions) }
        #expect(forwards(actions).count == 10)
    }

    @Test func severalGatewaysEachEnforceTheirShareOfAKeyLimit() {
        var machine = gateway { $0.gatewayCount = 2 }
        var actions: [Gateway.Action] = []
        for id in 1...3 { machine.handle(.request(request(UInt64(id))), now: .zero, into: &actions) }
        #expect(forwards(actions).count == 1, "burst 2 split over two gateways leaves one here")
        actions.removeAll()
        machine.handle(.request(request(4)), now: .zero + .seconds(1), into: &actions)
        #expect(forwards(actions).isEmpty, "60/min over two gateways refills one token every 2 s, not every 1 s")
        machine.handle(.request(request(5)), now: .zero + .seconds(2), into: &actions)
        #expect(forwards(actions).count == 1)
    }
}
