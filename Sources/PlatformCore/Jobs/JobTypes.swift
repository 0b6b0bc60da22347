// The values of the asynchronous batch path: a job's identity, what was asked, where it stands,
// and where its result lives. A job row is the source of truth; Kafka only carries job ids, so a
// message delivered twice, late or out of order can never make a job do anything twice.

/// A batch job, unique for the life of the platform.
public struct JobID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value }
    @inlinable public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.value < rhs.value }
    public var description: String { "job#\(value)" }
}

/// A job's state in the job table.
///
/// accepted -> queued -> leased(attempt k) -> succeeded | failed | cancelled | deadLettered,
/// and leased -> queued again for a retry (after a backoff) or when a lease is released or
/// expires. Only the job table moves a job, through `JobStoreModel` commands.
public enum JobState: UInt8, Sendable, Hashable, CaseIterable {
    /// The row exists; the job message is not yet known to be on the queue.
    case accepted
    /// On the queue, waiting for a worker (and for `notBefore` after a retryable failure).
    case queued
    /// A worker holds a lease on it until `leaseExpiresAt`, under fencing token `attempt`.
    case leased
    case succeeded
    /// Failed permanently (a non-retryable error).
    case failed
    case cancelled
    /// Failed on every one of its allowed attempts.
    case deadLettered

    /// True for states a job never leaves.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .deadLettered: true
        case .accepted, .queued, .leased: false
        }
    }

    /// The stable name used in the API, metrics and reports.
    public var name: String {
        switch self {
        case .accepted: "accepted"
        case .queued: "queued"
        case .leased: "leased"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .deadLettered: "deadLettered"
        }
    }
}

/// What a client polling `GET /v1/jobs/{id}` sees. Its rank never decreases: a retried job
/// stays `running` while it waits for its next attempt.
public enum JobStatus: UInt8, Sendable, Hashable, Comparable, CaseIterable {
    case queued, running, succeeded, failed, cancelled, deadLettered

    public static func < (lhs: JobStatus, rhs: JobStatus) -> Bool { lhs.rank < rhs.rank }

    /// Terminal statuses share the top rank: none follows another.
    public var rank: Int {
        switch self {
        case .queued: 0
        case .running: 1
        case .succeeded, .failed, .cancelled, .deadLettered: 2
        }
    }
}

/// What was submitted: one model version and a list of inference inputs.
///
/// The tenant (an index in the key table) and the version number are small, so they are kept in 32 bits
/// each: a job row travels in every job-table answer, and a smaller one is copied more cheaply.
public struct JobSpec: Sendable, Hashable {
    @usableFromInline var tenantIndex: Int32
    @usableFromInline var versionNumber: Int32
    public var model: ModelID
    public var itemCount: Int
    /// The client's `Idempotency-Key` (hashed), or 0 for none.
    public var idempotencyKey: UInt64
    /// A hash of the request body, to tell a retried submit from a conflicting one.
    public var bodyHash: UInt64

    /// The submitting API key (index in the gateway's key table): jobs are visible to it only.
    @inlinable public var tenant: Int {
        get { Int(tenantIndex) }
        set { tenantIndex = Int32(newValue) }
    }

    /// The model version the job runs on.
    @inlinable public var version: Int {
        get { Int(versionNumber) }
        set { versionNumber = Int32(newValue) }
    }

    public init(tenant: Int, model: ModelID, version: Int, itemCount: Int, idempotencyKey: UInt64, bodyHash: UInt64) {
        precondition(Int32(exactly: tenant) != nil, "a tenant is a key-table index")
        precondition(Int32(exactly: version) != nil, "a version number fits in 32 bits")
        tenantIndex = Int32(tenant)
        versionNumber = Int32(version)
        self.model = model
        self.itemCount = itemCount
        self.idempotencyKey = idempotencyKey
        self.bodyHash = bodyHash
    }
}

/// Where one attempt's result object lives: `results/<job>/<attempt>` in the object store. The
/// attempt in the key means two attempts can never overwrite each other's result.
public struct ResultLocation: Sendable, Hashable, CustomStringConvertible {
    public var job: JobID
    public var attempt: Int
    public init(job: JobID, attempt: Int) {
        self.job = job
        self.attempt = attempt
    }
    /// The object key.
    public var key: String { "results/\(job.value)/\(attempt)" }
    public var description: String { key }
}

