// The benchmark peer for the simulator: the same event queue driven with no world at all. Each
// popped event schedules one successor a random delay later, holding a population of pending
// events like a real run's. Its rate is the ceiling the full simulation is measured against.

import PlatformCore

/// A bare discrete-event loop, for `aiplatform bench`.
public enum SchedulerBaseline {
    /// Pops `events` events from a queue holding `population` pending ones; returns a checksum
    /// so the work cannot be optimised away.
    public static func run(events: Int, population: Int = 3_000, seed: UInt64 = 1) -> UInt64 {
        var queue = EventQueue()
        var random = SeededRandom(seed: seed)
        for index in 0..<population {
            queue.schedule(at: Int64(random.below(UInt64(1_000_000))), .arrival(stream: index))
        }
        var checksum: UInt64 = 0
        for _ in 0..<events {
            guard let next = queue.popFirst() else { break }
            checksum = checksum &+ next.sequence
            let delay = random.exponential(mean: .microseconds(500)).nanoseconds + 1
            queue.schedule(at: next.time + delay, next.event)
        }
        return checksum
    }
}
