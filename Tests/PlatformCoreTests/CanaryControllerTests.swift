// The canary controller as transcripts and seeded property tests: a synthetic stream of requests (100 a second,
// split by the controller's weights, failing and taking time by each side's profile) drives the machine; good,
// bad, slow and noisy-but-equal canaries, the operator's overrides, sample gating, the deadline, the no-rollback
// sabotage, the audit's evidence and determinism.

import Testing

@testable import PlatformCore

/// How one side behaves: a failure probability and a latency of `base` plus an exponential with mean `spread`.
private struct Profile {
    var errorRate: Ratio
    var base: Duration = .milliseconds(20)
    var spread: Duration = .milliseconds(30)

    static let stable = Profile(errorRate: .percent(2))
    static let equal = stable
    /// Ten points more errors.
    static let bad = Profile(errorRate: .percent(12))
    /// Every latency half as long again (so p95 is +50%).
    static let slow = Profile(errorRate: .percent(2), base: .milliseconds(30), spread: .milliseconds(45))
}

/// Small numbers so runs stay short: steps 5/25/50/100%, 30 s each, a look every 5 s, 100 samples per side,
/// an allowance of 30 failures, a 240 s deadline.
private func testConfiguration() -> CanaryController.Configuration {
    var configuration = CanaryController.Configuration()
    configuration.holdPerStep = .seconds(30)
    configuration.lookInterval = .seconds(5)
    configuration.minimumSamplesPerSide = 100
    configuration.errorAllowance = 30
    configuration.analysisDeadline = .seconds(240)
    return configuration
}

/// A controller, a request stream and the one timer the controller keeps.
private struct CanaryWorld {
    static let stableVersion = 1
    static let canaryVersion = 2

    let seed: UInt64
    var controller: CanaryController
    var random: SeededRandom
    var stable: Profile
    var canary: Profile
    var now: Instant = .zero
    var timerAt: Instant?
    var requestInterval: Duration = .milliseconds(10)
    var actions: [CanaryController.Action] = []
    var canaryFailures = 0

    init(
        seed: UInt64, canary: Profile, stable: Profile = .stable,
        configure: (inout CanaryController.Configuration) -> Void = { _ in }
    ) {
        var configuration = testConfiguration()
        configure(&configuration)
        self.seed = seed
        controller = CanaryController(configuration: configuration)
        random = SeededRandom(seed: seed, stream: 0xCA7A)
        self.stable = stable
        self.canary = canary
    }

    mutating func feed(_ input: CanaryController.Input) {
        let first = actions.count
        controller.handle(input, now: now, into: &actions)
        for case .setTimer(let at) in actions[first...] { timerAt = at }
    }

    var finished: Bool {
        switch controller.phase {
        case .promoted, .rolledBack: return true
        case .idle, .analysing, .paused: return false
        }
    }

    /// Sends one request to a side chosen by the current weights and reports its outcome.
    mutating func sendRequest() {
        let toCanary = Int64(random.below(UInt64(CanaryController.basisPointsTotal))) < controller.weights.canary
        let profile = toCanary ? canary : stable
        let success = !random.chance(profile.errorRate)
        let latency = profile.base + random.exponential(mean: profile.spread)
        if toCanary && !success { canaryFailures += 1 }
        let version = toCanary ? Self.canaryVersion : Self.stableVersion
        feed(.observed(version: version, success: success, latency: latency))
    }

    /// Runs traffic and timers until the analysis ends or `limit` passes.
    mutating func run(until limit: Instant = .zero + .seconds(400)) {
        var nextArrival = now + requestInterval
        while !finished && now < limit {
            if let at = timerAt, at <= nextArrival {
                now = max(now, at)
                timerAt = nil
                feed(.timerFired)
                continue
            }
            now = nextArrival
            nextArrival = now + requestInterval
            sendRequest()
        }
    }

    mutating func startAndRun(until limit: Instant = .zero + .seconds(400)) {
        feed(.start(stable: Self.stableVersion, canary: Self.canaryVersion))
        run(until: limit)
    }

    var decisions: [CanaryDecision] {
        actions.compactMap { if case .audit(let decision) = $0 { return decision } else { return nil } }
    }

