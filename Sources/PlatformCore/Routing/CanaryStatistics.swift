// The statistics behind canary analysis: a fixed-size log-linear latency histogram (so a quantile costs a scan of
// a few hundred counters, never stored samples), a one-sided two-proportion test for error rates and an exact
// binomial tail for the latency-quantile test. The core may not import a maths library, so `exp`, `log` and
// `logGamma` are written out here; they are deterministic on one build and only feed decisions through integers
// (a z-score rounded to thousandths, a critical count), so the history never hashes a floating-point value.

/// Latencies counted in buckets whose width grows with the value (16 linear buckets per power of two, about 6%
/// relative width), in microseconds from 0 to about 71 minutes; anything longer lands in the last bucket.
public struct CanaryLatencyHistogram: Sendable, Equatable {
    /// Linear sub-buckets per power of two; the relative resolution is 1 / subBucketCount.
    static let subBucketBits = 4
    static let subBucketCount: Int64 = 1 << 4
    /// The largest value counted exactly, in microseconds (2^32 - 1).
    static let microsecondsMax: Int64 = (1 << 32) - 1
    /// Buckets needed to reach `microsecondsMax`.
    public static let bucketCount = index(ofMicroseconds: microsecondsMax) + 1

    /// The count in each bucket.
    public private(set) var counts: [Int64]
    /// The number of values recorded.
    public private(set) var total: Int64 = 0

    /// An empty histogram.
    public init() { counts = Array(repeating: 0, count: Self.bucketCount) }

    /// Counts one latency (negative latencies count as zero).
    public mutating func record(_ latency: Duration) {
        let microseconds = min(max(latency.nanoseconds / 1_000, 0), Self.microsecondsMax)
        counts[Self.index(ofMicroseconds: microseconds)] += 1
        total += 1
    }

    /// The bucket a value falls in: values below 16 have a bucket each; above, 16 buckets per power of two.
    static func index(ofMicroseconds value: Int64) -> Int {
        if value < subBucketCount { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount
        let subBucket = (value >> (exponent - subBucketBits)) & (subBucketCount - 1)
        return (exponent - subBucketBits + 1) * Int(subBucketCount) + Int(subBucket)
    }

    /// The smallest value (microseconds) that falls in bucket `index`.
    static func lowerBoundMicroseconds(ofBucket index: Int) -> Int64 {
        if index < Int(subBucketCount) { return Int64(index) }
        let exponent = index / Int(subBucketCount) + subBucketBits - 1
        let subBucket = Int64(index % Int(subBucketCount))
        return (subBucketCount + subBucket) << (exponent - subBucketBits)
    }

    /// A value at or above the `quantile` of the recorded latencies: the exclusive upper bound of the bucket that
    /// holds the sample of rank ceil(quantile * total), so the estimate never understates; zero when empty.
    public func quantile(_ quantile: Ratio) -> Duration {
        guard total > 0 else { return .zero }
        let rank = max(1, (Int128(total) * Int128(quantile.partsPerMillion) + 999_999) / 1_000_000)
        var seen: Int128 = 0
        for index in 0..<counts.count {
            seen += Int128(counts[index])
            if seen >= rank { return .microseconds(Self.lowerBoundMicroseconds(ofBucket: index + 1)) }
        }
        return .microseconds(Self.lowerBoundMicroseconds(ofBucket: counts.count))
    }

    /// How many recorded latencies are certainly above `threshold`: those in buckets that start above it (the
    /// bucket that holds the threshold is left out, which can only make a test more cautious).
    public func countCertainlyAbove(_ threshold: Duration) -> Int64 {
        let thresholdMicroseconds = max(threshold.nanoseconds, 0) / 1_000
        var count: Int64 = 0
        for index in stride(from: counts.count - 1, through: 0, by: -1) {
            if Self.lowerBoundMicroseconds(ofBucket: index) <= thresholdMicroseconds { break }
            count += counts[index]
        }
        return count
    }
}

/// Pure statistical functions for the canary tests, checked against known values in the tests.
public enum CanaryStatistics {
    /// e^x for finite x, by range reduction to |r| <= ln 2 / 2 and a Taylor series (error ~1e-16 relative).
    public static func exp(_ x: Double) -> Double {
        if x < -745 { return 0 }
        if x > 709 { return .infinity }
        let ln2High = 0.693_147_180_369_123_816_49
        let ln2Low = 1.908_214_929_270_587_700_02e-10
        let k = (x / (ln2High + ln2Low)).rounded()
        let r = (x - k * ln2High) - k * ln2Low
        var term = 1.0
        var sum = 1.0
        for n in 1...20 {
            term *= r / Double(n)
            sum += term
        }
        return Double(sign: .plus, exponent: Int(k), significand: sum)
    }

