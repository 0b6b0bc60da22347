// The reference implementation of the job table: every command is one conditional write, applied
// atomically, so the simulator's PostgreSQL runs exactly these rules and production's SQL mirrors them.
// Rows live in an array indexed by id (ids are 1, 2, 3... and never reused), so nothing here ever
// depends on hash-table iteration order.

/// The job table as a pure value: commands in, answers out, with fencing by attempt and idempotent submits.
///
/// Fencing: a write naming an attempt that is not the job's current one is `.fenced` and changes
/// nothing. A write naming the current attempt in a state where it does not apply (the job was
/// cancelled, released or retried meanwhile) is `.notApplicable` and changes nothing either.
///
/// Attempts: `attempt` is the fencing token and grows with every lease, including leases taken after
/// a release or an expired lease. Dead-lettering does not count those: it compares a separate,
/// internal count of failed attempts, incremented only by `retryLater`, with the lease's
/// `attemptsMax`. A released job (graceful shutdown) or an expired lease (worker crash, partition,
/// store outage) therefore never brings a job closer to the dead-letter state.
public struct JobStoreModel: Sendable {
    /// The table's limit and its sabotage switches.
    public struct Configuration: Sendable, Equatable {
        /// Jobs the table holds at most; a submit beyond it is answered `.full`.
        public var jobsMax: Int = 1_000_000
        /// SABOTAGE ONLY: writes naming a stale attempt are applied anyway (zombie commits accepted).
        public var ignoresFencing: Bool = false
        /// SABOTAGE ONLY: every submit creates a new job, idempotency keys are ignored.
        public var ignoresIdempotency: Bool = false
        /// SABOTAGE ONLY: reads and cancels skip the tenant check.
        public var ignoresTenant: Bool = false

        /// The default configuration.
        public init() {}
    }

    /// One row and the bookkeeping the public record does not show.
    private struct StoredJob: Sendable {
        var record: JobRecord
        /// Attempts that ended in `retryLater`; compared with `attemptsMax` when the job is next leased.
        var failedAttempts: Int
    }

    /// The configuration the table was created with.
    public let configuration: Configuration
    /// Row `n` holds job `n + 1`.
    private var jobs: [StoredJob] = []
    /// (tenant, idempotency key) hashed with a probe number -> the job holding that key. A hash collision
    /// between two different pairs moves the later pair to the next probe number, so lookups stay exact.
    private var idempotencyIndex = IdentifierTable<JobID>()
    /// Jobs created in `accepted`, in id order. Jobs that left `accepted` are skipped when read and removed
    /// in bulk once they outnumber the ones still accepted, so reading the outbox costs O(accepted jobs).
    private var acceptedOutbox: [JobID] = []
    /// Jobs currently in `accepted`.
    private var acceptedCount = 0

    /// An empty table.
    public init(configuration: Configuration) {
        precondition(configuration.jobsMax >= 1, "jobsMax must be at least 1")
        self.configuration = configuration
    }

    /// Jobs in the table.
    public var jobCount: Int { jobs.count }

    /// The job with `id`, without a tenant check: for oracles and tests.
    public func job(_ id: JobID) -> JobRecord? {
        guard let row = row(of: id) else { return nil }
        return jobs[row].record
    }

    /// The state of the job with `id`, without copying its record: for oracles over many jobs.
    public func state(of id: JobID) -> JobState? {
        guard let row = row(of: id) else { return nil }
        return jobs[row].record.state
    }

    /// The result location of the job with `id`, if it has one, without copying its record.
    public func result(of id: JobID) -> ResultLocation? {
        guard let row = row(of: id) else { return nil }
        return jobs[row].record.result
    }

    /// Makes room for `count` jobs in all, so a table that will hold many does not grow step by step.
    public mutating func reserveCapacity(_ count: Int) {
        jobs.reserveCapacity(count)
        acceptedOutbox.reserveCapacity(count)
        if idempotencyIndex.count == 0 { idempotencyIndex = IdentifierTable(capacity: count) }
    }

