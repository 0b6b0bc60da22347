// A per-backend circuit breaker as a pure state machine: the caller asks before each call and reports how
// each call ended, passing `now`; the breaker never reads a clock or sets a timer, so open -> half-open
// happens lazily on the first call that asks after the open period. Probe slots are counted across phases so
// a late probe from an earlier half-open period can never push the number of probes in flight past the limit.

/// Decides whether a call may go to a backend, and learns from how calls ended.
public struct CircuitBreaker: Sendable, Equatable {
    /// Thresholds and timings; the defaults suit a backend answering in tens of milliseconds.
    public struct Configuration: Sendable, Equatable {
        /// Consecutive failures (while closed) that trip the breaker on their own.
        public var consecutiveFailuresToOpen: Int = 5
        /// Failure share of the calls in the window that trips the breaker, once the window is big enough.
        public var failureRateToOpen: Ratio = .percent(50)
        /// The time over which the failure rate is measured.
        public var slidingWindow: Duration = .seconds(10)
        /// How many buckets the sliding window is split into (1...1024).
        public var slidingWindowBuckets: Int = 10
        /// The failure rate is only judged once the window holds at least this many calls.
        public var minimumCallsInWindow: Int = 20
        /// A success slower than this counts as a failure.
        public var slowCallThreshold: Duration = .seconds(2)
        /// How long the breaker stays open the first time it trips.
        public var openDuration: Duration = .seconds(5)
        /// The longest the breaker ever stays open.
        public var openDurationMax: Duration = .seconds(60)
        /// Each re-open after a failed probe multiplies the open time, capped at `openDurationMax`.
        public var openDurationMultiplier: Int64 = 2
        /// Calls allowed in flight while half-open.
        public var halfOpenProbesMax: Int = 2
        /// Probe successes (in one half-open period) that close the breaker.
        public var halfOpenSuccessesToClose: Int = 2
        /// SABOTAGE ONLY: the breaker never trips, so tests prove the simulator's oracles can fail.
        public var neverOpens: Bool = false

        /// The default configuration.
        public init() {}
    }

    /// Where the breaker stands; ordered from healthiest to least healthy.
    public enum Phase: Sendable, Equatable, Comparable {
        /// Calls flow; outcomes are watched.
        case closed
        /// A few probe calls test whether the backend has recovered.
        case halfOpen
        /// Calls are refused until the open period ends.
        case open
    }

    /// How a call ended.
    public enum Outcome: Sendable, Equatable {
        /// The call answered, after `latency`; slower than `slowCallThreshold` counts as a failure.
        case success(latency: Duration)
        /// The call failed (error, timeout, connection lost).
        case failure
    }

    /// The answer to "may this call go?".
    public enum Decision: Sendable, Equatable {
        /// Send the call; `probe` must be passed back to `callFinished` or `callAbandoned`.
        case admit(probe: Bool)
        /// Do not send the call; a probe may go in `retryAfter` (at least 1 ms).
        case reject(retryAfter: Duration)
    }

    /// The smallest `retryAfter` a rejection carries, so callers never spin.
    public static let retryAfterMinimum: Duration = .milliseconds(1)

    /// The configuration the breaker was created with.
    public let configuration: Configuration
    /// The phase as of the last input.
    public private(set) var phase: Phase = .closed
    /// How many times the breaker went to open (from closed or from half-open).
    public private(set) var timesOpened: Int = 0
    /// How many calls were rejected.
    public private(set) var callsRejected: Int = 0
    /// Probe calls admitted and not yet finished or abandoned (in any phase).
    public private(set) var probesInFlight: Int = 0
    /// The open period in force (or the one the last opening used).
    public private(set) var openDurationCurrent: Duration

    private var calls: SlidingWindowCounter
    private var failures: SlidingWindowCounter
    private var consecutiveFailures: Int = 0
    private var probeSuccesses: Int = 0
    private var openUntil: Instant = .zero
    /// The latest `now` an outcome arrived at. Both window counters are fed `max(now, latestOutcomeAt)` so
    /// they agree on which buckets have expired even when a step back in time reaches only one of them.
    private var latestOutcomeAt: Instant = Instant(nanoseconds: Int64.min)

