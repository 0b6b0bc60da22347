// Automated canary analysis as a pure state machine: traffic moves from a stable version to a canary in steps,
// each held for a while, and the canary is promoted only when neither of two one-sided tests finds it worse.
// Errors: an Agresti–Caffo two-proportion z-test of "canary rate > stable rate + margin". Latency: an exact
// binomial test of "more than 5% of canary requests are slower than stable p95 × (1 + tolerance)", which is
// "canary p95 exceeds stable p95 by more than the tolerance". Both are looked at on a timer, at most
// `looksPlanned` times; each look uses alpha / (2 × looksPlanned) (Bonferroni over both tests and all looks), so
// an equal canary is falsely rolled back with probability at most alpha however the looks fall. A hard guard
// rolls back at once, on the observation that crosses it, when the canary's failures above what stable's rate
// (plus the margin) predicts reach the error allowance. Counts are cumulative over the whole analysis, so the
// 100% step is judged against everything stable served before it. Decisions compare integers (a z-score in
// thousandths, a critical count), and the audit carries exactly those integers.

/// Value types reported by the canary controller: reasons, evidence, metrics.
public enum CanaryAnalysis {
    /// Why a canary was rolled back.
    public enum RollbackReason: Sendable, Hashable {
        /// The error test found the canary's error rate higher than stable's plus the margin.
        case errorRate
        /// The latency test found the canary's p95 above stable's p95 plus the tolerance.
        case latency
        /// The canary failed `errorAllowance` more requests than stable's rate (plus the margin) predicts.
        case errorAllowance
        /// The analysis deadline passed without enough samples to step up.
        case deadline
        /// An operator aborted the canary.
        case aborted
    }

    /// Why a look held the current step.
    public enum HoldReason: Sendable, Hashable {
        /// The step's hold time has not elapsed yet.
        case holdTimeRemaining
        /// The hold time elapsed but one side has fewer than the minimum samples.
        case insufficientSamples
    }

    /// What one side (stable or canary) has served since the analysis started.
    public struct Side: Sendable, Hashable {
        /// Completed requests observed.
        public var samples: Int64
        /// Of those, the failed ones.
        public var failures: Int64
        /// failures / samples (zero without samples).
        public var errorRate: Ratio
        /// An upper estimate of the 95th-percentile latency (the histogram bucket's upper bound).
        public var p95: Duration

        /// A side's counts.
        public init(samples: Int64, failures: Int64, errorRate: Ratio, p95: Duration) {
            self.samples = samples
            self.failures = failures
            self.errorRate = errorRate
            self.p95 = p95
        }
    }

    /// The evidence a decision was taken on; all integers, so an audit log replays exactly.
    public struct Evidence: Sendable, Hashable {
        /// The stable side's counts.
        public var stable: Side
        /// The canary side's counts.
        public var canary: Side
        /// Samples each side needs before either test may decide.
        public var minimumSamples: Int64
        /// The error test's z-score, in thousandths, rounded down.
        public var errorStatisticMilli: Int64
        /// The z-score (thousandths, rounded up) at or above which the error test rejects at this look.
        public var errorThresholdMilli: Int64
        /// Stable p95 × (1 + tolerance): canary requests slower than this count as exceedances.
        public var latencyThreshold: Duration
        /// Canary requests certainly slower than `latencyThreshold`.
        public var latencyExceedances: Int64
        /// Exceedances at or above which the latency test rejects at this look (samples + 1 when none can).
        public var latencyCriticalCount: Int64
        /// Canary failures above canary samples × (stable rate + margin), rounded toward zero; zero until stable
        /// has the minimum samples.
        public var excessFailures: Int64
        /// The excess at which the canary is rolled back whatever the tests say.
        public var errorAllowance: Int64
        /// The per-look significance level of each test (alpha / (2 × looksPlanned)).
        public var perLookAlpha: Ratio
        /// Looks taken so far, this one included, of `looksPlanned`.
        public var look: Int
        /// The most looks an analysis takes; the per-look alpha is spread over them.
        public var looksPlanned: Int

