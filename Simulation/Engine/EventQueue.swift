// The discrete-event scheduler's queue: a binary min-heap ordered by (virtual time, sequence
// number). The sequence number is the scheduling order, so two events at the same instant always
// run in the order they were scheduled: the one tie-break that keeps a run bit-identical.

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
}

/// Every message of the batch path. Boxed (`indirect`): its payloads (job records, commands) are
/// large, and kept apart from `Message` so the synchronous path's events stay small and cheap to
/// copy.
indirect enum BatchMessage {
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
    /// Gateway -> broker: append a job message.
    case publish(JobID, PartitionID)
    /// Broker -> gateway.
    case publishAck(JobID, succeeded: Bool)
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
}

/// Something that happens at an instant of simulated (global) time.
enum Event {
    /// The next request of a workload stream arrives at the client.
    case arrival(stream: Int)
    /// A message reaches its destination node.
    case deliver(from: Int, to: Int, Message)
    /// A batch-path message reaches its destination node.
    case deliverBatch(from: Int, to: Int, BatchMessage)
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
}

/// What a batch client does later about one of its jobs.
enum FollowUp: UInt8 {
    case poll, cancel, duplicate, conflicting
}

struct ScheduledEvent {
    var time: Int64
    var sequence: UInt64
    var event: Event
}

/// A min-heap of scheduled events, four children per node (half the levels of a binary heap and
/// its children side by side in one cache line). The heap holds only plain (time, sequence, slot)
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

    mutating func schedule(at time: Int64, _ event: consuming Event) {
        nextSequence &+= 1
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            payloads[Int(free)] = consume event
        } else {
            slot = Int32(payloads.count)
            payloads.append(consume event)
        }
        heap.append(Entry(time: time, sequence: nextSequence, slot: slot))
        var child = heap.count - 1
        heap.withUnsafeMutableBufferPointer { heap in
            let item = heap[child]
            while child > 0 {
                let parent = (child - 1) >> 2
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
                    let first = 4 * parent + 1
                    if first >= count { break }
                    var child = first
                    let end = min(first + 4, count)
                    var candidate = first + 1
                    while candidate < end {
                        if EventQueue.before(heap[candidate], heap[child]) { child = candidate }
                        candidate += 1
                    }
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
}
