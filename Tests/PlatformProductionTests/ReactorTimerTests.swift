import PlatformCore
import Testing

@testable import PlatformProduction

@Suite struct ReactorTimerTests {
    /// Timers pushed in any order (in-order runs go to their target's lane, out-of-order ones to the heap) come
    /// out in (deadline, insertion order), as from a plain list searched for its minimum: checked pop by pop,
    /// with pops interleaved with pushes.
    @Test func timersFireInDeadlineThenInsertionOrder() {
        for seed in UInt64(1)...50 {
            var random = SeededRandom(seed: seed)
            var queue = TimerHeap()
            var reference: [(at: Int64, sequence: Int, id: UInt64)] = []
            var clock: Int64 = 0
            func popBoth() {
                let best = reference.indices.min {
                    (reference[$0].at, reference[$0].sequence) < (reference[$1].at, reference[$1].sequence)
                }
                let entry = queue.pop()
                guard let best else { return #expect(entry == nil, "seed \(seed)") }
                #expect(entry?.id == reference[best].id, "seed \(seed)")
                #expect(entry?.at == Instant(nanoseconds: reference[best].at), "seed \(seed)")
                reference.remove(at: best)
            }
            for step in 0..<600 {
                // Mostly "now + a fixed duration per target" (ties included), sometimes a deadline earlier than
                // the lane's last.
                let target = UInt32(random.below(4))
                clock += Int64(random.below(3))
                var at = clock + Int64(target) * 7
                if random.below(5) == 0 { at -= Int64(random.below(20)) }
                queue.push(at: Instant(nanoseconds: at), target: target, id: UInt64(step))
                reference.append((at, step, UInt64(step)))
                if random.below(3) == 0 { popBoth() }
            }
            #expect(queue.count == reference.count)
            while !reference.isEmpty { popBoth() }
            #expect(queue.pop() == nil)
            #expect(queue.count == 0)
        }
    }

    /// Only due timers are taken: a timer later than `now` stays, and is the next one out once it is due.
    @Test func onlyDueTimersArePopped() {
        var queue = TimerHeap()
        queue.push(at: Instant(nanoseconds: 50), target: 0, id: 1)
        queue.push(at: Instant(nanoseconds: 10), target: 1, id: 2)
        #expect(queue.pop(dueBy: Instant(nanoseconds: 9)) == nil)
        #expect(queue.pop(dueBy: Instant(nanoseconds: 10))?.id == 2)
        #expect(queue.pop(dueBy: Instant(nanoseconds: 49)) == nil)
        #expect(queue.first?.id == 1)
        #expect(queue.pop(dueBy: Instant(nanoseconds: 60))?.id == 1)
        #expect(queue.count == 0)
    }

    /// A reactor runs a timer set from its own thread, within the slack of its deadline, without any socket
    /// activity to wake it.
    @Test func reactorRunsTimersWithoutOtherEvents() throws {
        let reactor = try Reactor(index: 0)
        final class Recorder: ReactorTimerTarget, @unchecked Sendable {
            var fired: [(id: UInt64, at: Instant)] = []
            let done: () -> Void
            init(done: @escaping () -> Void) { self.done = done }
            func timerFired(_ id: UInt64, now: Instant) {
                fired.append((id, now))
                if fired.count == 2 { done() }
            }
        }
        let recorder = Recorder { reactor.stop() }
        let target = reactor.addTimerTarget(recorder)
        let start = Reactor.now()
        reactor.schedule(at: start + .milliseconds(30), target: target, id: 2)
        reactor.schedule(at: start + .milliseconds(10), target: target, id: 1)
        reactor.run()
        #expect(recorder.fired.map(\.id) == [1, 2])
        for (index, deadline) in [start + .milliseconds(10), start + .milliseconds(30)].enumerated() {
            #expect(recorder.fired[index].at >= deadline)
            #expect(recorder.fired[index].at - deadline < .milliseconds(500))
        }
    }
}
