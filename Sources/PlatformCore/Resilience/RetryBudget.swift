// A retry budget shared by every request of one caller: retries are bounded by a share of recent first
// attempts plus a floor, so a failing backend sees at most (1 + ratio) times its normal load instead of
// attemptsMax times. Requests and retries are counted in two sliding windows with the same buckets, so both
// expire in lockstep.

/// Envoy/Finagle-style: retries may be at most `retryRatio` of first attempts seen in the window, plus a small floor.
public struct RetryBudget: Sendable, Equatable {
    /// The budget's share, floor and window.
    public struct Configuration: Sendable, Equatable {
        /// Retries allowed per first attempt seen in the window.
        public var retryRatio: Ratio = .percent(20)
        /// Retries always allowed per window, so a quiet caller can still retry.
        public var minimumRetriesPerWindow: Int64 = 10
        /// The time over which requests and retries are counted.
        public var window: Duration = .seconds(10)
        /// How many buckets the window is split into (1...1024).
        public var windowBuckets: Int = 10
        /// SABOTAGE ONLY: every retry is allowed.
        public var ignoresBudget: Bool = false

        /// The default configuration.
        public init() {}
    }

    /// The configuration the budget was created with.
    public let configuration: Configuration
    /// Retries refused because the budget was spent.
    public private(set) var retriesRefused: Int64 = 0
    /// Retries allowed (and recorded).
    public private(set) var retriesAllowed: Int64 = 0

    private var requests: SlidingWindowCounter
    private var retries: SlidingWindowCounter
    /// The latest `now` seen. Both counters are fed `max(now, latestSeen)` so they agree on which buckets have
    /// expired even when a step back in time reaches only one of them.
    private var latestSeen: Instant = Instant(nanoseconds: Int64.min)

    /// An empty budget with `configuration`.
    public init(configuration: Configuration) {
        precondition(configuration.minimumRetriesPerWindow >= 0, "minimumRetriesPerWindow must be >= 0")
        self.configuration = configuration
        self.requests = SlidingWindowCounter(window: configuration.window, buckets: configuration.windowBuckets)
        self.retries = requests
    }

    /// Records a first attempt, which earns the budget `retryRatio` of a retry.
    public mutating func requestStarted(now: Instant) {
        let now = monotonic(now)
        requests.add(1, now: now)
    }

    /// Takes one retry from the budget if there is one left: true means the retry is allowed and recorded.
    public mutating func tryWithdrawRetry(now: Instant) -> Bool {
        let now = monotonic(now)
        if configuration.ignoresBudget || retries.total(now: now) < retriesAllowedInWindow(now: now) {
            retries.add(1, now: now)
            retriesAllowed += 1
            return true
        }
        retriesRefused += 1
        return false
    }

    /// The most retries the window at `now` may hold: the floor plus `retryRatio` of the first attempts in it.
    public mutating func retriesAllowedInWindow(now: Instant) -> Int64 {
        let now = monotonic(now)
        return configuration.minimumRetriesPerWindow + configuration.retryRatio.of(requests.total(now: now))
    }

    /// Retries recorded in the window at `now`.
    public mutating func retriesInWindow(now: Instant) -> Int64 {
        retries.total(now: monotonic(now))
    }

    /// `now`, or the latest instant seen if `now` is earlier (a clock that stepped back).
    private mutating func monotonic(_ now: Instant) -> Instant {
        if now > latestSeen { latestSeen = now }
        return latestSeen
    }
}
