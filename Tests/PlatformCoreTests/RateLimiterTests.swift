// Transcripts of per-key limiting, overrides and eviction, plus a seeded property that compares the limiter with a
// plain O(n) reference model of the same rules, decision by decision and key by key.

import PlatformCore
import Testing

@Suite struct RateLimiterTests {
    static func instant(milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

    @Test func defaultsAre100PerMinuteWithABurstOf20PerKey() {
        var limiter = RateLimiter(configuration: RateLimiter.Configuration())
        for expected in stride(from: Int64(19), through: 0, by: -1) {
            #expect(limiter.admit(key: "alice", now: .zero) == .granted(remaining: expected))
        }
        #expect(limiter.admit(key: "alice", now: .zero) == .denied(retryAfter: .milliseconds(600)))
        #expect(limiter.admit(key: "bob", now: .zero) == .granted(remaining: 19))
        #expect(limiter.admit(key: "alice", now: Self.instant(milliseconds: 600)) == .granted(remaining: 0))
        #expect(limiter.keyCount == 2)
    }

    @Test func overridesGiveAKeyItsOwnRateAndBurst() {
        var configuration = RateLimiter.Configuration()
        configuration.overrides = [
            RateLimiter.Override(key: "gold", rate: TokenBucket.Rate(requests: 10, per: .seconds(1)), burst: 2)
        ]
        var limiter = RateLimiter(configuration: configuration)
        #expect(limiter.admit(key: "gold", now: .zero) == .granted(remaining: 1))
        #expect(limiter.admit(key: "gold", now: .zero) == .granted(remaining: 0))
        #expect(limiter.admit(key: "gold", now: .zero) == .denied(retryAfter: .milliseconds(100)))
        #expect(limiter.admit(key: "silver", now: .zero) == .granted(remaining: 19))
        #expect(limiter.admit(key: "gold", now: .zero, cost: 3) == .denied(retryAfter: TokenBucket.retryNever))
    }

    @Test func atTheLimitFullBucketsAreDroppedFirst() {
        var configuration = RateLimiter.Configuration()
        configuration.keysMax = 3
        var limiter = RateLimiter(configuration: configuration)
        _ = limiter.admit(key: "a", now: .zero)
        _ = limiter.admit(key: "b", now: .zero)
        _ = limiter.admit(key: "c", now: Self.instant(milliseconds: 100))
        // At 600 ms "a" and "b" have refilled; "c" has not, though it is the most recently seen.
        _ = limiter.admit(key: "d", now: Self.instant(milliseconds: 600))
        #expect(limiter.keyCount == 2)
        #expect(!limiter.isTracking(key: "a") && !limiter.isTracking(key: "b"))
        #expect(limiter.isTracking(key: "c") && limiter.isTracking(key: "d"))
    }

    @Test func otherwiseTheLeastRecentlySeenGoesWithTiesToTheSmallerKey() {
        var configuration = RateLimiter.Configuration()
        configuration.keysMax = 3
        var limiter = RateLimiter(configuration: configuration)
        _ = limiter.admit(key: "z", now: .zero)
        _ = limiter.admit(key: "y", now: .zero)
        _ = limiter.admit(key: "x", now: .zero)
        _ = limiter.admit(key: "w", now: Self.instant(milliseconds: 1))
        #expect(!limiter.isTracking(key: "x"))
        _ = limiter.admit(key: "z", now: Self.instant(milliseconds: 2))
        _ = limiter.admit(key: "v", now: Self.instant(milliseconds: 3))
        #expect(!limiter.isTracking(key: "y"))
        #expect(limiter.isTracking(key: "z") && limiter.isTracking(key: "w") && limiter.isTracking(key: "v"))
        _ = limiter.admit(key: "u", now: Self.instant(milliseconds: 4))
        #expect(!limiter.isTracking(key: "w"))
        #expect(limiter.keyCount == 3)
    }

    @Test func anEvictedKeyComesBackWithAFreshBucket() {
        var configuration = RateLimiter.Configuration()
        configuration.keysMax = 1
        configuration.defaultBurst = 1
        var limiter = RateLimiter(configuration: configuration)
        #expect(limiter.admit(key: "a", now: .zero) == .granted(remaining: 0))
        #expect(limiter.admit(key: "a", now: .zero) == .denied(retryAfter: .milliseconds(600)))
        #expect(limiter.admit(key: "b", now: .zero) == .granted(remaining: 0))
        #expect(limiter.admit(key: "a", now: .zero) == .granted(remaining: 0))
        #expect(limiter.keyCount == 1)
    }

    /// The same rules written the slow, obvious way.
    struct ReferenceLimiter {
        var configuration: RateLimiter.Configuration
        var entries: [(key: String, bucket: TokenBucket, lastSeen: Instant)] = []

        mutating func admit(key: String, now: Instant) -> TokenBucket.Decision {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                entries[index].lastSeen = now
                return entries[index].bucket.take(now: now)
            }
            if entries.count >= configuration.keysMax {
                entries.removeAll { $0.bucket.isFull(now: now) }
            }
            if entries.count >= configuration.keysMax {
                let victim = entries.indices.min {
                    (entries[$0].lastSeen, entries[$0].key) < (entries[$1].lastSeen, entries[$1].key)
                }!
                entries.remove(at: victim)
            }
            let override = configuration.overrides.first { $0.key == key }
            var bucket = TokenBucket(
                rate: override?.rate ?? configuration.defaultRate,
                burst: override?.burst ?? configuration.defaultBurst, now: now)
            let decision = bucket.take(now: now)
            entries.append((key, bucket, now))
            return decision
        }
    }

