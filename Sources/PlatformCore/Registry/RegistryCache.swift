// A read-through cache in front of the registry store (Redis in production), as a pure machine: lookups
// in, answers and store reads out. Concurrent misses on one key share one store read; a write's
// invalidation drops the entry and marks any read already in flight as superseded, so a value read before
// the write can never be put back. When the store is down, an entry younger than `staleServeMax` is served
// stale rather than failing. Entries live in slot arrays threaded on a recency list, so eviction is LRU and
// depends only on the inputs; the dictionaries here are used for lookups only and never iterated.
//
// Staleness guarantee: once a write is acknowledged and its invalidation delivered, no lookup that arrives
// afterwards answers the old version: the entry is gone, a read that started earlier answers only the
// lookups that were waiting on it (they were concurrent with the write) and is never cached, and
// serve-stale has nothing left to serve. Without the invalidation (the stale-cache sabotage) the old version
// is answered until its entry expires: at most `ttl` after the store read that fetched it was sent.

/// What the cache holds under one key: a version's record, a model's serving versions, or their absence.
public struct RegistryCacheKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The model name, compared by bytes.
    public var name: String
    /// The version, or nil for the key of the model's versions that take traffic.
    public var version: Int?

    /// The key of one version's record.
    public static func version(_ name: String, _ version: Int) -> RegistryCacheKey {
        RegistryCacheKey(name: name, version: version)
    }

    /// The key of a model's versions in a serving state (serving and canary), for routing.
    public static func serving(_ name: String) -> RegistryCacheKey { RegistryCacheKey(name: name, version: nil) }

    /// The keys a registry command can change: what the writer invalidates once the store acknowledged it.
    /// A create drops a cached "not found" of its version; every other write may change the serving set.
    public static func affected(by command: RegistryCommand) -> [RegistryCacheKey] {
        switch command {
        case .create(let spec, _): [.version(spec.name, spec.version)]
        case .get, .list: []
        case .update(let name, let version, _, _, _, _, _), .transition(let name, let version, _, _, _),
            .delete(let name, let version, _, _):
            [.version(name, version), .serving(name)]
        }
    }

    /// Name bytes, then the serving key before every version key, then versions ascending.
    public static func < (lhs: RegistryCacheKey, rhs: RegistryCacheKey) -> Bool {
        if !lhs.name.utf8.elementsEqual(rhs.name.utf8) { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
        switch (lhs.version, rhs.version) {
        case (nil, nil): return false
        case (nil, .some): return true
        case (.some, nil): return false
        case (.some(let left), .some(let right)): return left < right
        }
    }

    /// Byte equality on names (the standard library's `==` on strings is looser than the store's).
    public static func == (lhs: RegistryCacheKey, rhs: RegistryCacheKey) -> Bool {
        lhs.version == rhs.version && lhs.name.utf8.elementsEqual(rhs.name.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in name.utf8 { hasher.combine(byte) }
        hasher.combine(version)
    }

    public var description: String { version.map { "\(name)@\($0)" } ?? "\(name)@serving" }
}

/// A value the store returned for a key, as the cache keeps it.
public enum RegistryCacheValue: Sendable, Hashable {
    /// The record of a version key.
    case record(ModelVersionRecord)
    /// The versions of a serving key, in version order (possibly none).
    case servingVersions([ModelVersionRecord])
    /// The store has no such version; cached for `notFoundTTL`.
    case notFound
}

/// How a store read ended.
public enum RegistryStoreResult: Sendable, Hashable {
    /// The store answered.
    case value(RegistryCacheValue)
    /// The store failed or is unreachable.
    case unavailable
}

/// The cache's answer to one lookup.
public enum RegistryCacheAnswer: Sendable, Hashable {
    /// A fresh entry answered without the store.
    case hit(RegistryCacheValue)
    /// The entry was missing or expired; the store's answer, now cached.
    case filled(RegistryCacheValue)
    /// The store is unavailable; an expired entry fetched `age` ago answers instead.
    case stale(RegistryCacheValue, age: Duration)
    /// The store is unavailable and nothing recent enough is cached (503).
    case unavailable
}

/// Names one store read of the cache, so a late or repeated answer is recognised.
public struct RegistryCacheReadID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static func < (lhs: RegistryCacheReadID, rhs: RegistryCacheReadID) -> Bool { lhs.value < rhs.value }
    public var description: String { "read#\(value)" }
}

