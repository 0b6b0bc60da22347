// The invariants of the synchronous path, checked against what the nodes did, never against
// what they believe: each oracle keeps its own reference model (a consecutive-failure breaker, a
// sliding-window retry budget, a sliding-window rate limit) fed from the run's observations in
// global time, so a sabotaged mechanism cannot vouch for itself.

import PlatformCore

struct Oracles {
    struct BreakerReference {
        var consecutiveFailures = 0
        var windowStart: Int64 = 0
        var windowEnd: Int64 = 0
        /// True once a call inside the current window was reported (one report per window).
        var reported = false
    }

    let scenario: Scenario
    let layout: NodeLayout
    let backendCount: Int
    /// The clients' requests; held here so oracles read it without copying it on every observation.
    var client = ClientTable()
    private(set) var violations: [Violation] = []
    private(set) var violationCount = 0
    var sometimesHits: [Int]

    var breakerReferences: [BreakerReference]
    var breakerPhases: [CircuitBreaker.Phase]
    var breakerTransitions: [[BreakerTransition]]
    let breakerWindow: Int64
    var firstAttempts: [SlotCounter]
    var retries: [SlotCounter]
    var admitted: [TimeWindowQueue]
    /// Per key, until when a broken rate limit is not reported again (one report per window).
    var rateLimitReportedUntil: [Int64]
    let rateTolerance: [Int64]
    /// The rollout's two versions as the clients saw them, the controller's decisions, and its verdict with when
    /// it came and the canary's excess failures at that moment.
    var rolloutStable = (samples: Int64(0), failures: Int64(0))
    var rolloutCanary = (samples: Int64(0), failures: Int64(0))
    /// The controller's audit log (the first 1 000 decisions).
    var canaryAudit: [CanaryAuditRow] = []
    var rolloutVerdict: (verdict: CanaryDecision.Verdict, at: Int64, excess: Int64)?
    /// The request the gateway last said its limiter outage policy decided, and that policy.
    var limiterFallback: (id: RequestID, policy: LimiterPolicy)?
    /// canaryCounts[model][versionPosition]: unpinned, unsticky requests routed there.
    var canaryCounts: [[Int]]
    var stickyVersions: [UInt64: Int] = [:]
    var backendEjected: [Bool]
    var orchestratorEjected: [Bool]
    var expectationCalls: [(backend: Int, pool: Int)]
    let poolOfBackend: [[Int]]

    init(scenario: Scenario) {
        self.scenario = scenario
        layout = scenario.layout
        backendCount = scenario.backends.count
        sometimesHits = Array(repeating: 0, count: Scenario.sometimesNames.count)
        let pairs = scenario.orchestrators * backendCount
        breakerReferences = Array(repeating: BreakerReference(), count: pairs)
        breakerPhases = Array(repeating: .closed, count: pairs)
        breakerTransitions = Array(repeating: [], count: pairs)
        let open = scenario.breaker.openDuration.nanoseconds
        breakerWindow = open - scenario.retry.perTryTimeout.nanoseconds - open / 20
        let slot = max(scenario.budget.window.nanoseconds / 10, 1)
        firstAttempts = Array(repeating: SlotCounter(slot: slot, slots: 20), count: scenario.orchestrators)
        retries = firstAttempts
        let maximumDrift = scenario.clocks.map { abs($0.driftPartsPerMillion) }.max() ?? 0
        admitted = scenario.keys.map { _ in TimeWindowQueue(window: Duration.minutes(1).nanoseconds) }
        rateLimitReportedUntil = Array(repeating: Int64.min, count: scenario.keys.count)
        // Fail-open lets each gateway admit its local share while the limiter store is down, on top of what the
        // store granted earlier in the same minute: at most one more burst.
        let failOpen = scenario.limiter?.policy == .failOpen
        rateTolerance = scenario.keys.map { key in
            (key.requestsPerMinute * maximumDrift + 999_999) / 1_000_000 + 1 + (failOpen ? key.burst : 0)
        }
        canaryCounts = scenario.models.map { Array(repeating: 0, count: $0.versions.count) }
        backendEjected = Array(repeating: false, count: backendCount)
        orchestratorEjected = Array(repeating: false, count: scenario.orchestrators)
        expectationCalls = Array(repeating: (0, 0), count: scenario.expectations.count)
        var pools = Array(repeating: [Int](), count: backendCount)
        for model in scenario.models {
            for version in model.versions {
                for backend in version.backends { pools[backend] = version.backends }
            }
        }
        poolOfBackend = pools
    }

    /// Records a broken invariant (unless the scenario does not check it).
    mutating func violate(_ invariant: String, at time: Int64, _ detail: String) {
        guard scenario.checks.isEmpty || scenario.checks.contains(invariant) else { return }
        violationCount += 1
        if violations.count < 200 {
            violations.append(Violation(invariant: invariant, time: Double(time) / 1e9, detail: detail))
        }
    }

    mutating func hit(_ property: SometimesIndex) { sometimesHits[property.rawValue] += 1 }

    func seconds(_ time: Int64) -> String { JSONSeconds.format(time) }
}

/// Indices into `Scenario.sometimesNames`, in the same order.
enum SometimesIndex: Int {
    case breakerOpened, breakerHalfOpened, breakerReclosed, retrySent, retryRefusedByBudget, retryRefusedByDeadline
    case backendEjected, backendReadmitted, orchestratorEjected, requestRateLimited, requestTimedOut
    case requestUnavailable, networkDropped, networkDuplicated, networkReordered, backendOverloaded
    case jobFenced, workerBackpressure, orphanDeleted, limiterFellBack, credentialRefused, registryServedStale
}

enum JSONSeconds {
    static func format(_ nanoseconds: Int64) -> String {
        let milliseconds = nanoseconds / 1_000_000
        let fraction = String(milliseconds % 1_000)
        return "\(milliseconds / 1_000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }
}

/// Counts events in fixed slots of global time over a ring of `slots` slots.
struct SlotCounter {
    let slot: Int64
    var counts: [Int64]
    var slotIndices: [Int64]

    init(slot: Int64, slots: Int) {
        self.slot = slot
        counts = Array(repeating: 0, count: slots)
        slotIndices = Array(repeating: -1, count: slots)
    }

    mutating func add(at time: Int64) {
        let index = time / slot
        let position = Int(index % Int64(counts.count))
        if slotIndices[position] != index {
            slotIndices[position] = index
            counts[position] = 0
        }
        counts[position] += 1
    }

    /// Events in the ring's span ending at `time`.
    func total(at time: Int64) -> Int64 {
        let newest = time / slot
        var sum: Int64 = 0
        for position in 0..<counts.count where slotIndices[position] > newest - Int64(counts.count) {
            sum += counts[position]
        }
        return sum
    }
}

/// The times of recent events within a sliding window.
struct TimeWindowQueue {
    let window: Int64
    var times: [Int64] = []
    var head = 0

    init(window: Int64) { self.window = window }

    /// Adds an event at `time` and returns how many events fall in (time - window, time].
    mutating func add(at time: Int64) -> Int {
        times.append(time)
        while head < times.count && times[head] <= time - window { head += 1 }
        if head > 4_096 && head * 2 > times.count {
            times.removeFirst(head)
            head = 0
        }
        return times.count - head
    }
}
