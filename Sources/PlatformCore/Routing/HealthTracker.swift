// Outlier ejection in the manner of Envoy's outlier detection: consecutive failures eject a member for a time that
// doubles with each ejection in a row, and a cap on the ejected share keeps a bad day from ejecting the whole pool.
// The earliest readmission instant is kept so that `advance` costs O(1) when nothing is due.

/// Ejects members that keep failing and readmits them when their ejection ends.
public struct HealthTracker: Sendable, Equatable {
    /// When to eject and for how long.
    public struct Configuration: Sendable, Equatable {
        /// Failures in a row (with no success between) that eject a member.
        public var consecutiveFailuresToEject: Int = 5
        /// How long a first ejection lasts.
        public var ejectionDuration: Duration = .seconds(10)
        /// The n-th ejection in a row lasts ejectionDuration * 2^(n-1), capped here; the count resets after a
        /// member stays in for this long.
        public var ejectionDurationMax: Duration = .seconds(120)
        /// Never eject if that would leave more than this share of members ejected (ejecting one member is always
        /// allowed when there are at least two; the last available member is never ejected).
        public var ejectedRatioMax: Ratio = .percent(50)
        /// SABOTAGE ONLY: ejected members stay out forever.
        public var neverReadmits: Bool = false

        /// The defaults: 5 failures, 10 s doubling up to 120 s, at most half the members out.
        public init() {}
    }

    /// A change in a member's availability.
    public enum Event: Sendable, Equatable {
        /// `member` is out until `until`.
        case ejected(member: Int, until: Instant)
        /// `member` is back in.
        case readmitted(member: Int)
    }

    let configuration: Configuration
    var consecutiveFailures: [Int]
    /// When each ejected member comes back; `Instant.distantFuture` for members that are in (or never return).
    var ejectedUntil: [Instant]
    var ejected: [Bool]
    /// Ejections in a row, for the backoff.
    var ejectionStreak: [Int]
    /// When each member was last readmitted, to reset its streak once it has stayed in long enough.
    var readmittedAt: [Instant]
    /// The earliest `ejectedUntil` of an ejected member; `advance` does nothing before it.
    var nextReadmissionAt = Instant.distantFuture
    /// Members currently ejected.
    public private(set) var ejectedCount = 0

    /// A tracker for `memberCount` members, all available.
    public init(memberCount: Int, configuration: Configuration) {
        precondition(memberCount >= 0, "a pool has no negative size")
        precondition(configuration.consecutiveFailuresToEject >= 1, "ejection needs at least one failure")
        precondition(configuration.ejectionDuration.nanoseconds >= 1, "an ejection lasts longer than zero")
        precondition(configuration.ejectionDurationMax >= configuration.ejectionDuration, "the cap is below the base")
        precondition(configuration.ejectionDurationMax < Duration(nanoseconds: Int64.max / 8), "the cap is too large")
        self.configuration = configuration
        consecutiveFailures = Array(repeating: 0, count: memberCount)
        ejectedUntil = Array(repeating: .distantFuture, count: memberCount)
        ejected = Array(repeating: false, count: memberCount)
        ejectionStreak = Array(repeating: 0, count: memberCount)
        readmittedAt = Array(repeating: Instant(nanoseconds: Int64.min / 4), count: memberCount)
    }

    /// The number of members tracked.
    public var memberCount: Int { ejected.count }

    /// A call to `member` succeeded: its run of failures ends.
    public mutating func recordSuccess(member: Int, now: Instant) {
        consecutiveFailures[member] = 0
    }

    /// A call to `member` failed; returns the ejection when this failure completes a run and the cap allows it.
    /// Failures reported while the member is ejected (calls that were already in flight) do not count.
    public mutating func recordFailure(member: Int, now: Instant) -> Event? {
        guard !ejected[member] else { return nil }
        consecutiveFailures[member] += 1
        guard consecutiveFailures[member] >= configuration.consecutiveFailuresToEject, mayEjectOneMore else {
            return nil
        }
        if now - readmittedAt[member] >= configuration.ejectionDurationMax { ejectionStreak[member] = 0 }
        ejectionStreak[member] += 1
        let until = now + ejectionLength(streak: ejectionStreak[member])
        consecutiveFailures[member] = 0
        ejected[member] = true
        ejectedCount += 1
        ejectedUntil[member] = configuration.neverReadmits ? .distantFuture : until
        nextReadmissionAt = min(nextReadmissionAt, ejectedUntil[member])
        return .ejected(member: member, until: until)
    }

    /// Readmits members whose ejection ended, appending an event for each (in member order); O(1) when nothing is
    /// due (keeps the earliest readmission time).
    public mutating func advance(now: Instant, into events: inout [Event]) {
        guard now >= nextReadmissionAt else { return }
        var next = Instant.distantFuture
        for member in 0..<ejected.count where ejected[member] {
            if ejectedUntil[member] <= now {
                ejected[member] = false
                ejectedCount -= 1
                ejectedUntil[member] = .distantFuture
                readmittedAt[member] = now
                events.append(.readmitted(member: member))
            } else {
                next = min(next, ejectedUntil[member])
            }
        }
        nextReadmissionAt = next
    }

    /// True unless `member` is ejected, as of the last `advance`.
    public func isAvailable(_ member: Int) -> Bool { !ejected[member] }

    /// True when one more ejection keeps within the cap: never the last available member, always one when there
    /// are at least two, otherwise only while the ejected share stays at or below `ejectedRatioMax`.
    var mayEjectOneMore: Bool {
        let available = ejected.count - ejectedCount
        guard available >= 2 else { return false }
        if ejectedCount == 0 { return true }
        let share = Int128(ejectedCount + 1) * 1_000_000
        return share <= Int128(configuration.ejectedRatioMax.partsPerMillion) * Int128(ejected.count)
    }

    /// ejectionDuration * 2^(streak-1), capped at ejectionDurationMax; the loop stops at the cap, so it is short.
    func ejectionLength(streak: Int) -> Duration {
        var length = configuration.ejectionDuration
        var doublings = streak - 1
        while doublings > 0 && length < configuration.ejectionDurationMax {
            length = length * 2
            doublings -= 1
        }
        return min(length, configuration.ejectionDurationMax)
    }
}