/// The read-through registry cache machine.
public struct RegistryCache: Sendable {
    /// Lifetimes and limits.
    public struct Configuration: Sendable, Equatable {
        /// How long a found value answers lookups, from the instant its store read was sent.
        public var ttl: Duration = .seconds(30)
        /// How long a "not found" answers lookups; zero caches no absence.
        public var notFoundTTL: Duration = .seconds(5)
        /// While the store is unavailable, an entry fetched less than this long ago is served stale; a value
        /// below `ttl` disables serve-stale, since only expired entries go to the store.
        public var staleServeMax: Duration = .minutes(5)
        /// How long a store read may take before its lookups are answered as if the store were unavailable.
        public var readTimeout: Duration = .seconds(1)
        /// Entries held at most; the least recently used one is evicted beyond it.
        public var entriesMax: Int = 10_000
        /// Store reads in flight at most; a miss beyond it is answered as if the store were unavailable.
        public var readsInFlightMax: Int = 256
        /// Lookups waiting on store reads at most; a miss beyond it is answered as if the store were unavailable.
        public var waitingLookupsMax: Int = 4_096
        /// SABOTAGE ONLY (stale-cache): invalidations are ignored, so an entry lives until its TTL.
        public var ignoresInvalidation: Bool = false

        /// The default configuration.
        public init() {}
    }

    /// What the cache is told.
    public enum Input: Sendable, Hashable {
        /// A caller wants the value under `key`; `request` names the answer.
        case lookup(RequestID, RegistryCacheKey)
        /// The store answered a read the cache sent.
        case storeAnswered(RegistryCacheReadID, RegistryStoreResult)
        /// A write touching `key` was acknowledged by the store and its writer published this invalidation.
        case invalidate(RegistryCacheKey)
        /// The timer the cache set has fired.
        case timerFired
    }

    /// What the cache asks its shell to do, in order.
    public enum Action: Sendable, Hashable {
        /// Answer a lookup.
        case answer(RequestID, RegistryCacheAnswer)
        /// Read `key` from the store and pass the result back as `storeAnswered` with the same id.
        case readStore(RegistryCacheReadID, RegistryCacheKey)
        /// Call back with `timerFired` at this instant; replaces the timer set before, if any.
        case setTimer(at: Instant)
    }

    /// One cached value, a node of the recency list (`newer`/`older` are slot indexes, -1 for none).
    struct Entry: Sendable {
        var key: RegistryCacheKey
        var value: RegistryCacheValue
        var fetchedAt: Instant
        var expiresAt: Instant
        var newer: Int
        var older: Int
    }

    /// A store read in flight and the lookups waiting on it, in arrival order.
    struct Read: Sendable {
        var id: RegistryCacheReadID
        var key: RegistryCacheKey
        var sentAt: Instant
        var waiting: [RequestID]
        /// An invalidation of the key arrived after the read was sent: its answer must not be cached.
        var superseded: Bool
    }

    /// The configuration the cache was created with.
    public let configuration: Configuration
    /// Lookups answered by a fresh entry.
    public private(set) var hits: Int = 0
    /// Lookups that needed the store (filled, served stale or unavailable); `hits + misses` is every lookup.
    public private(set) var misses: Int = 0
    /// Misses answered by a stale entry because the store was unavailable.
    public private(set) var staleServed: Int = 0
    /// Misses answered unavailable.
    public private(set) var unavailableAnswered: Int = 0
    /// Entries evicted to stay within `entriesMax`.
    public private(set) var evictions: Int = 0
    /// Misses that joined a read already in flight instead of sending one.
    public private(set) var coalesced: Int = 0

