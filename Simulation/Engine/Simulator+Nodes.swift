// Binding the node machines to the simulated world: building their configurations from the
// scenario, feeding them delivered messages and timers with their own clock's `now`, and
// performing the actions they return. A single switch per node kind; no decisions live here.

import PlatformCore

extension Simulator {
    static func deployment(_ scenario: Scenario) -> Deployment {
        let models = scenario.models.map { model in
            Deployment.Model(
                name: model.name,
                versions: model.versions.map {
                    Deployment.Version(
                        number: $0.number, state: $0.state, weight: $0.weight, backends: $0.backends.map(BackendID.init)
                    )
                },
                inputElementsMax: model.inputElementsMax)
        }
        return Deployment(models: models, backendCount: scenario.backends.count)
    }

    static func gatewayConfiguration(
        _ scenario: Scenario, _ deployment: Deployment, _ index: Int, _ sabotage: Sabotage, _ seed: UInt64
    ) -> Gateway.Configuration {
        var configuration = Gateway.Configuration()
        configuration.gatewayIndex = index
        configuration.gatewayCount = scenario.gateways
        configuration.deployment = deployment
        configuration.keys = Simulator.apiKeys(scenario)
        configuration.rateLimits = rateLimits(scenario)
        if let limiter = scenario.limiter { configuration.rateLimitMode = .shared(limiter) }
        configuration.defaultTimeout = scenario.defaultTimeout
        configuration.sabotage = sabotage
        configuration.seed = seed &+ 0x100 &+ UInt64(index)
        return configuration
    }

    /// Every key's full limit (a gateway divides it into its share; the shared store holds it whole).
    static func rateLimits(_ scenario: Scenario) -> RateLimiter.Configuration {
        var limits = RateLimiter.Configuration()
        limits.overrides = scenario.keys.map {
            RateLimiter.Override(
                key: $0.name, rate: TokenBucket.Rate(requests: $0.requestsPerMinute, per: .minutes(1)), burst: $0.burst)
        }
        return limits
    }

    static func routerConfiguration(_ scenario: Scenario, _ deployment: Deployment, _ sabotage: Sabotage, seed: UInt64)
        -> Router.Configuration
    {
        var configuration = Router.Configuration()
        configuration.deployment = deployment
        if let canary = scenario.canary {
            configuration.rollout = Router.Rollout(
                model: ModelID(canary.model), stable: canary.stable, canary: canary.canary,
                controller: canary.controller)
        }
        configuration.orchestratorCount = scenario.orchestrators
        configuration.strategy = scenario.strategy
        configuration.backendHealth = scenario.backendHealth
        configuration.orchestratorHealth = scenario.orchestratorHealth
        configuration.sabotage = sabotage
        configuration.seed = seed &+ 0x200
        return configuration
    }

    static func orchestratorConfiguration(
        _ scenario: Scenario, _ deployment: Deployment, _ index: Int, _ sabotage: Sabotage, _ seed: UInt64
    ) -> Orchestrator.Configuration {
        var configuration = Orchestrator.Configuration()
        configuration.orchestratorIndex = index
        configuration.deployment = deployment
        configuration.breaker = scenario.breaker
        configuration.retry = scenario.retry
        configuration.budget = scenario.budget
        configuration.sabotage = sabotage
        configuration.seed = seed &+ 0x300 &+ UInt64(index)
        return configuration
    }

    /// The scenario's keys as the gateways know them (both the synchronous and the batch side).
    static func apiKeys(_ scenario: Scenario) -> [Gateway.APIKey] {
        scenario.keys.map {
            Gateway.APIKey(credential: Simulator.credential($0.name), name: $0.name, mayInfer: $0.mayInfer)
        }
    }

    /// The secret a simulated client presents for a key (the scenario names keys, not secrets).
    static func credential(_ keyName: String) -> String { "sk-" + keyName }