        /// True when both sides have the minimum samples, so the tests may decide.
        public var hasMinimumSamples: Bool { stable.samples >= minimumSamples && canary.samples >= minimumSamples }
        /// True when the error test rejects (with enough samples).
        public var errorTestRejects: Bool { hasMinimumSamples && errorStatisticMilli >= errorThresholdMilli }
        /// True when the latency test rejects (with enough samples).
        public var latencyTestRejects: Bool { hasMinimumSamples && latencyExceedances >= latencyCriticalCount }
        /// True when the error allowance is spent.
        public var allowanceSpent: Bool { excessFailures >= errorAllowance }
    }

    /// A snapshot for metrics export.
    public struct Metrics: Sendable, Hashable {
        /// Where the controller stands.
        public var phase: CanaryController.Phase
        /// The current step's index into the configured steps (the last one reached once finished).
        public var step: Int
        /// The number of configured steps.
        public var stepCount: Int
        /// The stable version's weight in basis points.
        public var stableWeight: Int64
        /// The canary version's weight in basis points.
        public var canaryWeight: Int64
        /// The stable side's counts.
        public var stable: Side
        /// The canary side's counts.
        public var canary: Side
        /// Looks taken so far.
        public var looksTaken: Int
        /// The last decision taken, if any.
        public var lastDecision: CanaryDecision?
    }
}

/// One decision of the canary controller with the evidence it was taken on; the shell logs it as an audit record.
public struct CanaryDecision: Sendable, Hashable {
    /// What was decided.
    public enum Verdict: Sendable, Hashable {
        /// The analysis started at the first step.
        case started
        /// A look kept the current step.
        case held(CanaryAnalysis.HoldReason)
        /// A look moved to the next step.
        case steppedUp
        /// The canary was promoted, by the analysis or by an operator (`manual`).
        case promoted(manual: Bool)
        /// The canary was rolled back.
        case rolledBack(CanaryAnalysis.RollbackReason)
        /// An operator paused the analysis.
        case paused
        /// An operator resumed the analysis.
        case resumed
    }

    /// What was decided.
    public var verdict: Verdict
    /// When it was decided.
    public var decidedAt: Instant
    /// The step index after the decision.
    public var step: Int
    /// The stable weight (basis points) after the decision.
    public var stableWeight: Int64
    /// The canary weight (basis points) after the decision.
    public var canaryWeight: Int64
    /// What the decision was taken on.
    public var evidence: CanaryAnalysis.Evidence
}

/// Moves one model's traffic from a stable version to a canary, step by step, and rolls back a worse canary.
public struct CanaryController: Sendable, Equatable {
    /// Steps, timings and statistical settings; the defaults suit a model serving tens of requests a second.
    public struct Configuration: Sendable, Equatable {
        /// The canary's weight at each step, in basis points, increasing and ending at 10 000 (100%).
        public var stepsBasisPoints: [Int64] = [500, 2_500, 5_000, 10_000]
        /// How long each step is held before it may step up.
        public var holdPerStep: Duration = .minutes(2)
        /// The time between two looks at the evidence (a look is also taken when a step's hold ends).
        public var lookInterval: Duration = .seconds(10)
        /// Samples each side needs before either test may decide or the analysis may step up.
        public var minimumSamplesPerSide: Int64 = 200
        /// The family-wise false-rollback rate of an equal canary, spread over both tests and all looks.
        public var alpha: Ratio = .percent(5)
        /// How much higher the canary's error rate may be than stable's (absolute: 1% = one point).
        public var errorRateMargin: Ratio = .percent(1)
        /// How much higher the canary's p95 may be than stable's (relative: 20% = 1.2 times).
        public var latencyTolerance: Ratio = .percent(20)
        /// Canary failures above what stable's rate plus the margin predicts that force a rollback.
        public var errorAllowance: Int64 = 25
        /// The longest an analysis may run (paused time excluded); at the deadline a canary that still lacks
        /// samples is rolled back, because an unverified canary must not be promoted. At least steps × hold.
        public var analysisDeadline: Duration = .minutes(16)
        /// SABOTAGE ONLY (no-rollback): never roll back on evidence; step up whenever a hold ends and promote.
        public var neverRollsBack: Bool = false