    var slots: [Entry] = []
    var freeSlots: [Int] = []
    /// Key to slot; lookups only, never iterated.
    var slotOfKey: [RegistryCacheKey: Int] = [:]
    var newest = -1
    var oldest = -1
    /// Reads in flight in the order they were sent (so timeouts resolve in a fixed order).
    var reads: [Read] = []
    /// Key to the id of its read that later lookups may join (not superseded); lookups only, never iterated.
    var joinableRead: [RegistryCacheKey: RegistryCacheReadID] = [:]
    var waitingLookups = 0
    var nextReadID: UInt64 = 1
    var timerAt: Instant?

    /// An empty cache.
    public init(configuration: Configuration = .init()) {
        precondition(configuration.ttl > .zero, "ttl must be > 0")
        precondition(configuration.notFoundTTL >= .zero, "notFoundTTL must be >= 0")
        precondition(configuration.staleServeMax >= .zero, "staleServeMax must be >= 0")
        precondition(configuration.readTimeout > .zero, "readTimeout must be > 0")
        precondition(configuration.entriesMax >= 1, "entriesMax must be >= 1")
        precondition(configuration.readsInFlightMax >= 1, "readsInFlightMax must be >= 1")
        precondition(configuration.waitingLookupsMax >= 1, "waitingLookupsMax must be >= 1")
        self.configuration = configuration
    }

    /// Entries held, fresh or expired.
    public var entryCount: Int { slotOfKey.count }
    /// Store reads in flight.
    public var readsInFlight: Int { reads.count }

    /// Hits over lookups (zero before any lookup): the `cache_hit_rate` gauge.
    public var hitRate: Ratio {
        let lookups = hits + misses
        guard lookups > 0 else { return .zero }
        return Ratio(partsPerMillion: Int64(hits) * 1_000_000 / Int64(lookups))
    }

