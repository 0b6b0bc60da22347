// A chaos scenario: the topology, the workload, the faults and their windows, the clocks, and
// what must hold. Loaded from `scenarios/NAME.json` (see docs/simulation.md); every field has a
// default so a scenario states only what it is about.

import PlatformCore

/// A parsed, validated scenario.
public struct Scenario: Sendable {
    public var name: String = "scenario"
    public var description: String = ""
    /// Simulated length of the run; arrivals stop here and in-flight requests then drain.
    public var duration: Duration = .seconds(60)
    /// End of the safety phase: every fault window ends by here; the liveness phase follows.
    public var faultsEnd: Duration = .seconds(40)
    /// Time after `faultsEnd` within which the system must be back within its SLO.
    public var recoveryBound: Duration = .seconds(10)
    public var sloP99: Duration = .milliseconds(250)
    /// Largest share of failed requests (503/504) allowed once recovered.
    public var errorRateMax: Ratio = .percent(1)
    /// Lateness tolerated on a response beyond the client's deadline (clock drift, the last hop).
    public var responseSlack: Duration = .milliseconds(50)
    /// Timeline bucket width in the report; zero picks one that gives at most 600 buckets.
    public var bucket: Duration = .zero
    /// Invariants this scenario checks; empty means all of them.
    public var checks: [String] = []
    public var sometimes: [String] = []

    public var gateways: Int = 1
    public var orchestrators: Int = 2
    public var strategy: Router.Strategy = .leastLatency
    public var models: [ModelSpec] = []
    public var backends: [BackendSpec] = []
    public var network = NetworkSpec()
    public var keys: [KeySpec] = []
    public var workload: [StreamSpec] = []
    public var faults: [FaultSpec] = []
    public var clocks: [ClockSpec] = []
    public var expectations: [ExpectationSpec] = []
    /// The asynchronous batch path; nil when the scenario has no batch traffic.
    public var batch: BatchSpec?
    /// A limiter store shared by the gateways; nil: each gateway limits its share by itself.
    public var limiter: SharedLimitSettings?
    /// An automated canary rollout the router runs, and its expected verdict.
    public var canary: CanarySpec?
    /// Stored API keys and bearer tokens, and their rotation; nil: static keys only.
    public var auth: AuthSpec?
    /// The model registry with the gateways' read-through caches; nil: no registry traffic.
    public var registry: RegistrySpec?

    public var breaker = CircuitBreaker.Configuration()
    public var retry = RetryPolicy.Configuration()
    public var budget = RetryBudget.Configuration()
    public var backendHealth = HealthTracker.Configuration()
    public var orchestratorHealth = HealthTracker.Configuration()
    public var defaultTimeout: Duration = .seconds(1)

    public init() {}
}

public struct ModelSpec: Sendable {
    public var name: String
    public var inputElementsMax: Int
    public var versions: [VersionSpec]
}

public struct VersionSpec: Sendable {
    public var number: Int
    public var state: VersionState
    public var weight: Int64
    /// Indices into `Scenario.backends`.
    public var backends: [Int]
}

/// A simulated Triton instance.
public struct BackendSpec: Sendable {
    public var name: String
    /// Requests served at once (model instances x dynamic batch).
    public var concurrency: Int = 8
    /// Requests waiting beyond this are refused at once as overloaded.
    public var queueMax: Int = 256
    public var serviceBase: Duration = .milliseconds(5)
    /// Mean of the exponential part of the service time.
    public var serviceMeanExtra: Duration = .milliseconds(10)
    public var errorRate: Ratio = .zero
}

/// Latency and faults of every message between two nodes (a TCP connection in production).
public struct NetworkSpec: Sendable {
    public var latencyBase: Duration = .microseconds(200)
    public var latencyMeanExtra: Duration = .microseconds(300)
    public var loss: Ratio = .zero
    public var duplication: Ratio = .zero
    /// Share of messages held back by an extra random delay, so they overtake each other.
    public var reorder: Ratio = .zero
    public var reorderDelayMax: Duration = .milliseconds(20)
}

public struct KeySpec: Sendable {
    public var name: String
    public var requestsPerMinute: Int64 = 100
    public var burst: Int64 = 20
    /// A protected key must keep the SLO and never be rate limited for the whole run.
    public var protected: Bool = false
    /// False for a key without the infer scope (its requests get 403).
    public var mayInfer: Bool = true
}

/// One open-loop Poisson arrival stream.
public struct StreamSpec: Sendable {
    /// Index into `Scenario.keys`, or -1 for an unknown credential (401s).
    public var key: Int
    public var requestsPerSecond: Int64
    public var model: Int
    /// Pinned version, 0 for the canary split.
    public var version: Int = 0
    /// Share of requests that carry a sticky key (drawn from `stickyKeys` distinct users).
    public var sticky: Ratio = .zero
    public var stickyKeys: Int = 1_000
    public var timeout: Duration = .zero
    /// Share of requests that are malformed (400s).
    public var invalid: Ratio = .zero
    /// What the stream presents (static keys unless the scenario has an `auth` section).
    public var credential: CredentialKind = .static
    public var inputElements: Int = 64
    public var start: Duration = .zero
    /// nil: until the end of the run.
    public var end: Duration?
}