    /// A closed breaker with `configuration`.
    public init(configuration: Configuration) {
        precondition(configuration.consecutiveFailuresToOpen >= 1, "consecutiveFailuresToOpen must be >= 1")
        precondition(configuration.minimumCallsInWindow >= 1, "minimumCallsInWindow must be >= 1")
        precondition(configuration.openDuration > .zero, "openDuration must be > 0")
        precondition(configuration.openDurationMax >= configuration.openDuration, "openDurationMax < openDuration")
        precondition(configuration.openDurationMultiplier >= 1, "openDurationMultiplier must be >= 1")
        precondition(configuration.halfOpenProbesMax >= 1, "halfOpenProbesMax must be >= 1")
        precondition(configuration.halfOpenSuccessesToClose >= 1, "halfOpenSuccessesToClose must be >= 1")
        precondition(configuration.slowCallThreshold >= .zero, "slowCallThreshold must be >= 0")
        self.configuration = configuration
        self.openDurationCurrent = configuration.openDuration
        self.calls = SlidingWindowCounter(
            window: configuration.slidingWindow, buckets: configuration.slidingWindowBuckets)
        self.failures = calls
    }

    /// Asks whether a call may start. Open turns half-open here once the open period has elapsed; half-open
    /// admits up to `halfOpenProbesMax` probes in flight.
    public mutating func callStarting(now: Instant) -> Decision {
        switch phase {
        case .closed:
            return .admit(probe: false)
        case .open:
            if now < openUntil {
                callsRejected += 1
                // Clamped to the open period so a clock that stepped back never promises a longer wait.
                let remaining = min(openUntil - now, openDurationCurrent)
                return .reject(retryAfter: max(remaining, Self.retryAfterMinimum))
            }
            phase = .halfOpen
            probeSuccesses = 0
            return admitProbe()
        case .halfOpen:
            return admitProbe()
        }
    }

    /// Reports how a call ended; `probe` is what `callStarting` returned for that call.
    public mutating func callFinished(_ outcome: Outcome, probe: Bool, now: Instant) {
        let failed = isFailure(outcome)
        if now > latestOutcomeAt { latestOutcomeAt = now }
        calls.add(1, now: latestOutcomeAt)
        if failed { failures.add(1, now: latestOutcomeAt) }
        if probe {
            precondition(probesInFlight > 0, "a probe finished that was never admitted")
            probesInFlight -= 1
        }
        switch phase {
        case .closed:
            consecutiveFailures = failed ? consecutiveFailures + 1 : 0
            if shouldTrip(now: latestOutcomeAt) { open(now: now, duration: configuration.openDuration) }
        case .halfOpen:
            guard probe else { return }
            if failed {
                open(now: now, duration: nextOpenDuration())
            } else {
                probeSuccesses += 1
                if probeSuccesses >= configuration.halfOpenSuccessesToClose { close() }
            }
        case .open:
            // A late probe or an ordinary call that was admitted before the trip: recorded, never decisive.
            return
        }
    }

    /// Reports a call that will never report (its caller gave up on it); frees its probe slot if it had one.
    public mutating func callAbandoned(probe: Bool) {
        guard probe else { return }
        precondition(probesInFlight > 0, "a probe was abandoned that was never admitted")
        probesInFlight -= 1
    }

    private mutating func admitProbe() -> Decision {
        if probesInFlight < configuration.halfOpenProbesMax {
            probesInFlight += 1
            return .admit(probe: true)
        }
        // A probe slot may free at any moment, so the shortest honest wait is the floor.
        callsRejected += 1
        return .reject(retryAfter: Self.retryAfterMinimum)
    }

    private func isFailure(_ outcome: Outcome) -> Bool {
        switch outcome {
        case .failure: return true
        case .success(let latency): return latency > configuration.slowCallThreshold
        }
    }

    private mutating func shouldTrip(now: Instant) -> Bool {
        if configuration.neverOpens { return false }
        if consecutiveFailures >= configuration.consecutiveFailuresToOpen { return true }
        let callCount = calls.total(now: now)
        guard callCount >= Int64(configuration.minimumCallsInWindow) else { return false }
        return configuration.failureRateToOpen.isReached(part: failures.total(now: now), whole: callCount)
    }

    /// The open period after a failed probe: the current one times the multiplier, capped, without overflow.
    private func nextOpenDuration() -> Duration {
        let (product, overflow) = openDurationCurrent.nanoseconds.multipliedReportingOverflow(
            by: configuration.openDurationMultiplier)
        if overflow { return configuration.openDurationMax }
        return min(Duration(nanoseconds: product), configuration.openDurationMax)
    }

    private mutating func open(now: Instant, duration: Duration) {
        phase = .open
        timesOpened += 1
        openDurationCurrent = duration
        openUntil = now + duration
        consecutiveFailures = 0
        probeSuccesses = 0
    }

    private mutating func close() {
        phase = .closed
        calls.reset()
        failures.reset()
        consecutiveFailures = 0
        probeSuccesses = 0
        openDurationCurrent = configuration.openDuration
    }
}
