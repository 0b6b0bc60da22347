// The discrete-event scheduler's queue: a min-heap ordered by (virtual time, sequence number). The
// sequence number is the scheduling order, so two events at the same instant always run in the
// order they were scheduled: the one tie-break that keeps a run bit-identical.

import PlatformCore

/// Every message of the synchronous inference path that crosses the simulated network.
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
    /// Backend -> orchestrator or batch worker.
    case callReply(BackendReply)
    /// The rarer messages of the limiter store, the key store and the registry, boxed: the
    /// synchronous path's messages stay few and small, so moving one stays cheap.
    case control(ControlMessage)
}

/// Messages to and from the limiter store, the key store and the registry store.
enum Control {
    /// Gateway -> shared limiter store.
    case limitCheck(LimitCheck)
    /// Shared limiter store -> gateway.
    case limitAnswer(LimitAnswer)
    /// Key store -> gateway: changed API keys and signing keys.
    case authUpdate(AuthUpdate)
    /// Gateway's registry cache -> registry store: read a key.
    case registryRead(RegistryCacheReadID, RegistryCacheKey)
    /// Registry store -> gateway's registry cache.
    case registryReply(RegistryStoreAnswer)
    /// Registry store -> gateway's registry cache: a write touching this key was acknowledged.
    case registryInvalidate(RegistryCacheKey)
    /// Operator -> registry store.
    case registryWrite(RegistryWrite)
}

/// A control message in flight (a class, so `Message` carries one word for it).
final class ControlMessage {
    let body: Control
    init(_ body: Control) { self.body = body }
}

/// Every message of the batch path. Its payloads (job records, commands) are large, so they wait in
/// the simulator's own slab while in flight and the event carries only the slot: the synchronous
/// path's events stay small, and no message costs an allocation.
enum BatchMessage {
    /// Client -> gateway: `POST /v1/batch`.
    case batchSubmit(BatchSubmission)
    /// Client -> gateway: `GET /v1/jobs/{id}`.
    case jobGet(RequestID, credential: String, JobID)
    /// Client -> gateway: cancel a job.
    case jobCancel(RequestID, credential: String, JobID)
    /// Gateway -> client: the batch API's answer.
    case batchResponse(RequestID, BatchOutcome)
    /// Gateway or worker -> job store.
    case storeCommand(StoreRequestID, JobStoreCommand)
    /// Job store -> gateway or worker.
    case storeReply(StoreRequestID, JobStoreReply)
    /// Job store -> gateway or worker: no answer (outage, or the outcome was lost).
    case storeFailure(StoreRequestID, StoreFailure)
    /// Gateway -> broker: append a batch of job messages to one partition.
    case publish(batch: UInt64, PartitionID, [JobID])
    /// Broker -> gateway.
    case publishAck(batch: UInt64, succeeded: Bool)
    /// Worker -> broker.
    case fetch(PartitionID, maxRecords: Int)
    /// Broker -> worker.
    case records(PartitionID, [JobMessage])
    /// Worker -> broker.
    case commit(PartitionID, nextOffset: Int64)
    /// Broker -> worker: the partitions it now owns.
    case assigned([PartitionID])
    /// Broker -> worker: give these partitions up.
    case revoked([PartitionID])
    /// Worker -> broker: revoked partitions released.
    case revocationDone([PartitionID])
    /// Worker -> object store.
    case putObject(PutID, ResultLocation, bytes: Int)
    /// Object store -> worker.
    case putAck(PutID, succeeded: Bool)
    /// Collector -> object store: list result objects after a key.
    case listObjects(UInt64, after: ResultLocation?, limit: Int)
    /// Object store -> collector.
    case objectsListed(UInt64, [ResultLocation], complete: Bool)
    /// Collector -> object store (unanswered).
    case deleteObject(ResultLocation)
}