    var weightChanges: [Int64] {
        actions.compactMap { if case .setWeights(_, let canary) = $0 { return canary } else { return nil } }
    }
}

@Suite struct CanaryControllerTests {
    @Test func defaultsMatchTheDocumentedValues() {
        let controller = CanaryController()
        let configuration = controller.configuration
        #expect(configuration.stepsBasisPoints == [500, 2_500, 5_000, 10_000])
        #expect(configuration.holdPerStep == .minutes(2) && configuration.lookInterval == .seconds(10))
        #expect(configuration.minimumSamplesPerSide == 200 && configuration.alpha == .percent(5))
        #expect(configuration.errorRateMargin == .percent(1) && configuration.latencyTolerance == .percent(20))
        #expect(configuration.errorAllowance == 25 && configuration.analysisDeadline == .minutes(16))
        #expect(!configuration.neverRollsBack)
        // 96 cadence looks + 4 step ends + 1; 5% over 2 tests x 101 looks is 247 ppm, z >= 3.484.
        #expect(controller.looksPlanned == 101)
        #expect(controller.perLookAlpha == Ratio(partsPerMillion: 247))
        #expect(controller.errorThresholdMilli == 3_484)
        #expect(controller.phase == .idle && controller.weights == (stable: 10_000, canary: 0))
        #expect(Sabotage(name: "no-rollback") == .noRollback)
    }

    @Test func goodCanaryIsPromotedWithinStepsTimesHold() {
        var world = CanaryWorld(seed: 7, canary: .equal)
        world.startAndRun()
        #expect(world.controller.phase == .promoted, "reproduce with seed=7")
        #expect(world.weightChanges == [500, 2_500, 5_000, 10_000, 10_000])
        let promotedAt = world.decisions.last!.decidedAt
        // Four steps of 30 s; the hold is a whole number of look intervals, so no slack is needed.
        #expect(promotedAt == .zero + .seconds(120))
        #expect(world.decisions.last!.verdict == .promoted(manual: false))
        #expect(world.actions.last == .promoted)
        #expect(world.controller.weights == (stable: 0, canary: 10_000))
    }

    @Test func badCanaryIsRolledBackBeforeItSpendsItsAllowance() {
        var byTest = 0
        var excessMax: Int64 = 0
        var failuresMax = 0
        for seed in UInt64(1)...100 {
            var world = CanaryWorld(seed: seed, canary: .bad)
            world.startAndRun()
            guard case .rolledBack(let reason) = world.controller.phase else {
                Issue.record("a bad canary was not rolled back - reproduce with seed=\(seed)")
                continue
            }
            #expect(reason == .errorRate || reason == .errorAllowance, "seed=\(seed)")
            if reason == .errorRate { byTest += 1 }
            let evidence = world.decisions.last!.evidence
            #expect(evidence.excessFailures <= 30, "seed=\(seed) spent \(evidence.excessFailures) of 30")
            excessMax = max(excessMax, evidence.excessFailures)
            failuresMax = max(failuresMax, world.canaryFailures)
            #expect(world.weightChanges.last == 0)
        }
        print(
            "bad canary: \(byTest)/100 rolled back by the error test; excess failures at most \(excessMax)",
            "(allowance 30); canary failures at most \(failuresMax)")
        #expect(byTest >= 90, "the error test, not only the allowance, catches a +10 point canary")
    }

    @Test func slowCanaryIsRolledBackOnLatency() {
        var latest = Instant.zero
        for seed in UInt64(1)...20 {
            var world = CanaryWorld(seed: seed, canary: .slow)
            world.startAndRun()
            #expect(world.controller.phase == .rolledBack(.latency), "reproduce with seed=\(seed)")
            let evidence = world.decisions.last!.evidence
            #expect(evidence.latencyExceedances >= evidence.latencyCriticalCount)
            #expect(evidence.canary.p95 > evidence.stable.p95)
            latest = max(latest, world.now)
        }
        print("slow canary: rolled back on latency in 20/20 seeds, at the latest at \(latest)")
    }