    /// The natural logarithm for x > 0, from the binary exponent and an atanh series on the significand.
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "log is defined here for finite x > 0")
        var exponent = Double(x.exponent)
        var mantissa = x.significand
        if mantissa > 1.414_213_562_373_095 {
            mantissa /= 2
            exponent += 1
        }
        let s = (mantissa - 1) / (mantissa + 1)
        let s2 = s * s
        var power = s
        var sum = 0.0
        for n in stride(from: 1, through: 41, by: 2) {
            sum += power / Double(n)
            power *= s2
        }
        return exponent * 0.693_147_180_559_945_309_42 + 2 * sum
    }

    /// ln Γ(x) for x >= 0.5 (Lanczos, g = 7, nine terms; relative error ~1e-15).
    public static func logGamma(_ x: Double) -> Double {
        precondition(x >= 0.5, "logGamma is defined here for x >= 0.5")
        let coefficients: [Double] = [
            0.999_999_999_999_809_93, 676.520_368_121_885_1, -1_259.139_216_722_402_8, 771.323_428_777_653_13,
            -176.615_029_162_140_59, 12.507_343_278_686_905, -0.138_571_095_265_720_12, 9.984_369_578_019_571_6e-6,
            1.505_632_735_149_311_6e-7,
        ]
        let shifted = x - 1
        var sum = coefficients[0]
        for index in 1..<coefficients.count { sum += coefficients[index] / (shifted + Double(index)) }
        let t = shifted + 7.5
        return 0.918_938_533_204_672_741_78 + (shifted + 0.5) * log(t) - t + log(sum)
    }

    /// P(Z >= z) for a standard normal Z (Chebyshev fit of erfc, relative error below 1.2e-7).
    public static func normalUpperTail(_ z: Double) -> Double {
        let x = abs(z) / 2.0.squareRoot()
        let t = 1 / (1 + 0.5 * x)
        var polynomial = 0.170_872_77
        for coefficient in [
            -0.822_152_23, 1.488_515_87, -1.135_203_98, 0.278_868_07, -0.186_288_06, 0.096_784_18, 0.374_091_96,
            1.000_023_68, -1.265_512_23,
        ] {
            polynomial = polynomial * t + coefficient
        }
        let complement = t * exp(-x * x + polynomial)
        return z >= 0 ? complement / 2 : 1 - complement / 2
    }

    /// The z with P(Z >= z) = probability, for 0 < probability < 1, by bisection on `normalUpperTail`.
    public static func normalCriticalValue(upperTail probability: Double) -> Double {
        precondition(probability > 0 && probability < 1, "a tail probability is in (0, 1)")
        var low = -40.0
        var high = 40.0
        for _ in 0..<100 {
            let middle = (low + high) / 2
            if normalUpperTail(middle) > probability { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// The one-sided statistic for "the canary's failure rate exceeds the stable one's by more than `margin`":
    /// z = (p̃c − p̃s − margin) / sqrt(p̃c(1−p̃c)/(nc+2) + p̃s(1−p̃s)/(ns+2)), with the Agresti–Caffo adjustment
    /// p̃ = (failures + 1) / (samples + 2), which keeps the variance positive at zero failures and holds its level
    /// at small samples, where the plain Wald statistic rejects too often.
    public static func twoProportionZ(
        canaryFailures: Int64, canarySamples: Int64, stableFailures: Int64, stableSamples: Int64, margin: Double
    ) -> Double {
        precondition(canarySamples >= 0 && stableSamples >= 0, "sample counts are never negative")
        let canaryTrials = Double(canarySamples) + 2
        let stableTrials = Double(stableSamples) + 2
        let canaryRate = (Double(canaryFailures) + 1) / canaryTrials
        let stableRate = (Double(stableFailures) + 1) / stableTrials
        let variance = canaryRate * (1 - canaryRate) / canaryTrials + stableRate * (1 - stableRate) / stableTrials
        return (canaryRate - stableRate - margin) / variance.squareRoot()
    }

    /// The classic pooled two-proportion z for H0: equal rates (for reference and cross-checking).
    public static func pooledTwoProportionZ(
        canaryFailures: Int64, canarySamples: Int64, stableFailures: Int64, stableSamples: Int64
    ) -> Double {
        precondition(canarySamples > 0 && stableSamples > 0, "both sides need samples")
        let pooled = Double(canaryFailures + stableFailures) / Double(canarySamples + stableSamples)
        let variance = pooled * (1 - pooled) * (1 / Double(canarySamples) + 1 / Double(stableSamples))
        guard variance > 0 else { return 0 }
        let difference = Double(canaryFailures) / Double(canarySamples) - Double(stableFailures) / Double(stableSamples)
        return difference / variance.squareRoot()
    }

    /// ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1.
    static func binomialLogProbability(_ k: Int64, trials n: Int64, probability p: Double) -> Double {
        let logChoose = logGamma(Double(n) + 1) - logGamma(Double(k) + 1) - logGamma(Double(n - k) + 1)
        return logChoose + Double(k) * log(p) + Double(n - k) * log(1 - p)
    }

    /// P(X >= k) for X ~ Binomial(n, p), exact up to rounding: the shorter tail is summed from its inner end by
    /// the ratio of successive terms until they stop mattering, so it costs O(sqrt n), not O(n).
    public static func binomialUpperTail(atLeast k: Int64, trials n: Int64, probability p: Double) -> Double {
        precondition(n >= 0 && p >= 0 && p <= 1, "a binomial needs n >= 0 and p in [0, 1]")
        if k <= 0 { return 1 }
        if k > n { return 0 }
        if p <= 0 { return 0 }
        if p >= 1 { return 1 }
        let odds = p / (1 - p)
        if Double(k) >= Double(n) * p {
            var term = exp(binomialLogProbability(k, trials: n, probability: p))
            var sum = term
            var j = k
            while j < n && term > sum * 1e-17 {
                term *= Double(n - j) / Double(j + 1) * odds
                sum += term
                j += 1
            }
            return min(sum, 1)
        }
        var term = exp(binomialLogProbability(k - 1, trials: n, probability: p))
        var lower = term
        var j = k - 1
        while j > 0 && term > lower * 1e-17 {
            term *= Double(j) / Double(n - j + 1) / odds
            lower += term
            j -= 1
        }
        return max(0, 1 - lower)
    }

    /// The smallest count k with P(X >= k) <= alpha for X ~ Binomial(n, p): a count at or above it rejects
    /// "the probability is at most p" at level alpha. n + 1 when no count can reject.
    public static func binomialCriticalCount(trials n: Int64, probability p: Double, alpha: Double) -> Int64 {
        var low: Int64 = 0
        var high: Int64 = n + 1
        while low < high {
            let middle = low + (high - low) / 2
            if binomialUpperTail(atLeast: middle, trials: n, probability: p) <= alpha {
                high = middle
            } else {
                low = middle + 1
            }
        }
        return low
    }
}