        /// The default configuration.
        public init() {}
    }

    /// Where the controller stands.
    public enum Phase: Sendable, Hashable {
        /// No analysis has started.
        case idle
        /// Traffic is split at `step` (an index into the steps) and the evidence is watched.
        case analysing(step: Int)
        /// An operator paused at `step`: weights stay, looks stop, the error allowance still guards.
        case paused(step: Int)
        /// The canary took all traffic.
        case promoted
        /// The stable version took all traffic back.
        case rolledBack(CanaryAnalysis.RollbackReason)
    }

    /// What the controller is told.
    public enum Input: Sendable, Hashable {
        /// Start analysing `canary` against `stable` (from idle, or after a finished analysis).
        case start(stable: Int, canary: Int)
        /// A request to `version` completed; versions other than the two under analysis are ignored.
        case observed(version: Int, success: Bool, latency: Duration)
        /// The last timer set has fired (a stale or early firing is ignored).
        case timerFired
        /// An operator holds the current step.
        case pause
        /// An operator lets a paused analysis go on; the current step's hold starts over.
        case resume
        /// An operator promotes the canary now.
        case promote
        /// An operator rolls the canary back now.
        case abort
    }

    /// What the controller asks its shell to do, in order.
    public enum Action: Sendable, Hashable {
        /// Split traffic with these weights, in basis points (they sum to 10 000).
        case setWeights(stable: Int64, canary: Int64)
        /// Call back with `timerFired` at this instant; it replaces any timer set before.
        case setTimer(at: Instant)
        /// The canary is promoted: it is the new stable version.
        case promoted
        /// The canary is rolled back.
        case rolledBack(CanaryAnalysis.RollbackReason)
        /// Record a decision and its evidence.
        case audit(CanaryDecision)
    }

    /// Weights are in basis points: 10 000 is all traffic.
    public static let basisPointsTotal: Int64 = 10_000
    /// The latency quantile compared between the sides.
    public static let latencyQuantile = Ratio.percent(95)

    /// The configuration the controller was created with.
    public let configuration: Configuration
    /// The most looks one analysis takes: deadline / look interval, plus one per step and one spare.
    public let looksPlanned: Int
    /// The significance level of each test at each look: alpha / (2 × looksPlanned).
    public let perLookAlpha: Ratio
    /// The z-score, in thousandths, at or above which the error test rejects.
    let errorThresholdMilli: Int64

    /// Where the controller stands.
    public private(set) var phase: Phase = .idle
    /// The stable version of the current (or last) analysis.
    public private(set) var stableVersion = 0
    /// The canary version of the current (or last) analysis.
    public private(set) var canaryVersion = 0
    /// The current step index.
    public private(set) var step = 0
    /// The canary's weight in basis points.
    public private(set) var canaryWeight: Int64 = 0
    /// Looks taken in the current analysis.
    public private(set) var looksTaken = 0
    /// The last decision taken.
    public private(set) var lastDecision: CanaryDecision?

    var stable = SideCounts()
    var canary = SideCounts()
    var stepStartedAt: Instant = .zero
    var deadline: Instant = .distantFuture
    var nextLookAt: Instant = .distantFuture
    var pausedAt: Instant = .zero

    /// One side's counters: cumulative counts and a latency histogram.
    struct SideCounts: Sendable, Equatable {
        var samples: Int64 = 0
        var failures: Int64 = 0
        var latencies = CanaryLatencyHistogram()

        mutating func record(success: Bool, latency: Duration) {
            samples += 1
            if !success { failures += 1 }
            latencies.record(latency)
        }

