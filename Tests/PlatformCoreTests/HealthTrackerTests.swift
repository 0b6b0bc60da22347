// Transcripts of outlier ejection: the failure run, readmission, doubling backoff and its reset, the ejected-share
// cap and the sabotage switch, plus a seeded property that the cap and the readmission times always hold.

import PlatformCore
import Testing

@Suite struct HealthTrackerTests {
    static func at(seconds: Int64) -> Instant { Instant(nanoseconds: seconds * 1_000_000_000) }

    static func fail(_ tracker: inout HealthTracker, member: Int, times: Int, now: Instant) -> HealthTracker.Event? {
        var last: HealthTracker.Event? = nil
        for _ in 0..<times { last = tracker.recordFailure(member: member, now: now) }
        return last
    }

    static func advance(_ tracker: inout HealthTracker, to now: Instant) -> [HealthTracker.Event] {
        var events: [HealthTracker.Event] = []
        tracker.advance(now: now, into: &events)
        return events
    }

    @Test func fiveFailuresInARowEjectForTenSecondsThenReadmit() {
        var tracker = HealthTracker(memberCount: 4, configuration: HealthTracker.Configuration())
        #expect(Self.fail(&tracker, member: 2, times: 4, now: Self.at(seconds: 1)) == nil)
        let ejection = tracker.recordFailure(member: 2, now: Self.at(seconds: 1))
        #expect(ejection == .ejected(member: 2, until: Self.at(seconds: 11)))
        #expect(!tracker.isAvailable(2) && tracker.ejectedCount == 1)
        #expect(tracker.recordFailure(member: 2, now: Self.at(seconds: 2)) == nil)
        #expect(Self.advance(&tracker, to: Self.at(seconds: 11) - .nanoseconds(1)) == [])
        #expect(Self.advance(&tracker, to: Self.at(seconds: 11)) == [.readmitted(member: 2)])
        #expect(tracker.isAvailable(2) && tracker.ejectedCount == 0)
        #expect(Self.advance(&tracker, to: Self.at(seconds: 12)) == [])
    }

    @Test func aSuccessEndsTheFailureRun() {
        var tracker = HealthTracker(memberCount: 2, configuration: HealthTracker.Configuration())
        #expect(Self.fail(&tracker, member: 0, times: 4, now: .zero) == nil)
        tracker.recordSuccess(member: 0, now: .zero)
        #expect(Self.fail(&tracker, member: 0, times: 4, now: .zero) == nil)
        #expect(tracker.recordFailure(member: 0, now: .zero) == .ejected(member: 0, until: Self.at(seconds: 10)))
    }

    @Test func ejectionsInARowDoubleUpToTheCapAndResetAfterStayingIn() {
        var tracker = HealthTracker(memberCount: 2, configuration: HealthTracker.Configuration())
        var now = Self.at(seconds: 0)
        var lengths: [Int64] = []
        for _ in 0..<6 {
            guard case .ejected(_, let until) = Self.fail(&tracker, member: 1, times: 5, now: now) else {
                Issue.record("expected an ejection")
                return
            }
            lengths.append((until - now).nanoseconds / 1_000_000_000)
            now = until
            #expect(Self.advance(&tracker, to: now) == [.readmitted(member: 1)])
        }
        #expect(lengths == [10, 20, 40, 80, 120, 120])
        // In for just under the cap: the streak continues.
        now = now + .seconds(119)
        #expect(Self.fail(&tracker, member: 1, times: 5, now: now) == .ejected(member: 1, until: now + .seconds(120)))
        now = now + .seconds(120)
        _ = Self.advance(&tracker, to: now)
        // In for the full cap: back to the base duration.
        now = now + .seconds(120)
        #expect(Self.fail(&tracker, member: 1, times: 5, now: now) == .ejected(member: 1, until: now + .seconds(10)))
    }