/// Something that happens at an instant of simulated (global) time.
enum Event {
    /// The next request of a workload stream arrives at the client.
    case arrival(stream: Int)
    /// A message reaches its destination node.
    case deliver(from: Int, to: Int, Message)
    /// A batch-path message reaches its destination node; the message waits in the queue's delivery slab
    /// (`EventQueue.takeDelivery`).
    case deliverBatch(from: Int, to: Int, slot: Int)
    /// A timer a node set fires.
    case timer(node: Int, TimerID)
    /// A backend finishes serving a call (ignored if the backend crashed since: epoch changed).
    case serviceDone(backend: Int, epoch: UInt32, call: CallID, replyTo: Int)
    /// A fault window opens or closes.
    case fault(index: Int, starting: Bool)
    /// The client checks requests whose answer is overdue.
    case deadlineSweep
    /// The next batch job of a job stream is submitted.
    case jobArrival(stream: Int)
    /// The client polls (or cancels, or resubmits) one of its jobs: index into its job list.
    case jobFollowUp(clientJob: Int, kind: FollowUp)
    /// A timer of a gateway's batch frontend fires.
    case frontendTimer(gateway: Int, TimerID)
    /// A batch worker's timer fires (ignored if the worker restarted since: epoch changed).
    case workerTimer(worker: Int, epoch: UInt32, TimerID)
    /// The broker gives up on a silent worker (if it did not come back since: epoch unchanged).
    case sessionExpired(worker: Int, epoch: UInt32)
    /// The broker stops waiting for revocations of rebalance `generation` and assigns.
    case rebalanceDeadline(generation: Int)
    /// A timer of the result-object collector fires.
    case collectorTimer(TimerID)
    /// A step of the scenario's key rotation: 0 rotate, 1 clients switch, 2 the old signing key goes.
    case authStep(Int)
    /// A gateway resolves model metadata; the operator writes to the registry; a gateway's cache timer.
    case registryLookup
    case registryWrite
    case registryTimer(gateway: Int)
}

/// What a batch client does later about one of its jobs.
enum FollowUp: UInt8 {
    case poll, cancel, duplicate, conflicting
    /// Read a job of another tenant with the client's own credential (must be 404).
    case probe
}

/// A batch message in flight with its link: kept together, so a delivery touches one slot.
struct BatchDelivery {
    var from: Int32
    var to: Int32
    var message: BatchMessage
}

struct ScheduledEvent {
    var time: Int64
    var sequence: UInt64
    var event: Event
}

/// A min-heap of scheduled events, four children per node (half the levels of a binary heap). The
/// heap holds only plain 16-byte entries, so a node's four children share one cache line; payloads
/// wait in a slab of reusable slots, moved once in and once out. The heap lives in memory the queue
/// owns (no array: no uniqueness or bounds checks per step), and an entry compares as one 128-bit key.
///
/// Batch deliveries, most of a batch run's events, skip the event slab: their entry names a slot of the
/// delivery slab, where the message waits with its link, so delivering one reads one slot, not two.
struct EventQueue: ~Copyable {
    /// The sequence number (high 39 bits), whether the payload is a batch delivery (1 bit) and the payload
    /// slot (low 24 bits) share one word: sequence numbers are unique, so ordering by the word orders by
    /// sequence.
    struct Entry {
        var time: Int64
        var order: UInt64
        var sequence: UInt64 { order >> 25 }
        var isDelivery: Bool { order & 1 << 24 != 0 }
        var slot: Int { Int(order & 0xFF_FFFF) }
        /// (time, order) as one unsigned number: the time's sign bit flipped, so signed order survives.
        @inline(__always) var key: UInt128 {
            UInt128(UInt64(bitPattern: time) ^ 1 << 63) << 64 | UInt128(order)
        }
    }

    private var heap: UnsafeMutablePointer<Entry>
    private var heapCapacity: Int
    private(set) var count = 0
    private var payloads = Slab<Event>(capacity: 4_096)
    private var deliveries = Slab<BatchDelivery>(capacity: 1_024)
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { count == 0 }

    init() {
        heapCapacity = 4_096
        heap = .allocate(capacity: heapCapacity)
    }

    deinit { heap.deallocate() }

