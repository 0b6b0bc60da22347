// The batch worker: a consumer-group member of the jobs topic that turns job-id records into leased,
// fenced attempts. The job table decides everything; an offset is committed only past records whose job
// the table shows as finished for good, so a crash, a rebalance or a store outage never loses a job.

/// An object-store write, named by the worker that asked for it so the answer finds its way back.
public struct PutID: Sendable, Hashable {
    /// The worker index in the high bits, a per-worker sequence in the low 40 bits.
    public var value: UInt64
    /// Wraps a raw value.
    public init(_ value: UInt64) { self.value = value }
}

/// Facts the batch worker reports for telemetry and the simulator's oracles.
public enum BatchObservation: Sendable, Hashable {
    /// The store granted a lease and the job took a slot.
    case jobStarted(JobID, attempt: Int)
    /// The job left its slot; the state the store ended in (`.queued` for released or retried jobs,
    /// `.leased` for a job abandoned after its lease ran out locally).
    case jobFinished(JobID, attempt: Int, JobState)
    /// A call carrying some of the job's items was sent to a backend.
    case itemsCalled(JobID, BackendID, items: Int)
    /// The store refused a write from this attempt because a newer attempt owns the job.
    case fenced(JobID, attempt: Int)
    /// Fetching was paused (slots and prefetch full, or every needed backend's breaker open) or resumed.
    case backpressure(paused: Bool)
    /// An offset commit was sent: everything below the offset is finished.
    case offsetCommitted(PartitionID, Int64)
    /// Graceful shutdown ended; jobs that were still running at the drain deadline.
    case drained(inFlightAtDeadline: Int)
}

/// The batch worker machine: broker, store, object-store and backend answers in; fetches, commits,
/// store commands, puts, backend calls and timers out.
public struct BatchWorker: Sendable {
    /// Pool size, limits and timings.
    public struct Configuration: Sendable {
        /// Distinguishes this worker's ids and leases from other workers' (20 bits).
        public var workerIndex: Int = 0
        /// Models, versions and the backends serving them.
        public var deployment = Deployment(models: [], backendCount: 0)
        /// Jobs processed at once (the pool).
        public var slots: Int = 8
        /// Records buffered beyond the slots.
        public var prefetchMax: Int = 16
        /// A fetch is sent once this many records fit (or when nothing is buffered), so records arrive
        /// in batches rather than one per finished job.
        public var fetchRecordsMin: Int = 8
        /// Inference calls in flight per job.
        public var callsInFlightPerJob: Int = 4
        /// Items sent together in one inference call (the model's batch dimension).
        public var itemsPerCall: Int = 8
        /// How long a lease lasts; it is renewed every third of it.
        public var leaseDuration: Duration = .seconds(30)
        /// How long one item call may take before it counts as failed.
        public var itemTimeout: Duration = .seconds(2)
        /// Attempts a job gets before the store dead-letters it.
        public var attemptsMax: Int = 3
        /// `notBefore = now + jitter(base * 2^(attempt-1))`, capped at `retryBackoffMax`.
        public var retryBackoffBase: Duration = .seconds(1)
        /// The largest retry backoff ceiling.
        public var retryBackoffMax: Duration = .seconds(30)
        /// After a store or object-store failure, the same step is retried after this delay.
        public var storeRetryDelay: Duration = .milliseconds(200)
        /// How long a graceful shutdown lets running jobs finish before releasing them.
        public var drainDeadline: Duration = .seconds(20)
        /// Each backend's circuit breaker.
        public var breaker = CircuitBreaker.Configuration()
        /// Size of one item's result in the result object.
        public var resultBytesPerItem: Int = 256
        /// Records tracked at most (buffered, running, or finished but not yet committable).
        public var recordsTrackedMax: Int = 4_096
        /// SABOTAGE ONLY (ack-before-commit): commit a record's offset as soon as it is fetched.
        public var commitsBeforeOutcome: Bool = false
        /// SABOTAGE ONLY (no-backpressure): fetch and start jobs regardless of free slots.
        public var ignoresBackpressure: Bool = false
        /// Seeds the worker's own random stream (retry jitter).
        public var seed: UInt64 = 7
        /// The default configuration.
        public init() {}
    }