/// A fault injected over a window of simulated time.
public struct FaultSpec: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The backend process dies: in-flight work is lost, calls get no answer until it restarts.
        case crash
        /// The backend accepts calls and never answers.
        case hang
        /// The backend's service time is multiplied by `factor`.
        case slowdown
        /// The backend fails a share of calls with a server error.
        case errors
        /// No message passes between the two named nodes, either way.
        case partition
        /// A share of messages between the two named nodes is lost.
        case loss
        /// Messages between the two named nodes sent in the window arrive `delayMs` late (a stalled
        /// connection, a paused process's late writes).
        case delay
        /// The job store refuses every command (`percent`: share of commands that are applied
        /// but whose answer is lost instead, an unknown outcome).
        case storeOutage
        /// Job store commands take `factor` times longer.
        case storeSlow
        /// A share (`percent`) of object store writes fail.
        case objectStoreErrors
        /// A batch worker process dies (volatile state lost) and restarts at the window's end.
        case workerCrash
        /// A batch worker is asked to shut down gracefully and restarts at the window's end.
        case workerShutdown
        /// The consumer group rebalances at the window's start (every partition moves).
        case rebalance
        /// The shared limiter store (Redis) stops answering.
        case limiterOutage
        /// The registry store stops answering: cache reads time out, writes are refused.
        case registryOutage
    }
    public var kind: Kind
    /// A backend index, or a node pair for partition and loss.
    public var backend: Int = -1
    public var nodes: (Int, Int) = (-1, -1)
    public var targetName: String
    public var start: Duration
    public var end: Duration
    public var factor: Int64 = 1
    public var rate: Ratio = .zero
    public var delay: Duration = .zero
}

/// A node's clock: it reads global time plus an offset, running fast or slow by `driftPpm`.
public struct ClockSpec: Sendable {
    public var node: Int
    public var offset: Duration
    public var driftPartsPerMillion: Int64
}

/// A scenario-specific property checked at the end of a run.
public struct ExpectationSpec: Sendable {
    public enum Kind: String, Sendable {
        /// A backend received at most `share` of its version's calls in the window.
        case backendShareAtMost
    }
    public var kind: Kind
    public var backend: Int
    public var start: Duration
    public var end: Duration
    public var share: Ratio
}

/// The batch path of a scenario: the jobs topic, the worker pool, the stores, the job workload.
public struct BatchSpec: Sendable {
    public var partitions: Int = 8
    public var workers: Int = 3
    public var slots: Int = 8
    public var prefetchMax: Int = 16
    public var callsInFlightPerJob: Int = 4
    public var itemsPerCall: Int = 8
    public var fetchRecordsMin: Int = 8
    public var lease: Duration = .seconds(10)
    public var attemptsMax: Int = 3
    public var drainDeadline: Duration = .seconds(5)
    public var itemTimeout: Duration = .seconds(2)
    /// How long the broker waits for a silent worker before rebalancing its partitions away.
    public var sessionTimeout: Duration = .seconds(3)
    public var storeLatency: Duration = .milliseconds(2)
    public var objectStoreLatency: Duration = .milliseconds(5)
    /// The pause between two walks of the result-object collector.
    public var collectEvery: Duration = .seconds(10)
    public var jobs: [JobStreamSpec] = []
    /// After the faults end, jobs must complete at least this fast until the backlog is gone.
    public var drainJobsPerSecondMin: Int64 = 0
    public init() {}

    /// About how many jobs the streams submit in a run of `duration` (a sizing hint, not a promise).
    func expectedJobs(duration: Duration) -> Int {
        var total: Int64 = 0
        for stream in jobs {
            let end = min(stream.end ?? duration, duration)
            let seconds = max(end.nanoseconds - stream.start.nanoseconds, 0) / 1_000_000_000
            total += Int64(stream.burst) + stream.jobsPerSecond * seconds
        }
        return Int(min(total, 1 << 30))
    }
}

/// One stream of batch submissions.
public struct JobStreamSpec: Sendable {
    /// Index into `Scenario.keys`.
    public var key: Int
    public var jobsPerSecond: Int64 = 0
    /// Jobs submitted all at once at `start` (a backlog burst).
    public var burst: Int = 0
    public var items: Int = 10
    public var model: Int = 0
    /// Share of submissions the client sends twice with the same idempotency key and body.
    public var duplicate: Ratio = .zero
    /// Share of submissions that reuse a key with a different body (must get 409).
    public var conflicting: Ratio = .zero
    /// Share of jobs the client cancels shortly after submitting.
    public var cancel: Ratio = .zero
    /// Share of submissions after which the client tries to read another tenant's latest job.
    public var crossTenant: Ratio = .zero
    /// How often the client polls each of its jobs until it is terminal (zero: never).
    public var pollEvery: Duration = .seconds(2)
    public var start: Duration = .zero
    public var end: Duration?
}

/// The fixed node numbering of a scenario's world: client, gateways, router, orchestrators,
/// backends, batch workers, then the job store (PostgreSQL), the broker (Kafka), the object store,
/// the result-object collector and Redis (the shared limiter store).
public struct NodeLayout: Sendable {
    public let gateways: Int
    public let orchestrators: Int
    public let backends: Int
    public let workers: Int

    public init(gateways: Int, orchestrators: Int, backends: Int, workers: Int = 0) {
        self.gateways = gateways
        self.orchestrators = orchestrators
        self.backends = backends
        self.workers = workers
    }

    public func worker(_ index: Int) -> Int { 2 + gateways + orchestrators + backends + index }
    public var store: Int { 2 + gateways + orchestrators + backends + workers }
    public var broker: Int { store + 1 }
    public var objectStore: Int { store + 2 }
    public var collector: Int { store + 3 }
    /// The shared cache and limiter store.
    public var redis: Int { store + 4 }

    public static let client = 0
    public func gateway(_ index: Int) -> Int { 1 + index }
    public var router: Int { 1 + gateways }
    public func orchestrator(_ index: Int) -> Int { 2 + gateways + index }
    public func backend(_ index: Int) -> Int { 2 + gateways + orchestrators + index }
    public var count: Int { redis + 1 }
}