/// Why a job failed.
public enum JobFailure: UInt8, Sendable, Hashable {
    /// The backend refused the input (a non-retryable error): the job fails at once.
    case rejectedByBackend
    /// Every attempt failed with retryable errors.
    case attemptsExhausted
    /// The client cancelled it.
    case cancelledByClient
}

/// One row of the job table.
///
/// Laid out narrow (104 bytes rather than 152): attempts, the lease holder, progress and the row version
/// are kept in 32 bits, and the result as its attempt alone (a result always lies under its own job), so a
/// row and every answer carrying one copy in a few vector moves. The public properties keep their types.
public struct JobRecord: Sendable, Hashable {
    public var id: JobID
    public var spec: JobSpec
    public var leaseExpiresAt: Instant
    /// A queued job is not leased before this (retry backoff).
    public var notBefore: Instant
    public var createdAt: Instant
    public var updatedAt: Instant
    @usableFromInline var storedAttempt: Int32
    @usableFromInline var storedLeaseHolder: Int32
    @usableFromInline var storedItemsDone: Int32
    @usableFromInline var storedRowVersion: Int32
    /// The result's attempt, or `Int32.min` when the job has no result.
    @usableFromInline var storedResultAttempt: Int32
    public var state: JobState
    public var failure: JobFailure?

    /// The fencing token: incremented by every lease. A write carrying an older attempt is refused.
    @inlinable public var attempt: Int {
        get { Int(storedAttempt) }
        set { storedAttempt = Int32(newValue) }
    }

    /// The worker (by index) holding the current lease, or -1.
    @inlinable public var leaseHolder: Int {
        get { Int(storedLeaseHolder) }
        set { storedLeaseHolder = Int32(newValue) }
    }

    /// Progress of the current or last attempt.
    @inlinable public var itemsDone: Int {
        get { Int(storedItemsDone) }
        set { storedItemsDone = Int32(newValue) }
    }

    /// Row version for optimistic concurrency, incremented by every write.
    @inlinable public var rowVersion: Int {
        get { Int(storedRowVersion) }
        set { storedRowVersion = Int32(newValue) }
    }

    /// Set exactly when the job succeeded; always a location under this job.
    @inlinable public var result: ResultLocation? {
        get { storedResultAttempt == .min ? nil : ResultLocation(job: id, attempt: Int(storedResultAttempt)) }
        set {
            guard let newValue else {
                storedResultAttempt = .min
                return
            }
            precondition(newValue.job == id, "a job's result lies under its own id")
            precondition(newValue.attempt > Int(Int32.min), "a result's attempt fits in 32 bits")
            storedResultAttempt = Int32(newValue.attempt)
        }
    }

    public init(id: JobID, spec: JobSpec, now: Instant) {
        self.id = id
        self.spec = spec
        state = .accepted
        storedAttempt = 0
        leaseExpiresAt = .zero
        storedLeaseHolder = -1
        storedItemsDone = 0
        notBefore = .zero
        storedResultAttempt = .min
        failure = nil
        createdAt = now
        updatedAt = now
        storedRowVersion = 1
    }

    /// What a polling client sees.
    public var status: JobStatus {
        switch state {
        case .accepted: .queued
        case .queued: attempt == 0 ? .queued : .running
        case .leased: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        case .deadLettered: .deadLettered
        }
    }
}

/// A Kafka partition of the jobs topic, by number.
public struct PartitionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Int
    @inlinable public init(_ value: Int) { self.value = value }
    @inlinable public static func < (lhs: PartitionID, rhs: PartitionID) -> Bool { lhs.value < rhs.value }
    public var description: String { "partition#\(value)" }
}

/// One record on the jobs topic: only the job id (the row holds everything else).
public struct JobMessage: Sendable, Hashable {
    public var partition: PartitionID
    public var offset: Int64
    public var job: JobID
    public init(partition: PartitionID, offset: Int64, job: JobID) {
        self.partition = partition
        self.offset = offset
        self.job = job
    }
}

/// A request to the job table, named by the machine that sent it so the answer finds its way back.
public struct StoreRequestID: Sendable, Hashable, Comparable {
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value }
    @inlinable public static func < (lhs: StoreRequestID, rhs: StoreRequestID) -> Bool { lhs.value < rhs.value }
}

/// Why the job table did not answer a request.
public enum StoreFailure: UInt8, Sendable, Hashable {
    /// The store refused or could not be reached: the command was certainly not applied.
    case unavailable
    /// The connection broke after the command was sent: it may or may not have been applied.
    case outcomeUnknown
}