    @inline(__always) static func before(_ a: Entry, _ b: Entry) -> Bool { a.key < b.key }

    mutating func schedule(at time: Int64, _ event: consuming Event) {
        let slot = payloads.insert(event)
        push(time: time, slot: slot, isDelivery: false)
    }

    /// Schedules the delivery of a batch message; it comes out as `.deliverBatch`, whose slot
    /// `takeDelivery` empties.
    mutating func scheduleDelivery(at time: Int64, from: Int, to: Int, _ message: consuming BatchMessage) {
        let slot = deliveries.insert(BatchDelivery(from: Int32(from), to: Int32(to), message: message))
        push(time: time, slot: slot, isDelivery: true)
    }

    /// Moves a delivered batch message out of its slot (once, right after its `.deliverBatch` came out).
    mutating func takeDelivery(_ slot: Int) -> BatchMessage {
        deliveries.remove(slot).message
    }

    @inline(__always) private mutating func push(time: Int64, slot: Int, isDelivery: Bool) {
        nextSequence &+= 1
        precondition(nextSequence < 1 << 39, "more than 2^39 events scheduled")
        precondition(slot < 1 << 24, "more than 2^24 events pending")
        if count == heapCapacity { growHeap() }
        let item = Entry(time: time, order: nextSequence << 25 | (isDelivery ? 1 << 24 : 0) | UInt64(slot))
        var child = count
        count += 1
        while child > 0 {
            let parent = (child - 1) >> 2
            if !EventQueue.before(item, heap[parent]) { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = item
    }

    mutating func popFirst() -> ScheduledEvent? {
        guard count > 0 else { return nil }
        let sequence = heap[0].sequence
        let time = heap[0].time
        return ScheduledEvent(time: time, sequence: sequence, event: removeFirst())
    }

    /// When the earliest event is due; the queue must not be empty.
    var earliestTime: Int64 {
        precondition(count > 0, "an empty queue has no earliest event")
        return heap[0].time
    }

    /// Takes the earliest event out; the queue must not be empty. The run loop uses this rather than
    /// `popFirst`: a large optional comes with a generic destroy for every event.
    mutating func removeFirst() -> Event {
        precondition(count > 0, "an empty queue has no earliest event")
        let first = heap[0]
        count -= 1
        if count > 0 { siftDown(heap[count]) }
        guard first.isDelivery else { return payloads.remove(first.slot) }
        let link = deliveries.peek(first.slot) { (from: $0.from, to: $0.to) }
        return .deliverBatch(from: Int(link.from), to: Int(link.to), slot: first.slot)
    }

    /// Puts `last` (the entry that left the end) into the hole at the root, moving smaller children up.
    /// Keys are unique, so whichever way the smallest child is found, the heap and the order are the same.
    @inline(__always) private mutating func siftDown(_ last: Entry) {
        let lastKey = last.key
        var parent = 0
        while true {
            let first = 4 &* parent &+ 1
            if first >= count { break }
            var child = first
            var childKey = heap[first].key
            if first &+ 3 < count {
                // All four children: a two-round tournament, so the comparisons do not wait on each other.
                let key1 = heap[first &+ 1].key
                let key2 = heap[first &+ 2].key
                let key3 = heap[first &+ 3].key
                if key1 < childKey {
                    child = first &+ 1
                    childKey = key1
                }
                var other = first &+ 2
                var otherKey = key2
                if key3 < otherKey {
                    other = first &+ 3
                    otherKey = key3
                }
                if otherKey < childKey {
                    child = other
                    childKey = otherKey
                }
            } else {
                var candidate = first &+ 1
                while candidate < count {
                    let candidateKey = heap[candidate].key
                    if candidateKey < childKey {
                        child = candidate
                        childKey = candidateKey
                    }
                    candidate &+= 1
                }
            }
            if !(childKey < lastKey) { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
    }

    private mutating func growHeap() {
        let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: heapCapacity * 2)
        bigger.moveInitialize(from: heap, count: count)
        heap.deallocate()
        heap = bigger
        heapCapacity *= 2
    }
}