    @Test func seededPropertyMatchesTheReferenceModel() {
        let alphabet = (0..<24).map { "key-\($0)" }
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed)
            var configuration = RateLimiter.Configuration()
            configuration.keysMax = Int(random.between(1, 12))
            configuration.defaultBurst = random.between(1, 4)
            configuration.defaultRate = TokenBucket.Rate(requests: random.between(1, 5), per: .milliseconds(100))
            configuration.overrides = [
                RateLimiter.Override(key: "key-3", rate: TokenBucket.Rate(requests: 1, per: .seconds(1)), burst: 2)
            ]
            var limiter = RateLimiter(configuration: configuration)
            var reference = ReferenceLimiter(configuration: configuration)
            var now = Instant.zero
            var mismatches = 0
            for _ in 0..<300 {
                if random.chance(.percent(60)) { now = now + .milliseconds(random.between(0, 60)) }
                let key = alphabet[random.below(alphabet.count)]
                if limiter.admit(key: key, now: now) != reference.admit(key: key, now: now) { mismatches += 1 }
                if limiter.keyCount > configuration.keysMax { mismatches += 1 }
                for entry in reference.entries where !limiter.isTracking(key: entry.key) { mismatches += 1 }
                if limiter.keyCount != reference.entries.count { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(mismatches) differences from the reference; reproduce with seed=\(seed)")
        }
    }

    @Test func hintsOnlySkipTheLookup() {
        let alphabet = (0..<10).map { "key-\($0)" }
        for seed in UInt64(1)...100 {
            var random = SeededRandom(seed: seed)
            var configuration = RateLimiter.Configuration()
            configuration.keysMax = Int(random.between(1, 8))
            configuration.defaultBurst = random.between(1, 4)
            configuration.defaultRate = TokenBucket.Rate(requests: random.between(1, 5), per: .milliseconds(100))
            var plain = RateLimiter(configuration: configuration)
            var hinted = RateLimiter(configuration: configuration)
            var hints = Array(repeating: RateLimiter.none, count: alphabet.count)
            var now = Instant.zero
            var mismatches = 0
            for _ in 0..<300 {
                if random.chance(.percent(60)) { now = now + .milliseconds(random.between(0, 60)) }
                let index = random.below(alphabet.count)
                // A stale or foreign hint must be harmless too.
                if random.chance(.percent(5)) { hints[index] = random.below(10) }
                let expected = plain.admit(key: alphabet[index], now: now)
                if hinted.admit(key: alphabet[index], hint: &hints[index], now: now) != expected { mismatches += 1 }
                for key in alphabet where plain.isTracking(key: key) != hinted.isTracking(key: key) { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(mismatches) differences; reproduce with seed=\(seed)")
        }
    }
}
