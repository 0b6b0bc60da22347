// The commands the job table understands and its answers: the contract between the machines and
// the store. `JobStoreModel` is its reference implementation (the simulator's PostgreSQL runs
// it); the production shell implements the same commands as SQL statements.

/// A conditional write or a read on the job table. Every write that names an attempt is fenced:
/// it applies only while that attempt is the job's current one.
public enum JobStoreCommand: Sendable, Hashable {
    /// Create a job (or find the one with the same idempotency key and body).
    case submit(JobSpec)
    /// These jobs' messages are on the queue: accepted -> queued for each one still accepted. One
    /// statement for a whole publish batch; answered `.markedQueued`.
    case markQueued([JobID])
    /// Take a lease for `worker` for `leaseFor`: allowed from queued (once `notBefore` passed)
    /// or from leased when the lease expired; increments the attempt. A job that has used all
    /// of `attemptsMax` attempts is dead-lettered instead.
    case lease(JobID, worker: Int, leaseFor: Duration, attemptsMax: Int)
    /// Extend the current lease and record progress.
    case renew(JobID, attempt: Int, leaseFor: Duration, itemsDone: Int)
    /// Give the lease back without penalty (graceful shutdown, partition revoked): leased -> queued.
    case release(JobID, attempt: Int)
    /// The attempt succeeded and its result object is written: leased -> succeeded.
    case complete(JobID, attempt: Int, result: ResultLocation)
    /// The attempt failed in a retryable way: leased -> queued, not leasable before `notBefore`.
    case retryLater(JobID, attempt: Int, notBefore: Instant)
    /// The attempt failed permanently: leased -> failed.
    case fail(JobID, attempt: Int, JobFailure)
    /// The tenant cancels a job that has not finished.
    case cancel(JobID, tenant: Int)
    /// Read a job as its tenant sees it.
    case get(JobID, tenant: Int)
    /// Read several jobs whatever their tenant (the platform's own housekeeping, never a client);
    /// answered `.records` with the jobs that exist, in the order asked.
    case inspect([JobID])
}

/// The job table's answer to one command.
public enum JobStoreReply: Sendable, Hashable {
    /// The submit created this job (`created`) or found the identical earlier one.
    case submitted(JobRecord, created: Bool)
    /// The idempotency key was used before with a different body (409).
    case idempotencyConflict(existing: JobID)
    /// The write applied; the row as it is now.
    case updated(JobRecord)
    /// A lease was asked for a job that was dead-lettered instead (attempts exhausted).
    case deadLettered(JobRecord)
    /// The command does not apply in the job's current state (e.g. leasing a leased job whose
    /// lease has not expired, cancelling a finished job); the row as it is.
    case notApplicable(JobRecord)
    /// The write carried an attempt that is no longer current: a zombie worker's late write.
    case fenced(JobRecord)
    /// A read's answer.
    case record(JobRecord)
    /// No such job, or not visible to this tenant (indistinguishable on purpose).
    case notFound
    /// The table is at its `jobsMax` limit: submit refused (503).
    case full
    /// `markQueued`'s answer: how many of the jobs moved from accepted to queued.
    case markedQueued(count: Int)
    /// `inspect`'s answer.
    case records([JobRecord])
}
