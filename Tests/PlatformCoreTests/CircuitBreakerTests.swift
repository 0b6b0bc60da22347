// Transcript tests for the circuit breaker: each feeds calls and outcomes with explicit times and expects the
// breaker's decisions and phase. A seeded property test drives random traffic and checks the safety rules.

import Testing

@testable import PlatformCore

private func at(milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

@Suite struct CircuitBreakerTests {
    /// Small numbers so transcripts stay short: 3 consecutive failures, or >= 50% of >= 10 calls in 10 s;
    /// open 1 s doubling to at most 8 s; 2 probes, 2 successes to close; slow above 100 ms.
    static func configuration() -> CircuitBreaker.Configuration {
        var configuration = CircuitBreaker.Configuration()
        configuration.consecutiveFailuresToOpen = 3
        configuration.failureRateToOpen = .percent(50)
        configuration.slidingWindow = .seconds(10)
        configuration.slidingWindowBuckets = 10
        configuration.minimumCallsInWindow = 10
        configuration.slowCallThreshold = .milliseconds(100)
        configuration.openDuration = .seconds(1)
        configuration.openDurationMax = .seconds(8)
        configuration.openDurationMultiplier = 2
        configuration.halfOpenProbesMax = 2
        configuration.halfOpenSuccessesToClose = 2
        return configuration
    }

    static let fast = CircuitBreaker.Outcome.success(latency: .milliseconds(5))

    /// Runs one ordinary call to completion at `now`.
    static func call(_ breaker: inout CircuitBreaker, _ outcome: CircuitBreaker.Outcome, now: Instant) {
        #expect(breaker.callStarting(now: now) == .admit(probe: false))
        breaker.callFinished(outcome, probe: false, now: now)
    }

    /// A breaker tripped by three failures at t=0 (open until t=1 s).
    static func openedBreaker() -> CircuitBreaker {
        var breaker = CircuitBreaker(configuration: configuration())
        for _ in 0..<3 { call(&breaker, .failure, now: at(milliseconds: 0)) }
        #expect(breaker.phase == .open)
        return breaker
    }

    @Test func defaultsMatchTheDocumentedValues() {
        let configuration = CircuitBreaker.Configuration()
        #expect(configuration.consecutiveFailuresToOpen == 5)
        #expect(configuration.failureRateToOpen == .percent(50))
        #expect(configuration.minimumCallsInWindow == 20)
        #expect(configuration.openDuration == .seconds(5))
        #expect(configuration.openDurationMax == .seconds(60))
        #expect(!configuration.neverOpens)
        #expect(CircuitBreaker.Phase.closed < .halfOpen && CircuitBreaker.Phase.halfOpen < .open)
    }

    @Test func closedAdmitsOrdinaryCalls() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        #expect(breaker.phase == .closed)
        #expect(breaker.callStarting(now: at(milliseconds: 0)) == .admit(probe: false))
        breaker.callFinished(Self.fast, probe: false, now: at(milliseconds: 5))
        #expect(breaker.phase == .closed)
        #expect(breaker.timesOpened == 0)
    }

    @Test func consecutiveFailuresTrip() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        Self.call(&breaker, .failure, now: at(milliseconds: 0))
        Self.call(&breaker, .failure, now: at(milliseconds: 1))
        Self.call(&breaker, Self.fast, now: at(milliseconds: 2))  // a success resets the streak
        Self.call(&breaker, .failure, now: at(milliseconds: 3))
        Self.call(&breaker, .failure, now: at(milliseconds: 4))
        #expect(breaker.phase == .closed)
        Self.call(&breaker, .failure, now: at(milliseconds: 5))
        #expect(breaker.phase == .open)
        #expect(breaker.timesOpened == 1)
        #expect(breaker.callStarting(now: at(milliseconds: 5)) == .reject(retryAfter: .seconds(1)))
        #expect(breaker.callsRejected == 1)
    }

    @Test func slowSuccessesCountAsFailures() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        Self.call(&breaker, .success(latency: .milliseconds(100)), now: at(milliseconds: 0))  // at the threshold: fine
        Self.call(&breaker, .success(latency: .milliseconds(101)), now: at(milliseconds: 1))
        Self.call(&breaker, .success(latency: .seconds(3)), now: at(milliseconds: 2))
        #expect(breaker.phase == .closed)
        Self.call(&breaker, .success(latency: .milliseconds(150)), now: at(milliseconds: 3))
        #expect(breaker.phase == .open)
    }

    @Test func failureRateTripsOnlyOnceTheWindowHoldsEnoughCalls() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        // Alternating failures never make a streak of 3; 5 of 9 is over 50% but below the 10-call minimum.
        for index in 0..<9 {
            Self.call(&breaker, index % 2 == 0 ? .failure : Self.fast, now: at(milliseconds: Int64(index)))
        }
        #expect(breaker.phase == .closed)
        Self.call(&breaker, Self.fast, now: at(milliseconds: 9))  // 5 of 10 = 50%: trips
        #expect(breaker.phase == .open)
    }

    @Test func failureRateBelowTheThresholdStaysClosed() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        for index in 0..<40 {
            Self.call(&breaker, index % 3 == 0 ? .failure : Self.fast, now: at(milliseconds: Int64(index)))
        }
        #expect(breaker.phase == .closed)  // 14 of 40 = 35%
    }

    @Test func failuresOutsideTheWindowDoNotCount() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        for index in 0..<8 {
            Self.call(&breaker, index % 2 == 0 ? .failure : Self.fast, now: at(milliseconds: Int64(index)))
        }
        // Eleven seconds later the old calls have expired: 2 fresh calls are far below the minimum.
        Self.call(&breaker, .failure, now: at(milliseconds: 11_000))
        Self.call(&breaker, Self.fast, now: at(milliseconds: 11_001))
        #expect(breaker.phase == .closed)
    }

    @Test func openRejectsUntilTheOpenPeriodEndsThenProbes() {
        var breaker = Self.openedBreaker()
        #expect(breaker.callStarting(now: at(milliseconds: 400)) == .reject(retryAfter: .milliseconds(600)))
        let almost = Instant(nanoseconds: at(milliseconds: 1_000).nanoseconds - 10)
        #expect(breaker.callStarting(now: almost) == .reject(retryAfter: .milliseconds(1)))  // floor of 1 ms
        #expect(breaker.phase == .open)
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        #expect(breaker.phase == .halfOpen)
        #expect(breaker.probesInFlight == 1)
    }

    @Test func halfOpenBoundsProbesInFlight() {
        var breaker = Self.openedBreaker()
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 1_001)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 1_002)) == .reject(retryAfter: .milliseconds(1)))
        #expect(breaker.probesInFlight == 2)
        breaker.callFinished(Self.fast, probe: true, now: at(milliseconds: 1_010))
        #expect(breaker.phase == .halfOpen)
        #expect(breaker.callStarting(now: at(milliseconds: 1_011)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 1_012)) == .reject(retryAfter: .milliseconds(1)))
    }

    @Test func abandonedProbesFreeTheirSlot() {
        var breaker = Self.openedBreaker()
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        breaker.callAbandoned(probe: true)
        breaker.callAbandoned(probe: false)  // an ordinary call holds no slot
        #expect(breaker.probesInFlight == 1)
        #expect(breaker.phase == .halfOpen)
        #expect(breaker.callStarting(now: at(milliseconds: 1_001)) == .admit(probe: true))
    }

    @Test func probeSuccessesCloseAndClearTheWindow() {
        var breaker = Self.openedBreaker()
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        breaker.callFinished(Self.fast, probe: true, now: at(milliseconds: 1_005))
        #expect(breaker.phase == .halfOpen)
        breaker.callFinished(Self.fast, probe: true, now: at(milliseconds: 1_006))
        #expect(breaker.phase == .closed)
        #expect(breaker.probesInFlight == 0)
        // The three failures before the trip are forgotten: two more do not reach the streak or the rate.
        Self.call(&breaker, .failure, now: at(milliseconds: 1_007))
        Self.call(&breaker, .failure, now: at(milliseconds: 1_008))
        #expect(breaker.phase == .closed)
    }

    @Test func failedProbesReopenWithGrowingCappedBackoff() {
        var breaker = Self.openedBreaker()
        var now = at(milliseconds: 1_000)
        for expected: Int64 in [2, 4, 8, 8, 8] {
            #expect(breaker.callStarting(now: now) == .admit(probe: true))
            breaker.callFinished(.failure, probe: true, now: now)
            #expect(breaker.phase == .open)
            #expect(breaker.openDurationCurrent == .seconds(expected))
            #expect(breaker.callStarting(now: now) == .reject(retryAfter: .seconds(expected)))
            now = now + .seconds(expected)
        }
        #expect(breaker.timesOpened == 6)
        // A slow probe success is a failure too.
        #expect(breaker.callStarting(now: now) == .admit(probe: true))
        breaker.callFinished(.success(latency: .milliseconds(500)), probe: true, now: now)
        #expect(breaker.phase == .open)
        now = now + .seconds(8)
        // Closing resets the backoff: the next trip opens for the base 1 s again.
        #expect(breaker.callStarting(now: now) == .admit(probe: true))
        #expect(breaker.callStarting(now: now) == .admit(probe: true))
        breaker.callFinished(Self.fast, probe: true, now: now)
        breaker.callFinished(Self.fast, probe: true, now: now)
        #expect(breaker.phase == .closed)
        for _ in 0..<3 { Self.call(&breaker, .failure, now: now) }
        #expect(breaker.openDurationCurrent == .seconds(1))
        #expect(breaker.callStarting(now: now) == .reject(retryAfter: .seconds(1)))
    }

    @Test func ordinaryCallsFinishingWhileOpenOrHalfOpenNeverChangePhase() {
        var breaker = CircuitBreaker(configuration: Self.configuration())
        // Four calls go out while closed; three fail and trip the breaker, the fourth ends later.
        for _ in 0..<4 { #expect(breaker.callStarting(now: at(milliseconds: 0)) == .admit(probe: false)) }
        for _ in 0..<3 { breaker.callFinished(.failure, probe: false, now: at(milliseconds: 1)) }
        #expect(breaker.phase == .open)
        breaker.callFinished(Self.fast, probe: false, now: at(milliseconds: 2))
        #expect(breaker.phase == .open)
        #expect(breaker.callStarting(now: at(milliseconds: 1_001)) == .admit(probe: true))
        #expect(breaker.phase == .halfOpen)
        // Late ordinary outcomes in half-open: neither a success nor a failure moves the phase.
        breaker.callFinished(Self.fast, probe: false, now: at(milliseconds: 1_002))
        breaker.callFinished(Self.fast, probe: false, now: at(milliseconds: 1_002))
        breaker.callFinished(.failure, probe: false, now: at(milliseconds: 1_003))
        #expect(breaker.phase == .halfOpen)
        #expect(breaker.timesOpened == 1)
    }

    @Test func aLateProbeFromAnEarlierHalfOpenStillHoldsItsSlot() {
        var breaker = Self.openedBreaker()
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        breaker.callFinished(.failure, probe: true, now: at(milliseconds: 1_001))  // reopens for 2 s
        #expect(breaker.phase == .open)
        #expect(breaker.probesInFlight == 1)
        // Half-open again: the old probe still counts, so only one new probe may go.
        #expect(breaker.callStarting(now: at(milliseconds: 3_001)) == .admit(probe: true))
        #expect(breaker.callStarting(now: at(milliseconds: 3_001)) == .reject(retryAfter: .milliseconds(1)))
        breaker.callFinished(Self.fast, probe: true, now: at(milliseconds: 3_002))
        breaker.callFinished(Self.fast, probe: true, now: at(milliseconds: 3_003))
        #expect(breaker.phase == .closed)
        #expect(breaker.probesInFlight == 0)
    }

    @Test func timeGoingBackwardsNeverPromisesALongerWait() {
        var breaker = Self.openedBreaker()
        #expect(breaker.callStarting(now: at(milliseconds: -60_000)) == .reject(retryAfter: .seconds(1)))
        #expect(breaker.phase == .open)
        #expect(breaker.callStarting(now: at(milliseconds: 1_000)) == .admit(probe: true))
        breaker.callFinished(Self.fast, probe: true, now: at(milliseconds: 500))  // reported "before" it began
        #expect(breaker.phase == .halfOpen)
        // Window counters take a step back as the latest bucket: no crash, and no call is lost from the rate.
        var configuration = Self.configuration()
        configuration.consecutiveFailuresToOpen = 100
        var closed = CircuitBreaker(configuration: configuration)
        Self.call(&closed, .failure, now: at(milliseconds: 50_000))
        for index in 0..<8 { Self.call(&closed, index % 2 == 0 ? .failure : Self.fast, now: at(milliseconds: 10)) }
        #expect(closed.phase == .closed)
        Self.call(&closed, Self.fast, now: at(milliseconds: 0))  // 5 failures of 10 calls, all "at" 50 s
        #expect(closed.phase == .open)
    }

    @Test func neverOpensStaysClosedWhateverHappens() {
        var configuration = Self.configuration()
        configuration.neverOpens = true
        var breaker = CircuitBreaker(configuration: configuration)
        for index in 0..<100 { Self.call(&breaker, .failure, now: at(milliseconds: Int64(index))) }
        Self.call(&breaker, .success(latency: .seconds(30)), now: at(milliseconds: 100))
        #expect(breaker.phase == .closed)
        #expect(breaker.timesOpened == 0)
        #expect(breaker.probesInFlight == 0)
    }

    /// Random traffic: calls start, finish (fast, slow or failed, in any order), or are abandoned, while time
    /// mostly moves forward. Checks: no ordinary call is admitted unless closed; probes only while half-open and
    /// never more than the limit in flight; rejections carry a sane wait; phases move only along the edges of
    /// the machine; `neverOpens` never leaves closed.
    @Test func seededTrafficKeepsTheSafetyRules() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed, stream: 0xB4EA)
            var configuration = Self.configuration()
            configuration.halfOpenProbesMax = Int(random.between(1, 3))
            configuration.halfOpenSuccessesToClose = Int(random.between(1, 3))
            configuration.neverOpens = seed % 20 == 0
            var breaker = CircuitBreaker(configuration: configuration)
            var inFlight: [(probe: Bool, startedAt: Instant)] = []
            var now = Instant.zero
            var violations: [String] = []
            for step in 0..<300 {
                now = now + .milliseconds(random.between(random.chance(.percent(3)) ? -2_000 : 0, 400))
                let before = breaker.phase
                let choice = random.below(UInt64(10))
                if choice < 5 || inFlight.isEmpty {
                    let decision = breaker.callStarting(now: now)
                    switch decision {
                    case .admit(let probe):
                        if !probe && breaker.phase != .closed { violations.append("step \(step): ordinary admitted") }
                        if probe && breaker.phase != .halfOpen { violations.append("step \(step): stray probe") }
                        inFlight.append((probe, now))
                    case .reject(let retryAfter):
                        if breaker.phase == .closed { violations.append("step \(step): rejected while closed") }
                        if retryAfter < .milliseconds(1) || retryAfter > configuration.openDurationMax {
                            violations.append("step \(step): retryAfter \(retryAfter)")
                        }
                    }
                } else {
                    let index = random.below(inFlight.count)
                    let call = inFlight.remove(at: index)
                    if choice == 9 {
                        breaker.callAbandoned(probe: call.probe)
                    } else {
                        let failing = random.chance(.percent(seed % 2 == 0 ? 70 : 30))
                        let latency = Duration.milliseconds(random.between(0, 200))
                        let outcome: CircuitBreaker.Outcome = failing ? .failure : .success(latency: latency)
                        breaker.callFinished(outcome, probe: call.probe, now: now)
                    }
                }
                let probes = inFlight.filter { $0.probe }.count
                if probes != breaker.probesInFlight { violations.append("step \(step): probe count drifted") }
                if probes > configuration.halfOpenProbesMax { violations.append("step \(step): \(probes) probes") }
                if !Self.isAllowedMove(from: before, to: breaker.phase) {
                    violations.append("step \(step): \(before) -> \(breaker.phase)")
                }
                if configuration.neverOpens && breaker.phase != .closed { violations.append("step \(step): opened") }
            }
            #expect(violations.isEmpty, "breaker broke a rule: \(violations.prefix(3)); reproduce with seed=\(seed)")
        }
    }

    static func isAllowedMove(from before: CircuitBreaker.Phase, to after: CircuitBreaker.Phase) -> Bool {
        switch (before, after) {
        case (.closed, .closed), (.closed, .open): return true
        case (.open, .open), (.open, .halfOpen): return true
        case (.halfOpen, .halfOpen), (.halfOpen, .open), (.halfOpen, .closed): return true
        case (.closed, .halfOpen), (.open, .closed): return false
        }
    }
}
