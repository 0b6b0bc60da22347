// Transcripts of the integer EWMA, the in-flight penalty and power of two choices, plus a seeded property: the
// pick is always eligible, never the single worst of two or more eligible members, and in-flight counts add up.

import PlatformCore
import Testing

@Suite struct LeastLatencyPickerTests {
    static func everyone(_ member: Int) -> Bool { true }

    @Test func movingAverageGivesANewSampleTwentyPercent() {
        var picker = LeastLatencyPicker(memberCount: 2, configuration: LeastLatencyPicker.Configuration())
        #expect(picker.latency(of: 0) == .milliseconds(1))
        picker.record(member: 0, latency: .milliseconds(6))
        #expect(picker.latency(of: 0) == .milliseconds(2))
        picker.record(member: 0, latency: .milliseconds(2))
        #expect(picker.latency(of: 0) == .milliseconds(2))
        picker.record(member: 0, latency: .zero)
        #expect(picker.latency(of: 0) == .microseconds(1_600))
        picker.record(member: 1, latency: .nanoseconds(-5))
        #expect(picker.latency(of: 1) == .microseconds(800))
    }

    @Test func movingAverageConvergesExactlyOnASteadyLatency() {
        var configuration = LeastLatencyPicker.Configuration()
        configuration.initialLatency = .nanoseconds(1_000)
        var picker = LeastLatencyPicker(memberCount: 1, configuration: configuration)
        picker.record(member: 0, latency: .nanoseconds(1_004))
        #expect(picker.latency(of: 0) == .nanoseconds(1_001))
        for _ in 0..<10 { picker.record(member: 0, latency: .nanoseconds(1_004)) }
        #expect(picker.latency(of: 0) == .nanoseconds(1_004))
        for _ in 0..<10 { picker.record(member: 0, latency: .nanoseconds(996)) }
        #expect(picker.latency(of: 0) == .nanoseconds(996))
    }

    @Test func inFlightCallsCountAgainstAMember() {
        var picker = LeastLatencyPicker(memberCount: 2, configuration: LeastLatencyPicker.Configuration())
        var random = SeededRandom(seed: 7)
        let picks = (0..<4).map { _ in picker.pick(count: 2, isEligible: Self.everyone, random: &random) }
        #expect(picks == [0, 1, 0, 1])
        #expect(picker.inFlight(of: 0) == 2 && picker.inFlight(of: 1) == 2)
        picker.release(member: 1)
        #expect(picker.pick(count: 2, isEligible: Self.everyone, random: &random) == 1)
        picker.release(member: 0)
        picker.release(member: 0)
        picker.release(member: 0)
        #expect(picker.inFlight(of: 0) == 0)
        picker.record(member: 0, latency: .milliseconds(1))
        #expect(picker.inFlight(of: 0) == 0)
    }

    @Test func returnsNilWhenNoneIsEligibleAndTheOnlyEligibleOtherwise() {
        var picker = LeastLatencyPicker(memberCount: 5, configuration: LeastLatencyPicker.Configuration())
        var random = SeededRandom(seed: 3)
        #expect(picker.pick(count: 0, isEligible: Self.everyone, random: &random) == nil)
        #expect(picker.pick(count: 5, isEligible: { _ in false }, random: &random) == nil)
        for _ in 0..<20 { #expect(picker.pick(count: 5, isEligible: { $0 == 3 }, random: &random) == 3) }
        #expect(picker.inFlight(of: 3) == 20)
    }

    @Test func powerOfTwoChoicesRarelyPicksAMemberTenTimesSlower() {
        var picker = LeastLatencyPicker(memberCount: 4, configuration: LeastLatencyPicker.Configuration())
        var random = SeededRandom(seed: 11)
        var outstanding: [Int] = []
        var slowPicks = 0
        for _ in 0..<10_000 {
            guard let member = picker.pick(count: 4, isEligible: Self.everyone, random: &random) else { continue }
            if member == 3 { slowPicks += 1 }
            outstanding.append(member)
            if outstanding.count > 8 {
                let finished = outstanding.removeFirst()
                picker.record(member: finished, latency: finished == 3 ? .milliseconds(10) : .milliseconds(1))
            }
        }
        #expect(slowPicks < 2_000)
    }

    @Test func candidatesAreDrawnUniformlyFromTheEligibleOnly() {
        // Equal scores: the lower index of the pair wins, so of {1, 3, 5} member 1 wins 2/3, member 3 wins 1/3.
        var picker = LeastLatencyPicker(memberCount: 6, configuration: LeastLatencyPicker.Configuration())
        var random = SeededRandom(seed: 5)
        var wins = [0, 0, 0, 0, 0, 0]
        for _ in 0..<30_000 {
            let member = picker.pick(count: 6, isEligible: { $0 % 2 == 1 }, random: &random)!
            wins[member] += 1
            picker.release(member: member)
        }
        #expect(wins[0] == 0 && wins[2] == 0 && wins[4] == 0 && wins[5] == 0)
        #expect(abs(wins[1] - 20_000) < 600)
        #expect(abs(wins[3] - 10_000) < 600)
    }

    @Test func seededPropertyPicksAreEligibleNeverTheWorstAndInFlightAddsUp() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed)
            let memberCount = Int(random.between(1, 10))
            var picker = LeastLatencyPicker(memberCount: memberCount, configuration: LeastLatencyPicker.Configuration())
            var expectedInFlight = Array(repeating: 0, count: memberCount)
            var problems = 0
            for _ in 0..<300 {
                let count = Int(random.between(0, Int64(memberCount)))
                let mask = random.next() | random.next()
                let eligible: (Int) -> Bool = { mask & (1 << UInt64($0)) != 0 }
                let eligibleCount = (0..<count).filter(eligible).count
                let scores = (0..<memberCount).map {
                    max(1, picker.latency(of: $0).nanoseconds) * Int64(picker.inFlight(of: $0) + 1)
                }
                if let member = picker.pick(count: count, isEligible: eligible, random: &random) {
                    expectedInFlight[member] += 1
                    let others = (0..<count).filter { eligible($0) && $0 != member }
                    if !eligible(member) || member >= count { problems += 1 }
                    if eligibleCount >= 2 && others.allSatisfy({ scores[$0] < scores[member] }) { problems += 1 }
                } else if eligibleCount > 0 {
                    problems += 1
                }
                let finished = random.below(memberCount)
                if random.chance(.percent(50)) {
                    picker.record(member: finished, latency: .microseconds(random.between(0, 5_000)))
                } else {
                    picker.release(member: finished)
                }
                expectedInFlight[finished] = max(0, expectedInFlight[finished] - 1)
                let inFlight = (0..<memberCount).map { picker.inFlight(of: $0) }
                if inFlight != expectedInFlight { problems += 1 }
            }
            #expect(problems == 0, "\(problems) broken picks; reproduce with seed=\(seed)")
        }
    }
}
