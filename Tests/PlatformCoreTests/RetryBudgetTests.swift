// Transcript tests for the retry budget, plus a seeded property test that recounts every bucket-aligned
// window from a full event log and checks retries never exceed the floor plus the ratio of first attempts.

import Testing

@testable import PlatformCore

private func at(milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

@Suite struct RetryBudgetTests {
    /// 20% of first attempts plus 10 per 10 s window (the defaults).
    func makeBudget() -> RetryBudget { RetryBudget(configuration: RetryBudget.Configuration()) }

    @Test func theFloorAllowsRetriesWithoutTraffic() {
        var budget = makeBudget()
        for _ in 0..<10 { #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == true) }
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == false)
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 1)) == false)
        #expect(budget.retriesRefused == 2)
        #expect(budget.retriesAllowed == 10)
    }

    @Test func firstAttemptsEarnTheirShare() {
        var budget = makeBudget()
        for _ in 0..<100 { budget.requestStarted(now: at(milliseconds: 0)) }
        #expect(budget.retriesAllowedInWindow(now: at(milliseconds: 0)) == 30)
        for _ in 0..<30 { #expect(budget.tryWithdrawRetry(now: at(milliseconds: 10)) == true) }
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 10)) == false)
        budget.requestStarted(now: at(milliseconds: 11))  // 101 * 20% = 20.2, rounded down: no new retry
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 11)) == false)
        for _ in 0..<4 { budget.requestStarted(now: at(milliseconds: 12)) }  // 105 * 20% = 21
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 12)) == true)
        #expect(budget.retriesInWindow(now: at(milliseconds: 12)) == 31)
    }

    @Test func theBudgetRefillsAsTheWindowSlides() {
        var budget = makeBudget()
        for _ in 0..<10 { #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == true) }
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 9_999)) == false)
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 10_000)) == true)
        #expect(budget.retriesInWindow(now: at(milliseconds: 10_000)) == 1)
    }

    @Test func firstAttemptsExpireWithTheWindow() {
        var budget = makeBudget()
        for _ in 0..<50 { budget.requestStarted(now: at(milliseconds: 0)) }
        #expect(budget.retriesAllowedInWindow(now: at(milliseconds: 9_000)) == 20)
        #expect(budget.retriesAllowedInWindow(now: at(milliseconds: 10_000)) == 10)
    }

    @Test func timeGoingBackwardsDoesNotCrashOrRefill() {
        var budget = makeBudget()
        for _ in 0..<10 { #expect(budget.tryWithdrawRetry(now: at(milliseconds: 30_000)) == true) }
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == false)
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: -30_000)) == false)
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 40_000)) == true)
    }

    @Test func aZeroFloorNeedsTraffic() {
        var configuration = RetryBudget.Configuration()
        configuration.minimumRetriesPerWindow = 0
        configuration.retryRatio = .percent(50)
        var budget = RetryBudget(configuration: configuration)
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == false)
        budget.requestStarted(now: at(milliseconds: 0))
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == false)
        budget.requestStarted(now: at(milliseconds: 0))
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == true)
        #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == false)
    }

    @Test func ignoresBudgetAllowsEveryRetry() {
        var configuration = RetryBudget.Configuration()
        configuration.ignoresBudget = true
        var budget = RetryBudget(configuration: configuration)
        for _ in 0..<1_000 { #expect(budget.tryWithdrawRetry(now: at(milliseconds: 0)) == true) }
        #expect(budget.retriesRefused == 0)
        #expect(budget.retriesInWindow(now: at(milliseconds: 0)) == 1_000)
    }

    /// Random first attempts and retry withdrawals, time mostly forward with some steps back. A model keeps
    /// every event with the bucket it was filed in and checks, for the bucket-aligned window at each step,
    /// that retries <= floor + ratio * first attempts, and that a refusal happens only when the window is full.
    @Test func seededTrafficNeverOverspends() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed, stream: 0xB0D6)
            var configuration = RetryBudget.Configuration()
            configuration.retryRatio = Ratio(partsPerMillion: random.between(0, 1_000_000))
            configuration.minimumRetriesPerWindow = random.between(0, 5)
            configuration.window = .milliseconds(100 * random.between(1, 20))
            configuration.windowBuckets = Int(random.between(1, 10))
            var budget = RetryBudget(configuration: configuration)
            let widthNanoseconds = configuration.window.nanoseconds / Int64(configuration.windowBuckets)
            var requestBuckets: [Int64] = []
            var retryBuckets: [Int64] = []
            var requestsExpired = 0
            var retriesExpired = 0
            var latestBucket = Int64.min
            var now: Int64 = 0
            var violations: [String] = []
            for step in 0..<400 {
                now += random.chance(.percent(5)) ? -random.between(0, 500_000_000) : random.between(0, 30_000_000)
                let bucket = now / widthNanoseconds - (now < 0 && now % widthNanoseconds != 0 ? 1 : 0)
                latestBucket = max(latestBucket, bucket)
                // Filed buckets never decrease, so events that left the window are a prefix of each log.
                let oldest = latestBucket - Int64(configuration.windowBuckets)
                while requestsExpired < requestBuckets.count && requestBuckets[requestsExpired] <= oldest {
                    requestsExpired += 1
                }
                while retriesExpired < retryBuckets.count && retryBuckets[retriesExpired] <= oldest {
                    retriesExpired += 1
                }
                let requests = Int64(requestBuckets.count - requestsExpired)
                let retries = Int64(retryBuckets.count - retriesExpired)
                let allowed = configuration.minimumRetriesPerWindow + configuration.retryRatio.of(requests)
                if random.chance(.percent(70)) {
                    budget.requestStarted(now: Instant(nanoseconds: now))
                    requestBuckets.append(latestBucket)
                } else if budget.tryWithdrawRetry(now: Instant(nanoseconds: now)) {
                    retryBuckets.append(latestBucket)
                    if retries + 1 > allowed { violations.append("step \(step): retry \(retries + 1) of \(allowed)") }
                } else if retries < allowed {
                    violations.append("step \(step): refused with \(retries) of \(allowed) spent")
                }
            }
            #expect(violations.isEmpty, "budget overspent: \(violations.prefix(3)); reproduce with seed=\(seed)")
        }
    }
}