    @Test func theEjectedShareNeverExceedsTheCap() {
        var tracker = HealthTracker(memberCount: 4, configuration: HealthTracker.Configuration())
        #expect(Self.fail(&tracker, member: 0, times: 5, now: .zero) != nil)
        #expect(Self.fail(&tracker, member: 1, times: 5, now: .zero) != nil)
        #expect(Self.fail(&tracker, member: 2, times: 5, now: .zero) == nil)
        #expect(tracker.ejectedCount == 2 && tracker.isAvailable(2))
        // Once a member is back the pending run ejects on its next failure.
        _ = Self.advance(&tracker, to: Self.at(seconds: 10))
        #expect(tracker.recordFailure(member: 2, now: Self.at(seconds: 10)) != nil)
    }

    @Test func oneMemberMayAlwaysGoButNeverTheLastAvailable() {
        var three = HealthTracker(memberCount: 3, configuration: HealthTracker.Configuration())
        #expect(Self.fail(&three, member: 0, times: 5, now: .zero) != nil)
        #expect(Self.fail(&three, member: 1, times: 5, now: .zero) == nil)
        var configuration = HealthTracker.Configuration()
        configuration.ejectedRatioMax = .zero
        var two = HealthTracker(memberCount: 2, configuration: configuration)
        #expect(Self.fail(&two, member: 0, times: 5, now: .zero) != nil)
        configuration.ejectedRatioMax = .one
        var twoAll = HealthTracker(memberCount: 2, configuration: configuration)
        #expect(Self.fail(&twoAll, member: 0, times: 5, now: .zero) != nil)
        #expect(Self.fail(&twoAll, member: 1, times: 50, now: .zero) == nil)
        var one = HealthTracker(memberCount: 1, configuration: configuration)
        #expect(Self.fail(&one, member: 0, times: 50, now: .zero) == nil)
        #expect(one.isAvailable(0))
    }

    @Test func neverReadmitsKeepsEjectedMembersOutForever() {
        var configuration = HealthTracker.Configuration()
        configuration.neverReadmits = true
        var tracker = HealthTracker(memberCount: 3, configuration: configuration)
        let ejection = Self.fail(&tracker, member: 1, times: 5, now: .zero)
        #expect(ejection == .ejected(member: 1, until: Self.at(seconds: 10)))
        #expect(Self.advance(&tracker, to: Self.at(seconds: 1_000_000)) == [])
        #expect(!tracker.isAvailable(1))
    }

    @Test func seededPropertyCapAndReadmissionTimesHold() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed)
            let memberCount = Int(random.between(1, 8))
            var configuration = HealthTracker.Configuration()
            configuration.consecutiveFailuresToEject = Int(random.between(1, 4))
            configuration.ejectedRatioMax = Ratio(partsPerMillion: random.between(0, 1_000_000))
            var tracker = HealthTracker(memberCount: memberCount, configuration: configuration)
            let allowed = max(1, Int(configuration.ejectedRatioMax.of(Int64(memberCount))))
            var until = Array(repeating: Instant.distantFuture, count: memberCount)
            var now = Instant.zero
            var events: [HealthTracker.Event] = []
            var problems = 0
            for _ in 0..<400 {
                now = now + .milliseconds(random.between(0, 3_000))
                let member = random.below(memberCount)
                if random.chance(.percent(70)) {
                    if case .ejected(let ejected, let end) = tracker.recordFailure(member: member, now: now) {
                        until[ejected] = end
                    }
                } else {
                    tracker.recordSuccess(member: member, now: now)
                }
                events.removeAll(keepingCapacity: true)
                tracker.advance(now: now, into: &events)
                for case .readmitted(let back) in events where until[back] > now { problems += 1 }
                for member in 0..<memberCount where !tracker.isAvailable(member) && until[member] <= now {
                    problems += 1
                }
                let out = (0..<memberCount).filter { !tracker.isAvailable($0) }.count
                if out != tracker.ejectedCount || (memberCount >= 1 && out > min(allowed, memberCount - 1)) {
                    problems += 1
                }
            }
            #expect(problems == 0, "\(problems) broken invariants; reproduce with seed=\(seed)")
        }
    }
}
