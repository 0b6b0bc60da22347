// A count of events over the last `window` of time, kept as a fixed ring of buckets so memory is bounded and
// expiry costs at most one pass over the ring. Buckets are aligned to absolute time (bucket k covers
// [k*width, (k+1)*width)), so two counters with the same window and bucket count expire in lockstep.

/// Counts events in a sliding time window split into fixed buckets (a ring); old buckets expire as time advances.
///
/// The window at `now` is the bucket holding `now` plus the `buckets - 1` buckets before it, so it spans between
/// `(buckets - 1) * width` and `buckets * width` of time, where `width = window / buckets` (rounded down).
/// Time that goes backwards is treated as the latest bucket seen, never as a crash or a rewind.
public struct SlidingWindowCounter: Sendable, Equatable {
    /// The window length asked for at creation.
    public let window: Duration
    /// The time each bucket covers, `window / buckets` rounded down.
    public let bucketWidth: Duration
    /// Counts per bucket; the bucket with absolute index k lives at `k mod counts.count`.
    private var counts: [Int64]
    /// The sum of `counts`, kept as buckets are added to and cleared so a total reads no bucket.
    private var sum: Int64 = 0
    /// Where the newest bucket seen ends (nanoseconds, exclusive; `Int64.min` before any time has been seen) and its
    /// ring position: an instant before that end lands in the newest bucket, so no division is needed to find it.
    private var latestBucketEnd = Int64.min
    private var latestPosition = 0
    /// Absolute index of the newest bucket seen, or nil before any time has been seen.
    private var latestBucketIndex: Int64?

    /// A counter over `window` split into `buckets` buckets (1...1024); `window` must give each bucket >= 1 ns.
    public init(window: Duration, buckets: Int) {
        precondition((1...1024).contains(buckets), "buckets must be in 1...1024, got \(buckets)")
        precondition(window > .zero, "a sliding window must be longer than zero")
        precondition(window.nanoseconds >= Int64(buckets), "window \(window) is too short for \(buckets) buckets")
        self.window = window
        self.bucketWidth = Duration(nanoseconds: window.nanoseconds / Int64(buckets))
        self.counts = Array(repeating: 0, count: buckets)
        self.latestBucketIndex = nil
    }

    /// The number of buckets in the ring.
    public var bucketCount: Int { counts.count }

    /// Adds `count` (>= 0) events at `now`.
    public mutating func add(_ count: Int64 = 1, now: Instant) {
        precondition(count >= 0, "a sliding window counter only counts up, got \(count)")
        let position = advance(to: now)
        counts[position] += count
        sum += count
    }

    /// The sum of the buckets still inside the window at `now`.
    public mutating func total(now: Instant) -> Int64 {
        advance(to: now)
        return sum
    }

    /// Forgets every event; the latest time seen is kept so a later earlier `now` still counts as the latest.
    public mutating func reset() {
        for position in counts.indices { counts[position] = 0 }
        sum = 0
    }

    /// Moves the ring forward to the bucket of `now`, clearing buckets that fell out of the window, and returns
    /// the ring position of the bucket that events at `now` belong to.
    @discardableResult
    private mutating func advance(to now: Instant) -> Int {
        // Before the newest bucket's end, the instant's bucket is at or before the newest one (floor division).
        if now.nanoseconds < latestBucketEnd { return latestPosition }
        let bucketIndex = Self.floorDivide(now.nanoseconds, bucketWidth.nanoseconds)
        guard let latest = latestBucketIndex else { return becomeLatest(bucketIndex) }
        if bucketIndex <= latest { return position(of: latest) }
        let stepCount = bucketIndex - latest
        if stepCount >= Int64(counts.count) {
            for position in counts.indices { counts[position] = 0 }
            sum = 0
        } else {
            var cleared = latest + 1
            while cleared <= bucketIndex {
                let ring = position(of: cleared)
                sum -= counts[ring]
                counts[ring] = 0
                cleared += 1
            }
        }
        return becomeLatest(bucketIndex)
    }

    /// Makes `bucketIndex` the newest bucket seen; returns its ring position.
    private mutating func becomeLatest(_ bucketIndex: Int64) -> Int {
        latestBucketIndex = bucketIndex
        let (next, nextOverflow) = bucketIndex.addingReportingOverflow(1)
        let (end, endOverflow) = next.multipliedReportingOverflow(by: bucketWidth.nanoseconds)
        latestBucketEnd = nextOverflow || endOverflow ? Int64.max : end
        latestPosition = position(of: bucketIndex)
        return latestPosition
    }

    /// The ring position of an absolute bucket index (non-negative even for negative indices).
    private func position(of bucketIndex: Int64) -> Int {
        let ringSize = Int64(counts.count)
        let remainder = bucketIndex % ringSize
        return Int(remainder < 0 ? remainder + ringSize : remainder)
    }

    /// Division rounded towards negative infinity, so instants before zero land in the right bucket.
    private static func floorDivide(_ dividend: Int64, _ divisor: Int64) -> Int64 {
        let quotient = dividend / divisor
        return (dividend % divisor != 0 && (dividend < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