    /// Jobs still in `accepted` (their message may not be on the queue), oldest first, at most `limit`:
    /// the outbox a dispatcher republishes.
    public func acceptedJobs(limit: Int) -> [JobID] {
        precondition(limit >= 0, "acceptedJobs(limit:) needs a limit >= 0")
        var found: [JobID] = []
        for id in acceptedOutbox {
            if found.count >= limit { break }
            if jobs[Int(id.value) - 1].record.state == .accepted { found.append(id) }
        }
        return found
    }

    /// Applies one command atomically at `now` and returns the answer. Job ids are assigned 1, 2, 3... in
    /// submit order. A write that applies increments `rowVersion` and sets `updatedAt = now`; any other
    /// answer leaves the table unchanged.
    public mutating func apply(_ command: JobStoreCommand, now: Instant) -> JobStoreReply {
        switch command {
        case .submit(let spec):
            return submit(spec, now: now)
        case .markQueued(let ids):
            return markQueued(ids, now: now)
        case .lease(let id, let worker, let leaseFor, let attemptsMax):
            return lease(id, worker: worker, leaseFor: leaseFor, attemptsMax: attemptsMax, now: now)
        case .renew(let id, let attempt, let leaseFor, let itemsDone):
            return renew(id, attempt: attempt, leaseFor: leaseFor, itemsDone: itemsDone, now: now)
        case .release(let id, let attempt):
            return release(id, attempt: attempt, now: now)
        case .complete(let id, let attempt, let result):
            return complete(id, attempt: attempt, result: result, now: now)
        case .retryLater(let id, let attempt, let notBefore):
            return retryLater(id, attempt: attempt, notBefore: notBefore, now: now)
        case .fail(let id, let attempt, let failure):
            return fail(id, attempt: attempt, failure: failure, now: now)
        case .cancel(let id, let tenant):
            return cancel(id, tenant: tenant, now: now)
        case .get(let id, let tenant):
            guard let row = row(of: id), ownedBy(row, tenant) else { return .notFound }
            return .record(jobs[row].record)
        case .inspect(let ids):
            var records: [JobRecord] = []
            records.reserveCapacity(ids.count)
            for id in ids {
                if let row = row(of: id) { records.append(jobs[row].record) }
            }
            return .records(records)
        }
    }

    // MARK: - Commands

    private mutating func submit(_ spec: JobSpec, now: Instant) -> JobStoreReply {
        precondition(spec.itemCount >= 0, "a job has a non-negative item count")
        var freeSlot: UInt64?
        if spec.idempotencyKey != 0 && !configuration.ignoresIdempotency {
            let lookup = idempotencyLookup(tenant: spec.tenant, key: spec.idempotencyKey)
            if let existing = lookup.existing {
                let record = jobs[Int(existing.value) - 1].record
                if record.spec.bodyHash == spec.bodyHash { return .submitted(record, created: false) }
                return .idempotencyConflict(existing: existing)
            }
            freeSlot = lookup.slot
        }
        guard jobs.count < configuration.jobsMax else { return .full }
        let id = JobID(UInt64(jobs.count + 1))
        let record = JobRecord(id: id, spec: spec, now: now)
        jobs.append(StoredJob(record: record, failedAttempts: 0))
        acceptedOutbox.append(id)
        acceptedCount += 1
        if let freeSlot { idempotencyIndex[freeSlot] = id }
        return .submitted(record, created: true)
    }

    private mutating func markQueued(_ ids: [JobID], now: Instant) -> JobStoreReply {
        var moved = 0
        for id in ids {
            // A job named twice moves once: the second time it is no longer accepted.
            guard let row = row(of: id), jobs[row].record.state == .accepted else { continue }
            write(row, now: now) { $0.state = .queued }
            moved += 1
        }
        return .markedQueued(count: moved)
    }

