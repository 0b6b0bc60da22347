// What one simulated run leaves behind for people: the figures `--json` prints and the time
// series the HTML report draws. Plain values, encoded with sorted keys so the same run always
// writes the same bytes.

import PlatformCore

/// A whole run, as written to `report.json` and drawn in `report.html`.
public struct RunReport: Codable, Sendable, Equatable {
    public var scenario: String
    public var description: String
    public var seed: UInt64
    public var sabotage: String?
    /// Hex of the history hash (every delivered input, with its time and node).
    public var historyHash: String
    public var events: Int
    public var simulatedSeconds: Double
    public var wallSeconds: Double
    /// When the safety phase (faults on) ended and the liveness phase (faults off) began.
    public var safetyEndSeconds: Double
    /// How long after the safety phase the system has to converge.
    public var recoveryBoundSeconds: Double
    /// The scenario's latency objective for successful requests.
    public var sloP99Milliseconds: Double
    public var latency: LatencySummary
    public var requests: RequestCounts
    public var faults: [FaultWindow]
    public var bucketSeconds: Double
    public var timeline: [TimeBucket]
    public var breakers: [BreakerTrack]
    public var backends: [BackendTraffic]
    public var keys: [KeySummary]
    public var violations: [Violation]
    public var sometimes: [SometimesProperty]
    /// The batch path's figures, when the scenario has one.
    public var batch: BatchSummary? = nil
    public var registry: RegistrySummary? = nil
    /// The canary controller's audit log, when the run had a rollout.
    public var canaryDecisions: [CanaryAuditRow]? = nil

    public init(
        scenario: String, description: String, seed: UInt64, sabotage: String?, historyHash: String, events: Int,
        simulatedSeconds: Double, wallSeconds: Double, safetyEndSeconds: Double, recoveryBoundSeconds: Double,
        sloP99Milliseconds: Double, latency: LatencySummary, requests: RequestCounts, faults: [FaultWindow],
        bucketSeconds: Double, timeline: [TimeBucket], breakers: [BreakerTrack], backends: [BackendTraffic],
        keys: [KeySummary], violations: [Violation], sometimes: [SometimesProperty]
    ) {
        self.scenario = scenario
        self.description = description
        self.seed = seed
        self.sabotage = sabotage
        self.historyHash = historyHash
        self.events = events
        self.simulatedSeconds = simulatedSeconds
        self.wallSeconds = wallSeconds
        self.safetyEndSeconds = safetyEndSeconds
        self.recoveryBoundSeconds = recoveryBoundSeconds
        self.sloP99Milliseconds = sloP99Milliseconds
        self.latency = latency
        self.requests = requests
        self.faults = faults
        self.bucketSeconds = bucketSeconds
        self.timeline = timeline
        self.breakers = breakers
        self.backends = backends
        self.keys = keys
        self.violations = violations
        self.sometimes = sometimes
    }
}

/// Latency percentiles of successful requests, in milliseconds, as the clients saw them.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var p50: Double
    public var p95: Double
    public var p99: Double
    public init(p50: Double, p95: Double, p99: Double) {
        self.p50 = p50
        self.p95 = p95
        self.p99 = p99
    }
}

/// How client requests ended, by kind. `errors` keys are the error kinds' names.
public struct RequestCounts: Codable, Sendable, Equatable {
    public var total: Int
    public var ok: Int
    /// One entry per error kind, sorted by name: badRequest, unauthorized, forbidden,
    /// rateLimited, unavailable, timeout.
    public var errors: [ErrorCount]
    public init(total: Int, ok: Int, errors: [ErrorCount]) {
        self.total = total
        self.ok = ok
        self.errors = errors
    }
}

public struct ErrorCount: Codable, Sendable, Equatable {
    public var kind: String
    /// The HTTP status the gateway answers with for this kind.
    public var status: Int
    public var count: Int
    public init(kind: String, status: Int, count: Int) {
        self.kind = kind
        self.status = status
        self.count = count
    }
}

/// A time window in which a fault was injected; the report shades it.
public struct FaultWindow: Codable, Sendable, Equatable {
    /// e.g. "crash", "slowdown", "partition", "hang", "errors", "loss", "burst".
    public var kind: String
    /// What it hit, e.g. "backend-2" or "router<->orchestrator-1".
    public var target: String
    public var startSeconds: Double
    public var endSeconds: Double
    public init(kind: String, target: String, startSeconds: Double, endSeconds: Double) {
        self.kind = kind
        self.target = target
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
    }
}