    /// What the worker is told.
    public enum Input: Sendable {
        /// After a rebalance: these partitions are now ours; fetching starts.
        case partitionsAssigned([PartitionID])
        /// Before the broker reassigns these partitions.
        case partitionsRevoked([PartitionID])
        /// The answer to `.fetch` (possibly empty).
        case recordsFetched(PartitionID, [JobMessage])
        /// The job table answered a command.
        case storeReplied(StoreRequestID, JobStoreReply)
        /// The job table did not answer a command.
        case storeFailed(StoreRequestID, StoreFailure)
        /// The object store answered a put.
        case objectPutReplied(PutID, succeeded: Bool)
        /// A backend answered an item call.
        case backendReplied(BackendReply)
        /// A timer the worker set has fired.
        case timerFired(TimerID)
        /// The process is asked to stop gracefully.
        case shutdownRequested
    }

    /// What the worker asks its shell to do, in order.
    public enum Action: Sendable {
        /// Ask the broker for records; never more than one fetch outstanding per partition.
        case fetch(PartitionID, maxRecords: Int)
        /// Everything below `nextOffset` is finished.
        case commitOffset(PartitionID, nextOffset: Int64)
        /// Leases released and offsets committed: the broker may reassign these partitions.
        case revocationDone([PartitionID])
        /// Send a command to the job table.
        case store(StoreRequestID, JobStoreCommand)
        /// Write a result object of `bytes` bytes.
        case putObject(PutID, ResultLocation, bytes: Int)
        /// Send a call carrying some of a job's items to a backend.
        case call(BackendCall)
        /// Call back with `timerFired` at this instant of the worker's clock.
        case setTimer(TimerID, at: Instant)
        /// Report a fact for telemetry and oracles.
        case observe(BatchObservation)
        /// Graceful shutdown is over; the process may exit.
        case shutdownComplete
    }

    /// Where one tracked record stands.
    enum RecordStatus: Sendable, Equatable {
        /// Buffered: may be leased (again) once `readyAt` has passed.
        case waiting(readyAt: Instant)
        /// A run is working on it.
        case active
        /// Its job is finished for good in the store: the offset may be committed past it.
        case durable
    }

    /// A record in offset order within its partition.
    struct TrackedRecord: Sendable {
        var message: JobMessage
        var status: RecordStatus
    }

    /// One assigned partition.
    struct PartitionState: Sendable {
        var id: PartitionID
        /// Records not yet committed, in offset order.
        var records: [TrackedRecord] = []
        /// `maxRecords` of the outstanding fetch, or 0 when none is outstanding.
        var fetchReserved: Int = 0
        /// The last committed next offset, or -1 before the first commit.
        var committed: Int64 = -1
        /// The highest offset ever tracked, so a record delivered twice is tracked once.
        var highestOffsetSeen: Int64 = -1
        /// The revocation in progress for it, or 0.
        var revocation: UInt64 = 0
    }

    /// Where a run (one record being processed) stands.
    enum RunPhase: Sendable, Equatable {
        case leasing, calling, putting, completing, ending, releasing
    }

    /// One record being processed; its key is a worker sequence number.
    struct Run: Sendable {
        var key: UInt64
        var message: JobMessage
        var phase: RunPhase = .leasing
        var spec: JobSpec?
        var attempt: Int = 0
        var itemsDone: Int = 0
        var nextItem: Int = 0
        /// The item calls in flight: how many, and the first one sent (0 when none). Each `ItemCall` names
        /// the run's next one, so a run holds no array and copies as plain bytes, with no reference counting.
        var callCount = 0
        var firstCall: UInt64 = 0
        var waitingForBreaker = false
        var backendCursor: Int = 0
        /// The local lease end: when the last successful lease or renew was sent, plus the lease.
        var leaseDeadline: Instant = .zero
        /// When the next renew is due.
        var renewDueAt: Instant = .zero
        var mainRequest: UInt64 = 0
        var renewRequest: UInt64 = 0
        var put: UInt64 = 0
        /// When a retried job may be leased again (our own `notBefore`).
        var retryAt: Instant = .zero
        var releaseRequested = false
        /// The revocation this run belongs to, or 0.
        var revocation: UInt64 = 0
        /// Set when the run freed its slot, so a stale copy is never stored back.
        var ended = false
        var started: Bool { spec != nil }
    }

    /// One backend call in flight, carrying `items` of its run's items.
    struct ItemCall: Sendable {
        var run: UInt64
        var backend: BackendID
        var probe: Bool
        var startedAt: Instant
        var items: Int
        /// The run's next call in sending order, or 0 for its last one.
        var nextInRun: UInt64 = 0
    }

