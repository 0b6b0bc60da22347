// The reactor's pending timers: a binary min-heap on (deadline, insertion order), so timers due at the same
// instant fire in the order they were set, as the simulator's scheduler does.

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

    private var entries: [Entry] = []
    private var sequence: UInt64 = 0

    var count: Int { entries.count }
    var first: Entry? { entries.first }

    mutating func push(at: Instant, target: UInt32, id: UInt64) {
        sequence &+= 1
        entries.append(Entry(at: at, sequence: sequence, target: target, id: id))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        guard !entries.isEmpty else { return top }
        entries[0] = last
        var parent = 0
        let count = entries.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var child = left
            if left + 1 < count && entries[left + 1].precedes(entries[left]) { child = left + 1 }
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            parent = child
        }
        return top
    }
}