    /// Keys held, least recently used first: for tests and oracles.
    public var keysByRecency: [RegistryCacheKey] {
        var keys: [RegistryCacheKey] = []
        var slot = oldest
        while slot >= 0 {
            keys.append(slots[slot].key)
            slot = slots[slot].newer
        }
        return keys
    }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        switch input {
        case .lookup(let request, let key):
            lookup(request, key, now: now, into: &actions)
        case .storeAnswered(let id, let result):
            guard let index = reads.firstIndex(where: { $0.id == id }) else { return }  // late or repeated
            finish(reads.remove(at: index), result, now: now, into: &actions)
            armTimer(now: now, into: &actions)
        case .invalidate(let key):
            guard !configuration.ignoresInvalidation else { return }
            if let slot = slotOfKey[key] { remove(slot) }
            if let id = joinableRead.removeValue(forKey: key), let index = reads.firstIndex(where: { $0.id == id }) {
                reads[index].superseded = true
            }
        case .timerFired:
            timerAt = nil
            while let first = reads.first, first.sentAt + configuration.readTimeout <= now {
                finish(reads.removeFirst(), .unavailable, now: now, into: &actions)
            }
            armTimer(now: now, into: &actions)
        }
    }

    /// The entry under `key` whatever its age, for tests and oracles.
    public func cached(_ key: RegistryCacheKey) -> RegistryCacheValue? { slotOfKey[key].map { slots[$0].value } }

    // MARK: - Lookups and reads

    private mutating func lookup(
        _ request: RequestID, _ key: RegistryCacheKey, now: Instant, into actions: inout [Action]
    ) {
        if let slot = slotOfKey[key], now < slots[slot].expiresAt {
            hits += 1
            touch(slot)
            actions.append(.answer(request, .hit(slots[slot].value)))
            return
        }
        misses += 1
        if let id = joinableRead[key], let index = reads.firstIndex(where: { $0.id == id }),
            waitingLookups < configuration.waitingLookupsMax
        {
            coalesced += 1
            waitingLookups += 1
            reads[index].waiting.append(request)
            return
        }
        guard reads.count < configuration.readsInFlightMax && waitingLookups < configuration.waitingLookupsMax else {
            actions.append(.answer(request, outageAnswer(key, now: now)))
            return
        }
        let id = RegistryCacheReadID(nextReadID)
        nextReadID += 1
        reads.append(Read(id: id, key: key, sentAt: now, waiting: [request], superseded: false))
        joinableRead[key] = id
        waitingLookups += 1
        actions.append(.readStore(id, key))
        armTimer(now: now, into: &actions)
    }

    /// Answers the lookups waiting on `read`, and caches a found value unless an invalidation superseded it.
    private mutating func finish(
        _ read: Read, _ result: RegistryStoreResult, now: Instant, into actions: inout [Action]
    ) {
        waitingLookups -= read.waiting.count
        if !read.superseded { joinableRead[read.key] = nil }
        switch result {
        case .value(let value):
            if !read.superseded { store(value, under: read.key, fetchedAt: read.sentAt) }
            for request in read.waiting { actions.append(.answer(request, .filled(value))) }
        case .unavailable:
            for request in read.waiting { actions.append(.answer(request, outageAnswer(read.key, now: now))) }
        }
    }

    /// What a miss gets while the store cannot answer: the entry if it was fetched within `staleServeMax`.
    private mutating func outageAnswer(_ key: RegistryCacheKey, now: Instant) -> RegistryCacheAnswer {
        if let slot = slotOfKey[key] {
            let age = now - slots[slot].fetchedAt
            if age < configuration.staleServeMax {
                staleServed += 1
                touch(slot)
                return .stale(slots[slot].value, age: age)
            }
            remove(slot)  // too old to ever be served again
        }
        unavailableAnswered += 1
        return .unavailable
    }

    /// Sets the timer for the oldest read's timeout unless it is already set for that instant or earlier.
    private mutating func armTimer(now: Instant, into actions: inout [Action]) {
        guard let first = reads.first else { return }
        let deadline = first.sentAt + configuration.readTimeout
        if let timerAt, timerAt <= deadline, timerAt > now { return }
        timerAt = deadline
        actions.append(.setTimer(at: deadline))
    }

    // MARK: - Entries

    private mutating func store(_ value: RegistryCacheValue, under key: RegistryCacheKey, fetchedAt: Instant) {
        let lifetime: Duration
        switch value {
        case .record, .servingVersions: lifetime = configuration.ttl
        case .notFound: lifetime = configuration.notFoundTTL
        }
        if let slot = slotOfKey[key] { remove(slot) }
        guard lifetime > .zero else { return }
        if slotOfKey.count == configuration.entriesMax {
            evictions += 1
            remove(oldest)
        }
        let entry = Entry(
            key: key, value: value, fetchedAt: fetchedAt, expiresAt: fetchedAt + lifetime, newer: -1, older: newest)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        link(slot)
        slotOfKey[key] = slot
    }

    /// Makes `slot` the most recently used.
    private mutating func touch(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        link(slot)
    }

    private mutating func remove(_ slot: Int) {
        unlink(slot)
        slotOfKey[slots[slot].key] = nil
        slots[slot].value = .notFound  // drop the record's storage now rather than when the slot is reused
        freeSlots.append(slot)
    }

    /// Puts `slot` at the newest end of the recency list.
    private mutating func link(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot } else { oldest = slot }
        newest = slot
    }

    private mutating func unlink(_ slot: Int) {
        let older = slots[slot].older
        let newer = slots[slot].newer
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        if newer >= 0 { slots[newer].older = older } else { newest = older }
    }
}