/// One bucket of the run's timeline (all counts are for requests that *ended* in the bucket).
public struct TimeBucket: Codable, Sendable, Equatable {
    public var startSeconds: Double
    public var requests: Int
    public var ok: Int
    public var rateLimited: Int
    public var unavailable: Int
    public var timeout: Int
    /// badRequest + unauthorized + forbidden.
    public var otherErrors: Int
    /// Retries the orchestrators sent in this bucket.
    public var retries: Int
    public var p50Milliseconds: Double
    public var p95Milliseconds: Double
    public var p99Milliseconds: Double
    public init(
        startSeconds: Double, requests: Int, ok: Int, rateLimited: Int, unavailable: Int, timeout: Int,
        otherErrors: Int, retries: Int, p50Milliseconds: Double, p95Milliseconds: Double, p99Milliseconds: Double
    ) {
        self.startSeconds = startSeconds
        self.requests = requests
        self.ok = ok
        self.rateLimited = rateLimited
        self.unavailable = unavailable
        self.timeout = timeout
        self.otherErrors = otherErrors
        self.retries = retries
        self.p50Milliseconds = p50Milliseconds
        self.p95Milliseconds = p95Milliseconds
        self.p99Milliseconds = p99Milliseconds
    }
}

/// The phases one circuit breaker went through (one breaker per orchestrator and backend).
public struct BreakerTrack: Codable, Sendable, Equatable {
    /// e.g. "orchestrator-1 → backend-2".
    public var name: String
    /// In time order; the breaker starts closed at 0.
    public var transitions: [BreakerTransition]
    public init(name: String, transitions: [BreakerTransition]) {
        self.name = name
        self.transitions = transitions
    }
}

public struct BreakerTransition: Codable, Sendable, Equatable {
    public var atSeconds: Double
    /// "closed", "open" or "halfOpen".
    public var phase: String
    public init(atSeconds: Double, phase: String) {
        self.atSeconds = atSeconds
        self.phase = phase
    }
}

/// Calls each backend received per timeline bucket, to show where traffic went.
public struct BackendTraffic: Codable, Sendable, Equatable {
    public var name: String
    public var model: String
    public var version: Int
    public var callsPerBucket: [Int]
    public init(name: String, model: String, version: Int, callsPerBucket: [Int]) {
        self.name = name
        self.model = model
        self.version = version
        self.callsPerBucket = callsPerBucket
    }
}

/// How each API key fared.
public struct KeySummary: Codable, Sendable, Equatable {
    public var key: String
    public var requests: Int
    public var ok: Int
    public var rateLimited: Int
    public var p99Milliseconds: Double
    public init(key: String, requests: Int, ok: Int, rateLimited: Int, p99Milliseconds: Double) {
        self.key = key
        self.requests = requests
        self.ok = ok
        self.rateLimited = rateLimited
        self.p99Milliseconds = p99Milliseconds
    }
}

/// A broken invariant: which, when (simulated seconds), and what was seen.
public struct Violation: Codable, Sendable, Equatable {
    public var invariant: String
    public var time: Double
    public var detail: String
    public init(invariant: String, time: Double, detail: String) {
        self.invariant = invariant
        self.time = time
        self.detail = detail
    }
}

/// A state the scenario wants reached in some runs, and whether this run reached it.
public struct SometimesProperty: Codable, Sendable, Equatable {
    public var name: String
    public var hits: Int
    public init(name: String, hits: Int) {
        self.name = name
        self.hits = hits
    }
}

