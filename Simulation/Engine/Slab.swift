// Storage for values in flight (scheduled events, batch messages): each is put in once and moved out
// once, by slot number, so a large value is never copied through an optional on its way out. The free
// slots are a plain stack in memory the slab owns, so parking and taking a value touch no array (no
// uniqueness checks, no generic collection code on the simulator's hottest path).

/// Values parked by slot. A slot is taken out exactly once; freed slots are reused, most recent first,
/// so the memory a run touches stays small and warm.
struct Slab<Element>: ~Copyable {
    private var storage: UnsafeMutablePointer<Element>
    /// Freed slots, the most recent last; room for `capacity` of them.
    private var freeSlots: UnsafeMutablePointer<Int>
    private var freeCount = 0
    private var capacity: Int
    /// Slots below this have been used; those not in `freeSlots` hold a value.
    private var highWater = 0

    init(capacity: Int = 1_024) {
        precondition(capacity > 0, "a slab needs room for one value")
        storage = .allocate(capacity: capacity)
        freeSlots = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    /// Values held.
    var count: Int { highWater - freeCount }

    /// Parks a value; returns its slot.
    @inline(__always) mutating func insert(_ element: consuming Element) -> Int {
        let slot: Int
        if freeCount > 0 {
            freeCount -= 1
            slot = freeSlots[freeCount]
        } else {
            if highWater == capacity { grow() }
            slot = highWater
            highWater += 1
        }
        (storage + slot).initialize(to: element)
        return slot
    }

    /// Moves the value out of a slot that holds one.
    @inline(__always) mutating func remove(_ slot: Int) -> Element {
        precondition(slot >= 0 && slot < highWater, "slot out of range")
        // Never overflows: a slot is freed only while it holds a value, so at most `highWater` are free.
        freeSlots[freeCount] = slot
        freeCount += 1
        return (storage + slot).move()
    }

    /// Reads part of the value in a slot that holds one, leaving the value where it is.
    @inline(__always) func peek<Part>(_ slot: Int, _ part: (borrowing Element) -> Part) -> Part {
        precondition(slot >= 0 && slot < highWater, "slot out of range")
        return part((storage + slot).pointee)
    }

    private mutating func grow() {
        let live = liveSlots()
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        for slot in live { (bigger + slot).moveInitialize(from: storage + slot, count: 1) }
        storage.deallocate()
        storage = bigger
        let biggerFree = UnsafeMutablePointer<Int>.allocate(capacity: capacity * 2)
        biggerFree.moveInitialize(from: freeSlots, count: freeCount)
        freeSlots.deallocate()
        freeSlots = biggerFree
        capacity *= 2
    }

    private func liveSlots() -> [Int] {
        var live = [Bool](repeating: true, count: highWater)
        for index in 0..<freeCount { live[freeSlots[index]] = false }
        return live.indices.filter { live[$0] }
    }

    deinit {
        for slot in liveSlots() { (storage + slot).deinitialize(count: 1) }
        storage.deallocate()
        freeSlots.deallocate()
    }
}
