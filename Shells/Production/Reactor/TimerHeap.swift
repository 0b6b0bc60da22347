// The reactor's pending timers, fired in (deadline, insertion order), so timers due at the same instant fire in
// the order they were set, as the simulator's scheduler does.
//
// Almost every timer is a guard set at `now + a fixed duration` (a request's deadline, an attempt's timeout), so
// the timers of one target arrive in deadline order. Each target therefore has a lane, a FIFO ring, that takes a
// timer in O(1) while its deadline is not earlier than the lane's last; only a timer that would break that order
// goes to a binary heap. Firing compares the heads of the lanes and the heap's top. Under load tens of thousands
// of guards are pending: in a heap each push and pop walks log2(n) scattered entries; in a lane it touches two.

import PlatformCore

struct TimerHeap {
    struct Entry {
        var at: Instant
        var sequence: UInt64
        var target: UInt32
        var id: UInt64

        func precedes(_ other: Entry) -> Bool {
            at != other.at ? at < other.at : sequence < other.sequence
        }
    }

    /// A FIFO of entries in deadline order: a ring whose capacity is a power of two.
    struct Lane {
        var ring: [Entry] = []
        var head = 0
        var count = 0

        var first: Entry? { count == 0 ? nil : ring[head] }
        var last: Entry? { count == 0 ? nil : ring[(head + count - 1) & (ring.count - 1)] }

        mutating func append(_ entry: Entry) {
            if count == ring.count { grow() }
            ring[(head + count) & (ring.count - 1)] = entry
            count += 1
        }

        mutating func removeFirst() -> Entry {
            let entry = ring[head]
            head = (head + 1) & (ring.count - 1)
            count -= 1
            if count == 0 { head = 0 }
            return entry
        }

        private mutating func grow() {
            let placeholder = Entry(at: .zero, sequence: 0, target: 0, id: 0)
            var larger = [Entry](repeating: placeholder, count: max(16, ring.count * 2))
            for offset in 0..<count { larger[offset] = ring[(head + offset) & (ring.count - 1)] }
            ring = larger
            head = 0
        }
    }

    private var heap: [Entry] = []
    private var lanes: [Lane] = []
    private var sequence: UInt64 = 0
    private(set) var count = 0

    /// The earliest timer, if any.
    var first: Entry? {
        var best = heap.first
        for lane in lanes {
            guard let head = lane.first else { continue }
            if best == nil || head.precedes(best!) { best = head }
        }
        return best
    }

    mutating func push(at: Instant, target: UInt32, id: UInt64) {
        sequence &+= 1
        count += 1
        let entry = Entry(at: at, sequence: sequence, target: target, id: id)
        let lane = Int(target)
        if lane >= lanes.count { lanes.append(contentsOf: repeatElement(Lane(), count: lane + 1 - lanes.count)) }
        // A later sequence breaks ties, so an entry not earlier than the lane's last keeps the lane in order.
        if let last = lanes[lane].last, at < last.at {
            pushHeap(entry)
        } else {
            lanes[lane].append(entry)
        }
    }

    /// Removes and returns the earliest timer.
    @discardableResult
    mutating func pop() -> Entry? { pop(dueBy: .distantFuture) }

    /// Removes and returns the earliest timer if it is due by `now`.
    mutating func pop(dueBy now: Instant) -> Entry? {
        var bestLane = -1
        var best = heap.first
        for index in lanes.indices {
            guard let head = lanes[index].first else { continue }
            if best == nil || head.precedes(best!) {
                best = head
                bestLane = index
            }
        }
        guard let best, best.at <= now else { return nil }
        count -= 1
        return bestLane >= 0 ? lanes[bestLane].removeFirst() : popHeap()
    }

    private mutating func pushHeap(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popHeap() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return top }
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var child = left
            if left + 1 < count && heap[left + 1].precedes(heap[left]) { child = left + 1 }
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            parent = child
        }
        return top
    }
}
