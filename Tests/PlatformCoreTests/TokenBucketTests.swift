// Transcripts of the token bucket's exact refill arithmetic, plus seeded properties: no window of one period ever
// grants more than burst + requests, and the long-run count matches the rate exactly.

import PlatformCore
import Testing

@Suite struct TokenBucketTests {
    static let start = Instant(nanoseconds: 1_000_000_000)

    @Test func startsFullAndRefillsOneTokenEvery600MillisecondsAt100PerMinute() {
        var bucket = TokenBucket(rate: .perMinute100, burst: 20, now: Self.start)
        #expect(bucket.available(now: Self.start) == 20)
        for expected in stride(from: Int64(19), through: 0, by: -1) {
            #expect(bucket.take(now: Self.start) == .granted(remaining: expected))
        }
        #expect(bucket.take(now: Self.start) == .denied(retryAfter: .milliseconds(600)))
        let almost = Self.start + .milliseconds(600) - .nanoseconds(1)
        #expect(bucket.take(now: almost) == .denied(retryAfter: .nanoseconds(1)))
        #expect(bucket.take(now: Self.start + .milliseconds(600)) == .granted(remaining: 0))
        #expect(bucket.available(now: Self.start + .milliseconds(1_800)) == 2)
        #expect(bucket.available(now: Self.start + .seconds(3_600)) == 20)
    }

    @Test func retryAfterIsExactForLargerCostsAndRoundsUpToTheNanosecond() {
        // 3 tokens per 1 s: one token every 333 333 333.33 ns, so waits round up.
        var bucket = TokenBucket(rate: TokenBucket.Rate(requests: 3, per: .seconds(1)), burst: 5, now: .zero)
        #expect(bucket.take(now: .zero, cost: 5) == .granted(remaining: 0))
        #expect(bucket.take(now: .zero, cost: 1) == .denied(retryAfter: .nanoseconds(333_333_334)))
        #expect(bucket.take(now: .zero, cost: 3) == .denied(retryAfter: .seconds(1)))
        let justShort = Instant(nanoseconds: 333_333_333)
        #expect(bucket.take(now: justShort, cost: 1) == .denied(retryAfter: .nanoseconds(1)))
        #expect(bucket.take(now: Instant(nanoseconds: 333_333_334), cost: 1) == .granted(remaining: 0))
        let oneSecond = Instant(nanoseconds: 1_000_000_000)
        #expect(bucket.take(now: oneSecond, cost: 3) == .denied(retryAfter: .nanoseconds(333_333_334)))
    }

    @Test func aCostAboveTheBurstIsNeverGranted() {
        var bucket = TokenBucket(rate: .perMinute100, burst: 2, now: .zero)
        #expect(bucket.take(now: .zero, cost: 3) == .denied(retryAfter: TokenBucket.retryNever))
        #expect(bucket.available(now: .zero) == 2)
    }

    @Test func timeGoingBackwardsAddsNothingAndDoesNotCrash() {
        var bucket = TokenBucket(rate: .perMinute100, burst: 1, now: Self.start)
        #expect(bucket.take(now: Self.start) == .granted(remaining: 0))
        let earlier = Self.start - .seconds(10)
        #expect(bucket.take(now: earlier) == .denied(retryAfter: .seconds(10) + .milliseconds(600)))
        #expect(bucket.available(now: earlier) == 0)
        // Stepping back and then forward again does not count the same interval twice.
        #expect(bucket.take(now: Self.start + .milliseconds(599)) == .denied(retryAfter: .milliseconds(1)))
        #expect(bucket.take(now: Self.start + .milliseconds(600)) == .granted(remaining: 0))
        #expect(
            bucket.take(now: Instant(nanoseconds: Int64.min / 2))
                == .denied(
                    retryAfter:
                        Duration(nanoseconds: (Self.start + .milliseconds(1_200)).nanoseconds - Int64.min / 2)))
    }

    @Test func yearsOfIdleTimeAndHugeRatesDoNotOverflow() {
        let rate = TokenBucket.Rate(requests: 1_000_000_000, per: .nanoseconds(1))
        var bucket = TokenBucket(rate: rate, burst: 1_000, now: Instant(nanoseconds: Int64.min / 4))
        #expect(bucket.take(now: Instant(nanoseconds: Int64.min / 4), cost: 1_000) == .granted(remaining: 0))
        #expect(bucket.available(now: .distantFuture) == 1_000)
        #expect(bucket.isFull(now: .distantFuture))
        #expect(bucket.take(now: .distantFuture, cost: 1_000) == .granted(remaining: 0))
    }

    @Test func fullAtIsWhenTheLastMissingTokenReturns() {
        var bucket = TokenBucket(rate: .perMinute100, burst: 3, now: .zero)
        #expect(bucket.fullAt == .zero)
        _ = bucket.take(now: .zero, cost: 2)
        #expect(bucket.fullAt == .zero + .milliseconds(1_200))
        #expect(!bucket.isFull(now: .zero + .milliseconds(1_199)))
        #expect(bucket.isFull(now: .zero + .milliseconds(1_200)))
    }

    @Test func longRunCountMatchesTheRateExactlyOverAMillionSteps() {
        let rate = TokenBucket.Rate(requests: 7, per: .nanoseconds(1_000_003))
        var bucket = TokenBucket(rate: rate, burst: 4, now: .zero)
        var granted: Int64 = 0
        var now = Instant.zero
        for _ in 0..<1_000_000 {
            now = now + .nanoseconds(97)
            while case .granted = bucket.take(now: now) { granted += 1 }
        }
        #expect(granted == 4 + now.nanoseconds * 7 / 1_000_003)
    }

    @Test func seededPropertyNoWindowOfOnePeriodGrantsMoreThanBurstPlusRequests() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed)
            let requests = random.between(1, 40)
            let period = Duration(nanoseconds: random.between(1_000, 5_000_000))
            let burst = random.between(1, 30)
            let rate = TokenBucket.Rate(requests: requests, per: period)
            var bucket = TokenBucket(rate: rate, burst: burst, now: .zero)
            var grants: [Instant] = []
            var now = Instant.zero
            var windowStart = 0
            var worst: Int64 = 0
            var tokensTaken: Int64 = 0
            for _ in 0..<600 {
                let step = random.chance(.percent(20)) ? 0 : random.between(0, period.nanoseconds / 8)
                now = now + Duration(nanoseconds: step)
                let cost = random.between(1, burst)
                if case .granted = bucket.take(now: now, cost: cost) {
                    for _ in 0..<cost { grants.append(now) }
                    tokensTaken += cost
                    while now - grants[windowStart] > period { windowStart += 1 }
                    worst = max(worst, Int64(grants.count - windowStart))
                }
            }
            #expect(
                worst <= burst + requests,
                "window granted \(worst) > \(burst)+\(requests); reproduce with seed=\(seed)")
            let ceiling = burst + now.nanoseconds * requests / period.nanoseconds
            #expect(
                tokensTaken <= ceiling,
                "took \(tokensTaken) > \(ceiling) over the run; reproduce with seed=\(seed)")
        }
    }
}