    /// Why a store command was sent.
    enum StorePurpose: Sendable, Equatable {
        case lease, renew, complete, ending, release
    }

    /// A store command awaiting its answer (or its retry).
    struct StoreRequest: Sendable {
        var run: UInt64
        var command: JobStoreCommand
        var purpose: StorePurpose
        var firstSentAt: Instant
        var sentAt: Instant
    }

    /// The worker's life cycle.
    enum LifePhase: Sendable, Equatable {
        case running, draining, releasing, shutDown
    }

    /// Timer kinds, in the low 4 bits of a timer id; the rest is a sequence. Call timeouts and lease
    /// upkeep are one timer each for the whole worker, armed at the earliest instant anything is due, so a
    /// job that finishes quickly leaves no timers behind.
    enum TimerKind: UInt64 {
        case callSweep = 0
        case breakerWait = 1
        case leaseUpkeep = 2
        case storeRetry = 4
        case putRetry = 5
        case wake = 6
        case revocationDeadline = 7
        case drainDeadline = 8
        case releaseDeadline = 9
    }

    /// The configuration the worker was created with.
    public let configuration: Configuration
    var breakers: [CircuitBreaker]
    let retryPolicy: RetryPolicy
    var random: SeededRandom
    var life: LifePhase = .running
    /// Assigned partitions, sorted by id.
    var partitions: [PartitionState] = []
    var runs = IdentifierTable<Run>(capacity: 64)
    /// Run keys in start order, for every walk over the runs.
    var runOrder: [UInt64] = []
    /// Job id -> run key, so one job is never processed twice at once here.
    var activeJobs = IdentifierTable<UInt64>(capacity: 64)
    var calls = IdentifierTable<ItemCall>(capacity: 64)
    /// Call sequences in the order the calls were sent: their deadlines come in the same order.
    var callOrder: [UInt64] = []
    var callOrderHead = 0
    /// True while the call sweep timer is set.
    var callSweepArmed = false
    /// When the lease upkeep timer fires, if it is set; its generation tells a stale firing.
    var upkeepAt: Instant?
    var upkeepGeneration: UInt64 = 0
    /// Counts kept as records and fetches change, so no input has to scan the buffer: records waiting
    /// to start, records tracked at all (finished ones included until committed), and the room the
    /// outstanding fetches have reserved. `countsAreConsistent` recomputes them for tests.
    var bufferedCount = 0
    var trackedCount = 0
    var reservedCount = 0
    /// Set when a record became durable since the last commit pass.
    var commitPending = false
    var storeRequests = IdentifierTable<StoreRequest>(capacity: 64)
    /// Put sequence -> run key.
    var puts = IdentifierTable<UInt64>(capacity: 16)
    /// Revocations waiting for their releases, oldest first.
    var revocations: [Revocation] = []
    var sequence: UInt64 = 0
    var fetchingPaused = false
    var inFlightAtDeadline = 0

    /// A worker with no partitions yet.
    public init(configuration: Configuration) {
        precondition(configuration.workerIndex >= 0 && configuration.workerIndex < 1 << 20, "workerIndex is 20 bits")
        precondition(configuration.slots >= 1, "slots must be >= 1")
        precondition(configuration.prefetchMax >= 0, "prefetchMax must be >= 0")
        precondition(configuration.fetchRecordsMin >= 1, "fetchRecordsMin must be >= 1")
        precondition(configuration.callsInFlightPerJob >= 1, "callsInFlightPerJob must be >= 1")
        precondition(configuration.itemsPerCall >= 1, "itemsPerCall must be >= 1")
        precondition(configuration.leaseDuration >= .nanoseconds(3), "leaseDuration must be positive")
        precondition(configuration.itemTimeout > .zero, "itemTimeout must be > 0")
        precondition(configuration.storeRetryDelay > .zero, "storeRetryDelay must be > 0")
        precondition(configuration.drainDeadline >= .zero, "drainDeadline must be >= 0")
        precondition(configuration.resultBytesPerItem >= 0, "resultBytesPerItem must be >= 0")
        precondition(
            configuration.recordsTrackedMax >= configuration.slots + configuration.prefetchMax,
            "recordsTrackedMax must hold slots + prefetchMax records")
        for model in configuration.deployment.models {
            for version in model.versions {
                for backend in version.backends {
                    precondition(
                        backend.value >= 0 && backend.value < configuration.deployment.backendCount,
                        "\(backend) of \(model.name) v\(version.number) is outside backendCount")
                }
            }
        }
        self.configuration = configuration
        breakers = Array(
            repeating: CircuitBreaker(configuration: configuration.breaker),
            count: configuration.deployment.backendCount)
        var retry = RetryPolicy.Configuration()
        retry.attemptsMax = max(configuration.attemptsMax, 1)
        retry.backoffBase = configuration.retryBackoffBase
        retry.backoffMax = configuration.retryBackoffMax
        retryPolicy = RetryPolicy(configuration: retry)
        random = SeededRandom(seed: configuration.seed, stream: 0xBA7C)
    }

