// The discrete-event scheduler's queue: a binary min-heap ordered by (virtual time, sequence
// number). The sequence number is the scheduling order, so two events at the same instant always
// run in the order they were scheduled: the one tie-break that keeps a run bit-identical.

import PlatformCore

/// Every message that crosses the simulated network.
enum Message {
    /// Client -> gateway.
    case request(InferenceRequest)
    /// Gateway -> client.
    case response(InferenceResponse)
    /// Gateway -> router.
    case route(RouteRequest, gateway: Int)
    /// Router -> gateway.
    case routeReply(RouteReply)
    /// Router -> orchestrator.
    case execute(ExecuteRequest)
    /// Orchestrator -> router.
    case executeReply(ExecuteReply)
    /// Orchestrator -> backend.
    case call(BackendCall)
    /// Backend -> orchestrator.
    case callReply(BackendReply)
}

/// Something that happens at an instant of simulated (global) time.
enum Event {
    /// The next request of a workload stream arrives at the client.
    case arrival(stream: Int)
    /// A message reaches its destination node.
    case deliver(from: Int, to: Int, Message)
    /// A timer a node set fires.
    case timer(node: Int, TimerID)
    /// A backend finishes serving a call (ignored if the backend crashed since: epoch changed).
    case serviceDone(backend: Int, epoch: UInt32, call: CallID, replyTo: Int)
    /// A fault window opens or closes.
    case fault(index: Int, starting: Bool)
    /// The client checks requests whose answer is overdue.
    case deadlineSweep
}

struct ScheduledEvent {
    var time: Int64
    var sequence: UInt64
    var event: Event
}

/// A min-heap of scheduled events. The heap itself holds only plain (time, sequence, slot)
/// entries, cheap to move; payloads wait in a slab of reusable slots, moved once in and once out.
struct EventQueue {
    struct Entry {
        var time: Int64
        var sequence: UInt64
        var slot: Int32
    }

    private var heap: [Entry] = []
    private var payloads: [Event?] = []
    private var freeSlots: [Int32] = []
    private var nextSequence: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    init() {
        heap.reserveCapacity(4_096)
        payloads.reserveCapacity(4_096)
    }

    @inline(__always) static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.time < b.time || (a.time == b.time && a.sequence < b.sequence)
    }

    mutating func schedule(at time: Int64, _ event: Event) {
        nextSequence &+= 1
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            payloads[Int(free)] = event
        } else {
            slot = Int32(payloads.count)
            payloads.append(event)
        }
        heap.append(Entry(time: time, sequence: nextSequence, slot: slot))
        var child = heap.count - 1
        heap.withUnsafeMutableBufferPointer { heap in
            let item = heap[child]
            while child > 0 {
                let parent = (child - 1) >> 1
                if !EventQueue.before(item, heap[parent]) { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = item
        }
    }

    mutating func popFirst() -> ScheduledEvent? {
        guard !heap.isEmpty else { return nil }
        let first = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap.withUnsafeMutableBufferPointer { heap in
                let count = heap.count
                var parent = 0
                while true {
                    var child = 2 * parent + 1
                    if child >= count { break }
                    if child + 1 < count && EventQueue.before(heap[child + 1], heap[child]) { child += 1 }
                    if !EventQueue.before(heap[child], last) { break }
                    heap[parent] = heap[child]
                    parent = child
                }
                heap[parent] = last
            }
        }
        let event = payloads[Int(first.slot)].take()!
        freeSlots.append(first.slot)
        return ScheduledEvent(time: first.time, sequence: first.sequence, event: event)
    }

    var firstTime: Int64? { heap.first?.time }
}
