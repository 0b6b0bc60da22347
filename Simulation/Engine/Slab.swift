// Storage for values in flight (scheduled events, batch messages): each is put in once and moved out
// once, by slot number, so a large value is never copied through an optional on its way out.

/// Values parked by slot. A slot is taken out exactly once; freed slots are reused, most recent first,
/// so the memory a run touches stays small and warm.
struct Slab<Element>: ~Copyable {
    private var storage: UnsafeMutablePointer<Element>
    private var capacity: Int
    /// Slots below this have been used; those not in `freeSlots` hold a value.
    private var highWater = 0
    private var freeSlots: [Int] = []

    init(capacity: Int = 1_024) {
        precondition(capacity > 0, "a slab needs room for one value")
        storage = .allocate(capacity: capacity)
        self.capacity = capacity
        freeSlots.reserveCapacity(capacity)
    }

    /// Values held.
    var count: Int { highWater - freeSlots.count }

    /// Parks a value; returns its slot.
    mutating func insert(_ element: consuming Element) -> Int {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            if highWater == capacity { grow() }
            slot = highWater
            highWater += 1
        }
        (storage + slot).initialize(to: element)
        return slot
    }

    /// Moves the value out of a slot that holds one.
    mutating func remove(_ slot: Int) -> Element {
        precondition(slot >= 0 && slot < highWater, "slot out of range")
        freeSlots.append(slot)
        return (storage + slot).move()
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        for slot in liveSlots() { (bigger + slot).moveInitialize(from: storage + slot, count: 1) }
        storage.deallocate()
        storage = bigger
        capacity *= 2
    }

    private func liveSlots() -> [Int] {
        var live = [Bool](repeating: true, count: highWater)
        for slot in freeSlots { live[slot] = false }
        return live.indices.filter { live[$0] }
    }

    deinit {
        for slot in liveSlots() { (storage + slot).deinitialize(count: 1) }
        storage.deallocate()
    }
}
