// What every reactor's batch service and the batch worker share in embedded mode: one store thread owning
// one SQLite file (job table and queue), the folder object store, and the clock the batch machines run on.
// Every blocking call goes through the store thread; its answer is posted to the reactor that asked.

import Foundation
import PlatformCore
import PlatformWire
import Synchronization

/// The batch machines' clock: the monotonic clock shifted to the Unix epoch once per process. Job rows keep
/// their instants across restarts (leases, `notBefore`, `createdAtMs`), so they need a clock that continues
/// where the last process stopped, which the monotonic clock does not do across a reboot; the shift keeps
/// the monotonic clock's steadiness within one process.
public enum BatchClock {
    static let offset: Duration = {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let wallNanoseconds = Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec)
        return .nanoseconds(wallNanoseconds - Reactor.now().nanoseconds)
    }()

    /// Now, in nanoseconds since the Unix epoch.
    public static func now() -> Instant { Reactor.now() + offset }

    /// The reactor's (monotonic) instant for a batch-clock instant, for `Reactor.schedule`.
    static func reactorInstant(_ instant: Instant) -> Instant { instant - offset }
}

/// The shared batch state of one platform process.
public final class BatchRuntime: @unchecked Sendable {
    // @unchecked: every stored property is immutable and itself thread-safe (the store thread, the job
    // service and the broker lock or confine their own state; the object store is `Sendable`), except
    // `requestSequence`, an atomic.
    public let thread: StoreThread
    public let jobs: JobStoreService
    public let broker: BatchBroker
    public let objects: FolderObjectStore
    public let models: ServedModels
    /// The credentials the batch API accepts: the gateway's keys.
    public let keys: [Gateway.APIKey]
    /// Partitions of the jobs topic; fixed when the queue file is created.
    public static let partitionCount = 8
    /// Request ids for the job frontends. They must never repeat across restarts: a submit without an
    /// Idempotency-Key gets a key derived from its request id, and a repeated id would find an old job.
    /// Starting from the wall clock in nanoseconds gives that, at up to a billion requests a second.
    let requestSequence: Atomic<UInt64>

    /// Opens (or creates) `directory/batch.sqlite` and `directory/objects`, and republishes jobs that were
    /// accepted but never reached the queue (a crash between the row's commit and the append).
    public init(directory: String, models: ServedModels, keys: [Gateway.APIKey]) throws {
        objects = try FolderObjectStore(root: directory + "/objects")
        let database = try SQLiteDatabase(path: directory + "/batch.sqlite")
        let store = try EmbeddedJobStore(database: database)
        let queue = try EmbeddedQueue(database: database, partitionCount: Self.partitionCount)
        try Self.republishAccepted(store: store, queue: queue)
        thread = StoreThread(name: "batch-store")
        jobs = JobStoreService(store: store, thread: thread)
        broker = BatchBroker(queue: queue, thread: thread)
        self.models = models
        self.keys = keys
        requestSequence = Atomic(UInt64(BatchClock.now().nanoseconds))
    }

    /// Jobs left in `accepted` go onto the queue again before anything else runs. A job whose message did
    /// reach the queue gets a second one; the worker reads the job row, not the message, so that is harmless.
    static func republishAccepted(store: EmbeddedJobStore, queue: EmbeddedQueue) throws {
        let accepted = store.acceptedJobs(limit: 100_000)
        guard !accepted.isEmpty else { return }
        var configuration = JobFrontend.Configuration()
        configuration.partitionCount = partitionCount
        let placement = JobFrontend(configuration: configuration)
        for partition in 0..<partitionCount {
            let jobs = accepted.filter { placement.partition(of: $0).value == partition }
            if !jobs.isEmpty { try queue.append(jobs, to: PartitionID(partition)) }
        }
    }

    /// A fresh frontend request id (see `requestSequence`).
    func nextRequestID() -> RequestID {
        RequestID(requestSequence.add(1, ordering: .relaxed).newValue & (1 << 62 - 1))
    }

    /// Writes an object on the store thread; `done` runs on `mailbox`'s reactor with the outcome.
    func put(
        _ bytes: [UInt8], at key: String, replyTo mailbox: any Mailbox,
        done: @escaping @Sendable (Result<Void, ObjectStoreError>) -> Void
    ) {
        let objects = objects
        let accepted = thread.submit {
            let outcome: Result<Void, ObjectStoreError>
            do {
                try objects.put(bytes, at: key)
                outcome = .success(())
            } catch let error as ObjectStoreError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(.io(key: key, operation: "put", errno: 0))
            }
            mailbox.post { done(outcome) }
        }
        if !accepted { mailbox.post { done(.failure(.io(key: key, operation: "queue the put", errno: 0))) } }
    }

    /// Reads an object on the store thread; `done` runs on `mailbox`'s reactor.
    func get(
        _ key: String, replyTo mailbox: any Mailbox,
        done: @escaping @Sendable (Result<[UInt8], ObjectStoreError>) -> Void
    ) {
        let objects = objects
        let accepted = thread.submit {
            let outcome: Result<[UInt8], ObjectStoreError>
            do {
                outcome = .success(try objects.get(key))
            } catch let error as ObjectStoreError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(.io(key: key, operation: "get", errno: 0))
            }
            mailbox.post { done(outcome) }
        }
        if !accepted { mailbox.post { done(.failure(.io(key: key, operation: "queue the get", errno: 0))) } }
    }

    /// Finishes queued store work and stops the thread; later calls are answered as failures.
    func close() { thread.shutdown() }
}

/// A reactor-bound value carried through a `@Sendable` closure that runs on the same reactor (a store answer
/// posted to the reactor's mailbox).
struct OnReactor<Value>: @unchecked Sendable {
    // @unchecked: the value is created on a reactor thread and unwrapped only by closures posted back to that
    // reactor's mailbox, which run on that same thread; no other thread ever reads it.
    let value: Value
    init(_ value: Value) { self.value = value }
}