    private mutating func lease(
        _ id: JobID, worker: Int, leaseFor: Duration, attemptsMax: Int, now: Instant
    ) -> JobStoreReply {
        precondition(worker >= 0, "a worker is named by a non-negative index")
        precondition(leaseFor > .zero, "a lease lasts a positive time")
        precondition(attemptsMax >= 1, "a job is allowed at least one attempt")
        guard let row = row(of: id) else { return .notFound }
        guard Self.isLeasable(jobs[row].record, now: now) else { return .notApplicable(jobs[row].record) }
        if jobs[row].failedAttempts >= attemptsMax {
            write(row, now: now) { record in
                Self.endLease(&record, now: now)
                record.state = .deadLettered
                record.failure = .attemptsExhausted
            }
            return .deadLettered(jobs[row].record)
        }
        write(row, now: now) { record in
            record.state = .leased
            record.attempt += 1
            record.leaseHolder = worker
            record.leaseExpiresAt = now + leaseFor
            record.itemsDone = 0
        }
        return .updated(jobs[row].record)
    }

    private mutating func renew(
        _ id: JobID, attempt: Int, leaseFor: Duration, itemsDone: Int, now: Instant
    ) -> JobStoreReply {
        precondition(leaseFor > .zero, "a lease lasts a positive time")
        guard let row = row(of: id) else { return .notFound }
        precondition(
            itemsDone >= 0 && itemsDone <= jobs[row].record.spec.itemCount, "itemsDone lies in 0...itemCount")
        if let refusal = fencingRefusal(row, attempt: attempt) { return refusal }
        write(row, now: now) { record in
            record.leaseExpiresAt = now + leaseFor
            // Progress never goes back: a delayed renew must not undo a later one's count.
            record.itemsDone = max(record.itemsDone, itemsDone)
        }
        return .updated(jobs[row].record)
    }

    private mutating func release(_ id: JobID, attempt: Int, now: Instant) -> JobStoreReply {
        guard let row = row(of: id) else { return .notFound }
        if let refusal = fencingRefusal(row, attempt: attempt) { return refusal }
        write(row, now: now) { record in
            Self.endLease(&record, now: now)
            record.state = .queued
            record.notBefore = now
        }
        return .updated(jobs[row].record)
    }

    private mutating func complete(
        _ id: JobID, attempt: Int, result: ResultLocation, now: Instant
    ) -> JobStoreReply {
        precondition(
            result.job == id && result.attempt == attempt, "a result is stored under its own job and attempt")
        guard let row = row(of: id) else { return .notFound }
        let state = jobs[row].record.state
        // A retried commit whose first try's outcome was unknown: the caller recognises its own result.
        if state == .succeeded && jobs[row].record.result == result { return .notApplicable(jobs[row].record) }
        let zombieOverwrite = configuration.ignoresFencing && state == .succeeded
        if !zombieOverwrite, let refusal = fencingRefusal(row, attempt: attempt) { return refusal }
        write(row, now: now) { record in
            Self.endLease(&record, now: now)
            record.state = .succeeded
            record.result = result
            record.itemsDone = record.spec.itemCount
        }
        return .updated(jobs[row].record)
    }

    private mutating func retryLater(_ id: JobID, attempt: Int, notBefore: Instant, now: Instant) -> JobStoreReply {
        guard let row = row(of: id) else { return .notFound }
        if let refusal = fencingRefusal(row, attempt: attempt) { return refusal }
        jobs[row].failedAttempts += 1
        write(row, now: now) { record in
            Self.endLease(&record, now: now)
            record.state = .queued
            record.notBefore = notBefore
        }
        return .updated(jobs[row].record)
    }

    private mutating func fail(_ id: JobID, attempt: Int, failure: JobFailure, now: Instant) -> JobStoreReply {
        guard let row = row(of: id) else { return .notFound }
        if let refusal = fencingRefusal(row, attempt: attempt) { return refusal }
        write(row, now: now) { record in
            Self.endLease(&record, now: now)
            record.state = .failed
            record.failure = failure
        }
        return .updated(jobs[row].record)
    }

    private mutating func cancel(_ id: JobID, tenant: Int, now: Instant) -> JobStoreReply {
        guard let row = row(of: id), ownedBy(row, tenant) else { return .notFound }
        guard !jobs[row].record.state.isTerminal else { return .notApplicable(jobs[row].record) }
        // A worker holding a lease learns of the cancel from its next renew or commit (`.notApplicable`).
        write(row, now: now) { record in
            Self.endLease(&record, now: now)
            record.state = .cancelled
            record.failure = .cancelledByClient
        }
        return .updated(jobs[row].record)
    }