    func deliver(_ message: Message, from: Int, to: Int) {
        switch message {
        case .request(let request):
            record(node: to, kind: 1, id: request.id.value)
            // The hot path feeds the gateway directly: a request is the largest input, and a helper call would copy it.
            let gateway = to - layout.gateway(0)
            gatewayActions.removeAll(keepingCapacity: true)
            gateways[gateway].handle(.request(request), now: localNow(to), into: &gatewayActions)
            performGateway(gateway)
        case .response(let response):
            record(node: to, kind: 2, id: response.id.value)
            clientReceived(response)
        case .route(let request, let gateway):
            record(node: to, kind: 3, id: request.id.value)
            routerActions.removeAll(keepingCapacity: true)
            router.handle(.route(request, fromGateway: gateway), now: localNow(to), into: &routerActions)
            performRouter()
        case .routeReply(let reply):
            record(node: to, kind: 4, id: reply.id.value)
            let gateway = to - layout.gateway(0)
            gatewayActions.removeAll(keepingCapacity: true)
            gateways[gateway].handle(.routerReplied(reply), now: localNow(to), into: &gatewayActions)
            performGateway(gateway)
        case .execute(let request):
            record(node: to, kind: 5, id: request.id.value)
            let orchestrator = to - layout.orchestrator(0)
            orchestratorActions.removeAll(keepingCapacity: true)
            orchestrators[orchestrator].handle(.execute(request), now: localNow(to), into: &orchestratorActions)
            performOrchestrator(orchestrator)
        case .executeReply(let reply):
            record(node: to, kind: 6, id: reply.id.value)
            routerActions.removeAll(keepingCapacity: true)
            router.handle(.orchestratorReplied(reply), now: localNow(to), into: &routerActions)
            performRouter()
        case .call(let call):
            record(node: to, kind: 7, id: call.call.value)
            backendReceived(call, backend: to - layout.backend(0), from: from)
        case .callReply(let reply):
            record(node: to, kind: 8, id: reply.call.value)
            if to >= layout.worker(0) { return worker(to - layout.worker(0), .backendReplied(reply)) }
            let orchestrator = to - layout.orchestrator(0)
            orchestratorActions.removeAll(keepingCapacity: true)
            orchestrators[orchestrator].handle(.backendReplied(reply), now: localNow(to), into: &orchestratorActions)
            performOrchestrator(orchestrator)
        case .control(let message): deliverControl(message.body, from: from, to: to)
        }
    }

    /// Delivers a message of the limiter store, the key store or the registry.
    func deliverControl(_ message: Control, from: Int, to: Int) {
        switch message {
        case .limitCheck(let check):
            record(node: to, kind: 9, id: check.id.value)
            // A store that is down takes the connection and never answers.
            guard limiterDownSince < 0 else { return }
            let decision = limiterStore!.take(check, key: scenario.keys[check.keyIndex].name, now: localNow(to))
            send(
                .control(ControlMessage(.limitAnswer(LimitAnswer(id: check.id, decision: decision)))), from: to,
                to: from)
        case .registryRead(let read, let key): registryRead(read, key, from: from)
        case .registryReply(let answer):
            record(node: to, kind: 65, id: answer.read.value)
            driveCache(to - layout.gateway(0), .storeAnswered(answer.read, answer.result))
        case .registryInvalidate(let key):
            record(node: to, kind: 66, id: UInt64(key.version ?? 0))
            driveCache(to - layout.gateway(0), .invalidate(key))
        case .registryWrite(let write): registryWriteArrived(write)
        case .authUpdate(let update):
            record(node: to, kind: 11, id: UInt64(update.entries.count))
            let gateway = to - layout.gateway(0)
            if !update.entries.isEmpty { self.gateway(gateway, .apiKeysChanged(update.entries)) }
            if let bearer = update.bearer { self.gateway(gateway, .bearerKeysChanged(bearer)) }
            // The gateway's batch side authenticates with the same keys.
            if batch != nil {
                if !update.entries.isEmpty { frontend(gateway, .apiKeysChanged(update.entries)) }
                if let bearer = update.bearer { frontend(gateway, .bearerKeysChanged(bearer)) }
            }
        case .limitAnswer(let answer):
            record(node: to, kind: 10, id: answer.id.value)
            gateway(to - layout.gateway(0), .limiterAnswered(answer))
        }
    }

