// Round-robin over a pool by index: it remembers only the previous pick, so the pool may grow, shrink or change
// eligibility between calls and the rotation simply continues after the last member it chose.

/// Picks pool members in turn, skipping those not eligible.
public struct RoundRobinPicker: Sendable, Equatable {
    /// The index picked last, or -1 before the first pick.
    public private(set) var previous: Int = -1

    /// A picker that starts at index 0.
    public init() {}

    /// Picks the next eligible index in 0..<count after the previous pick, or nil when none is eligible.
    public mutating func pick(count: Int, isEligible: (Int) -> Bool) -> Int? {
        precondition(count >= 0, "a pool has no negative size")
        guard count > 0 else { return nil }
        var candidate = previous + 1
        if candidate >= count || candidate < 0 { candidate = 0 }
        for _ in 0..<count {
            if isEligible(candidate) {
                previous = candidate
                return candidate
            }
            candidate += 1
            if candidate == count { candidate = 0 }
        }
        return nil
    }
}
