// Transcripts of round-robin rotation, skipping and resizing, plus a seeded property against the definition:
// every pick is the first eligible index strictly after the previous one, going round.

import PlatformCore
import Testing

@Suite struct RoundRobinPickerTests {
    @Test func rotatesThroughEveryMemberInOrder() {
        var picker = RoundRobinPicker()
        let picks = (0..<7).map { _ in picker.pick(count: 3, isEligible: { _ in true }) }
        #expect(picks == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test func skipsMembersThatAreNotEligible() {
        var picker = RoundRobinPicker()
        let picks = (0..<5).map { _ in picker.pick(count: 4, isEligible: { $0 != 1 && $0 != 2 }) }
        #expect(picks == [0, 3, 0, 3, 0])
    }

    @Test func returnsNilWhenNoneIsEligibleOrThePoolIsEmpty() {
        var picker = RoundRobinPicker()
        #expect(picker.pick(count: 0, isEligible: { _ in true }) == nil)
        #expect(picker.pick(count: 3, isEligible: { _ in false }) == nil)
        #expect(picker.pick(count: 3, isEligible: { _ in true }) == 0)
    }

    @Test func continuesAfterThePreviousPickWhenThePoolShrinks() {
        var picker = RoundRobinPicker()
        for _ in 0..<5 { _ = picker.pick(count: 6, isEligible: { _ in true }) }
        #expect(picker.previous == 4)
        #expect(picker.pick(count: 3, isEligible: { _ in true }) == 0)
        #expect(picker.pick(count: 3, isEligible: { _ in true }) == 1)
        #expect(picker.pick(count: 5, isEligible: { _ in true }) == 2)
    }

    @Test func seededPropertyEachPickIsTheFirstEligibleAfterThePrevious() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed)
            var picker = RoundRobinPicker()
            var previous = -1
            var mismatches = 0
            for _ in 0..<200 {
                let count = random.below(9)
                let mask = random.next()
                let eligible: (Int) -> Bool = { mask & (1 << UInt64($0)) != 0 }
                var expected: Int? = nil
                let start = previous + 1 < count ? previous + 1 : 0
                for step in 0..<count where eligible((start + step) % count) {
                    expected = (start + step) % count
                    break
                }
                let picked = picker.pick(count: count, isEligible: eligible)
                if picked != expected { mismatches += 1 }
                if let picked { previous = picked }
            }
            #expect(mismatches == 0, "\(mismatches) picks differ from the definition; reproduce with seed=\(seed)")
        }
    }
}
