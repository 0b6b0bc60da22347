// Transcript tests for the sliding window counter, plus a seeded property test against a brute-force model
// that keeps every event and recomputes the window from scratch.

import Testing

@testable import PlatformCore

private func at(milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

@Suite struct SlidingWindowCounterTests {
    /// 10 s in 10 buckets of 1 s.
    func makeCounter() -> SlidingWindowCounter { SlidingWindowCounter(window: .seconds(10), buckets: 10) }

    @Test func countsEventsInsideTheWindow() {
        var counter = makeCounter()
        #expect(counter.total(now: at(milliseconds: 0)) == 0)
        counter.add(now: at(milliseconds: 0))
        counter.add(3, now: at(milliseconds: 500))
        counter.add(now: at(milliseconds: 9_999))
        #expect(counter.total(now: at(milliseconds: 9_999)) == 5)
        #expect(counter.bucketCount == 10)
        #expect(counter.bucketWidth == .seconds(1))
    }

    @Test func oldBucketsExpireOneAtATime() {
        var counter = makeCounter()
        counter.add(1, now: at(milliseconds: 0))
        counter.add(10, now: at(milliseconds: 1_000))
        counter.add(100, now: at(milliseconds: 2_500))
        #expect(counter.total(now: at(milliseconds: 9_999)) == 111)
        #expect(counter.total(now: at(milliseconds: 10_000)) == 110)
        #expect(counter.total(now: at(milliseconds: 11_000)) == 100)
        #expect(counter.total(now: at(milliseconds: 12_999)) == 0)
    }

    @Test func aLongJumpClearsEverything() {
        var counter = makeCounter()
        for second in 0..<10 { counter.add(now: at(milliseconds: Int64(second) * 1_000)) }
        #expect(counter.total(now: at(milliseconds: 9_000)) == 10)
        #expect(counter.total(now: at(milliseconds: 1_000_000)) == 0)
        counter.add(now: at(milliseconds: 1_000_001))
        #expect(counter.total(now: at(milliseconds: 1_000_002)) == 1)
    }

    @Test func timeGoingBackwardsCountsAsTheLatestBucket() {
        var counter = makeCounter()
        counter.add(now: at(milliseconds: 20_000))
        counter.add(5, now: at(milliseconds: 1_000))
        #expect(counter.total(now: at(milliseconds: 0)) == 6)
        // The events at "1 s" went into the 20 s bucket, so they expire with it.
        #expect(counter.total(now: at(milliseconds: 29_999)) == 6)
        #expect(counter.total(now: at(milliseconds: 30_000)) == 0)
    }

    @Test func negativeInstantsLandInTheirOwnBuckets() {
        var counter = makeCounter()
        counter.add(now: Instant(nanoseconds: -1))
        #expect(counter.total(now: Instant(nanoseconds: 0)) == 1)
        #expect(counter.total(now: at(milliseconds: 8_999)) == 1)
        #expect(counter.total(now: at(milliseconds: 9_000)) == 0)
    }

    @Test func resetForgetsEventsButNotTheLatestTime() {
        var counter = makeCounter()
        counter.add(7, now: at(milliseconds: 5_000))
        counter.reset()
        #expect(counter.total(now: at(milliseconds: 5_000)) == 0)
        counter.add(now: at(milliseconds: 0))
        #expect(counter.total(now: at(milliseconds: 14_999)) == 1)
        #expect(counter.total(now: at(milliseconds: 15_000)) == 0)
    }

    @Test func aSingleBucketIsATumblingWindow() {
        var counter = SlidingWindowCounter(window: .milliseconds(100), buckets: 1)
        counter.add(now: at(milliseconds: 0))
        counter.add(now: at(milliseconds: 99))
        #expect(counter.total(now: at(milliseconds: 99)) == 2)
        #expect(counter.total(now: at(milliseconds: 100)) == 0)
    }

    @Test func equalHistoriesGiveEqualCounters() {
        var first = makeCounter()
        var second = makeCounter()
        first.add(now: at(milliseconds: 1_234))
        second.add(now: at(milliseconds: 1_234))
        #expect(first == second)
        second.add(now: at(milliseconds: 1_234))
        #expect(first != second)
    }

    /// Random adds and queries, mostly forward in time with occasional steps back, checked against a model
    /// that keeps every event with the bucket it was filed in.
    @Test func matchesABruteForceModel() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed, stream: 0x5713)
            let bucketCount = Int(random.between(1, 16))
            let widthNanoseconds = random.between(1, 1_000)
            // A window that does not divide evenly still gets whole-nanosecond buckets, rounded down.
            let extraNanoseconds = random.between(0, Int64(bucketCount) - 1)
            let window = Duration(nanoseconds: widthNanoseconds * Int64(bucketCount) + extraNanoseconds)
            var counter = SlidingWindowCounter(window: window, buckets: bucketCount)
            var events: [(bucket: Int64, count: Int64)] = []
            var latestBucket: Int64? = nil
            var now = random.between(-5_000, 5_000)
            var mismatch = false
            for _ in 0..<150 {
                now += random.chance(.percent(10)) ? -random.between(0, 3_000) : random.between(0, 600)
                let bucket = max(Self.floorDivide(now, widthNanoseconds), latestBucket ?? Int64.min)
                latestBucket = bucket
                if random.chance(.percent(60)) {
                    let count = random.between(0, 5)
                    counter.add(count, now: Instant(nanoseconds: now))
                    events.append((bucket, count))
                } else {
                    let inWindow = events.filter { $0.bucket > bucket - Int64(bucketCount) }
                    let expected = inWindow.reduce(Int64(0)) { $0 + $1.count }
                    if counter.total(now: Instant(nanoseconds: now)) != expected { mismatch = true }
                }
            }
            #expect(!mismatch, "sliding window disagrees with the model; reproduce with seed=\(seed)")
        }
    }

    static func floorDivide(_ dividend: Int64, _ divisor: Int64) -> Int64 {
        dividend >= 0 ? dividend / divisor : -((-dividend + divisor - 1) / divisor)
    }
}
