// A log-linear latency histogram over integer microseconds (32 sub-buckets per power of two, so
// any percentile is within about 3% of the true value), cheap enough to keep one per timeline
// bucket and per API key.

/// Counts of latencies in log-linear buckets.
struct LatencyHistogram {
    static let bucketCount = 64 + 32 * 40
    private(set) var counts: [Int32]
    private(set) var total: Int64 = 0

    init() { counts = Array(repeating: 0, count: LatencyHistogram.bucketCount) }

    @inline(__always) static func index(microseconds value: Int64) -> Int {
        if value < 64 { return Int(max(value, 0)) }
        let exponent = 63 - value.leadingZeroBitCount
        let sub = Int((value >> (exponent - 5)) & 31)
        return min(64 + (exponent - 6) * 32 + sub, bucketCount - 1)
    }

    /// The smallest value that lands in bucket `index`.
    static func lowerBound(_ index: Int) -> Int64 {
        if index < 64 { return Int64(index) }
        let exponent = (index - 64) / 32 + 6
        let sub = Int64((index - 64) % 32)
        return (Int64(32) + sub) << (exponent - 5)
    }

    mutating func record(nanoseconds: Int64) {
        counts[LatencyHistogram.index(microseconds: nanoseconds / 1_000)] += 1
        total += 1
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in 0..<counts.count { counts[index] += other.counts[index] }
        total += other.total
    }

    /// The value at `percentile` (0...100) in milliseconds, 0 when empty.
    func percentileMilliseconds(_ percentile: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = max(1, Int64((Double(total) * percentile / 100).rounded(.up)))
        var seen: Int64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += Int64(count)
            if seen >= rank {
                let low = LatencyHistogram.lowerBound(index)
                let high = index + 1 < LatencyHistogram.bucketCount ? LatencyHistogram.lowerBound(index + 1) : low
                return Double(low + high) / 2 / 1_000
            }
        }
        return 0
    }
}
