// The canary statistics against known values (computed with SciPy: scipy.stats.norm and scipy.stats.binom), and
// the latency histogram's buckets and quantiles.

import Testing

@testable import PlatformCore

private func close(_ value: Double, _ expected: Double, relative: Double) -> Bool {
    abs(value - expected) <= relative * abs(expected)
}

@Suite struct CanaryStatisticsTests {
    @Test func expAndLogMatchKnownValues() {
        #expect(CanaryStatistics.exp(0) == 1)
        #expect(close(CanaryStatistics.exp(1), 2.718_281_828_459_045, relative: 1e-15))
        #expect(close(CanaryStatistics.exp(-10), 4.539_992_976_248_485e-5, relative: 1e-14))
        #expect(close(CanaryStatistics.exp(100), 2.688_117_141_816_135_6e43, relative: 1e-14))
        #expect(CanaryStatistics.exp(-800) == 0)
        #expect(CanaryStatistics.log(1) == 0)
        #expect(close(CanaryStatistics.log(2), 0.693_147_180_559_945_3, relative: 1e-15))
        #expect(close(CanaryStatistics.log(0.05), -2.995_732_273_553_991, relative: 1e-15))
        #expect(close(CanaryStatistics.log(1e300), 690.775_527_898_213_7, relative: 1e-15))
        for x in [0.001, 0.3, 1.5, 7.25, 123_456.0] {
            #expect(close(CanaryStatistics.exp(CanaryStatistics.log(x)), x, relative: 1e-14))
        }
    }

    @Test func logGammaMatchesKnownValues() {
        #expect(close(CanaryStatistics.logGamma(0.5), 0.572_364_942_924_700_4, relative: 1e-13))
        #expect(close(CanaryStatistics.logGamma(10), 12.801_827_480_081_467, relative: 1e-13))  // ln 9!
        #expect(close(CanaryStatistics.logGamma(1e6), 12_815_504.569_147_611, relative: 1e-13))
        #expect(abs(CanaryStatistics.logGamma(1)) < 1e-13 && abs(CanaryStatistics.logGamma(2)) < 1e-13)
    }

    @Test func normalTailAndCriticalValuesMatchKnownValues() {
        #expect(close(CanaryStatistics.normalUpperTail(1.96), 0.024_997_895_148_220_435, relative: 1e-6))
        #expect(close(CanaryStatistics.normalUpperTail(3), 0.001_349_898_031_630_093_3, relative: 1e-6))
        #expect(close(CanaryStatistics.normalUpperTail(-1), 0.841_344_746_068_542_9, relative: 1e-6))
        #expect(close(CanaryStatistics.normalUpperTail(5), 2.866_515_718_791_933e-7, relative: 1e-5))
        #expect(abs(CanaryStatistics.normalUpperTail(0) - 0.5) < 1e-7)
        #expect(abs(CanaryStatistics.normalCriticalValue(upperTail: 0.05) - 1.644_853_626_951_472_9) < 1e-5)
        #expect(abs(CanaryStatistics.normalCriticalValue(upperTail: 2.5e-4) - 3.480_756_404_346_212) < 1e-5)
    }

    @Test func binomialUpperTailMatchesKnownValues() {
        // (k, n, p, P(X >= k)) from scipy.stats.binom.sf(k - 1, n, p).
        let known: [(Int64, Int64, Double, Double)] = [
            (8, 10, 0.5, 0.054_687_5),
            (3, 20, 0.05, 0.075_483_673_788_496_26),
            (10, 100, 0.05, 0.028_188_294_163_416_14),
            (70, 1_000, 0.05, 0.003_474_358_698_846_083_4),
            (40, 1_000, 0.05, 0.940_185_120_948_096_8),
            (5_100, 100_000, 0.05, 0.074_740_412_294_084_82),
        ]
        for (k, n, p, expected) in known {
            let tail = CanaryStatistics.binomialUpperTail(atLeast: k, trials: n, probability: p)
            #expect(close(tail, expected, relative: 1e-9), "P(Bin(\(n), \(p)) >= \(k)) = \(tail), want \(expected)")
        }
        #expect(CanaryStatistics.binomialUpperTail(atLeast: 0, trials: 10, probability: 0.1) == 1)
        #expect(CanaryStatistics.binomialUpperTail(atLeast: 11, trials: 10, probability: 0.1) == 0)
        #expect(CanaryStatistics.binomialUpperTail(atLeast: 10, trials: 10, probability: 0.5) == 1.0 / 1_024)
    }

