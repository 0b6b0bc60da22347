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
}
