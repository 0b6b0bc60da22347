// Transcript tests for the registry's read-through cache: lookups in, answers and store reads out, through
// hits, fills, expiry, invalidation (including the read it races), coalescing, serve-stale on outage,
// eviction order, the stale-cache sabotage and the hit-rate counters.

import PlatformCore
import Testing

/// An instant `milliseconds` after the epoch.
private func at(_ milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

/// A record of resnet@`version` whose framework names the write it reflects.
private func record(_ version: Int = 1, framework: String = "onnxruntime") -> ModelVersionRecord {
    let spec = ModelVersionSpec(name: "resnet", version: version, framework: framework, endpoints: ["triton-0:8001"])
    return ModelVersionRecord(spec: spec, tenant: 1, now: .zero)
}

private let resnet1 = RegistryCacheKey.version("resnet", 1)

/// A cache with a transcript helper: feed one input, get the actions it produced.
private struct Harness {
    var cache: RegistryCache

    init(_ configure: (inout RegistryCache.Configuration) -> Void = { _ in }) {
        var configuration = RegistryCache.Configuration()
        configuration.ttl = .seconds(10)
        configuration.notFoundTTL = .seconds(2)
        configuration.staleServeMax = .seconds(60)
        configuration.readTimeout = .seconds(1)
        configure(&configuration)
        cache = RegistryCache(configuration: configuration)
    }

    mutating func feed(_ input: RegistryCache.Input, at milliseconds: Int64) -> [RegistryCache.Action] {
        var actions: [RegistryCache.Action] = []
        cache.handle(input, now: at(milliseconds), into: &actions)
        return actions
    }

    /// A lookup that misses and is filled with `value` by the store `latency` later; returns the answer's actions.
    mutating func fill(
        _ key: RegistryCacheKey, with value: RegistryCacheValue, request: UInt64, at milliseconds: Int64
    ) -> [RegistryCache.Action] {
        let sent = feed(.lookup(RequestID(request), key), at: milliseconds)
        guard case .readStore(let id, _)? = sent.first else {
            Issue.record("expected a store read, got \(sent)")
            return []
        }
        return feed(.storeAnswered(id, .value(value)), at: milliseconds)
    }
}

@Suite struct RegistryCacheTests {
    @Test func missReadsTheStoreAndFillsThenHits() {
        var harness = Harness()
        let first = harness.feed(.lookup(RequestID(1), resnet1), at: 0)
        let read = RegistryCacheReadID(1)
        #expect(first == [.readStore(read, resnet1), .setTimer(at: at(1_000))])
        #expect(
            harness.feed(.storeAnswered(read, .value(.record(record()))), at: 5) == [
                .answer(RequestID(1), .filled(.record(record())))
            ])
        #expect(harness.feed(.lookup(RequestID(2), resnet1), at: 6) == [.answer(RequestID(2), .hit(.record(record())))])
        #expect(harness.cache.hits == 1 && harness.cache.misses == 1)
    }

    @Test func entryExpiresTTLAfterItsReadWasSent() {
        var harness = Harness()
        _ = harness.feed(.lookup(RequestID(1), resnet1), at: 1_000)
        _ = harness.feed(.storeAnswered(RegistryCacheReadID(1), .value(.record(record()))), at: 1_400)
        #expect(
            harness.feed(.lookup(RequestID(2), resnet1), at: 10_999) == [.answer(RequestID(2), .hit(.record(record())))]
        )
        // Expiry counts from 1 000 ms, when the read went out, not from 1 400 ms, when it came back.
        let expired = harness.feed(.lookup(RequestID(3), resnet1), at: 11_000)
        #expect(expired == [.readStore(RegistryCacheReadID(2), resnet1), .setTimer(at: at(12_000))])
    }

    @Test func notFoundIsCachedForItsShorterTTL() {
        var harness = Harness()
        _ = harness.fill(resnet1, with: .notFound, request: 1, at: 0)
        #expect(harness.feed(.lookup(RequestID(2), resnet1), at: 1_999) == [.answer(RequestID(2), .hit(.notFound))])
        #expect(
            harness.feed(.lookup(RequestID(3), resnet1), at: 2_000).first == .readStore(RegistryCacheReadID(2), resnet1)
        )
    }

    @Test func invalidationDropsTheEntrySoTheNextLookupReadsTheStore() {
        var harness = Harness()
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        #expect(harness.feed(.invalidate(resnet1), at: 100).isEmpty)
        #expect(harness.cache.cached(resnet1) == nil)
        let after = harness.feed(.lookup(RequestID(2), resnet1), at: 101)
        #expect(after.first == .readStore(RegistryCacheReadID(2), resnet1))
        let updated = record(framework: "tensorrt")
        #expect(
            harness.feed(.storeAnswered(RegistryCacheReadID(2), .value(.record(updated))), at: 102) == [
                .answer(RequestID(2), .filled(.record(updated)))
            ])
    }

    @Test func readRacedByInvalidationAnswersItsWaitersButIsNeverCached() {
        var harness = Harness()
        // A read goes out before the write; the write is acknowledged and invalidated while it is in flight.
        _ = harness.feed(.lookup(RequestID(1), resnet1), at: 0)
        _ = harness.feed(.invalidate(resnet1), at: 10)
        // A lookup after the invalidation must not join the old read: it sends its own.
        let late = harness.feed(.lookup(RequestID(2), resnet1), at: 11)
        #expect(late == [.readStore(RegistryCacheReadID(2), resnet1)])
        // The old read comes back with the old value: only its own (concurrent) waiter sees it.
        let old = harness.feed(.storeAnswered(RegistryCacheReadID(1), .value(.record(record()))), at: 20)
        #expect(old == [.answer(RequestID(1), .filled(.record(record())))])
        #expect(harness.cache.cached(resnet1) == nil)
        let updated = record(framework: "tensorrt")
        _ = harness.feed(.storeAnswered(RegistryCacheReadID(2), .value(.record(updated))), at: 21)
        #expect(harness.feed(.lookup(RequestID(3), resnet1), at: 22) == [.answer(RequestID(3), .hit(.record(updated)))])
    }

    @Test func racedReadAnsweringAfterTheFreshOneDoesNotOverwriteIt() {
        var harness = Harness()
        _ = harness.feed(.lookup(RequestID(1), resnet1), at: 0)
        _ = harness.feed(.invalidate(resnet1), at: 10)
        _ = harness.feed(.lookup(RequestID(2), resnet1), at: 11)
        let updated = record(framework: "tensorrt")
        _ = harness.feed(.storeAnswered(RegistryCacheReadID(2), .value(.record(updated))), at: 12)
        _ = harness.feed(.storeAnswered(RegistryCacheReadID(1), .value(.record(record()))), at: 13)
        #expect(harness.cache.cached(resnet1) == .record(updated))
    }

    @Test func concurrentMissesShareOneStoreRead() {
        var harness = Harness()
        #expect(harness.feed(.lookup(RequestID(1), resnet1), at: 0).count == 2)
        #expect(harness.feed(.lookup(RequestID(2), resnet1), at: 1).isEmpty)
        #expect(harness.feed(.lookup(RequestID(3), resnet1), at: 2).isEmpty)
        let answers = harness.feed(.storeAnswered(RegistryCacheReadID(1), .value(.record(record()))), at: 3)
        #expect(answers == [1, 2, 3].map { .answer(RequestID($0), .filled(.record(record()))) })
        #expect(harness.cache.coalesced == 2 && harness.cache.misses == 3 && harness.cache.readsInFlight == 0)
    }

    @Test func outageServesAnEntryYoungerThanTheBound() {
        var harness = Harness()
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        _ = harness.feed(.lookup(RequestID(2), resnet1), at: 30_000)
        let answer = harness.feed(.storeAnswered(RegistryCacheReadID(2), .unavailable), at: 30_005)
        #expect(answer == [.answer(RequestID(2), .stale(.record(record()), age: .milliseconds(30_005)))])
        #expect(harness.cache.staleServed == 1)
    }

    @Test func outageBeyondTheBoundAnswersUnavailableAndDropsTheEntry() {
        var harness = Harness()
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        _ = harness.feed(.lookup(RequestID(2), resnet1), at: 60_000)
        let answer = harness.feed(.storeAnswered(RegistryCacheReadID(2), .unavailable), at: 60_001)
        #expect(answer == [.answer(RequestID(2), .unavailable)])
        #expect(harness.cache.cached(resnet1) == nil && harness.cache.unavailableAnswered == 1)
    }

    @Test func readTimeoutCountsAsAnOutageAndTheLateAnswerIsIgnored() {
        var harness = Harness()
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        #expect(harness.feed(.lookup(RequestID(2), resnet1), at: 20_000).last == .setTimer(at: at(21_000)))
        #expect(harness.feed(.timerFired, at: 20_999) == [.setTimer(at: at(21_000))])  // early: set again
        let timedOut = harness.feed(.timerFired, at: 21_000)
        #expect(timedOut == [.answer(RequestID(2), .stale(.record(record()), age: .seconds(21)))])
        #expect(harness.feed(.storeAnswered(RegistryCacheReadID(2), .value(.notFound)), at: 21_001).isEmpty)
        #expect(harness.cache.cached(resnet1) == .record(record()))
    }

    @Test func invalidatedEntryIsNeverServedStale() {
        var harness = Harness()
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        _ = harness.feed(.invalidate(resnet1), at: 1)
        _ = harness.feed(.lookup(RequestID(2), resnet1), at: 2)
        #expect(
            harness.feed(.storeAnswered(RegistryCacheReadID(2), .unavailable), at: 3) == [
                .answer(RequestID(2), .unavailable)
            ])
    }

    @Test func evictsTheLeastRecentlyUsedEntry() {
        var harness = Harness { $0.entriesMax = 3 }
        let keys = (1...3).map { RegistryCacheKey.version("resnet", $0) }
        for (index, key) in keys.enumerated() {
            _ = harness.fill(key, with: .record(record(index + 1)), request: UInt64(index + 1), at: Int64(index))
        }
        _ = harness.feed(.lookup(RequestID(10), keys[0]), at: 10)  // resnet@1 becomes the most recent
        _ = harness.fill(.serving("resnet"), with: .servingVersions([]), request: 11, at: 11)
        #expect(harness.cache.keysByRecency == [keys[2], keys[0], .serving("resnet")])
        #expect(harness.cache.evictions == 1 && harness.cache.entryCount == 3)
    }

    @Test func evictionOrderDependsOnlyOnTheInputs() {
        // Two caches fed the same seeded transcript hold the same keys in the same order.
        func run(seed: UInt64) -> [RegistryCacheKey] {
            var random = SeededRandom(seed: seed)
            var harness = Harness { $0.entriesMax = 8 }
            for step in 0..<400 {
                let key = RegistryCacheKey.version("model-\(random.below(5))", Int(random.below(6)) + 1)
                let actions = harness.feed(.lookup(RequestID(UInt64(step)), key), at: Int64(step))
                for case .readStore(let id, _) in actions {
                    _ = harness.feed(.storeAnswered(id, .value(.notFound)), at: Int64(step))
                }
            }
            return harness.cache.keysByRecency
        }
        for seed in [1, 2, 3] as [UInt64] {
            let first = run(seed: seed)
            #expect(first.count == 8, "reproduce with seed=\(seed)")
            #expect(first == run(seed: seed), "reproduce with seed=\(seed)")
        }
    }

    @Test func staleCacheSabotageServesTheOldValueAfterInvalidationUntilTTL() {
        var harness = Harness { $0.ignoresInvalidation = true }
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        _ = harness.feed(.invalidate(resnet1), at: 100)
        #expect(
            harness.feed(.lookup(RequestID(2), resnet1), at: 9_999) == [.answer(RequestID(2), .hit(.record(record())))])
        #expect(
            harness.feed(.lookup(RequestID(3), resnet1), at: 10_000).first
                == .readStore(RegistryCacheReadID(2), resnet1))
        #expect(Sabotage(name: "stale-cache") == .staleCache)
    }

    @Test func hitRateCountsHitsOverLookups() {
        var harness = Harness()
        #expect(harness.cache.hitRate == .zero)
        _ = harness.fill(resnet1, with: .record(record()), request: 1, at: 0)
        for request in 2...4 as ClosedRange<UInt64> { _ = harness.feed(.lookup(RequestID(request), resnet1), at: 1) }
        #expect(harness.cache.hits == 3 && harness.cache.misses == 1)
        #expect(harness.cache.hitRate == .percent(75))
    }

    @Test func missesBeyondTheReadLimitAreAnsweredAsAnOutage() {
        var harness = Harness { $0.readsInFlightMax = 1 }
        _ = harness.feed(.lookup(RequestID(1), resnet1), at: 0)
        let refused = harness.feed(.lookup(RequestID(2), .version("resnet", 2)), at: 1)
        #expect(refused == [.answer(RequestID(2), .unavailable)])
    }

    @Test func writesInvalidateTheVersionAndTheServingSet() {
        let spec = record().spec
        #expect(RegistryCacheKey.affected(by: .create(spec, tenant: 1)) == [resnet1])
        let transition = RegistryCommand.transition(name: "resnet", version: 1, to: .serving, tenant: 1)
        #expect(RegistryCacheKey.affected(by: transition) == [resnet1, .serving("resnet")])
        #expect(RegistryCacheKey.affected(by: .get(name: "resnet", version: 1, tenant: 1)).isEmpty)
        #expect(RegistryCacheKey.serving("resnet") < resnet1 && resnet1 < .version("resnet", 2))
    }
}