    @Test func noisyButEqualCanaryIsPromotedInAtLeast95Of100Seeds() {
        var promoted = 0
        var falseRollbacks: [(UInt64, CanaryController.Phase)] = []
        for seed in UInt64(1)...100 {
            var world = CanaryWorld(seed: seed, canary: .equal)
            world.startAndRun()
            if world.controller.phase == .promoted {
                promoted += 1
            } else {
                falseRollbacks.append((seed, world.controller.phase))
            }
        }
        print("noisy-but-equal canary promoted in \(promoted)/100 seeds; not promoted: \(falseRollbacks)")
        #expect(promoted >= 95, "not promoted: \(falseRollbacks)")
    }

    @Test func noisyButEqualWithoutMarginsStillHoldsItsLevel() {
        // Margin and tolerance at zero: only the Bonferroni-spread alpha protects an equal canary.
        var promoted = 0
        for seed in UInt64(1)...100 {
            var world = CanaryWorld(seed: seed, canary: .equal) {
                $0.errorRateMargin = .zero
                $0.latencyTolerance = .zero
            }
            world.startAndRun()
            if world.controller.phase == .promoted { promoted += 1 }
        }
        print("noisy-but-equal canary with zero margin and tolerance promoted in \(promoted)/100 seeds")
        #expect(promoted >= 95)
    }
}

/// Drives one controller by hand, with explicit times and batches of observations.
private struct Transcript {
    var controller: CanaryController
    var now: Instant = .zero

    init(configure: (inout CanaryController.Configuration) -> Void = { _ in }) {
        var configuration = testConfiguration()
        configure(&configuration)
        controller = CanaryController(configuration: configuration)
    }

    @discardableResult mutating func feed(_ input: CanaryController.Input, at seconds: Int64? = nil)
        -> [CanaryController.Action]
    {
        if let seconds { now = .zero + .seconds(seconds) }
        var actions: [CanaryController.Action] = []
        controller.handle(input, now: now, into: &actions)
        return actions
    }

    /// Reports `count` requests to `version`, the first `failures` of them failed.
    @discardableResult mutating func observe(
        _ version: Int, count: Int, failures: Int = 0, latency: Duration = .milliseconds(20)
    ) -> [CanaryController.Action] {
        var actions: [CanaryController.Action] = []
        for index in 0..<count {
            actions += feed(.observed(version: version, success: index >= failures, latency: latency))
        }
        return actions
    }

    mutating func start() -> [CanaryController.Action] { feed(.start(stable: 1, canary: 2), at: 0) }
}

private func verdicts(_ actions: [CanaryController.Action]) -> [CanaryDecision.Verdict] {
    actions.compactMap { if case .audit(let decision) = $0 { return decision.verdict } else { return nil } }
}

private func lastDecision(_ actions: [CanaryController.Action]) -> CanaryDecision? {
    actions.compactMap { if case .audit(let decision) = $0 { return decision } else { return nil } }.last
}

@Suite struct CanaryControllerTranscriptTests {
    @Test func startSetsTheFirstStepAndTheFirstLook() {
        var transcript = Transcript()
        let actions = transcript.start()
        #expect(verdicts(actions) == [.started])
        #expect(actions.dropFirst() == [.setWeights(stable: 9_500, canary: 500), .setTimer(at: .zero + .seconds(5))])
        #expect(transcript.controller.phase == .analysing(step: 0))
        #expect(transcript.feed(.start(stable: 1, canary: 3)).isEmpty, "a running analysis is not restarted")
    }

    @Test func noDecisionBeforeMinimumSamplesOnBothSides() {
        var transcript = Transcript { $0.errorAllowance = 10_000 }
        _ = transcript.start()
        transcript.observe(1, count: 1_000)
        transcript.observe(2, count: 99, failures: 99)
        let early = transcript.feed(.timerFired, at: 5)
        #expect(verdicts(early) == [.held(.holdTimeRemaining)])
        let evidence = lastDecision(early)!.evidence
        #expect(!evidence.hasMinimumSamples && !evidence.errorTestRejects)
        #expect(evidence.errorStatisticMilli >= evidence.errorThresholdMilli, "the statistic alone would reject")
        #expect(early.last == .setTimer(at: .zero + .seconds(10)))
        transcript.observe(2, count: 1, failures: 1)
        let decided = transcript.feed(.timerFired, at: 10)
        #expect(verdicts(decided) == [.rolledBack(.errorRate)])
        #expect(decided.suffix(2) == [.setWeights(stable: 10_000, canary: 0), .rolledBack(.errorRate)])
    }

