// The orchestrator as a transcript: execute requests and backend replies in, calls, timers and
// replies out. Breakers, retries, the budget and the deadline all show in what it asks for.

import Testing

@testable import PlatformCore

@Suite struct OrchestratorTests {
    static let a = BackendID(0)
    static let b = BackendID(1)

    func orchestrator(sabotage: Sabotage = [], configure: (inout Orchestrator.Configuration) -> Void = { _ in })
        -> Orchestrator
    {
        var configuration = Orchestrator.Configuration()
        configuration.deployment = Deployment(
            models: [
                Deployment.Model(
                    name: "m",
                    versions: [Deployment.Version(number: 1, state: .serving, weight: 1, backends: [Self.a, Self.b])],
                    inputElementsMax: 100)
            ], backendCount: 2)
        configuration.sabotage = sabotage
        configure(&configuration)
        return Orchestrator(configuration: configuration)
    }

    func request(_ id: UInt64, budget: Duration = .seconds(1), preferred: BackendID = a) -> ExecuteRequest {
        ExecuteRequest(
            id: RequestID(id), model: ModelID(0), version: 1, preferredBackend: preferred, inputElements: 4,
            budget: budget)
    }

    func calls(_ actions: [Orchestrator.Action]) -> [BackendCall] {
        actions.compactMap { if case .call(let call) = $0 { return call } else { return nil } }
    }

    func replies(_ actions: [Orchestrator.Action]) -> [ExecuteReply] {
        actions.compactMap { if case .reply(let reply) = $0 { return reply } else { return nil } }
    }

    func timers(_ actions: [Orchestrator.Action]) -> [(TimerID, Instant)] {
        actions.compactMap { if case .setTimer(let timer, let at) = $0 { return (timer, at) } else { return nil } }
    }

    @Test func successfulCallRepliesOk() {
        var machine = orchestrator()
        var actions: [Orchestrator.Action] = []
        machine.handle(.execute(request(1)), now: .zero, into: &actions)
        let call = calls(actions)[0]
        #expect(call.backend == Self.a)
        #expect(timers(actions).first?.1 == Instant.zero + .milliseconds(500), "per-try timeout")
        actions.removeAll()
        machine.handle(
            .backendReplied(BackendReply(call: call.call, failure: nil)), now: Instant(nanoseconds: 5_000_000),
            into: &actions)
        #expect(replies(actions).first?.outcome == .ok(backend: Self.a, version: 1))
        #expect(machine.executionCount == 0)
    }

    @Test func failureIsRetriedOnTheOtherBackendAfterBackoff() {
        var machine = orchestrator()
        var actions: [Orchestrator.Action] = []
        machine.handle(.execute(request(1)), now: .zero, into: &actions)
        let first = calls(actions)[0]
        actions.removeAll()
        machine.handle(
            .backendReplied(BackendReply(call: first.call, failure: .unavailable)), now: .zero + .milliseconds(2),
            into: &actions)
        #expect(calls(actions).isEmpty, "a retry waits for its backoff")
        let (backoffTimer, at) = timers(actions)[0]
        #expect(at <= .zero + .milliseconds(2) + .milliseconds(25))
        actions.removeAll()
        machine.handle(.timerFired(backoffTimer), now: at, into: &actions)
        let retry = calls(actions)[0]
        #expect(retry.backend == Self.b)
        actions.removeAll()
        machine.handle(
            .backendReplied(BackendReply(call: retry.call, failure: nil)), now: at + .milliseconds(3), into: &actions)
        let reply = replies(actions)[0]
        #expect(reply.outcome == .ok(backend: Self.b, version: 1))
        #expect(reply.preferredBackendFailed)
        #expect(reply.attempts == 2)
    }