    @Test func binomialCriticalCountIsTheSmallestRejectingCount() {
        // scipy: the smallest k with binom.sf(k - 1, 200, 0.05) <= 1e-3 is 22.
        #expect(CanaryStatistics.binomialCriticalCount(trials: 200, probability: 0.05, alpha: 1e-3) == 22)
        // With 3 trials even 3 of 3 (probability 1.25e-4) cannot reach 1e-5: no count rejects.
        #expect(CanaryStatistics.binomialCriticalCount(trials: 3, probability: 0.05, alpha: 1e-5) == 4)
        for n in [Int64(50), 500, 5_000] {
            let k = CanaryStatistics.binomialCriticalCount(trials: n, probability: 0.05, alpha: 1e-3)
            #expect(CanaryStatistics.binomialUpperTail(atLeast: k, trials: n, probability: 0.05) <= 1e-3)
            #expect(CanaryStatistics.binomialUpperTail(atLeast: k - 1, trials: n, probability: 0.05) > 1e-3)
        }
    }

    @Test func twoProportionStatisticsMatchKnownValues() {
        // 30 of 200 canary failures against 20 of 250 stable ones.
        let pooled = CanaryStatistics.pooledTwoProportionZ(
            canaryFailures: 30, canarySamples: 200, stableFailures: 20, stableSamples: 250)
        #expect(abs(pooled - 2.347_871_376_374_779) < 1e-12)
        let adjusted = CanaryStatistics.twoProportionZ(
            canaryFailures: 30, canarySamples: 200, stableFailures: 20, stableSamples: 250, margin: 0)
        #expect(abs(adjusted - 2.279_865_743_166_807_2) < 1e-12)
        let withMargin = CanaryStatistics.twoProportionZ(
            canaryFailures: 30, canarySamples: 200, stableFailures: 20, stableSamples: 250, margin: 0.01)
        #expect(abs(withMargin - 1.954_783_710_141_14) < 1e-12)
        let noFailures = CanaryStatistics.twoProportionZ(
            canaryFailures: 0, canarySamples: 100, stableFailures: 0, stableSamples: 100, margin: 0)
        #expect(noFailures == 0, "zero failures on both sides is no evidence, and no division by zero")
    }

    @Test func histogramBucketsAreContiguousAndFine() {
        var previousIndex = -1
        for value in Int64(0)...5_000 {
            let index = CanaryLatencyHistogram.index(ofMicroseconds: value)
            #expect(index == previousIndex || index == previousIndex + 1)
            #expect(CanaryLatencyHistogram.lowerBoundMicroseconds(ofBucket: index) <= value)
            #expect(CanaryLatencyHistogram.lowerBoundMicroseconds(ofBucket: index + 1) > value)
            previousIndex = index
        }
        // Relative bucket width stays at or below 1/16 above the exact range.
        for index in 16..<(CanaryLatencyHistogram.bucketCount - 1) {
            let low = CanaryLatencyHistogram.lowerBoundMicroseconds(ofBucket: index)
            let high = CanaryLatencyHistogram.lowerBoundMicroseconds(ofBucket: index + 1)
            #expect((high - low) * 16 <= low)
        }
        #expect(CanaryLatencyHistogram.bucketCount == 464)
    }

    @Test func histogramQuantileNeverUnderstatesAndCountsAboveConservatively() {
        var histogram = CanaryLatencyHistogram()
        #expect(histogram.quantile(.percent(95)) == .zero)
        for milliseconds in Int64(1)...100 { histogram.record(.milliseconds(milliseconds)) }
        let p95 = histogram.quantile(.percent(95))
        #expect(p95 >= .milliseconds(95) && p95 <= .milliseconds(95) + .milliseconds(95) / 16)
        let p50 = histogram.quantile(.percent(50))
        #expect(p50 >= .milliseconds(50) && p50 <= .milliseconds(50) + .milliseconds(50) / 16)
        // 90 ms falls inside the bucket [86.016, 90.112) ms, which is left out: 91...100 count.
        #expect(histogram.countCertainlyAbove(.milliseconds(90)) == 10)
        #expect(histogram.countCertainlyAbove(.zero) == 100)
        #expect(histogram.countCertainlyAbove(.seconds(1)) == 0)
        var instant = CanaryLatencyHistogram()
        for _ in 0..<10 { instant.record(.zero) }
        #expect(instant.quantile(.percent(95)) == .microseconds(1))
        #expect(instant.countCertainlyAbove(.zero) == 0, "a latency equal to the threshold is not above it")
        histogram.record(.nanoseconds(-5))
        histogram.record(.minutes(600))
        #expect(histogram.total == 102)
        #expect(histogram.counts[0] == 1 && histogram.counts[CanaryLatencyHistogram.bucketCount - 1] == 1)
    }
}
