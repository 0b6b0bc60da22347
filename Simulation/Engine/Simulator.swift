// The simulation shell: one thread, one event queue ordered by (virtual time, sequence), one
// seeded generator split into a stream per component. It delivers messages between the real node
// machines over a simulated network, plays the Triton backends, injects the scenario's faults and
// clocks, and hashes every delivered input into the run's history.

import PlatformCore

/// One run of one scenario with one seed.
public final class Simulator {
    let scenario: Scenario
    let layout: NodeLayout
    let seed: UInt64
    let sabotage: Sabotage
    var queue = EventQueue()
    var now: Int64 = 0
    let horizon: Int64
    var history = StableHasher()
    var events = 0
    /// Machine timers fired that their machine called dead, and how many of those acted all the same (never
    /// reported; read by tests).
    public internal(set) var timerCounts = (dead: 0, deadActed: 0)
    /// Drops the timers a machine calls dead instead of feeding them, as the production host does (tests only:
    /// a run must end the same either way, except for its event count and history).
    var dropsDeadTimers = false
    /// Called with every delivered input when set (for --check-determinism).
    var recorder: ((HistoryEntry) -> Void)?

    var gateways: [Gateway] = []
    var router: Router
    var orchestrators: [Orchestrator] = []
    var backends: [SimulatedBackend] = []
    var clockOffset: [Int64]
    var clockDrift: [Int64]

    var networkRandom: SeededRandom
    var workloadRandom: [SeededRandom]
    /// The credential each workload stream presents, made once.
    var streamCredentials: [String]
    var linkLoss: [Int64]
    var partitions: [Int]
    /// Extra delay per link while a delay fault is on.
    var linkDelay: [Int64]
    /// Per link, the latest delivery time scheduled on FIFO links (the broker's connections).
    var linkLastDelivery: [Int64]
    var nextRequest: UInt64 = 0
    var nextGateway = 0

    var gatewayActions: [Gateway.Action] = []
    var routerActions: [Router.Action] = []
    var orchestratorActions: [Orchestrator.Action] = []
    var frontendActions: [JobFrontend.Action] = []
    var workerActions: [BatchWorker.Action] = []

    var oracles: Oracles
    var metrics: RunMetrics
    let recoveredFrom: Int64
    /// The batch path's world, when the scenario has one.
    var batch: BatchWorld?
    /// The shared limiter store, when the scenario has one, and since when it has been down (-1: up).
    var limiterStore: LimiterStoreModel?
    var limiterDownSince: Int64 = -1
    /// Stored keys and signing keys, when the scenario has an `auth` section.
    var auth: AuthWorld?
    /// The registry store and the gateways' caches, when the scenario has a `registry` section.
    var registry: RegistryWorld?

    public init(scenario: Scenario, seed: UInt64, sabotage: Sabotage = []) {
        self.scenario = scenario
        layout = scenario.layout
        self.seed = seed
        self.sabotage = sabotage
        let drain = max(scenario.defaultTimeout, scenario.workload.map(\.timeout).max() ?? .zero) + .seconds(2)
        horizon = (scenario.duration + drain).nanoseconds
        let root = SeededRandom(seed: seed)
        networkRandom = root.split(stream: 1)
        workloadRandom = scenario.workload.indices.map { root.split(stream: 1_000 + UInt64($0)) }
        streamCredentials = scenario.workload.map {
            $0.key >= 0 ? Simulator.credential(scenario.keys[$0.key].name) : "sk-unknown"
        }
        if let spec = scenario.auth {
            auth = AuthWorld(
                spec: spec, keyNames: scenario.keys.map(\.name), sabotage: sabotage, random: root.split(stream: 4_000))
        }
        let deployment = Simulator.deployment(scenario)
        router = Router(configuration: Simulator.routerConfiguration(scenario, deployment, sabotage, seed: seed))
        for index in 0..<scenario.gateways {
            var configuration = Simulator.gatewayConfiguration(scenario, deployment, index, sabotage, seed)
            if let auth { configuration.credentials = auth.initialSources() }
            gateways.append(Gateway(configuration: configuration))
        }
        for index in 0..<scenario.orchestrators {
            orchestrators.append(
                Orchestrator(
                    configuration: Simulator.orchestratorConfiguration(scenario, deployment, index, sabotage, seed)))
        }
        for (index, spec) in scenario.backends.enumerated() {
            backends.append(SimulatedBackend(spec: spec, random: root.split(stream: 2_000 + UInt64(index))))
        }
        clockOffset = Array(repeating: 0, count: layout.count)
        clockDrift = Array(repeating: 0, count: layout.count)
        for clock in scenario.clocks {
            clockOffset[clock.node] = clock.offset.nanoseconds
            clockDrift[clock.node] = clock.driftPartsPerMillion
        }
        linkLoss = Array(repeating: 0, count: layout.count * layout.count)
        partitions = Array(repeating: 0, count: layout.count * layout.count)
        linkDelay = Array(repeating: 0, count: layout.count * layout.count)
        linkLastDelivery = Array(repeating: 0, count: layout.count * layout.count)
        oracles = Oracles(scenario: scenario)
        metrics = RunMetrics(
            duration: scenario.duration, bucket: scenario.bucket, keyCount: scenario.keys.count,
            backendCount: scenario.backends.count)
        recoveredFrom = (scenario.faultsEnd + scenario.recoveryBound).nanoseconds
        batch = Simulator.makeBatchWorld(scenario, deployment, sabotage, root.split(stream: 3_000), auth: auth)
        if let spec = scenario.registry {
            registry = RegistryWorld(
                spec: spec, gateways: scenario.gateways, sabotage: sabotage, random: root.split(stream: 5_000))
        }
        if let auth {
            for (index, stream) in scenario.workload.enumerated() where stream.credential != .static {
                streamCredentials[index] = credential(stream, auth)
            }
        }
        if scenario.limiter != nil { limiterStore = LimiterStoreModel(limits: Simulator.rateLimits(scenario)) }
    }

