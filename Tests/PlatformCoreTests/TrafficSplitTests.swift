// Transcripts of weighted and sticky version choice, including the sabotage switch, plus a seeded property:
// random splits keep keys sticky, never choose a zero-weight version, and land within their statistical bounds.

import PlatformCore
import Testing

@Suite struct TrafficSplitTests {
    static let canary = TrafficSplit(entries: [
        TrafficSplit.Entry(version: 1, weight: 90), TrafficSplit.Entry(version: 2, weight: 10),
    ])

    @Test func randomDrawsFollowTheWeightsOver100000Draws() {
        var random = SeededRandom(seed: 42)
        var canaryCount = 0
        for _ in 0..<100_000 where Self.canary.choose(stickyKey: nil, random: &random) == 2 { canaryCount += 1 }
        // The standard deviation is about 95; allow five of them.
        #expect(abs(canaryCount - 10_000) < 475)
    }

    @Test func stickyKeysAlwaysGetTheSameVersionAndSpreadByWeight() {
        var random = SeededRandom(seed: 1)
        var canaryCount = 0
        for key in UInt64(1)...100_000 {
            let version = Self.canary.choose(stickyKey: key, random: &random)
            #expect(Self.canary.choose(stickyKey: key, random: &random) == version)
            if version == 2 { canaryCount += 1 }
        }
        #expect(abs(canaryCount - 10_000) < 475)
    }

    @Test func stickyChoiceDrawsNothingFromTheRandomSource() {
        var random = SeededRandom(seed: 9)
        let before = random
        _ = Self.canary.choose(stickyKey: 12_345, random: &random)
        #expect(random == before)
    }

    @Test func aSmallWeightChangeMovesFewKeys() {
        let shifted = TrafficSplit(entries: [
            TrafficSplit.Entry(version: 1, weight: 89), TrafficSplit.Entry(version: 2, weight: 11),
        ])
        var random = SeededRandom(seed: 1)
        var moved = 0
        for key in UInt64(1)...20_000
        where Self.canary.choose(stickyKey: key, random: &random) != shifted.choose(stickyKey: key, random: &random) {
            moved += 1
        }
        // About 1% of keys (200) should move; a scheme that rehashes would move about 18%.
        #expect(moved > 100 && moved < 320)
    }

    @Test func zeroWeightVersionsGetNothing() {
        let split = TrafficSplit(entries: [
            TrafficSplit.Entry(version: 7, weight: 0), TrafficSplit.Entry(version: 8, weight: 3),
            TrafficSplit.Entry(version: 9, weight: 0),
        ])
        var random = SeededRandom(seed: 2)
        for key in UInt64(1)...2_000 {
            #expect(split.choose(stickyKey: key, random: &random) == 8)
            #expect(split.choose(stickyKey: nil, random: &random) == 8)
        }
        #expect(split.entries.map(\.version) == [7, 8, 9])
    }

    @Test func ignoresWeightsSplitsUniformlySoOraclesCanCatchIt() {
        let sabotaged = TrafficSplit(entries: Self.canary.entries, ignoresWeights: true)
        var random = SeededRandom(seed: 4)
        var randomCanary = 0
        var stickyCanary = 0
        for key in UInt64(1)...100_000 {
            if sabotaged.choose(stickyKey: nil, random: &random) == 2 { randomCanary += 1 }
            if sabotaged.choose(stickyKey: key, random: &random) == 2 { stickyCanary += 1 }
        }
        #expect(abs(randomCanary - 50_000) < 1_000)
        #expect(abs(stickyCanary - 50_000) < 1_000)
    }

    @Test func seededPropertySplitsStayStickyAndWithinBounds() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed)
            let entryCount = Int(random.between(1, 5))
            var entries = (0..<entryCount).map { TrafficSplit.Entry(version: $0 + 1, weight: random.between(0, 100)) }
            if entries.allSatisfy({ $0.weight == 0 }) { entries[0].weight = 1 }
            let total = entries.reduce(0) { $0 + $1.weight }
            let split = TrafficSplit(entries: entries)
            var counts = Array(repeating: 0, count: entryCount + 1)
            var problems = 0
            let draws = 2_000
            for _ in 0..<draws {
                let key = random.next()
                let sticky = split.choose(stickyKey: key, random: &random)
                if split.choose(stickyKey: key, random: &random) != sticky { problems += 1 }
                if entries[sticky - 1].weight == 0 { problems += 1 }
                counts[split.choose(stickyKey: nil, random: &random)] += 1
            }
            for entry in entries {
                // Binomial bound: |observed - expected| <= 6 standard deviations (variance <= n/4), and zero for 0.
                let expected = Int64(draws) * entry.weight / total
                let deviation = abs(Int64(counts[entry.version]) - expected)
                if entry.weight == 0 ? counts[entry.version] != 0 : deviation * deviation > 36 * Int64(draws) / 4 {
                    problems += 1
                }
            }
            #expect(problems == 0, "\(problems) broken choices for \(entries); reproduce with seed=\(seed)")
        }
    }
}