        var summary: CanaryAnalysis.Side {
            let rate = samples > 0 ? failures * 1_000_000 / samples : 0
            return CanaryAnalysis.Side(
                samples: samples, failures: failures, errorRate: Ratio(partsPerMillion: rate),
                p95: latencies.quantile(CanaryController.latencyQuantile))
        }
    }

    /// An idle controller with `configuration` (checked: a bad configuration is a programmer error).
    public init(configuration: Configuration = Configuration()) {
        let steps = configuration.stepsBasisPoints
        precondition(!steps.isEmpty && steps.count <= 100, "a canary has 1...100 steps")
        precondition(steps.first! > 0 && steps.last! == Self.basisPointsTotal, "steps end at 10 000 basis points")
        precondition(zip(steps, steps.dropFirst()).allSatisfy { $0 < $1 }, "steps increase")
        precondition(configuration.holdPerStep > .zero, "holdPerStep must be > 0")
        precondition(configuration.lookInterval > .zero, "lookInterval must be > 0")
        precondition(configuration.minimumSamplesPerSide >= 1, "minimumSamplesPerSide must be >= 1")
        precondition(configuration.alpha > .zero && configuration.alpha < .one, "alpha is in (0, 1)")
        precondition(configuration.errorAllowance >= 1, "errorAllowance must be >= 1")
        precondition(
            configuration.analysisDeadline >= configuration.holdPerStep * Int64(steps.count),
            "analysisDeadline must cover every step's hold")
        let cadenceLooks = configuration.analysisDeadline.nanoseconds / configuration.lookInterval.nanoseconds
        precondition(cadenceLooks <= 100_000, "lookInterval is too short for the deadline")
        self.configuration = configuration
        looksPlanned = Int(cadenceLooks) + steps.count + 1
        perLookAlpha = Ratio(partsPerMillion: configuration.alpha.partsPerMillion / Int64(2 * looksPlanned))
        precondition(perLookAlpha > .zero, "alpha spread over the looks rounds to zero: fewer looks or more alpha")
        let critical = CanaryStatistics.normalCriticalValue(upperTail: Double(perLookAlpha.partsPerMillion) / 1e6)
        errorThresholdMilli = Int64((critical * 1_000).rounded(.up))
    }