    /// Runs to the end and returns the outcome.
    public func run() -> RunOutcome {
        for (index, stream) in scenario.workload.enumerated() {
            scheduleArrival(stream: index, after: stream.start.nanoseconds)
        }
        for (index, fault) in scenario.faults.enumerated() {
            queue.schedule(at: fault.start.nanoseconds, .fault(index: index, starting: true))
            queue.schedule(at: fault.end.nanoseconds, .fault(index: index, starting: false))
        }
        queue.schedule(at: 100_000_000, .deadlineSweep)
        startRegistry()
        if let rotateAt = scenario.auth?.rotateAt {
            queue.schedule(at: rotateAt.nanoseconds, .authStep(0))
            queue.schedule(at: (rotateAt + scenario.auth!.switchAfter).nanoseconds, .authStep(1))
            queue.schedule(at: (rotateAt + scenario.auth!.grace).nanoseconds, .authStep(2))
        }
        if batch != nil {
            queue.schedule(at: scenario.faultsEnd.nanoseconds, .fault(index: -1, starting: false))
            startBatch()
        }
        while !queue.isEmpty {
            let time = queue.earliestTime
            if time > horizon { break }
            now = time
            dispatch(queue.removeFirst())
        }
        now = horizon
        sweep(upTo: Int64.max)
        return finish()
    }

    @inline(__always) func record(node: Int, kind: UInt64, id: UInt64) {
        events += 1
        history.combine(now)
        history.combine(UInt64(node) << 8 | kind)
        history.combine(id)
        if let recorder { recorder(HistoryEntry(index: events, time: now, node: node, kind: kind, id: id)) }
    }

    func dispatch(_ event: Event) {
        switch event {
        case .arrival(let stream): arrive(stream: stream)
        case .deliver(let from, let to, let message): deliver(message, from: from, to: to)
        case .deliverBatch(let from, let to, let slot): deliverBatch(queue.takeDelivery(slot), from: from, to: to)
        case .timer(let node, let timer):
            record(node: node, kind: 20, id: timer.value)
            fireTimer(timer, node: node)
        case .serviceDone(let backend, let epoch, let call, let replyTo):
            guard backends[backend].epoch == epoch else { return }
            record(node: layout.backend(backend), kind: 21, id: call.value)
            let failure = backends[backend].finish()
            send(.callReply(BackendReply(call: call, failure: failure)), from: layout.backend(backend), to: replyTo)
            if let next = backends[backend].startNext() {
                queue.schedule(
                    at: now + next.service,
                    .serviceDone(
                        backend: backend, epoch: backends[backend].epoch,
                        call: next.call, replyTo: next.replyTo))
            }
        case .fault(let index, let starting):
            record(node: 0, kind: starting ? 22 : 23, id: UInt64(bitPattern: Int64(index)))
            if index < 0 { return markFaultsEnd() }
            applyFault(index, starting: starting)
        case .deadlineSweep:
            sweep(upTo: now)
            if now + 100_000_000 <= horizon { queue.schedule(at: now + 100_000_000, .deadlineSweep) }
        case .jobArrival(let stream): jobArrival(stream: stream)
        case .jobFollowUp(let clientJob, let kind): jobFollowUp(clientJob, kind)
        case .frontendTimer(let gateway, let timer):
            record(node: layout.gateway(gateway), kind: 51, id: timer.value)
            frontend(gateway, .timerFired(timer))
        case .workerTimer(let worker, let epoch, let timer): workerTimer(worker, epoch: epoch, timer)
        case .sessionExpired(let worker, let epoch): sessionExpired(worker, epoch: epoch)
        case .collectorTimer(let timer):
            record(node: layout.collector, kind: 55, id: timer.value)
            collector(.timerFired(timer))
        case .registryLookup: registryLookup()
        case .registryWrite: registryWrite()
        case .registryTimer(let gateway): registryTimer(gateway)
        case .authStep(let step):
            record(node: layout.redis, kind: 56, id: UInt64(step))
            authStep(step)
        case .rebalanceDeadline(let generation):
            if batch!.broker.generation == generation && batch!.pendingRevocations > 0 { assignPartitions() }
        }
    }

    /// The instant on `node`'s own clock at global time `now`.
    @inline(__always) func localNow(_ node: Int) -> Instant {
        let drift = clockDrift[node]
        if drift == 0 { return Instant(nanoseconds: now &+ clockOffset[node]) }
        return Instant(nanoseconds: now &+ clockOffset[node] &+ Int64(Int128(now) * Int128(drift) / 1_000_000))
    }

    /// The global time at which `node`'s clock reads `local` (never before now).
    @inline(__always) func globalTime(_ local: Instant, node: Int) -> Int64 {
        let drift = clockDrift[node]
        let shifted = local.nanoseconds &- clockOffset[node]
        let global: Int64
        if drift == 0 {
            global = shifted
        } else {
            let numerator = Int128(shifted) * 1_000_000
            let denominator = Int128(1_000_000 + drift)
            global = Int64((numerator + denominator - 1) / denominator)
        }
        return max(global, now)
    }
}

/// One delivered input, for comparing two runs event by event.
public struct HistoryEntry: Sendable, Equatable {
    public var index: Int
    public var time: Int64
    public var node: Int
    public var kind: UInt64
    public var id: UInt64
}

extension Simulator {
    /// Calls `recorder` with every delivered input (slows the run; for determinism checks).
    public func setRecorder(_ recorder: @escaping (HistoryEntry) -> Void) { self.recorder = recorder }
}
