// The router node: chooses a model version (pinned, or by weighted canary split), a backend of
// that version (round-robin or least-latency with two random choices) and an orchestrator to run
// it, skipping backends and orchestrators its health tracking has ejected. It learns backend
// latency and health from the orchestrators' replies, and orchestrator health from timeouts. When a
// rollout is configured, a canary controller watches the outcome of every request to the two
// versions under analysis and sets the model's split as it steps up, promotes or rolls back.

/// The router machine: route requests in, execute requests out.
public struct Router: Sendable {
    /// How a backend is chosen within a version's pool.
    public enum Strategy: String, Sendable, Hashable {
        case roundRobin
        case leastLatency
    }

    /// An automated canary rollout of one model: the controller moves traffic from `stable` to `canary`.
    public struct Rollout: Sendable, Equatable {
        public var model: ModelID
        public var stable: Int
        public var canary: Int
        public var controller: CanaryController.Configuration

        public init(model: ModelID, stable: Int, canary: Int, controller: CanaryController.Configuration) {
            self.model = model
            self.stable = stable
            self.canary = canary
            self.controller = controller
        }
    }

    public struct Configuration: Sendable {
        public var deployment = Deployment(models: [], backendCount: 0)
        /// A canary rollout to run from the router's first input, if any.
        public var rollout: Rollout?
        public var orchestratorCount: Int = 1
        public var strategy: Strategy = .leastLatency
        public var leastLatency = LeastLatencyPicker.Configuration()
        /// A backend whose latency was last measured longer ago than this gets the next request,
        /// so a backend that once looked slow is measured again instead of starved forever.
        public var latencySampleMaxAge: Duration = .seconds(1)
        public var backendHealth = HealthTracker.Configuration()
        public var orchestratorHealth = HealthTracker.Configuration()
        /// Kept back from the budget so the router's own answer reaches the gateway in time.
        public var replyMargin: Duration = .milliseconds(2)
        public var pendingMax: Int = 100_000
        public var sabotage: Sabotage = []
        public var seed: UInt64 = 2
        public init() {}
    }

    /// What the router is told.
    public enum Input: Sendable {
        /// A gateway asks to route a request.
        case route(RouteRequest, fromGateway: Int)
        /// An orchestrator finished a request.
        case orchestratorReplied(ExecuteReply)
        /// A timer the router set has fired.
        case timerFired(TimerID)
        /// An operator's override of the rollout (pause, resume, promote, abort).
        case canaryOverride(CanaryController.Input)
    }

    /// What the router asks its shell to do.
    public enum Action: Sendable {
        /// Send this request to an orchestrator.
        case execute(ExecuteRequest, to: OrchestratorID)
        /// Answer a gateway.
        case reply(RouteReply, toGateway: Int)
        /// Call back with `timerFired` at this instant of the router's clock.
        case setTimer(TimerID, at: Instant)
        /// Report a fact for telemetry and oracles.
        case observe(Observation)
    }

    struct Pending {
        var gateway: Int
        var backend: BackendID
        var pool: Int
        var member: Int
        var orchestrator: OrchestratorID
        var sentAt: Instant
        var version: Int
    }

    /// The rollout controller's timer carries this bit, so it never collides with a request's timer.
    static let canaryTimerBit: UInt64 = 1 << 62

    /// One version's backends and the picker that chooses among them.
    struct Pool {
        var model: Int
        var backends: [BackendID]
        var roundRobin = RoundRobinPicker()
        var leastLatency: LeastLatencyPicker
        /// When each member was last picked, for re-measuring members that get no traffic.
        var lastPickedAt: [Instant]
    }

    public let configuration: Configuration
    var splits: [TrafficSplit?]
    /// poolIndex[model][versionPosition] -> index into `pools`.
    var poolIndex: [[Int]]
    var pools: [Pool]
    var backendHealth: HealthTracker
    var orchestratorHealth: HealthTracker
    var orchestratorPicker = RoundRobinPicker()
    var pending = IdentifierTable<Pending>(capacity: 1_024)
    var random: SeededRandom
    var healthEvents: [HealthTracker.Event] = []
    var canary: CanaryController?
    var canaryStarted = false
    /// The rollout's model and versions, kept apart from the configuration so no input copies the controller's
    /// configuration.
    let rolloutVersions: (model: Int, stable: Int, canary: Int)
    /// Whether a rollout runs; tested instead of `canary != nil`, which would copy the whole controller.
    let hasRollout: Bool
    var canaryActions: [CanaryController.Action] = []
    /// Decisions not yet taken by the shell.
    var canaryAudit: [CanaryDecision] = []