    /// The current split in basis points.
    public var weights: (stable: Int64, canary: Int64) { (Self.basisPointsTotal - canaryWeight, canaryWeight) }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        switch input {
        case .start(let stableVersion, let canaryVersion):
            start(stable: stableVersion, canary: canaryVersion, now: now, into: &actions)
        case .observed(let version, let success, let latency):
            observe(version: version, success: success, latency: latency, now: now, into: &actions)
        case .timerFired:
            guard case .analysing = phase, now >= nextLookAt else { return }
            look(now: now, into: &actions)
        case .pause:
            guard case .analysing(let step) = phase else { return }
            phase = .paused(step: step)
            pausedAt = now
            nextLookAt = .distantFuture
            decide(.paused, now: now, into: &actions)
        case .resume:
            guard case .paused(let step) = phase else { return }
            phase = .analysing(step: step)
            deadline = deadline + (now - pausedAt)
            stepStartedAt = now
            decide(.resumed, now: now, into: &actions)
            scheduleLook(now: now, into: &actions)
        case .promote:
            guard isActive else { return }
            promote(manual: true, now: now, into: &actions)
        case .abort:
            guard isActive else { return }
            rollBack(.aborted, now: now, into: &actions)
        }
    }

    /// A snapshot for metrics export.
    public var metrics: CanaryAnalysis.Metrics {
        CanaryAnalysis.Metrics(
            phase: phase, step: step, stepCount: configuration.stepsBasisPoints.count,
            stableWeight: weights.stable, canaryWeight: weights.canary, stable: stable.summary,
            canary: canary.summary, looksTaken: looksTaken, lastDecision: lastDecision)
    }

    /// The evidence as it stands now.
    public var evidence: CanaryAnalysis.Evidence {
        let margin = Double(configuration.errorRateMargin.partsPerMillion) / 1e6
        let z = CanaryStatistics.twoProportionZ(
            canaryFailures: canary.failures, canarySamples: canary.samples, stableFailures: stable.failures,
            stableSamples: stable.samples, margin: margin)
        let stableSummary = stable.summary
        let toleranceMultiplier = Ratio(partsPerMillion: 1_000_000 + configuration.latencyTolerance.partsPerMillion)
        let threshold = stableSummary.p95.scaled(by: toleranceMultiplier)
        var criticalCount = canary.samples + 1
        if stable.samples > 0 && canary.samples > 0 {
            criticalCount = CanaryStatistics.binomialCriticalCount(
                trials: canary.samples, probability: 1 - Double(Self.latencyQuantile.partsPerMillion) / 1e6,
                alpha: Double(perLookAlpha.partsPerMillion) / 1e6)
        }
        return CanaryAnalysis.Evidence(
            stable: stableSummary, canary: canary.summary, minimumSamples: configuration.minimumSamplesPerSide,
            errorStatisticMilli: Int64((z * 1_000).rounded(.down)), errorThresholdMilli: errorThresholdMilli,
            latencyThreshold: threshold, latencyExceedances: canary.latencies.countCertainlyAbove(threshold),
            latencyCriticalCount: criticalCount, excessFailures: excessFailures(),
            errorAllowance: configuration.errorAllowance, perLookAlpha: perLookAlpha, look: looksTaken,
            looksPlanned: looksPlanned)
    }

    var isActive: Bool {
        switch phase {
        case .analysing, .paused: return true
        case .idle, .promoted, .rolledBack: return false
        }
    }

    /// Canary failures above canary samples × (stable rate + margin), in whole failures rounded toward zero, from
    /// integers only; zero until stable has the minimum samples (its rate means little before).
    func excessFailures() -> Int64 {
        guard stable.samples >= configuration.minimumSamplesPerSide else { return 0 }
        let scale = Int128(1_000_000)
        let stableSamples = Int128(stable.samples)
        let excessScaled =
            Int128(canary.failures) * stableSamples * scale - Int128(canary.samples) * Int128(stable.failures) * scale
            - Int128(canary.samples) * stableSamples * Int128(configuration.errorRateMargin.partsPerMillion)
        return Int64(excessScaled / (stableSamples * scale))
    }

    mutating func start(
        stable stableVersion: Int, canary canaryVersion: Int, now: Instant, into actions: inout [Action]
    ) {
        // A canary is a different version from stable; a start naming one version twice is refused (ignored) like
        // a start during an analysis, and the API answers it before it gets here.
        guard !isActive, stableVersion != canaryVersion else { return }
        self.stableVersion = stableVersion
        self.canaryVersion = canaryVersion
        stable = SideCounts()
        canary = SideCounts()
        looksTaken = 0
        step = 0
        canaryWeight = configuration.stepsBasisPoints[0]
        stepStartedAt = now
        deadline = now + configuration.analysisDeadline
        phase = .analysing(step: 0)
        decide(.started, now: now, into: &actions)
        actions.append(.setWeights(stable: weights.stable, canary: weights.canary))
        scheduleLook(now: now, into: &actions)
    }

    mutating func observe(version: Int, success: Bool, latency: Duration, now: Instant, into actions: inout [Action]) {
        guard isActive else { return }
        if version == canaryVersion {
            canary.record(success: success, latency: latency)
        } else if version == stableVersion {
            stable.record(success: success, latency: latency)
        } else {
            return
        }
        // The hard guard runs on every observation: the allowance is a bound on harm, not a statistical test.
        if !configuration.neverRollsBack && excessFailures() >= configuration.errorAllowance {
            rollBack(.errorAllowance, now: now, into: &actions)
        }
    }

    /// Judges the evidence: roll back on a rejection, step up when the hold ended with enough samples, roll back
    /// when out of time, otherwise hold and look again.
    mutating func look(now: Instant, into actions: inout [Action]) {
        looksTaken += 1
        let evidence = self.evidence
        let sabotaged = configuration.neverRollsBack
        if !sabotaged {
            if evidence.errorTestRejects { return rollBack(.errorRate, evidence: evidence, now: now, into: &actions) }
            if evidence.latencyTestRejects { return rollBack(.latency, evidence: evidence, now: now, into: &actions) }
        }
        let holdEnded = now >= stepStartedAt + configuration.holdPerStep
        let outOfTime = now >= deadline || looksTaken >= looksPlanned
        if (holdEnded && (evidence.hasMinimumSamples || sabotaged)) || (outOfTime && sabotaged) {
            return stepUp(evidence: evidence, now: now, into: &actions)
        }
        if outOfTime { return rollBack(.deadline, evidence: evidence, now: now, into: &actions) }
        let reason: CanaryAnalysis.HoldReason = holdEnded ? .insufficientSamples : .holdTimeRemaining
        decide(.held(reason), evidence: evidence, now: now, into: &actions)
        scheduleLook(now: now, into: &actions)
    }

    mutating func stepUp(evidence: CanaryAnalysis.Evidence, now: Instant, into actions: inout [Action]) {
        guard step + 1 < configuration.stepsBasisPoints.count else {
            return promote(manual: false, evidence: evidence, now: now, into: &actions)
        }
        step += 1
        canaryWeight = configuration.stepsBasisPoints[step]
        stepStartedAt = now
        phase = .analysing(step: step)
        decide(.steppedUp, evidence: evidence, now: now, into: &actions)
        actions.append(.setWeights(stable: weights.stable, canary: weights.canary))
        scheduleLook(now: now, into: &actions)
    }

    mutating func promote(
        manual: Bool, evidence: CanaryAnalysis.Evidence? = nil, now: Instant, into actions: inout [Action]
    ) {
        canaryWeight = Self.basisPointsTotal
        phase = .promoted
        nextLookAt = .distantFuture
        decide(.promoted(manual: manual), evidence: evidence, now: now, into: &actions)
        actions.append(.setWeights(stable: weights.stable, canary: weights.canary))
        actions.append(.promoted)
    }

    mutating func rollBack(
        _ reason: CanaryAnalysis.RollbackReason, evidence: CanaryAnalysis.Evidence? = nil, now: Instant,
        into actions: inout [Action]
    ) {
        canaryWeight = 0
        phase = .rolledBack(reason)
        nextLookAt = .distantFuture
        decide(.rolledBack(reason), evidence: evidence, now: now, into: &actions)
        actions.append(.setWeights(stable: weights.stable, canary: weights.canary))
        actions.append(.rolledBack(reason))
    }

    /// The next look: one interval on, or sooner when the step's hold or the deadline ends first.
    mutating func scheduleLook(now: Instant, into actions: inout [Action]) {
        var next = now + configuration.lookInterval
        let holdEnds = stepStartedAt + configuration.holdPerStep
        if holdEnds > now && holdEnds < next { next = holdEnds }
        if deadline > now && deadline < next { next = deadline }
        nextLookAt = next
        actions.append(.setTimer(at: next))
    }

    /// Records a decision (with the given evidence, or the evidence as it stands) and emits its audit.
    mutating func decide(
        _ verdict: CanaryDecision.Verdict, evidence: CanaryAnalysis.Evidence? = nil, now: Instant,
        into actions: inout [Action]
    ) {
        let decision = CanaryDecision(
            verdict: verdict, decidedAt: now, step: step, stableWeight: weights.stable, canaryWeight: weights.canary,
            evidence: evidence ?? self.evidence)
        lastDecision = decision
        actions.append(.audit(decision))
    }
}
