// The id table against a reference Dictionary under random inserts, updates and removals.

import Testing

@testable import PlatformCore

@Suite struct IdentifierTableTests {
    @Test func behavesLikeADictionary() {
        for seed in UInt64(1)...50 {
            var random = SeededRandom(seed: seed)
            var table = IdentifierTable<Int>()
            var reference: [UInt64: Int] = [:]
            for step in 0..<5_000 {
                let key = random.below(UInt64(300)) &* (seed % 3 == 0 ? 1 << 40 : 1)
                switch random.below(UInt64(3)) {
                case 0:
                    table[key] = step
                    reference[key] = step
                case 1:
                    #expect(
                        table.removeValue(forKey: key) == reference.removeValue(forKey: key),
                        "reproduce with seed=\(seed)")
                default: #expect(table[key] == reference[key], "reproduce with seed=\(seed)")
                }
                #expect(table.count == reference.count, "reproduce with seed=\(seed)")
            }
            for (key, value) in reference { #expect(table[key] == value, "reproduce with seed=\(seed)") }
        }
    }
}
