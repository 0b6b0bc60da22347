// A token bucket in exact integer arithmetic: one token is `period.nanoseconds` scaled units and every elapsed
// nanosecond adds `requests` units, so refill never rounds and never drifts, however long a run lasts.

/// Admits calls at a sustained rate with a bounded burst; starts full.
public struct TokenBucket: Sendable, Equatable {
    /// A sustained rate: `requests` tokens every `period`.
    public struct Rate: Sendable, Equatable {
        /// Tokens added per period; at least 1.
        public var requests: Int64
        /// The period over which `requests` tokens are added; longer than zero.
        public var period: Duration

        /// A rate of `requests` tokens per `period`.
        public init(requests: Int64, per period: Duration) {
            precondition(requests >= 1, "a rate adds at least one token per period")
            precondition(period.nanoseconds >= 1, "a rate's period is longer than zero")
            self.requests = requests
            self.period = period
        }

        /// The platform default: 100 requests per minute.
        public static let perMinute100 = Rate(requests: 100, per: .minutes(1))
    }

    /// What `take` decided.
    public enum Decision: Sendable, Equatable {
        /// The call may go; `remaining` whole tokens are left.
        case granted(remaining: Int64)
        /// The call may not go; `retryAfter` is the exact time until enough tokens are back.
        case denied(retryAfter: Duration)
    }

    /// The `retryAfter` of a cost that can never be granted (more than the burst): later than any run reaches.
    public static let retryNever = Duration(nanoseconds: Int64.max / 4)

    /// The sustained rate.
    public let rate: Rate
    /// The capacity in whole tokens.
    public let burst: Int64
    /// `burst * period` scaled units: a full bucket.
    let capacityScaled: Int64
    /// Tokens held, in scaled units (one token = `rate.period.nanoseconds` units).
    private(set) var tokensScaled: Int64
    /// The latest instant the bucket has been refilled to; never moves backwards, so a clock that steps back and
    /// forward again cannot add the same interval twice.
    private(set) var refilledAt: Instant

    /// A full bucket of `burst` tokens (at least 1) refilling at `rate`.
    public init(rate: Rate, burst: Int64, now: Instant) {
        precondition(burst >= 1, "a bucket holds at least one token")
        let (capacity, overflow) = burst.multipliedReportingOverflow(by: rate.period.nanoseconds)
        precondition(!overflow && capacity <= Int64.max - rate.requests, "burst * period overflows Int64 nanoseconds")
        self.rate = rate
        self.burst = burst
        capacityScaled = capacity
        tokensScaled = capacity
        refilledAt = now
    }

    /// Takes `cost` tokens (1 by default) if they are all there.
    public mutating func take(now: Instant, cost: Int64 = 1) -> Decision {
        precondition(cost >= 1, "a call costs at least one token")
        refill(now: now)
        guard cost <= burst else { return .denied(retryAfter: TokenBucket.retryNever) }
        let costScaled = cost * rate.period.nanoseconds
        if tokensScaled >= costScaled {
            tokensScaled -= costScaled
            return .granted(remaining: tokensScaled / rate.period.nanoseconds)
        }
        let missingScaled = costScaled - tokensScaled
        let waitNanoseconds = (missingScaled + rate.requests - 1) / rate.requests
        // A clock behind the refill point must first catch up to it before any token comes back.
        let behindNanoseconds = now < refilledAt ? (refilledAt - now).nanoseconds : 0
        return .denied(retryAfter: Duration(nanoseconds: waitNanoseconds + behindNanoseconds))
    }

    /// Whole tokens available at `now`, without taking any.
    public func available(now: Instant) -> Int64 {
        tokensScaled(at: now) / rate.period.nanoseconds
    }

    /// True when the bucket has refilled to capacity at `now`: it then behaves exactly like a fresh bucket.
    public func isFull(now: Instant) -> Bool {
        tokensScaled(at: now) == capacityScaled
    }

    /// The earliest instant at which the bucket is full again if nothing more is taken.
    public var fullAt: Instant {
        let missingScaled = capacityScaled - tokensScaled
        return refilledAt + Duration(nanoseconds: (missingScaled + rate.requests - 1) / rate.requests)
    }

    /// Tokens at `now` in scaled units; elapsed time is clamped to the time to fill, so nothing overflows.
    func tokensScaled(at now: Instant) -> Int64 {
        guard now > refilledAt else { return tokensScaled }
        let missingScaled = capacityScaled - tokensScaled
        if missingScaled == 0 { return tokensScaled }
        let (elapsed, overflow) = now.nanoseconds.subtractingReportingOverflow(refilledAt.nanoseconds)
        let fillNanoseconds = (missingScaled + rate.requests - 1) / rate.requests
        if overflow || elapsed >= fillNanoseconds { return capacityScaled }
        return tokensScaled + elapsed * rate.requests
    }

    mutating func refill(now: Instant) {
        guard now > refilledAt else { return }
        tokensScaled = tokensScaled(at: now)
        refilledAt = now
    }
}
