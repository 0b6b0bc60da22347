// The thread that runs every blocking store call (SQLite commits with fsync, object-store writes), so no
// reactor thread ever waits on a disk. Work runs in submission order, one item at a time; results go back to
// the reactor that asked through its `Mailbox`. Shutdown stops new work and runs what was already queued,
// because each queued item is a caller waiting for an answer.

import Foundation
import PlatformCore

/// One thread with a FIFO of work items.
public final class StoreThread: @unchecked Sendable {
    // @unchecked: `pending`, `accepting` and `finished` are read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var pending: [@Sendable () -> Void] = []
    /// The first not-yet-run item in `pending`: the array is compacted in bulk, not shifted per item.
    private var head = 0
    private var accepting = true
    private var finished = false
    /// Items queued at most; a submit beyond it is refused so an overloaded disk pushes back on callers.
    public let queueMax: Int

    /// Starts the thread.
    public init(name: String = "store", queueMax: Int = 100_000) {
        precondition(queueMax >= 1, "queueMax must be at least 1")
        self.queueMax = queueMax
        NamedThread.start(name) { [self] in run() }
    }

    /// Queues `work`; false when the thread is shutting down or the queue is full (the caller answers its
    /// request as unavailable).
    @discardableResult
    public func submit(_ work: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard accepting, pending.count - head < queueMax else { return false }
        pending.append(work)
        condition.signal()
        return true
    }

    /// Refuses new work, runs everything queued, and returns once the thread has finished.
    public func shutdown() {
        condition.lock()
        accepting = false
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while let work = next() { work() }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, waiting for one; nil once shut down and drained.
    private func next() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while head == pending.count {
            if !accepting { return nil }
            condition.wait()
        }
        let work = pending[head]
        head += 1
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        }
        return work
    }
}

/// A value that only the store thread touches, carried through `@Sendable` closures to it.
public final class StoreConfined<Value>: @unchecked Sendable {
    // @unchecked: every access happens inside work submitted to one `StoreThread`, which runs items one at a
    // time on a single thread; the submitting threads never read `value`.
    public var value: Value
    public init(_ value: Value) { self.value = value }
}

/// What became of a command sent through `JobStoreService`: the machines' `.storeReplied` or `.storeFailed`.
public enum JobStoreAnswer: Sendable, Hashable {
    case replied(JobStoreReply)
    case failed(StoreFailure)
}

/// The job table as the reactors use it: commands queue up, and the store thread applies every command
/// waiting at that moment in one transaction (group commit), so throughput is not one fsync per command.
public final class JobStoreService: @unchecked Sendable {
    // @unchecked: `waiting` is guarded by `lock`; `store` is touched only on the store thread.
    private struct Request {
        var id: StoreRequestID
        var command: JobStoreCommand
        var now: Instant
        var mailbox: any Mailbox
        var deliver: @Sendable (StoreRequestID, JobStoreAnswer) -> Void
    }

    private let thread: StoreThread
    private let store: StoreConfined<EmbeddedJobStore>
    private let lock = NSLock()
    private var waiting: [Request] = []
    /// Commands in one transaction at most, bounding the latency a large burst adds to its first command.
    public let batchMax: Int

    public init(store: EmbeddedJobStore, thread: StoreThread, batchMax: Int = 256) {
        precondition(batchMax >= 1, "batchMax must be at least 1")
        self.store = StoreConfined(store)
        self.thread = thread
        self.batchMax = batchMax
    }

    /// Queues `command`; `deliver` runs on `mailbox`'s reactor with the answer, or with the failure the
    /// machines expect (`.unavailable`: nothing applied; `.outcomeUnknown`: maybe applied).
    public func send(
        _ id: StoreRequestID, _ command: JobStoreCommand, now: Instant, replyTo mailbox: any Mailbox,
        deliver: @escaping @Sendable (StoreRequestID, JobStoreAnswer) -> Void
    ) {
        lock.lock()
        waiting.append(Request(id: id, command: command, now: now, mailbox: mailbox, deliver: deliver))
        let first = waiting.count == 1
        lock.unlock()
        // One flush is queued per burst; later commands join the burst until the flush takes them.
        guard first else { return }
        if !thread.submit({ [self] in flush() }) { failWaiting() }
    }

    private func flush() {
        lock.lock()
        let taken = Array(waiting.prefix(batchMax))
        waiting.removeFirst(taken.count)
        let more = !waiting.isEmpty
        lock.unlock()
        if more && !thread.submit({ [self] in flush() }) { failWaiting() }
        // Each command keeps the `now` its machine gave it; the batch shares one transaction.
        do {
            let replies = try store.value.apply(taken.map { ($0.command, $0.now) })
            for (request, reply) in zip(taken, replies) { post(request, .replied(reply)) }
        } catch let error as JobStoreWriteError {
            for request in taken { post(request, .failed(error.failure)) }
        } catch {
            for request in taken { post(request, .failed(.unavailable)) }
        }
    }

    private func post(_ request: Request, _ result: JobStoreAnswer) {
        let deliver = request.deliver
        let id = request.id
        request.mailbox.post { deliver(id, result) }
    }

    /// The thread refused the flush (shut down or full): everything waiting is answered unavailable.
    private func failWaiting() {
        lock.lock()
        let taken = waiting
        waiting = []
        lock.unlock()
        for request in taken { post(request, .failed(.unavailable)) }
    }
}