    /// Jobs holding a slot (from the lease request until the job's outcome is answered).
    public var jobsInProgress: Int { runs.count }

    /// True once graceful shutdown is complete; every later input is ignored.
    public var isShutDown: Bool { life == .shutDown }

    /// Records buffered: fetched, not holding a slot and not finished.
    public var recordsBuffered: Int { bufferedCount }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        guard life != .shutDown else { return }
        switch input {
        case .partitionsAssigned(let assigned): assign(assigned, into: &actions)
        case .partitionsRevoked(let revoked): revoke(revoked, now: now, into: &actions)
        case .recordsFetched(let partition, let messages): fetched(partition, messages, now: now, into: &actions)
        case .storeReplied(let id, let reply): storeReplied(id, reply, now: now, into: &actions)
        case .storeFailed(let id, _): storeFailed(id, now: now, into: &actions)
        case .objectPutReplied(let id, let succeeded): putReplied(id, succeeded: succeeded, now: now, into: &actions)
        case .backendReplied(let reply): backendReplied(reply, now: now, into: &actions)
        case .timerFired(let timer): timerFired(timer, now: now, into: &actions)
        case .shutdownRequested: shutdownRequested(now: now, into: &actions)
        }
        guard life != .shutDown else { return }
        if (life == .draining || life == .releasing) && runs.count == 0 { return finishShutdown(into: &actions) }
        commitDurablePrefixes(into: &actions)
        if life == .running {
            startRecords(now: now, into: &actions)
            fetchMore(into: &actions)
        }
    }

    // MARK: - Ids

    /// The next worker-local sequence number (never 0).
    mutating func nextSequence() -> UInt64 {
        sequence += 1
        precondition(sequence < 1 << 40, "sequence numbers are 40 bits")
        return sequence
    }

    /// A worker-wide id: the worker index above a 40-bit sequence.
    func identifier(_ sequence: UInt64) -> UInt64 { UInt64(configuration.workerIndex) << 40 | sequence }

    /// The sequence inside an id this worker made, or nil for someone else's id.
    func sequence(of identifier: UInt64) -> UInt64? {
        guard identifier >> 40 == UInt64(configuration.workerIndex) else { return nil }
        return identifier & (1 << 40 - 1)
    }

    static func timer(_ payload: UInt64, _ kind: TimerKind) -> TimerID { TimerID(payload << 4 | kind.rawValue) }

    func setTimer(_ payload: UInt64, _ kind: TimerKind, at instant: Instant, into actions: inout [Action]) {
        actions.append(.setTimer(Self.timer(payload, kind), at: instant))
    }

    mutating func timerFired(_ timer: TimerID, now: Instant, into actions: inout [Action]) {
        guard let kind = TimerKind(rawValue: timer.value & 0xF) else { return }
        let payload = timer.value >> 4
        switch kind {
        case .callSweep: sweepCalls(now: now, into: &actions)
        case .breakerWait: breakerWaitOver(payload, now: now, into: &actions)
        case .leaseUpkeep: if payload == upkeepGeneration { leaseUpkeep(now: now, into: &actions) }
        case .storeRetry: resendStoreRequest(payload, now: now, into: &actions)
        case .putRetry: resendPut(payload, into: &actions)
        case .wake: return  // the records that became ready are started after every input
        case .revocationDeadline: finishRevocation(payload, now: now, into: &actions)
        case .drainDeadline: drainDeadlinePassed(now: now, into: &actions)
        case .releaseDeadline: if life == .releasing { finishShutdown(into: &actions) }
        }
    }
}
