// The scheduler's order is the simulator's determinism: earliest time first, and among equal
// times the order of scheduling.

import PlatformCore
import Testing

@testable import Simulation

@Suite struct EventQueueTests {
    @Test func popsByTimeThenBySchedulingOrder() {
        var queue = EventQueue()
        queue.schedule(at: 30, .arrival(stream: 3))
        queue.schedule(at: 10, .arrival(stream: 1))
        queue.schedule(at: 20, .arrival(stream: 2))
        queue.schedule(at: 10, .arrival(stream: 4))
        var order: [Int] = []
        while let event = queue.popFirst() {
            if case .arrival(let stream) = event.event { order.append(stream) }
        }
        #expect(order == [1, 4, 2, 3])
    }

    @Test func randomSchedulesComeOutSorted() {
        for seed in UInt64(1)...50 {
            var random = SeededRandom(seed: seed)
            var queue = EventQueue()
            for index in 0..<500 { queue.schedule(at: Int64(random.below(UInt64(100))), .arrival(stream: index)) }
            var previous = ScheduledEvent(time: -1, sequence: 0, event: .deadlineSweep)
            while let event = queue.popFirst() {
                let ordered =
                    previous.time < event.time || (previous.time == event.time && previous.sequence < event.sequence)
                #expect(ordered, "reproduce with seed=\(seed)")
                previous = event
            }
        }
    }

    /// As in a run: pops and schedules interleave, every new event at or after the last popped one,
    /// many at the same instant; the order must be exactly (time, scheduling order).
    @Test func interleavedSchedulesMatchASortedReference() {
        for seed in UInt64(1)...10 {
            var random = SeededRandom(seed: seed)
            var queue = EventQueue()
            var reference: [(time: Int64, index: Int)] = []
            var scheduled = 0
            var now: Int64 = 0
            var popped: [Int] = []
            var expected: [Int] = []
            for _ in 0..<1_500 {
                let burst = random.below(4)
                for _ in 0..<burst {
                    let delay = random.chance(.percent(30)) ? 0 : Int64(random.below(1 << random.below(40)))
                    queue.schedule(at: now + delay, .arrival(stream: scheduled))
                    reference.append((now + delay, scheduled))
                    scheduled += 1
                }
                guard let next = queue.popFirst(), case .arrival(let index) = next.event else { continue }
                #expect(next.time >= now)
                now = next.time
                popped.append(index)
                let position = reference.indices.min {
                    (reference[$0].time, reference[$0].index) < (reference[$1].time, reference[$1].index)
                }!
                expected.append(reference.remove(at: position).index)
            }
            #expect(popped == expected, "reproduce with seed=\(seed)")
        }
    }
}