    public init(configuration: Configuration) {
        self.configuration = configuration
        var backendHealthConfiguration = configuration.backendHealth
        if configuration.sabotage.contains(.staleHealth) { backendHealthConfiguration.neverReadmits = true }
        backendHealth = HealthTracker(
            memberCount: configuration.deployment.backendCount, configuration: backendHealthConfiguration)
        orchestratorHealth = HealthTracker(
            memberCount: configuration.orchestratorCount, configuration: configuration.orchestratorHealth)
        random = SeededRandom(seed: configuration.seed, stream: 0x2047)
        rolloutVersions = configuration.rollout.map { ($0.model.value, $0.stable, $0.canary) } ?? (-1, 0, 0)
        hasRollout = configuration.rollout != nil
        if let rollout = configuration.rollout {
            var controller = rollout.controller
            if configuration.sabotage.contains(.noRollback) { controller.neverRollsBack = true }
            canary = CanaryController(configuration: controller)
        }
        splits = []
        poolIndex = []
        pools = []
        let ignoresWeights = configuration.sabotage.contains(.canaryIgnoresWeight)
        for model in configuration.deployment.models {
            let entries = model.versions.filter { $0.state.takesTraffic && $0.weight > 0 }
                .map { TrafficSplit.Entry(version: $0.number, weight: $0.weight) }
            splits.append(entries.isEmpty ? nil : TrafficSplit(entries: entries, ignoresWeights: ignoresWeights))
            var indices: [Int] = []
            for version in model.versions {
                indices.append(pools.count)
                pools.append(
                    Pool(
                        model: poolIndex.count, backends: version.backends,
                        leastLatency: LeastLatencyPicker(
                            memberCount: version.backends.count, configuration: configuration.leastLatency),
                        lastPickedAt: Array(repeating: .zero, count: version.backends.count)))
            }
            poolIndex.append(indices)
        }
    }

    /// Requests sent to orchestrators and not yet answered.
    public var pendingCount: Int { pending.count }

