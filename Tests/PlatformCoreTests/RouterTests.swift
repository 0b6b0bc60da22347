// The router as a transcript: version choice (pinning, canary split, serving states), backend and
// orchestrator choice, health ejection, and its own timeout.

import Testing

@testable import PlatformCore

@Suite struct RouterTests {
    func router(strategy: Router.Strategy = .roundRobin, sabotage: Sabotage = [], canaryWeight: Int64 = 10) -> Router {
        var configuration = Router.Configuration()
        configuration.deployment = Deployment(
            models: [
                Deployment.Model(
                    name: "m",
                    versions: [
                        Deployment.Version(number: 1, state: .deprecated, weight: 50, backends: [BackendID(0)]),
                        Deployment.Version(
                            number: 2, state: .serving, weight: 100 - canaryWeight,
                            backends: [BackendID(1), BackendID(2)]),
                        Deployment.Version(number: 3, state: .canary, weight: canaryWeight, backends: [BackendID(3)]),
                    ], inputElementsMax: 100)
            ], backendCount: 4)
        configuration.orchestratorCount = 2
        configuration.strategy = strategy
        configuration.sabotage = sabotage
        return Router(configuration: configuration)
    }

    func route(_ id: UInt64, version: Int = 0, sticky: UInt64 = 0) -> Router.Input {
        .route(
            RouteRequest(
                id: RequestID(id), model: ModelID(0), version: version, stickyKey: sticky, inputElements: 1,
                budget: .seconds(1)),
            fromGateway: 0)
    }

    func executes(_ actions: [Router.Action]) -> [(ExecuteRequest, OrchestratorID)] {
        actions.compactMap { if case .execute(let request, let to) = $0 { return (request, to) } else { return nil } }
    }

    func replies(_ actions: [Router.Action]) -> [RouteReply] {
        actions.compactMap { if case .reply(let reply, _) = $0 { return reply } else { return nil } }
    }

    @Test func pinnedVersionIsHonouredAndNonServingRefused() {
        var machine = router()
        var actions: [Router.Action] = []
        machine.handle(route(1, version: 3), now: .zero, into: &actions)
        #expect(executes(actions).first?.0.version == 3)
        actions.removeAll()
        machine.handle(route(2, version: 1), now: .zero, into: &actions)
        #expect(executes(actions).isEmpty, "version 1 is deprecated")
        #expect(replies(actions).first?.outcome == .failed(.badRequest, retryAfter: .zero))
    }

    @Test func canarySplitFollowsWeightsAndNeverPicksDeprecated() {
        var machine = router()
        var actions: [Router.Action] = []
        for id in 1...10_000 { machine.handle(route(UInt64(id)), now: .zero, into: &actions) }
        let versions = executes(actions).map(\.0.version)
        let canary = versions.filter { $0 == 3 }.count
        #expect(!versions.contains(1))
        #expect((800...1_200).contains(canary), "10% canary, got \(canary) of 10000")
    }

    @Test func canaryIgnoresWeightSabotageSplitsEvenly() {
        var machine = router(sabotage: .canaryIgnoresWeight)
        var actions: [Router.Action] = []
        for id in 1...10_000 { machine.handle(route(UInt64(id)), now: .zero, into: &actions) }
        let canary = executes(actions).filter { $0.0.version == 3 }.count
        #expect(canary > 4_000)
    }

    @Test func stickyKeysKeepTheirVersion() {
        var machine = router()
        var actions: [Router.Action] = []
        for round in 0..<5 {
            for user in UInt64(1)...200 {
                machine.handle(
                    route(UInt64(round * 1_000) + user, sticky: user &* 0x9E37_79B9), now: .zero, into: &actions)
            }
        }
        let chosen = executes(actions).map(\.0.version)
        for user in 0..<200 {
            let versions = Set((0..<5).map { chosen[$0 * 200 + user] })
            #expect(versions.count == 1, "user \(user) saw versions \(versions.sorted())")
        }
    }

    @Test func roundRobinAlternatesBackendsAndOrchestrators() {
        var machine = router()
        var actions: [Router.Action] = []
        for id in 1...4 { machine.handle(route(UInt64(id), version: 2), now: .zero, into: &actions) }
        let chosen = executes(actions)
        #expect(Set(chosen.map(\.0.preferredBackend)) == [BackendID(1), BackendID(2)])
        #expect(Set(chosen.map(\.1)) == [OrchestratorID(0), OrchestratorID(1)])
    }

