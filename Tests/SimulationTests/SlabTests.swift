// The slab that parks values in flight: a value comes out of the slot it went into, freed slots are
// reused most recent first, and growing moves every live value intact.

import Testing

@testable import Simulation

/// Counts live instances, so a test can see values moved rather than copied or leaked.
private final class Tracked {
    nonisolated(unsafe) static var live = 0
    let value: Int
    init(_ value: Int) {
        self.value = value
        Tracked.live += 1
    }
    deinit { Tracked.live -= 1 }
}

@Suite struct SlabTests {
    @Test func valuesComeOutOfTheirSlotsAndFreedSlotsAreReused() {
        var slab = Slab<String>(capacity: 4)
        var slots: [Int] = []
        for value in ["a", "b", "c"] { slots.append(slab.insert(value)) }
        #expect(slots == [0, 1, 2] && slab.count == 3)
        let b = slab.remove(1)
        let a = slab.remove(0)
        #expect(b == "b" && a == "a" && slab.count == 1)
        let reused = [slab.insert("d"), slab.insert("e")]
        #expect(reused == [0, 1], "the slot freed last is reused first")
        let fresh = slab.insert("f")
        #expect(fresh == 3, "then new slots")
        #expect(slab.count == 4)
        var removed: [String] = []
        for slot in 0..<4 { removed.append(slab.remove(slot)) }
        #expect(removed == ["d", "e", "c", "f"])
        #expect(slab.count == 0)
    }

    @Test func growingKeepsEveryLiveValue() {
        var slab = Slab<[Int]>(capacity: 2)
        var expected: [Int: [Int]] = [:]
        for value in 0..<50 {
            let slot = slab.insert(Array(0...value))
            expected[slot] = Array(0...value)
            if value % 3 == 0, let oldest = expected.keys.min() {
                let removed = slab.remove(oldest)
                #expect(removed == expected.removeValue(forKey: oldest))
            }
        }
        #expect(slab.count == expected.count && expected.count == 33)
        for slot in expected.keys.sorted() {
            let removed = slab.remove(slot)
            #expect(removed == expected[slot], "slot \(slot)")
        }
        #expect(slab.count == 0)
    }

    @Test func valuesAreMovedNotCopiedAndReleasedWithTheSlab() {
        let before = Tracked.live
        do {
            var slab = Slab<Tracked>(capacity: 1)
            for value in 0..<10 { _ = slab.insert(Tracked(value)) }
            #expect(Tracked.live == before + 10)
            let removed = slab.remove(4).value
            #expect(removed == 4)
            #expect(Tracked.live == before + 9, "a removed value belongs to the caller")
        }
        #expect(Tracked.live == before, "values left in the slab are released with it")
    }
}
