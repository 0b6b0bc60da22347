// When and how soon to retry a failed attempt: only retryable failures, only within attempts, only when
// the retry can still finish before the deadline, and only when the shared budget allows. The budget is
// asked last, so a retry refused for any other reason never spends it; backoff is full jitter drawn from
// the caller's seeded generator, in integers.

/// Decides whether a failed attempt is retried and after how long.
public struct RetryPolicy: Sendable, Equatable {
    /// Limits and timings for retries.
    public struct Configuration: Sendable, Equatable {
        /// Attempts per request, the first try included.
        public var attemptsMax: Int = 3
        /// The backoff ceiling before the first retry; it doubles for each later retry.
        public var backoffBase: Duration = .milliseconds(25)
        /// The largest backoff ceiling.
        public var backoffMax: Duration = .seconds(1)
        /// The longest one attempt may take.
        public var perTryTimeout: Duration = .milliseconds(500)
        /// Never start a retry with less time than this left before the deadline.
        public var minimumUsefulAttempt: Duration = .milliseconds(10)

        /// The default configuration.
        public init() {}
    }

    /// Why an attempt failed, as far as retrying is concerned.
    public enum Failure: Sendable, Equatable {
        /// The attempt ran out of time; the backend may have done the work.
        case timeout
        /// No connection could be made; the backend never saw the request.
        case connectionFailed
        /// The backend said it cannot serve now (503); it did not do the work.
        case unavailable
        /// The backend shed the request (429 or a full queue); it did not do the work.
        case overloaded
        /// The backend failed while serving (500); it may have done part of the work.
        case serverError
        /// The request is wrong; a retry would fail the same way.
        case badRequest
        /// The model or version does not exist; a retry would fail the same way.
        case notFound
    }

    /// Why a failed request is not retried.
    public enum GiveUpReason: Sendable, Equatable {
        /// The failure is not one a retry can fix (or not safely, for a non-idempotent call).
        case notRetryable
        /// Every allowed attempt has been made.
        case attemptsExhausted
        /// A retry could not start and still leave a useful attempt before the deadline.
        case deadlineExceeded
        /// The retry budget is spent.
        case budgetExhausted
    }

    /// What to do after a failed attempt.
    public enum Decision: Sendable, Equatable {
        /// Retry once `after` has passed.
        case retry(after: Duration)
        /// Stop and report the failure.
        case giveUp(GiveUpReason)
    }

    /// The configuration the policy was created with.
    public let configuration: Configuration

    /// A policy with `configuration`.
    public init(configuration: Configuration) {
        precondition(configuration.attemptsMax >= 1, "attemptsMax must be >= 1 (the first try counts)")
        precondition(configuration.backoffBase >= .zero, "backoffBase must be >= 0")
        precondition(configuration.backoffMax >= .zero, "backoffMax must be >= 0")
        precondition(configuration.perTryTimeout > .zero, "perTryTimeout must be > 0")
        precondition(configuration.minimumUsefulAttempt >= .zero, "minimumUsefulAttempt must be >= 0")
        self.configuration = configuration
    }

    /// True when a retry may fix `failure`: timeouts and server errors only for idempotent calls, since the
    /// backend may have done the work; bad requests and unknown models never.
    public func isRetryable(_ failure: Failure, idempotent: Bool) -> Bool {
        switch failure {
        case .badRequest, .notFound: return false
        case .timeout, .serverError: return idempotent
        case .connectionFailed, .unavailable, .overloaded: return true
        }
    }

    /// The backoff ceiling before retry number `retryNumber` (>= 1): `backoffBase * 2^(retryNumber-1)`,
    /// capped at `backoffMax`, with no overflow for any `retryNumber`.
    public func backoffCeiling(beforeRetry retryNumber: Int) -> Duration {
        precondition(retryNumber >= 1, "retry numbers start at 1, got \(retryNumber)")
        let base = configuration.backoffBase.nanoseconds
        let shift = retryNumber - 1
        if base == 0 { return .zero }
        if shift >= 63 || base > (Int64.max >> Int64(shift)) { return configuration.backoffMax }
        return min(Duration(nanoseconds: base << Int64(shift)), configuration.backoffMax)
    }

    /// Full jitter: a uniform draw in `[0, backoffCeiling(beforeRetry: retryNumber)]`.
    public func backoff(beforeRetry retryNumber: Int, random: inout SeededRandom) -> Duration {
        let ceiling = backoffCeiling(beforeRetry: retryNumber)
        return Duration(nanoseconds: random.between(0, ceiling.nanoseconds))
    }

    /// The timeout for an attempt starting at `now`: `min(perTryTimeout, deadline - now)`, never negative.
    public func perTryTimeout(now: Instant, deadline: Instant) -> Duration {
        let remaining = deadline - now
        return max(.zero, min(configuration.perTryTimeout, remaining))
    }

    /// attemptsMade counts attempts already sent (>= 1). Checks in this order: retryable, attempts, deadline
    /// (now + backoff + minimumUsefulAttempt must be <= deadline), then the budget LAST so a refused retry
    /// never spends budget.
    public func decide(
        attemptsMade: Int, failure: Failure, idempotent: Bool, now: Instant, deadline: Instant,
        budget: inout RetryBudget, random: inout SeededRandom
    ) -> Decision {
        precondition(attemptsMade >= 1, "decide is asked after an attempt, got attemptsMade=\(attemptsMade)")
        guard isRetryable(failure, idempotent: idempotent) else { return .giveUp(.notRetryable) }
        guard attemptsMade < configuration.attemptsMax else { return .giveUp(.attemptsExhausted) }
        let delay = backoff(beforeRetry: attemptsMade, random: &random)
        guard now + delay + configuration.minimumUsefulAttempt <= deadline else { return .giveUp(.deadlineExceeded) }
        guard budget.tryWithdrawRetry(now: now) else { return .giveUp(.budgetExhausted) }
        return .retry(after: delay)
    }
}
