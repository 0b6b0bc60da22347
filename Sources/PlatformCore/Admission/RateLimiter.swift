// Per-key token buckets held in one dense array, with a dictionary used only for lookup (never iterated) and an
// index-linked recency list, so that eviction at `keysMax` is deterministic and admission stays O(1).

/// Rate limits calls per key (an API key, a tenant), each key with its own token bucket.
public struct RateLimiter: Sendable {
    /// A key with its own rate and burst instead of the defaults.
    public struct Override: Sendable, Equatable {
        /// The key this override applies to.
        public var key: String
        /// The key's sustained rate.
        public var rate: TokenBucket.Rate
        /// The key's bucket capacity in tokens.
        public var burst: Int64

        /// An override giving `key` its own `rate` and `burst`.
        public init(key: String, rate: TokenBucket.Rate, burst: Int64) {
            self.key = key
            self.rate = rate
            self.burst = burst
        }
    }

    /// Limits and defaults.
    public struct Configuration: Sendable, Equatable {
        /// The rate of every key without an override.
        public var defaultRate: TokenBucket.Rate = .perMinute100
        /// The burst of every key without an override.
        public var defaultBurst: Int64 = 20
        /// Keys with their own rate and burst; each key at most once.
        public var overrides: [Override] = []
        /// The most keys tracked at once; beyond it, full buckets are dropped, then the least recently seen key.
        public var keysMax: Int = 100_000

        /// The defaults: 100 requests per minute, a burst of 20, 100 000 keys.
        public init() {}
    }

    /// One tracked key, linked into the recency list by slot index (`none` ends the list).
    struct Slot: Sendable {
        var key: String
        var bucket: TokenBucket
        var lastSeen: Instant
        var older: Int
        var newer: Int
    }

    /// No slot: ends the recency list, and is the `hint` of a key not looked up yet.
    public static let none = -1

    let configuration: Configuration
    var overrideByKey: [String: Int] = [:]
    var slotByKey: [String: Int] = [:]
    var slots: [Slot] = []
    /// The least recently seen slot, or `none`.
    var oldest = RateLimiter.none
    /// The most recently seen slot, or `none`.
    var newest = RateLimiter.none
    /// No bucket can be full before this instant, so the sweep for full buckets is skipped until then.
    var earliestFullAt = Instant(nanoseconds: Int64.min)

    /// A limiter with no keys yet.
    public init(configuration: Configuration) {
        precondition(configuration.keysMax >= 1, "a limiter tracks at least one key")
        precondition(configuration.defaultBurst >= 1, "the default burst is at least one token")
        self.configuration = configuration
        for (index, override) in configuration.overrides.enumerated() {
            precondition(override.burst >= 1, "override for \(override.key) has a burst below one token")
            precondition(
                overrideByKey.updateValue(index, forKey: override.key) == nil,
                "override for \(override.key) appears twice")
        }
        slots.reserveCapacity(min(configuration.keysMax, 1_024))
    }

    /// Keys currently tracked.
    public var keyCount: Int { slots.count }

    /// True when `key` has a bucket right now (it was seen and not evicted).
    public func isTracking(key: String) -> Bool { slotByKey[key] != nil }

    /// The burst of `key`'s bucket under this limiter's configuration: its override's, else the default.
    public func burst(of key: String) -> Int64 {
        overrideByKey[key].map { configuration.overrides[$0].burst } ?? configuration.defaultBurst
    }

    /// The bucket of a stored key with its own limit, under this limiter's configuration: the key's rate, and its
    /// tenant's burst, at most one minute of the key's rate.
    public func bucket(for limit: KeyLimit, tenant: String) -> Override {
        Override(
            key: limit.keyID, rate: TokenBucket.Rate(requests: limit.requestsPerMinute, per: .minutes(1)),
            burst: min(burst(of: tenant), limit.requestsPerMinute))
    }

    /// Takes `cost` tokens from `key`'s bucket, creating it (full) on first sight.
    public mutating func admit(key: String, now: Instant, cost: Int64 = 1) -> TokenBucket.Decision {
        var hint = RateLimiter.none
        return admit(key: key, hint: &hint, now: now, cost: cost)
    }

    /// `admit(key:now:cost:)`, where `hint` is the slot the caller last found `key` in (`none` at first) and is
    /// set to the key's slot: while the key keeps its slot, the lookup by hash is skipped. Keys are unique among
    /// the slots, so a slot holding `key` is the one the lookup would find.
    public mutating func admit(key: String, hint: inout Int, now: Instant, cost: Int64 = 1) -> TokenBucket.Decision {
        admit(key: key, hint: &hint, now: now, cost: cost, fresh: nil)
    }