    @Test func perTryTimeoutCountsAsFailureAndLateReplyIsIgnored() {
        var machine = orchestrator { $0.retry.attemptsMax = 1 }
        var actions: [Orchestrator.Action] = []
        machine.handle(.execute(request(1)), now: .zero, into: &actions)
        let call = calls(actions)[0]
        let (timeout, at) = timers(actions)[0]
        actions.removeAll()
        machine.handle(.timerFired(timeout), now: at, into: &actions)
        #expect(replies(actions).first?.outcome == .failed(.unavailable, retryAfter: .seconds(1)))
        actions.removeAll()
        machine.handle(
            .backendReplied(BackendReply(call: call.call, failure: nil)), now: at + .milliseconds(1), into: &actions)
        #expect(actions.isEmpty, "a reply after the timeout changes nothing")
    }

    @Test func openBreakersGiveFastUnavailable() {
        var machine = orchestrator {
            $0.retry.attemptsMax = 1
            $0.breaker.consecutiveFailuresToOpen = 2
        }
        var actions: [Orchestrator.Action] = []
        var now = Instant.zero
        for id in 1...4 {
            actions.removeAll()
            machine.handle(
                .execute(request(UInt64(id), preferred: id % 2 == 0 ? Self.a : Self.b)), now: now, into: &actions)
            let call = calls(actions)[0]
            actions.removeAll()
            machine.handle(
                .backendReplied(BackendReply(call: call.call, failure: .connectionFailed)), now: now, into: &actions)
            now = now + .milliseconds(1)
        }
        #expect(machine.breakerPhases == [.open, .open])
        actions.removeAll()
        machine.handle(.execute(request(9)), now: now, into: &actions)
        #expect(calls(actions).isEmpty)
        guard case .failed(.unavailable, let retryAfter) = replies(actions).first?.outcome else {
            Issue.record("expected a 503")
            return
        }
        #expect(retryAfter > .zero && retryAfter <= .seconds(5))
    }

    @Test func noBreakerSabotageKeepsCalling() {
        var machine = orchestrator(sabotage: .noBreaker) {
            $0.retry.attemptsMax = 1
            $0.breaker.consecutiveFailuresToOpen = 2
        }
        var actions: [Orchestrator.Action] = []
        for id in 1...10 {
            actions.removeAll()
            machine.handle(.execute(request(UInt64(id))), now: .zero, into: &actions)
            guard let call = calls(actions).first else {
                Issue.record("call \(id) refused although the breaker is sabotaged")
                return
            }
            actions.removeAll()
            machine.handle(
                .backendReplied(BackendReply(call: call.call, failure: .connectionFailed)), now: .zero, into: &actions)
        }
        #expect(machine.breakerPhases == [.closed, .closed])
    }

    @Test func neverRetriesPastTheDeadline() {
        for seed in UInt64(1)...100 {
            var machine = orchestrator {
                $0.seed = seed
                $0.retry.attemptsMax = 10
                $0.budget.minimumRetriesPerWindow = 1_000
            }
            var actions: [Orchestrator.Action] = []
            var now = Instant.zero
            let budget = Duration.milliseconds(120)
            machine.handle(.execute(request(1, budget: budget)), now: now, into: &actions)
            let deadline = now + budget
            var replied = false
            while !replied {
                for call in calls(actions) {
                    #expect(now < deadline, "call sent at \(now), deadline \(deadline); reproduce with seed=\(seed)")
                    actions.removeAll()
                    machine.handle(
                        .backendReplied(BackendReply(call: call.call, failure: .overloaded)),
                        now: now + .milliseconds(5), into: &actions)
                    now = now + .milliseconds(5)
                }
                if !replies(actions).isEmpty {
                    replied = true
                    break
                }
                guard let (timer, at) = timers(actions).first else { break }
                actions.removeAll()
                now = at
                machine.handle(.timerFired(timer), now: now, into: &actions)
            }
            #expect(replied, "reproduce with seed=\(seed)")
            #expect(now <= deadline, "reproduce with seed=\(seed)")
        }
    }
}
