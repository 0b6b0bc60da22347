// A weighted split of traffic between model versions (a canary). A sticky key maps to one of 10 000 buckets and
// each version owns a contiguous run of buckets sized by its weight, so a small weight change moves only the keys
// in the buckets at the boundaries; without a key the draw is a weighted integer draw from the caller's PRNG.

/// Chooses a model version by weight, sticky per key when a key is given.
public struct TrafficSplit: Sendable, Equatable {
    /// One version and its share of traffic.
    public struct Entry: Sendable, Equatable {
        /// The model version number.
        public var version: Int
        /// The relative weight; 0 sends the version no traffic.
        public var weight: Int64

        /// A version with a relative weight.
        public init(version: Int, weight: Int64) {
            self.version = version
            self.weight = weight
        }
    }

    /// The number of sticky buckets; a weight's sticky share is resolved to 1 / 10 000.
    public static let bucketCount: Int64 = 10_000
    /// The most entries a split holds.
    public static let entriesMax = 64

    /// The versions and weights, in the order given.
    public private(set) var entries: [Entry]
    /// SABOTAGE ONLY: choose uniformly across entries, ignoring weights.
    public let ignoresWeights: Bool
    /// The sum of all weights.
    let totalWeight: Int64
    /// Running sums of the weights: entry i owns draws in [weightEnds[i-1], weightEnds[i]).
    let weightEnds: [Int64]
    /// Running bucket bounds: entry i owns sticky buckets in [bucketEnds[i-1], bucketEnds[i]).
    let bucketEnds: [Int64]

    /// A split over `entries` (weights >= 0, sum > 0); `ignoresWeights` is SABOTAGE ONLY: uniform across entries
    /// so tests prove the oracles can fail.
    public init(entries: [Entry], ignoresWeights: Bool = false) {
        precondition(!entries.isEmpty && entries.count <= TrafficSplit.entriesMax, "a split has 1...64 entries")
        var total: Int64 = 0
        var weightEnds: [Int64] = []
        for entry in entries {
            precondition(entry.weight >= 0, "version \(entry.version) has a negative weight")
            let (sum, overflow) = total.addingReportingOverflow(entry.weight)
            precondition(!overflow && sum <= Int64.max / TrafficSplit.bucketCount, "the weights' sum is too large")
            total = sum
            weightEnds.append(total)
        }
        precondition(total > 0, "a split needs a positive total weight")
        self.entries = entries
        self.ignoresWeights = ignoresWeights
        totalWeight = total
        self.weightEnds = weightEnds
        bucketEnds = weightEnds.map { $0 * TrafficSplit.bucketCount / total }
    }

    /// Sticky when a key is given (the same key always gets the same version while weights are unchanged: use the
    /// key hash modulo the total weight, via a bucket-of-10_000 scheme so small weight changes move few keys);
    /// otherwise a weighted random draw.
    public func choose(stickyKey: UInt64?, random: inout SeededRandom) -> Int {
        if let stickyKey {
            // Mixing first spreads keys that are small or sequential numbers evenly over the buckets.
            var hasher = StableHasher()
            hasher.combine(stickyKey)
            let bucket = Int64(hasher.value % UInt64(TrafficSplit.bucketCount))
            if ignoresWeights { return entries[Int(bucket * Int64(entries.count) / TrafficSplit.bucketCount)].version }
            return entries[TrafficSplit.owner(of: bucket, ends: bucketEnds)].version
        }
        if ignoresWeights { return entries[random.below(entries.count)].version }
        let draw = Int64(random.below(UInt64(totalWeight)))
        return entries[TrafficSplit.owner(of: draw, ends: weightEnds)].version
    }

    /// The first entry whose running end is above `position`; entries with an empty range are never returned.
    static func owner(of position: Int64, ends: [Int64]) -> Int {
        for index in 0..<ends.count where position < ends[index] { return index }
        preconditionFailure("position \(position) is beyond the split's range")
    }
}