    /// Takes `cost` tokens from the bucket of `limit.key`, made (full) on first sight with `limit`'s rate and burst
    /// instead of the configuration's: for keys whose limit travels with the call (a stored key's own limit). A
    /// key's limit is fixed for its lifetime, so a bucket made earlier has the same one.
    public mutating func admit(_ limit: Override, now: Instant, cost: Int64 = 1) -> TokenBucket.Decision {
        precondition(limit.burst >= 1, "the bucket of \(limit.key) has a burst below one token")
        var hint = RateLimiter.none
        return admit(key: limit.key, hint: &hint, now: now, cost: cost, fresh: limit)
    }

    mutating func admit(key: String, hint: inout Int, now: Instant, cost: Int64, fresh: Override?)
        -> TokenBucket.Decision
    {
        if hint >= 0 && hint < slots.count && slots[hint].key == key {
            return take(slot: hint, now: now, cost: cost)
        }
        if let index = slotByKey[key] {
            hint = index
            return take(slot: index, now: now, cost: cost)
        }
        if slots.count >= configuration.keysMax { makeRoom(now: now) }
        var bucket =
            fresh.map { TokenBucket(rate: $0.rate, burst: $0.burst, now: now) } ?? freshBucket(key: key, now: now)
        let decision = bucket.take(now: now, cost: cost)
        earliestFullAt = min(earliestFullAt, bucket.fullAt)
        let index = slots.count
        slots.append(Slot(key: key, bucket: bucket, lastSeen: now, older: newest, newer: RateLimiter.none))
        if newest != RateLimiter.none { slots[newest].newer = index } else { oldest = index }
        newest = index
        slotByKey[key] = index
        hint = index
        return decision
    }

    mutating func take(slot index: Int, now: Instant, cost: Int64) -> TokenBucket.Decision {
        slots[index].lastSeen = now
        moveToNewest(index)
        return slots[index].bucket.take(now: now, cost: cost)
    }

    func freshBucket(key: String, now: Instant) -> TokenBucket {
        if let index = overrideByKey[key] {
            let override = configuration.overrides[index]
            return TokenBucket(rate: override.rate, burst: override.burst, now: now)
        }
        return TokenBucket(rate: configuration.defaultRate, burst: configuration.defaultBurst, now: now)
    }

    /// Frees at least one slot: drops every full bucket (equivalent to a fresh one), else the least recently seen
    /// key, ties broken by the smaller key string. O(n), but only when the table is full.
    mutating func makeRoom(now: Instant) {
        if now >= earliestFullAt {
            var nextFullAt = Instant.distantFuture
            var index = slots.count - 1
            // Walking down lets `remove` swap the last slot (already visited) into the hole.
            while index >= 0 {
                if slots[index].bucket.isFull(now: now) {
                    remove(index)
                } else {
                    nextFullAt = min(nextFullAt, slots[index].bucket.fullAt)
                }
                index -= 1
            }
            earliestFullAt = nextFullAt
            if slots.count < configuration.keysMax { return }
        }
        var victim = oldest
        var candidate = slots[oldest].newer
        while candidate != RateLimiter.none && slots[candidate].lastSeen == slots[oldest].lastSeen {
            if slots[candidate].key < slots[victim].key { victim = candidate }
            candidate = slots[candidate].newer
        }
        remove(victim)
    }

    /// Removes a slot by moving the last slot into its place and relinking it.
    mutating func remove(_ index: Int) {
        unlink(index)
        slotByKey[slots[index].key] = nil
        let last = slots.count - 1
        if index != last {
            slots.swapAt(index, last)
            let moved = slots[index]
            if moved.older != RateLimiter.none { slots[moved.older].newer = index } else { oldest = index }
            if moved.newer != RateLimiter.none { slots[moved.newer].older = index } else { newest = index }
            slotByKey[moved.key] = index
        }
        slots.removeLast()
    }

    mutating func unlink(_ index: Int) {
        let older = slots[index].older
        let newer = slots[index].newer
        if older != RateLimiter.none { slots[older].newer = newer } else { oldest = newer }
        if newer != RateLimiter.none { slots[newer].older = older } else { newest = older }
        slots[index].older = RateLimiter.none
        slots[index].newer = RateLimiter.none
    }

    mutating func moveToNewest(_ index: Int) {
        guard index != newest else { return }
        unlink(index)
        slots[index].older = newest
        slots[newest].newer = index
        newest = index
    }
}