    // MARK: - Rules and bookkeeping

    /// Nil when a write naming `attempt` applies to the job in `row`; otherwise the refusal. A stale attempt
    /// is `.fenced`; the current attempt on a job that is no longer leased is `.notApplicable` (the job was
    /// cancelled, released, retried or finished without a newer lease, so no zombie is involved).
    private func fencingRefusal(_ row: Int, attempt: Int) -> JobStoreReply? {
        let attemptIsCurrent = attempt == jobs[row].record.attempt || configuration.ignoresFencing
        if !attemptIsCurrent { return .fenced(jobs[row].record) }
        if jobs[row].record.state != .leased { return .notApplicable(jobs[row].record) }
        return nil
    }

    /// A job may be leased when it waits on the queue past its backoff, or when its lease expired.
    /// `accepted` counts as waiting: a delivered message proves it was published.
    private static func isLeasable(_ record: borrowing JobRecord, now: Instant) -> Bool {
        switch record.state {
        case .accepted, .queued: now >= record.notBefore
        case .leased: now >= record.leaseExpiresAt
        case .succeeded, .failed, .cancelled, .deadLettered: false
        }
    }

    /// Nobody holds a job that is not leased: the holder is cleared and the lease ends no later than `now`.
    private static func endLease(_ record: inout JobRecord, now: Instant) {
        if record.state == .leased { record.leaseExpiresAt = min(record.leaseExpiresAt, now) }
        record.leaseHolder = -1
    }

    /// Changes a row in place: the one place that bumps `rowVersion` and `updatedAt` and guards the
    /// transitions, so no command can forget either. The row is changed where it lies (a job row is
    /// large, and the table is hot), and the guards compare it with the few fields kept from before.
    private mutating func write(_ row: Int, now: Instant, _ change: (inout JobRecord) -> Void) {
        let previousState = jobs[row].record.state
        let previousAttempt = jobs[row].record.attempt
        change(&jobs[row].record)
        let state = jobs[row].record.state
        precondition(
            !previousState.isTerminal || (configuration.ignoresFencing && state == .succeeded),
            "\(jobs[row].record.id) left terminal state \(previousState.name)")
        precondition(jobs[row].record.attempt >= previousAttempt, "\(jobs[row].record.id) attempt went backwards")
        jobs[row].record.rowVersion += 1
        jobs[row].record.updatedAt = now
        if previousState == .accepted && state != .accepted { leftAccepted() }
    }

    private mutating func leftAccepted() {
        acceptedCount -= 1
        precondition(acceptedCount >= 0, "accepted job count went negative")
        if acceptedOutbox.count > 2 * acceptedCount + 64 {
            let jobs = self.jobs
            acceptedOutbox.removeAll { jobs[Int($0.value) - 1].record.state != .accepted }
        }
    }

    /// The row index of `id`, or nil for an id never handed out.
    private func row(of id: JobID) -> Int? {
        guard id.value >= 1 && id.value <= UInt64(jobs.count) else { return nil }
        return Int(id.value) - 1
    }

    /// True when the job in `row` belongs to `tenant`: another tenant's job is as good as missing.
    private func ownedBy(_ row: Int, _ tenant: Int) -> Bool {
        jobs[row].record.spec.tenant == tenant || configuration.ignoresTenant
    }

    /// The job holding (tenant, key), if any, and otherwise the index slot where a new one would go.
    private func idempotencyLookup(tenant: Int, key: UInt64) -> (existing: JobID?, slot: UInt64) {
        var probe = 0
        while true {
            var hasher = StableHasher()
            hasher.combine(tenant)
            hasher.combine(key)
            hasher.combine(probe)
            let slot = hasher.value
            guard let id = idempotencyIndex[slot] else { return (nil, slot) }
            let spec = jobs[Int(id.value) - 1].record.spec
            if spec.tenant == tenant && spec.idempotencyKey == key { return (id, slot) }
            probe += 1
            precondition(probe <= idempotencyIndex.count, "idempotency probing did not terminate")
        }
    }
}