    @Test func holdEndsWithoutSamplesThenTheDeadlineRollsBack() {
        var transcript = Transcript()
        _ = transcript.start()
        var seconds: Int64 = 0
        var last: [CanaryController.Action] = []
        while transcript.controller.phase == .analysing(step: 0) && seconds < 1_000 {
            seconds += 5
            transcript.observe(1, count: 50)
            transcript.observe(2, count: 1)
            last = transcript.feed(.timerFired, at: seconds)
            if seconds == 30 { #expect(verdicts(last) == [.held(.insufficientSamples)]) }
        }
        #expect(seconds == 240 && verdicts(last) == [.rolledBack(.deadline)])
        #expect(transcript.controller.looksTaken <= transcript.controller.looksPlanned)
    }

    @Test func staleAndEarlyTimersAreIgnored() {
        var transcript = Transcript()
        _ = transcript.start()
        #expect(transcript.feed(.timerFired, at: 4).isEmpty)
        #expect(verdicts(transcript.feed(.timerFired, at: 5)) == [.held(.holdTimeRemaining)])
        #expect(transcript.feed(.timerFired, at: 9).isEmpty, "the next look is due at 10 s")
    }

    @Test func pauseHoldsTheStepAndResumeRestartsTheHold() {
        var transcript = Transcript()
        _ = transcript.start()
        transcript.observe(1, count: 500)
        transcript.observe(2, count: 200)
        #expect(verdicts(transcript.feed(.pause, at: 10)) == [.paused])
        #expect(transcript.controller.phase == .paused(step: 0))
        #expect(transcript.feed(.timerFired, at: 30).isEmpty, "no looks while paused")
        #expect(transcript.feed(.pause).isEmpty && transcript.controller.weights.canary == 500)
        let resumed = transcript.feed(.resume, at: 100)
        #expect(verdicts(resumed) == [.resumed] && resumed.last == .setTimer(at: .zero + .seconds(105)))
        for seconds in stride(from: Int64(105), through: 125, by: 5) {
            #expect(verdicts(transcript.feed(.timerFired, at: seconds)) == [.held(.holdTimeRemaining)])
        }
        let stepped = transcript.feed(.timerFired, at: 130)
        #expect(verdicts(stepped) == [.steppedUp] && transcript.controller.phase == .analysing(step: 1))
        #expect(stepped.contains(.setWeights(stable: 7_500, canary: 2_500)))
        #expect(transcript.controller.deadline == .zero + .seconds(330), "the deadline moves by the 90 s paused")
    }

    @Test func aPausedCanaryIsStillGuardedByTheAllowance() {
        var transcript = Transcript()
        _ = transcript.start()
        transcript.observe(1, count: 1_000, failures: 20)
        _ = transcript.feed(.pause, at: 1)
        let actions = transcript.observe(2, count: 31, failures: 31)
        #expect(verdicts(actions) == [.rolledBack(.errorAllowance)])
        let evidence = lastDecision(actions)!.evidence
        #expect(evidence.excessFailures == 30 && evidence.allowanceSpent)
        #expect(transcript.controller.phase == .rolledBack(.errorAllowance))
    }

    @Test func operatorPromoteAndAbortOverrideTheAnalysis() {
        var promoting = Transcript()
        _ = promoting.start()
        let promoted = promoting.feed(.promote, at: 3)
        #expect(verdicts(promoted) == [.promoted(manual: true)])
        #expect(promoted.dropFirst() == [.setWeights(stable: 0, canary: 10_000), .promoted])
        #expect(promoting.feed(.abort).isEmpty && promoting.feed(.resume).isEmpty, "a finished analysis stays")

        var aborting = Transcript()
        _ = aborting.start()
        _ = aborting.feed(.pause, at: 2)
        let aborted = aborting.feed(.abort, at: 3)
        #expect(verdicts(aborted) == [.rolledBack(.aborted)])
        #expect(aborted.dropFirst() == [.setWeights(stable: 10_000, canary: 0), .rolledBack(.aborted)])
        #expect(aborting.feed(.timerFired, at: 5).isEmpty)

        var idle = Transcript()
        #expect(idle.feed(.promote).isEmpty && idle.feed(.abort).isEmpty && idle.feed(.pause).isEmpty)
        #expect(idle.feed(.observed(version: 2, success: false, latency: .zero)).isEmpty)
    }

    @Test func aFinishedAnalysisCanStartAgainFromZero() {
        var transcript = Transcript()
        _ = transcript.start()
        transcript.observe(2, count: 10)
        _ = transcript.feed(.abort, at: 1)
        _ = transcript.feed(.start(stable: 2, canary: 3), at: 2)
        #expect(transcript.controller.phase == .analysing(step: 0))
        #expect(transcript.controller.metrics.canary.samples == 0 && transcript.controller.metrics.stable.samples == 0)
        transcript.observe(1, count: 5)
        #expect(transcript.controller.metrics.stable.samples == 0, "version 1 is no longer under analysis")
    }

    @Test func noRollbackSabotagePromotesTheBadCanary() {
        var world = CanaryWorld(seed: 3, canary: .bad) { $0.neverRollsBack = true }
        world.startAndRun()
        #expect(world.controller.phase == .promoted)
        #expect(world.decisions.contains { $0.evidence.errorTestRejects }, "the evidence said roll back")
        #expect(world.decisions.last!.evidence.excessFailures > 30, "the allowance was spent, so an oracle fails")
    }

    @Test func auditsCarryTheEvidence() {
        var world = CanaryWorld(seed: 3, canary: .bad)
        world.startAndRun()
        let decision = world.decisions.last!
        #expect(decision.verdict == .rolledBack(.errorRate))
        #expect(decision.decidedAt == world.now && decision.step == world.controller.step)
        #expect(decision.stableWeight == 10_000 && decision.canaryWeight == 0)
        let evidence = decision.evidence
        #expect(evidence.stable.samples >= 100 && evidence.canary.samples >= 100)
        // One request every 10 ms; the look at `now` runs before the request due at the same instant.
        #expect(evidence.stable.samples + evidence.canary.samples == world.now.nanoseconds / 10_000_000 - 1)
        #expect(evidence.canary.errorRate > evidence.stable.errorRate)
        #expect(evidence.errorStatisticMilli >= evidence.errorThresholdMilli)
        #expect(evidence.errorThresholdMilli == world.controller.errorThresholdMilli)
        #expect(evidence.stable.p95 > .zero && evidence.latencyThreshold > evidence.stable.p95)
        #expect(evidence.perLookAlpha == world.controller.perLookAlpha && evidence.minimumSamples == 100)
        #expect(evidence.look == world.controller.looksTaken && evidence.looksPlanned == 53)
        let looks = world.decisions.map(\.evidence.look)
        #expect(looks == looks.sorted() && looks.allSatisfy { $0 <= 53 })
        let metrics = world.controller.metrics
        #expect(metrics.lastDecision == decision && metrics.canaryWeight == 0 && metrics.stepCount == 4)
        #expect(metrics.canary == evidence.canary && metrics.stable == evidence.stable)
    }

    @Test func sameInputsGiveTheSameActions() {
        for seed in [UInt64(11), 12] {
            var first = CanaryWorld(seed: seed, canary: .slow)
            var second = CanaryWorld(seed: seed, canary: .slow)
            first.startAndRun()
            second.startAndRun()
            #expect(first.actions == second.actions && first.controller == second.controller, "seed=\(seed)")
        }
        var other = CanaryWorld(seed: 13, canary: .slow)
        var eleven = CanaryWorld(seed: 11, canary: .slow)
        other.startAndRun()
        eleven.startAndRun()
        #expect(other.actions != eleven.actions)
    }
}