    /// Every timer is fed, live or not (the production host drops the ones a machine calls dead), unless
    /// `dropsDeadTimers` is set; a dead one that acted anyway is counted, so tests can hold the machines'
    /// `timerIsLive` to its promise.
    func fireTimer(_ timer: TimerID, node: Int) {
        if node == layout.router {
            let live = router.timerIsLive(timer, now: localNow(node))
            if !live && dropsDeadTimers { return countTimer(live: false, acted: false) }
            routerActions.removeAll(keepingCapacity: true)
            router.handle(.timerFired(timer), now: localNow(node), into: &routerActions)
            countTimer(live: live, acted: !routerActions.isEmpty)
            performRouter()
        } else if node < layout.router {
            let gateway = node - layout.gateway(0)
            let live = gateways[gateway].timerIsLive(timer, now: localNow(node))
            if !live && dropsDeadTimers { return countTimer(live: false, acted: false) }
            gatewayActions.removeAll(keepingCapacity: true)
            gateways[gateway].handle(.timerFired(timer), now: localNow(node), into: &gatewayActions)
            countTimer(live: live, acted: !gatewayActions.isEmpty)
            performGateway(gateway)
        } else {
            let orchestrator = node - layout.orchestrator(0)
            let live = orchestrators[orchestrator].timerIsLive(timer, now: localNow(node))
            if !live && dropsDeadTimers { return countTimer(live: false, acted: false) }
            orchestratorActions.removeAll(keepingCapacity: true)
            orchestrators[orchestrator].handle(.timerFired(timer), now: localNow(node), into: &orchestratorActions)
            countTimer(live: live, acted: !orchestratorActions.isEmpty)
            performOrchestrator(orchestrator)
        }
    }

    func countTimer(live: Bool, acted: Bool) {
        if live { return }
        timerCounts.dead += 1
        if acted { timerCounts.deadActed += 1 }
    }

    /// Feeds one of the rarer inputs to a gateway at its own clock's time and performs what it asks.
    func gateway(_ index: Int, _ input: Gateway.Input) {
        gatewayActions.removeAll(keepingCapacity: true)
        gateways[index].handle(input, now: localNow(layout.gateway(index)), into: &gatewayActions)
        performGateway(index)
    }

    func performGateway(_ gateway: Int) {
        let node = layout.gateway(gateway)
        for action in gatewayActions {
            switch action {
            case .forward(let request): send(.route(request, gateway: gateway), from: node, to: layout.router)
            case .checkLimit(let check):
                send(.control(ControlMessage(.limitCheck(check))), from: node, to: layout.redis)
            case .respond(let response): send(.response(response), from: node, to: NodeLayout.client)
            case .setTimer(let timer, let at): queue.schedule(at: globalTime(at, node: node), .timer(node: node, timer))
            case .observe(let observation):
                oracles.observe(observation, node: node, time: now)
                if case .admitted = observation, limiterDownSince >= 0 {
                    oracles.admittedWhileLimiterDown(since: limiterDownSince, at: now)
                }
            }
        }
    }

    func performRouter() {
        let node = layout.router
        for action in routerActions {
            switch action {
            case .observe(.canaryDecided):
                for decision in router.takeCanaryAudit() { oracles.rolloutDecided(decision, at: now) }
            case .execute(let request, let orchestrator):
                send(.execute(request), from: node, to: layout.orchestrator(orchestrator.value))
            case .reply(let reply, let gateway): send(.routeReply(reply), from: node, to: layout.gateway(gateway))
            case .setTimer(let timer, let at): queue.schedule(at: globalTime(at, node: node), .timer(node: node, timer))
            case .observe(let observation): oracles.observe(observation, node: node, time: now)
            }
        }
    }

    func performOrchestrator(_ orchestrator: Int) {
        let node = layout.orchestrator(orchestrator)
        for action in orchestratorActions {
            switch action {
            case .call(let call): send(.call(call), from: node, to: layout.backend(call.backend.value))
            case .reply(let reply): send(.executeReply(reply), from: node, to: layout.router)
            case .setTimer(let timer, let at): queue.schedule(at: globalTime(at, node: node), .timer(node: node, timer))
            case .observe(let observation):
                if case .callStarted(_, _, let backend, let retry) = observation {
                    metrics.recordCall(at: now, backend: backend.value, retry: retry)
                }
                oracles.observe(observation, node: node, time: now)
            }
        }
    }
}
