// Deliberate breakage, for proving that the simulator's oracles can fail. A sabotage switches off
// one mechanism in the machines; a shipped scenario must then report the matching invariant.
// Production shells never set any of these.

/// The mechanisms a run may deliberately break.
public struct Sabotage: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Circuit breakers never open.
    public static let noBreaker = Sabotage(rawValue: 1 << 0)
    /// Retries ignore the retry budget.
    public static let unboundedRetries = Sabotage(rawValue: 1 << 1)
    /// The gateway admits every request whatever the key's rate limit says.
    public static let noRateLimit = Sabotage(rawValue: 1 << 2)
    /// The router splits traffic uniformly across versions, ignoring canary weights.
    public static let canaryIgnoresWeight = Sabotage(rawValue: 1 << 3)
    /// The gateway sometimes drops the reply to a client.
    public static let lostReply = Sabotage(rawValue: 1 << 4)
    /// Ejected backends are never re-admitted.
    public static let staleHealth = Sabotage(rawValue: 1 << 5)

    /// Batch workers commit a record's offset before the job's outcome is durable.
    public static let ackBeforeCommit = Sabotage(rawValue: 1 << 6)
    /// The job table accepts writes from stale attempts (zombie workers).
    public static let noFencing = Sabotage(rawValue: 1 << 7)
    /// The job table ignores idempotency keys: a repeated submit creates a second job.
    public static let noIdempotency = Sabotage(rawValue: 1 << 8)
    /// Batch workers take work whatever their free slots.
    public static let noBackpressure = Sabotage(rawValue: 1 << 9)
    /// The result-object collector finds orphans but never deletes them.
    public static let keepOrphans = Sabotage(rawValue: 1 << 10)
    /// Gateways apply the opposite of their configured limiter-outage policy.
    public static let flipLimiterPolicy = Sabotage(rawValue: 1 << 14)
    /// The job table serves and cancels jobs for any tenant that names them.
    public static let crossTenant = Sabotage(rawValue: 1 << 15)
    /// The canary controller never rolls back: it steps up and promotes whatever the evidence says.
    public static let noRollback = Sabotage(rawValue: 1 << 12)
    /// The token authenticator accepts `alg: none` tokens without a signature.
    public static let acceptAlgNone = Sabotage(rawValue: 1 << 11)
    /// The registry cache ignores invalidations: a version's old record is served until its entry's TTL.
    public static let staleCache = Sabotage(rawValue: 1 << 13)

    /// Every sabotage with its command-line name, in a fixed order.
    public static let named: [(name: String, sabotage: Sabotage)] = [
        ("no-breaker", .noBreaker),
        ("unbounded-retries", .unboundedRetries),
        ("no-rate-limit", .noRateLimit),
        ("canary-ignores-weight", .canaryIgnoresWeight),
        ("lost-reply", .lostReply),
        ("stale-health", .staleHealth),
        ("ack-before-commit", .ackBeforeCommit),
        ("no-fencing", .noFencing),
        ("no-idempotency", .noIdempotency),
        ("no-backpressure", .noBackpressure),
        ("keep-orphans", .keepOrphans),
        ("flip-limiter-policy", .flipLimiterPolicy),
        ("cross-tenant", .crossTenant),
        ("no-rollback", .noRollback),
        ("accept-alg-none", .acceptAlgNone),
        ("stale-cache", .staleCache),
    ]

    /// The sabotage for a command-line name, or nil when the name is unknown.
    public init?(name: String) {
        guard let entry = Sabotage.named.first(where: { $0.name == name }) else { return nil }
        self = entry.sabotage
    }
}