/// How the batch jobs of a run ended.
public struct BatchSummary: Codable, Sendable, Equatable {
    /// Jobs that got a 202.
    public var accepted: Int
    public var succeeded: Int
    public var failed: Int
    public var cancelled: Int
    public var deadLettered: Int
    /// Accepted jobs not in a terminal state at the end (each one is a violation).
    public var unfinished: Int
    /// Jobs not yet terminal when the faults ended, and how many finished afterwards.
    public var backlogAtFaultsEnd: Int
    public var completedAfterFaults: Int
    /// Records still uncommitted in the broker at the end.
    public var brokerLag: Int
    /// Result objects the collector found orphaned (and deleted, unless sabotaged).
    public var orphansCollected: Int
    public init(
        accepted: Int, succeeded: Int, failed: Int, cancelled: Int, deadLettered: Int, unfinished: Int,
        backlogAtFaultsEnd: Int, completedAfterFaults: Int, brokerLag: Int, orphansCollected: Int
    ) {
        self.accepted = accepted
        self.succeeded = succeeded
        self.failed = failed
        self.cancelled = cancelled
        self.deadLettered = deadLettered
        self.unfinished = unfinished
        self.backlogAtFaultsEnd = backlogAtFaultsEnd
        self.completedAfterFaults = completedAfterFaults
        self.brokerLag = brokerLag
        self.orphansCollected = orphansCollected
    }
}

/// How the gateways' registry caches did: `cache_hit_rate` is hits over lookups.
public struct RegistrySummary: Codable, Sendable, Equatable {
    public var lookups: Int
    public var hits: Int
    public var misses: Int
    public var staleServed: Int
    public var unavailable: Int
    /// Hits per 1 000 000 lookups, the `cache_hit_rate` metric as an integer.
    public var hitRatePartsPerMillion: Int64
    /// Operator writes the registry store refused while it was down.
    public var writesRefused: Int
}

/// One decision of the canary controller and the evidence it was taken on.
public struct CanaryAuditRow: Codable, Sendable, Equatable {
    public var atSeconds: Double
    /// `started`, `held: …`, `stepped up`, `promoted`, `rolled back: …`, `paused`, `resumed`.
    public var verdict: String
    public var step: Int
    public var stableWeightBasisPoints: Int64
    public var canaryWeightBasisPoints: Int64
    public var stableSamples: Int64
    public var stableFailures: Int64
    public var stableP95Ms: Double
    public var canarySamples: Int64
    public var canaryFailures: Int64
    public var canaryP95Ms: Double
    /// The error test's z-score and the threshold it must reach, in thousandths.
    public var errorZMilli: Int64
    public var errorThresholdMilli: Int64
    /// Canary requests slower than stable p95 × (1 + tolerance), and the count at which the latency test rejects.
    public var latencyExceedances: Int64
    public var latencyCriticalCount: Int64
    /// Canary failures beyond what stable's rate plus the margin predicts, and the allowance.
    public var excessFailures: Int64
    public var errorAllowance: Int64

    init(_ decision: CanaryDecision, at time: Int64) {
        atSeconds = Double(time) / 1e9
        verdict = CanaryAuditRow.describe(decision.verdict)
        step = decision.step
        stableWeightBasisPoints = decision.stableWeight
        canaryWeightBasisPoints = decision.canaryWeight
        let evidence = decision.evidence
        stableSamples = evidence.stable.samples
        stableFailures = evidence.stable.failures
        stableP95Ms = Double(evidence.stable.p95.nanoseconds) / 1e6
        canarySamples = evidence.canary.samples
        canaryFailures = evidence.canary.failures
        canaryP95Ms = Double(evidence.canary.p95.nanoseconds) / 1e6
        errorZMilli = evidence.errorStatisticMilli
        errorThresholdMilli = evidence.errorThresholdMilli
        latencyExceedances = evidence.latencyExceedances
        latencyCriticalCount = evidence.latencyCriticalCount
        excessFailures = evidence.excessFailures
        errorAllowance = evidence.errorAllowance
    }

    static func describe(_ verdict: CanaryDecision.Verdict) -> String {
        switch verdict {
        case .started: "started"
        case .held(.holdTimeRemaining): "held: hold time remaining"
        case .held(.insufficientSamples): "held: too few samples"
        case .steppedUp: "stepped up"
        case .promoted(let manual): manual ? "promoted by an operator" : "promoted"
        case .rolledBack(.errorRate): "rolled back: error rate"
        case .rolledBack(.latency): "rolled back: p95 latency"
        case .rolledBack(.errorAllowance): "rolled back: error allowance spent"
        case .rolledBack(.deadline): "rolled back: deadline without enough samples"
        case .rolledBack(.aborted): "rolled back by an operator"
        case .paused: "paused"
        case .resumed: "resumed"
        }
    }
}
