// Rate limits shared by several gateways through one limiter store (Redis in production). Each gateway asks the
// store to take a token from the key's bucket; the store runs the same exact integer token bucket as a local
// limiter, on its own clock, atomically per call (a script in Redis), so a key's limit holds across all gateways.
// When the store cannot answer, the gateway's configured policy decides: fail-open falls back to the gateway's
// local share of the limit, fail-closed refuses with 503.

/// What a gateway does with a request while its limiter store cannot answer.
public enum LimiterPolicy: String, Sendable, Hashable {
    /// Admit within the gateway's local share of the key's limit (the limit divided by the gateway count), so the
    /// platform stays up and a key's global rate stays bounded by its limit plus one burst share per gateway.
    case failOpen = "fail-open"
    /// Refuse with 503 and a Retry-After: no request is admitted without the store's token.
    case failClosed = "fail-closed"
}

/// How a gateway enforces rate limits.
public enum RateLimitMode: Sendable, Equatable {
    /// Each gateway enforces its share of every limit by itself (no store).
    case local
    /// One limiter store holds every key's bucket.
    case shared(SharedLimitSettings)
}

/// The shared mode's settings.
public struct SharedLimitSettings: Sendable, Equatable {
    public var policy: LimiterPolicy
    /// How long a request waits for the store before the policy applies.
    public var timeout: Duration = .milliseconds(20)
    /// Trips after repeated store failures, so that while the store is down requests go straight to the policy
    /// instead of each waiting for the timeout.
    public var breaker: CircuitBreaker.Configuration = SharedLimitSettings.defaultBreaker

    public init(policy: LimiterPolicy) { self.policy = policy }

    /// Five failures in a row open the breaker for 500 ms at first.
    public static var defaultBreaker: CircuitBreaker.Configuration {
        var breaker = CircuitBreaker.Configuration()
        breaker.consecutiveFailuresToOpen = 5
        breaker.openDuration = .milliseconds(500)
        breaker.openDurationMax = .seconds(10)
        breaker.slowCallThreshold = .seconds(1)
        breaker.halfOpenProbesMax = 1
        breaker.halfOpenSuccessesToClose = 1
        return breaker
    }
}

/// A stored API key's own rate limit: the key draws from a bucket of its own at this rate (with its tenant's
/// burst, at most a minute's worth), instead of from its tenant's bucket. A plain value (the key id's bytes are
/// held in four words), so the authorization, the limiter check and the wait for it copy it without reference
/// counting on every request.
public struct KeyLimit: Sendable, Hashable {
    /// The key id's UTF-8 bytes, eight to a word from the first (little-endian), zero-padded.
    let id0: UInt64
    let id1: UInt64
    let id2: UInt64
    let id3: UInt64
    /// The key's sustained rate.
    public let requestsPerMinute: Int64

    /// The longest key id a limit holds (the key store's ids are 8 to 32 of `[a-z0-9]`).
    public static let keyIDBytesMax = 32

    /// The limit of key `keyID`; nil when the id is empty, longer than `keyIDBytesMax` bytes or holds a zero byte,
    /// or the rate is below one a minute.
    public init?(keyID: String, requestsPerMinute: Int64) {
        guard requestsPerMinute >= 1 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count = 0
        for byte in keyID.utf8 {
            guard byte != 0, count < KeyLimit.keyIDBytesMax else { return nil }
            let bits = UInt64(byte) << (8 * UInt64(count % 8))
            switch count / 8 {
            case 0: words.0 |= bits
            case 1: words.1 |= bits
            case 2: words.2 |= bits
            default: words.3 |= bits
            }
            count += 1
        }
        guard count > 0 else { return nil }
        (id0, id1, id2, id3) = words
        self.requestsPerMinute = requestsPerMinute
    }

    /// The key's id, which names its bucket among the keys with their own limit.
    public var keyID: String {
        String(unsafeUninitializedCapacity: KeyLimit.keyIDBytesMax) { buffer in
            var count = 0
            for word in [id0, id1, id2, id3] {
                for shift in stride(from: UInt64(0), to: 64, by: 8) {
                    let byte = UInt8(truncatingIfNeeded: word >> shift)
                    if byte == 0 { return count }
                    buffer[count] = byte
                    count += 1
                }
            }
            return count
        }
    }
}

/// A gateway asks the store for `cost` tokens of key `keyIndex`'s bucket on behalf of request `id`. The key is
/// named by its index in the gateway's key list (the shell names the store's bucket after the key), so the
/// gateway's actions stay plain values. A stored key with its own limit is checked against that limit instead
/// (`ownLimit`), in a bucket of its own.
public struct LimitCheck: Sendable, Hashable {
    public var id: RequestID
    public var keyIndex: Int
    public var cost: Int64
    /// The stored key's own limit, when the request's credential has one.
    public var ownLimit: KeyLimit?

    public init(id: RequestID, keyIndex: Int, cost: Int64 = 1, ownLimit: KeyLimit? = nil) {
        self.id = id
        self.keyIndex = keyIndex
        self.cost = cost
        self.ownLimit = ownLimit
    }
}

/// The store's answer to one check.
public enum LimitDecision: Sendable, Hashable {
    case granted
    case denied(retryAfter: Duration)
    /// The store is down or refused the call (the shell's error); the gateway's policy applies.
    case unavailable
}

/// The answer, as the gateway receives it.
public struct LimitAnswer: Sendable, Hashable {
    public var id: RequestID
    public var decision: LimitDecision

    public init(id: RequestID, decision: LimitDecision) {
        self.id = id
        self.decision = decision
    }
}

/// The limiter store's semantics: one token bucket per key, taken atomically at the store's clock. The simulated
/// store runs exactly this; production's script mirrors it.
public struct LimiterStoreModel: Sendable {
    var limiter: RateLimiter
    /// The buckets of stored keys with their own limit, apart from the tenants' so no key id can name a tenant's.
    var ownLimiter: RateLimiter

    /// A store holding buckets under `limits` (the full limits, not a gateway's share).
    public init(limits: RateLimiter.Configuration) {
        limiter = RateLimiter(configuration: limits)
        ownLimiter = RateLimiter(configuration: limits)
    }

    /// Takes the check's tokens from the bucket of `key` (the name of the check's key) at the store's `now`, or
    /// from the stored key's own bucket when the check carries its own limit (`key` then gives the tenant's burst).
    public mutating func take(_ check: LimitCheck, key: String, now: Instant) -> LimitDecision {
        var hint = RateLimiter.none
        return take(check, key: key, hint: &hint, now: now)
    }

    /// `take(_:key:now:)`, with `hint` the caller's memory of the key's bucket (see `RateLimiter.admit(key:hint:)`).
    public mutating func take(_ check: LimitCheck, key: String, hint: inout Int, now: Instant) -> LimitDecision {
        let decision: TokenBucket.Decision =
            if let own = check.ownLimit {
                ownLimiter.admit(limiter.bucket(for: own, tenant: key), now: now, cost: check.cost)
            } else {
                limiter.admit(key: key, hint: &hint, now: now, cost: check.cost)
            }
        switch decision {
        case .granted: return .granted
        case .denied(let retryAfter): return .denied(retryAfter: retryAfter)
        }
    }
}
