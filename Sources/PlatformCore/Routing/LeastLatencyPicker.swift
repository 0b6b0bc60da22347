// Least-latency routing by the power of two choices: sample two eligible members, keep the one with the lower
// EWMA latency times (in-flight + 1). Two random candidates avoid the herd that "always the fastest" causes, and
// the EWMA is kept in integer nanoseconds, each step rounded toward the sample so it converges exactly.

/// Tracks a smoothed latency and in-flight count per member and picks members by power of two choices.
public struct LeastLatencyPicker: Sendable, Equatable {
    /// How latency is smoothed.
    public struct Configuration: Sendable, Equatable {
        /// The weight of a new sample in the moving average (the rest stays with the old average).
        public var smoothing: Ratio = .percent(20)
        /// The latency a member is assumed to have before its first sample.
        public var initialLatency: Duration = .milliseconds(1)

        /// The defaults: 20 % smoothing, 1 ms assumed latency.
        public init() {}
    }

    /// Uniform draws of an index tried before counting eligible members; keeps the common case to two draws.
    static let rejectionAttemptsMax = 4

    let configuration: Configuration
    /// The moving average latency per member, in nanoseconds.
    var latencyNanoseconds: [Int64]
    /// Calls picked and not yet recorded or released, per member.
    var inFlightCounts: [Int]

    /// A picker for `memberCount` members, each starting at the configured initial latency.
    public init(memberCount: Int, configuration: Configuration) {
        precondition(memberCount >= 0, "a pool has no negative size")
        precondition(configuration.smoothing <= Ratio.one, "smoothing is a weight between 0 and 1")
        precondition(configuration.initialLatency >= .zero, "latency is never negative")
        self.configuration = configuration
        latencyNanoseconds = Array(repeating: configuration.initialLatency.nanoseconds, count: memberCount)
        inFlightCounts = Array(repeating: 0, count: memberCount)
    }

    /// The number of members in the table.
    public var memberCount: Int { latencyNanoseconds.count }

    /// Power of two choices: draw two distinct eligible members uniformly (one if only one is eligible), keep the
    /// lower score = ewma * (inFlight + 1); ties to the lower index. nil when none eligible. Increments the chosen
    /// member's in-flight count.
    public mutating func pick(count: Int, isEligible: (Int) -> Bool, random: inout SeededRandom) -> Int? {
        precondition(count >= 0 && count <= memberCount, "count \(count) exceeds the \(memberCount) members")
        guard count > 0 else { return nil }
        let first = drawEligible(count: count, excluding: -1, isEligible: isEligible, random: &random)
        guard first >= 0 else { return nil }
        var chosen = first
        if count > 1 {
            let second = drawEligible(count: count, excluding: first, isEligible: isEligible, random: &random)
            if second >= 0 && isBetter(second, than: first) { chosen = second }
        }
        inFlightCounts[chosen] += 1
        return chosen
    }

    /// The call to `member` ended after `latency` (a failure passes its elapsed time or a penalty); decrements
    /// in-flight (never below 0) and updates the EWMA in integer ns. A negative latency counts as zero.
    public mutating func record(member: Int, latency: Duration) {
        release(member: member)
        let old = latencyNanoseconds[member]
        let product = Int128(max(0, latency.nanoseconds) - old) * Int128(configuration.smoothing.partsPerMillion)
        // Rounding the step away from zero moves the average at least 1 ns toward the sample (never past it), so a
        // steady latency is reached exactly instead of stalling a few nanoseconds short.
        let step = product >= 0 ? (product + 999_999) / 1_000_000 : -((-product + 999_999) / 1_000_000)
        latencyNanoseconds[member] = old + Int64(step)
    }

    /// The call to `member` ended without a latency sample: only decrements in-flight (never below 0).
    public mutating func release(member: Int) {
        if inFlightCounts[member] > 0 { inFlightCounts[member] -= 1 }
    }

    /// The moving average latency of `member`.
    public func latency(of member: Int) -> Duration { Duration(nanoseconds: latencyNanoseconds[member]) }

    /// Calls to `member` picked and not yet recorded or released.
    public func inFlight(of member: Int) -> Int { inFlightCounts[member] }

    /// True when `candidate` scores strictly lower than `incumbent`, or equal with a lower index. A zero latency
    /// scores as 1 ns so that in-flight calls still count against a member.
    func isBetter(_ candidate: Int, than incumbent: Int) -> Bool {
        let candidateScore = Int128(max(1, latencyNanoseconds[candidate])) * Int128(inFlightCounts[candidate] + 1)
        let incumbentScore = Int128(max(1, latencyNanoseconds[incumbent])) * Int128(inFlightCounts[incumbent] + 1)
        if candidateScore != incumbentScore { return candidateScore < incumbentScore }
        return candidate < incumbent
    }

    /// A uniform draw among eligible indices in 0..<count other than `excluding` (-1 excludes none), or -1 when
    /// there is none. Rejection sampling first; if it keeps missing, count the eligible and draw by rank. Either
    /// way the result is uniform over the eligible set, and no memory is allocated.
    func drawEligible(count: Int, excluding: Int, isEligible: (Int) -> Bool, random: inout SeededRandom) -> Int {
        let range = excluding >= 0 ? count - 1 : count
        for _ in 0..<LeastLatencyPicker.rejectionAttemptsMax {
            var candidate = random.below(range)
            if excluding >= 0 && candidate >= excluding { candidate += 1 }
            if isEligible(candidate) { return candidate }
        }
        var eligibleCount = 0
        for index in 0..<count where index != excluding && isEligible(index) { eligibleCount += 1 }
        guard eligibleCount > 0 else { return -1 }
        var rank = random.below(eligibleCount)
        for index in 0..<count where index != excluding && isEligible(index) {
            if rank == 0 { return index }
            rank -= 1
        }
        preconditionFailure("isEligible changed its answer during one pick")
    }
}