    /// False when `.timerFired(timer)` at `now` would find nothing to do: the request it guards was answered, and
    /// no health readmission is due and no rollout waits to start (which any input does first). No action and no
    /// state changed, so a shell may drop the firing. Canary timers are always live.
    /// `mutating` only so that the machine is passed by address: it changes nothing, and a non-mutating call
    /// copies the whole machine onto the stack first, once per timer.
    public mutating func timerIsLive(_ timer: TimerID, now: Instant) -> Bool {
        if timer.value & Router.canaryTimerBit != 0 || (hasRollout && !canaryStarted) { return true }
        if now >= backendHealth.nextReadmissionAt || now >= orchestratorHealth.nextReadmissionAt { return true }
        return pending.contains(timer.value)
    }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        advanceHealth(now: now, into: &actions)
        if hasRollout && !canaryStarted {
            canaryStarted = true
            drive(.start(stable: rolloutVersions.stable, canary: rolloutVersions.canary), now: now, into: &actions)
        }
        switch input {
        case .route(let request, let gateway): route(request, from: gateway, now: now, into: &actions)
        case .canaryOverride(let command): drive(command, now: now, into: &actions)
        case .orchestratorReplied(let reply):
            guard let entry = pending.removeValue(forKey: reply.id.value) else { return }
            if case .ok = reply.outcome {
                observeForCanary(entry, success: true, now: now, into: &actions)
            } else {
                observeForCanary(entry, success: false, now: now, into: &actions)
            }
            orchestratorHealth.recordSuccess(member: entry.orchestrator.value, now: now)
            if reply.preferredBackendFailed {
                pools[entry.pool].leastLatency.record(member: entry.member, latency: now - entry.sentAt)
                if let event = backendHealth.recordFailure(member: entry.backend.value, now: now) {
                    observe(event, into: &actions)
                }
            } else {
                pools[entry.pool].leastLatency.record(member: entry.member, latency: now - entry.sentAt)
                backendHealth.recordSuccess(member: entry.backend.value, now: now)
            }
            actions.append(.reply(RouteReply(id: reply.id, outcome: reply.outcome), toGateway: entry.gateway))
        case .timerFired(let timer):
            if timer.value & Router.canaryTimerBit != 0 { return drive(.timerFired, now: now, into: &actions) }
            let id = RequestID(timer.value)
            guard let entry = pending.removeValue(forKey: id.value) else { return }
            observeForCanary(entry, success: false, now: now, into: &actions)
            pools[entry.pool].leastLatency.release(member: entry.member)
            actions.append(.observe(.orchestratorTimedOut(id, entry.orchestrator)))
            if let event = orchestratorHealth.recordFailure(member: entry.orchestrator.value, now: now) {
                observeOrchestrator(event, into: &actions)
            }
            actions.append(
                .reply(RouteReply(id: id, outcome: .failed(.timeout, retryAfter: .zero)), toGateway: entry.gateway))
        }
    }

    mutating func route(_ request: RouteRequest, from gateway: Int, now: Instant, into actions: inout [Action]) {
        guard !pending.contains(request.id.value) else { return }  // a duplicate delivery: the first copy is in flight
        guard let version = chooseVersion(request) else {
            return actions.append(.reply(Self.failure(request.id, .badRequest), toGateway: gateway))
        }
        let poolNumber = poolIndex[request.model.value][version.position]
        guard pending.count < configuration.pendingMax, !pools[poolNumber].backends.isEmpty,
            let member = pickBackend(pool: poolNumber, now: now)
        else {
            return actions.append(.reply(Self.failure(request.id, .unavailable), toGateway: gateway))
        }
        let backend = pools[poolNumber].backends[member]
        let orchestrator = pickOrchestrator()
        let budget = request.budget - configuration.replyMargin
        pending[request.id.value] = Pending(
            gateway: gateway, backend: backend, pool: poolNumber, member: member, orchestrator: orchestrator,
            sentAt: now, version: version.number)
        actions.append(
            .observe(
                .routed(
                    request.id, model: request.model, version: version.number, state: version.state, backend: backend,
                    via: orchestrator)))
        actions.append(.setTimer(TimerID(request.id.value), at: now + budget))
        actions.append(
            .execute(
                ExecuteRequest(
                    id: request.id, model: request.model, version: version.number, preferredBackend: backend,
                    inputElements: request.inputElements, budget: budget),
                to: orchestrator))
    }

    /// The version to serve (its position in the model's versions, number and state): the pinned one if it takes
    /// traffic, else the canary split's choice. Reads the deployment in place, copying no model or version.
    mutating func chooseVersion(_ request: RouteRequest) -> (position: Int, number: Int, state: VersionState)? {
        let modelIndex = request.model.value
        guard modelIndex >= 0 && modelIndex < configuration.deployment.models.count else { return nil }
        var number = request.version
        if number == 0 {
            let stickyKey = request.stickyKey == 0 ? nil : request.stickyKey
            guard let chosen = splits[modelIndex]?.choose(stickyKey: stickyKey, random: &random) else { return nil }
            number = chosen
        }
        let versions = configuration.deployment.models[modelIndex].versions
        var position = 0
        while position < versions.count && versions[position].number != number { position += 1 }
        guard position < versions.count else { return nil }
        let state = versions[position].state
        return state.takesTraffic ? (position, number, state) : nil
    }

    /// A backend of the pool that health tracking allows; all of them when none is allowed
    /// (panic routing beats refusing everything).
    mutating func pickBackend(pool poolNumber: Int, now: Instant) -> Int? {
        let backends = pools[poolNumber].backends
        let ejected = backendHealth.ejected
        var anyAvailable = false
        for backend in backends where !ejected[backend.value] {
            anyAvailable = true
            break
        }
        let everyone = !anyAvailable
        let picked: Int?
        switch configuration.strategy {
        case .roundRobin:
            picked = pools[poolNumber].roundRobin.pick(
                count: backends.count, isEligible: { everyone || !ejected[backends[$0].value] })
        case .leastLatency:
            let oldest = now - configuration.latencySampleMaxAge
            var stale = -1
            for member in backends.indices
            where pools[poolNumber].lastPickedAt[member] < oldest && (everyone || !ejected[backends[member].value]) {
                stale = member
                break
            }
            if stale >= 0 {
                picked = pools[poolNumber].leastLatency.pick(
                    count: backends.count, isEligible: { $0 == stale }, random: &random)
            } else {
                picked = pools[poolNumber].leastLatency.pick(
                    count: backends.count, isEligible: { everyone || !ejected[backends[$0].value] },
                    random: &random)
            }
        }
        if let picked { pools[poolNumber].lastPickedAt[picked] = now }
        return picked
    }

    mutating func pickOrchestrator() -> OrchestratorID {
        let ejected = orchestratorHealth.ejected
        let count = configuration.orchestratorCount
        if let member = orchestratorPicker.pick(count: count, isEligible: { !ejected[$0] }) {
            return OrchestratorID(member)
        }
        return OrchestratorID(orchestratorPicker.pick(count: count, isEligible: { _ in true }) ?? 0)
    }

    mutating func advanceHealth(now: Instant, into actions: inout [Action]) {
        // Nothing is due before either tracker's next readmission (what `advance` checks first).
        guard now >= backendHealth.nextReadmissionAt || now >= orchestratorHealth.nextReadmissionAt else { return }
        backendHealth.advance(now: now, into: &healthEvents)
        if !healthEvents.isEmpty {
            for event in healthEvents { observe(event, into: &actions) }
            healthEvents.removeAll(keepingCapacity: true)
        }
        orchestratorHealth.advance(now: now, into: &healthEvents)
        if !healthEvents.isEmpty {
            for event in healthEvents { observeOrchestrator(event, into: &actions) }
            healthEvents.removeAll(keepingCapacity: true)
        }
    }

    func observeOrchestrator(_ event: HealthTracker.Event, into actions: inout [Action]) {
        switch event {
        case .ejected(let member, _): actions.append(.observe(.orchestratorEjected(OrchestratorID(member))))
        case .readmitted(let member): actions.append(.observe(.orchestratorReadmitted(OrchestratorID(member))))
        }
    }

    func observe(_ event: HealthTracker.Event, into actions: inout [Action]) {
        switch event {
        case .ejected(let member, _): actions.append(.observe(.backendEjected(BackendID(member))))
        case .readmitted(let member): actions.append(.observe(.backendReadmitted(BackendID(member))))
        }
    }

    /// Feeds a finished request of the rollout's model to its controller.
    mutating func observeForCanary(_ entry: Pending, success: Bool, now: Instant, into actions: inout [Action]) {
        guard hasRollout, pools[entry.pool].model == rolloutVersions.model else { return }
        drive(
            .observed(version: entry.version, success: success, latency: now - entry.sentAt), now: now, into: &actions)
    }

    /// Runs the rollout controller and performs what it asks: the model's split, its timer, its audit trail.
    mutating func drive(_ input: CanaryController.Input, now: Instant, into actions: inout [Action]) {
        guard hasRollout else { return }
        let rollout = rolloutVersions
        canaryActions.removeAll(keepingCapacity: true)
        canary!.handle(input, now: now, into: &canaryActions)
        for action in canaryActions {
            switch action {
            case .setWeights(let stable, let canaryWeight):
                splits[rollout.model] = TrafficSplit(
                    entries: [
                        TrafficSplit.Entry(version: rollout.stable, weight: stable),
                        TrafficSplit.Entry(version: rollout.canary, weight: canaryWeight),
                    ], ignoresWeights: configuration.sabotage.contains(.canaryIgnoresWeight))
            case .setTimer(let at): actions.append(.setTimer(TimerID(Router.canaryTimerBit), at: at))
            case .audit(let decision):
                canaryAudit.append(decision)
                actions.append(.observe(.canaryDecided(ModelID(rollout.model))))
            case .promoted, .rolledBack: break
            }
        }
    }

    /// The rollout's decisions since the last call, oldest first, for the shell's audit log and metrics.
    public mutating func takeCanaryAudit() -> [CanaryDecision] {
        defer { canaryAudit.removeAll() }
        return canaryAudit
    }

    /// The rollout's phase, when there is one.
    public var canaryPhase: CanaryController.Phase? { canary?.phase }

    static func failure(_ id: RequestID, _ kind: ErrorKind) -> RouteReply {
        RouteReply(id: id, outcome: .failed(kind, retryAfter: kind == .unavailable ? .seconds(1) : .zero))
    }
}