    @Test func failingBackendIsEjectedAndReadmitted() {
        var machine = router()
        var actions: [Router.Action] = []
        var now = Instant.zero
        var ejected = false
        for id in UInt64(1)...40 {
            actions.removeAll()
            machine.handle(route(id, version: 2), now: now, into: &actions)
            guard let (request, _) = executes(actions).first else { continue }
            let failed = request.preferredBackend == BackendID(1)
            let outcome = InferenceOutcome.ok(backend: BackendID(2), version: 2)
            actions.removeAll()
            machine.handle(
                .orchestratorReplied(
                    ExecuteReply(id: request.id, outcome: outcome, preferredBackendFailed: failed, attempts: 1)),
                now: now, into: &actions)
            if actions.contains(where: { if case .observe(.backendEjected(BackendID(1))) = $0 { true } else { false } })
            {
                ejected = true
            }
            now = now + .milliseconds(1)
        }
        #expect(ejected)
        actions.removeAll()
        for id in UInt64(100)...110 { machine.handle(route(id, version: 2), now: now, into: &actions) }
        #expect(
            !executes(actions).contains { $0.0.preferredBackend == BackendID(1) }, "ejected backends get no traffic")
        actions.removeAll()
        machine.handle(route(200, version: 2), now: now + .seconds(11), into: &actions)
        #expect(actions.contains { if case .observe(.backendReadmitted(BackendID(1))) = $0 { true } else { false } })
    }

    @Test func orchestratorTimeoutAnswers504() {
        var machine = router()
        var actions: [Router.Action] = []
        machine.handle(route(1), now: .zero, into: &actions)
        guard
            case .setTimer(let timer, let at)? = actions.first(where: { if case .setTimer = $0 { true } else { false } }
            )
        else {
            Issue.record("no timer")
            return
        }
        actions.removeAll()
        machine.handle(.timerFired(timer), now: at, into: &actions)
        #expect(replies(actions).first?.outcome == .failed(.timeout, retryAfter: .zero))
        #expect(machine.pendingCount == 0)
    }
}

/// The router running a canary rollout: the controller starts with the router, its weights become the model's
/// split, failures of the canary reach it, and an operator's abort sends everything back to stable.
@Suite struct RouterRolloutTests {
    func router() -> Router {
        var configuration = Router.Configuration()
        configuration.deployment = Deployment(
            models: [
                Deployment.Model(
                    name: "m",
                    versions: [
                        Deployment.Version(number: 1, state: .serving, weight: 100, backends: [BackendID(0)]),
                        Deployment.Version(number: 2, state: .canary, weight: 0, backends: [BackendID(1)]),
                    ], inputElementsMax: 100)
            ], backendCount: 2)
        var controller = CanaryController.Configuration()
        controller.stepsBasisPoints = [5_000, 10_000]
        controller.holdPerStep = .seconds(10)
        controller.lookInterval = .seconds(5)
        controller.minimumSamplesPerSide = 10
        configuration.rollout = Router.Rollout(model: ModelID(0), stable: 1, canary: 2, controller: controller)
        return Router(configuration: configuration)
    }

    func routedVersions(_ actions: [Router.Action]) -> [Int] {
        actions.compactMap { if case .execute(let request, _) = $0 { request.version } else { nil } }
    }

    @Test func theRolloutSplitsTrafficAndAnAbortReturnsItToStable() {
        var machine = router()
        var actions: [Router.Action] = []
        for id in UInt64(1)...200 {
            machine.handle(
                .route(
                    RouteRequest(
                        id: RequestID(id), model: ModelID(0), version: 0, stickyKey: 0, inputElements: 4,
                        budget: .seconds(1)), fromGateway: 0), now: Instant(nanoseconds: Int64(id)), into: &actions)
        }
        let versions = routedVersions(actions)
        #expect(machine.canaryPhase == .analysing(step: 0))
        #expect(versions.filter { $0 == 2 }.count > 60 && versions.filter { $0 == 1 }.count > 60, "a 50/50 split")
        #expect(actions.contains { if case .observe(.canaryDecided) = $0 { true } else { false } })
        #expect(machine.takeCanaryAudit().first?.verdict == .started)
        actions.removeAll()
        machine.handle(.canaryOverride(.abort), now: Instant(nanoseconds: 1_000_000_000), into: &actions)
        #expect(machine.canaryPhase == .rolledBack(.aborted))
        actions.removeAll()
        for id in UInt64(1_000)...1_050 {
            machine.handle(
                .route(
                    RouteRequest(
                        id: RequestID(id), model: ModelID(0), version: 0, stickyKey: 0, inputElements: 4,
                        budget: .seconds(1)), fromGateway: 0), now: Instant(nanoseconds: 2_000_000_000), into: &actions)
        }
        #expect(Set(routedVersions(actions)) == [1])
    }
}
