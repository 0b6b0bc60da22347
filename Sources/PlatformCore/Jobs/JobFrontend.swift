// The gateway's batch side: `POST /v1/batch`, `GET /v1/jobs/{id}` and cancel. A submit becomes a
// job row first (idempotent: the client's Idempotency-Key, or one derived from the request so
// our own retries are safe) and a message on the jobs topic second; 202 is answered only once
// the row is durable. Reads and cancels are scoped to the caller's tenant. Messages are published
// in batches, one batch in flight per partition (the next one gathers meanwhile), and each acked
// batch moves its jobs to queued in one store command: under a burst the broker and the table see
// a few large writes instead of one per job, and an idle partition publishes at once.

/// A parsed `POST /v1/batch`.
public struct BatchSubmission: Sendable, Hashable {
    public var request: RequestID
    public var credential: String
    public var model: ModelID
    public var version: Int
    public var itemCount: Int
    /// The hashed `Idempotency-Key` header, or 0 when the client sent none.
    public var idempotencyKey: UInt64
    public var bodyHash: UInt64

    public init(
        request: RequestID, credential: String, model: ModelID, version: Int, itemCount: Int, idempotencyKey: UInt64,
        bodyHash: UInt64
    ) {
        self.request = request
        self.credential = credential
        self.model = model
        self.version = version
        self.itemCount = itemCount
        self.idempotencyKey = idempotencyKey
        self.bodyHash = bodyHash
    }
}

/// The answer to a batch API call.
public enum BatchOutcome: Sendable, Hashable {
    /// 202 for a submit (the job as stored), 200 for a read or a cancel.
    case job(JobRecord)
    case failed(ErrorKind, retryAfter: Duration)
}

/// The batch-facing machine of the gateway.
public struct JobFrontend: Sendable {
    public struct Configuration: Sendable {
        public var keys: [Gateway.APIKey] = []
        /// Stored API keys and bearer tokens, besides the static keys (see `Authenticator`).
        public var credentials = CredentialSources()
        public var deployment = Deployment(models: [], backendCount: 0)
        public var partitionCount: Int = 8
        public var itemsMax: Int = 10_000
        /// Attempts of one store command before answering 503.
        public var storeAttemptsMax: Int = 3
        public var storeRetryDelay: Duration = .milliseconds(100)
        /// Attempts to publish a batch before leaving its jobs to the dispatcher.
        public var publishAttemptsMax: Int = 3
        /// How long the broker may take to acknowledge a batch before it is sent again.
        public var publishTimeout: Duration = .seconds(2)
        /// Job messages in one publish batch at most.
        public var publishBatchMax: Int = 500
        public var pendingMax: Int = 10_000
        /// Distinguishes store request ids of several gateways.
        public var frontendIndex: Int = 0
        public init() {}
    }

    /// What the batch frontend is told.
    public enum Input: Sendable {
        /// A client submitted a batch job.
        case submit(BatchSubmission)
        /// A client reads a job.
        case getJob(RequestID, credential: String, JobID)
        /// A client cancels a job.
        case cancelJob(RequestID, credential: String, JobID)
        /// The job table answered.
        case storeReplied(StoreRequestID, JobStoreReply)
        /// The job table did not answer.
        case storeFailed(StoreRequestID, StoreFailure)
        /// The broker acknowledged (or refused) a publish batch.
        case published(batch: UInt64, succeeded: Bool)
        /// A timer the frontend set has fired.
        case timerFired(TimerID)
        /// Stored API keys changed: the gateway's replica takes them.
        case apiKeysChanged([APIKeyEntry])
        /// The token signing keys changed.
        case bearerKeysChanged(any BearerAuthenticator)
    }

    /// What the batch frontend asks its shell to do.
    public enum Action: Sendable {
        /// Answer the client's request.
        case respond(RequestID, BatchOutcome)
        /// Send a command to the job table.
        case store(StoreRequestID, JobStoreCommand)
        /// Put job messages on one partition of the jobs topic; `batch` names the send for its acknowledgement.
        case publish(batch: UInt64, PartitionID, [JobID])
        /// Call back with `timerFired` at this instant of the gateway's clock.
        case setTimer(TimerID, at: Instant)
    }

    /// A client request waiting for the store, and how often its command was tried.
    struct Pending {
        var request: RequestID
        var command: JobStoreCommand
        var attempts: Int
    }

    /// One partition's publishing: the batch in flight (or waiting to be sent again) and the jobs
    /// gathering for the next one.
    struct Publisher {
        var gathering: [JobID] = []
        var inFlight: [JobID] = []
        /// The current send of `inFlight`, or 0 when nothing is in flight.
        var batch: UInt64 = 0
        var attempts = 0
    }

    /// Timer kinds, in the low bits of a timer id: store retries are `request << 1`, publish timers
    /// `batch << 2 | kind`.
    enum PublishTimer: UInt64 {
        case timeout = 1
        case resend = 3
    }

    public let configuration: Configuration
    var authenticator: Authenticator
    var pending = IdentifierTable<Pending>(capacity: 256)
    var publishers: [Publisher]
    var sequence: UInt64 = 0
    var batchSequence: UInt64 = 0

    public init(configuration: Configuration) {
        precondition(configuration.partitionCount >= 1, "the jobs topic has at least one partition")
        precondition(configuration.partitionCount <= 1 << 12, "the jobs topic has at most 4096 partitions")
        precondition(configuration.publishBatchMax >= 1, "publishBatchMax must be >= 1")
        precondition(configuration.publishTimeout > .zero, "publishTimeout must be > 0")
        self.configuration = configuration
        authenticator = Authenticator(keys: configuration.keys, sources: configuration.credentials)
        publishers = Array(repeating: Publisher(), count: configuration.partitionCount)
    }

    /// Job messages not yet acknowledged by the broker (gathering or in flight).
    public var unpublishedCount: Int { publishers.reduce(0) { $0 + $1.gathering.count + $1.inFlight.count } }

    /// Client requests waiting for the store.
    public var pendingCount: Int { pending.count }

    /// The partition a job's messages go to (stable, so one job's messages stay in order).
    public func partition(of job: JobID) -> PartitionID {
        var hasher = StableHasher()
        hasher.combine(job.value)
        return PartitionID(Int(hasher.value % UInt64(configuration.partitionCount)))
    }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        switch input {
        case .submit(let submission): submit(submission, now: now, into: &actions)
        case .getJob(let request, let credential, let job):
            guard let tenant = authorize(request, credential, now: now, into: &actions) else { return }
            send(.get(job, tenant: tenant), for: request, into: &actions)
        case .cancelJob(let request, let credential, let job):
            guard let tenant = authorize(request, credential, now: now, into: &actions) else { return }
            send(.cancel(job, tenant: tenant), for: request, into: &actions)
        case .storeReplied(let id, let reply): storeReplied(id, reply, now: now, into: &actions)
        case .storeFailed(let id, _): retryOrGiveUp(id, now: now, into: &actions)
        case .published(let batch, let succeeded): published(batch, succeeded, now: now, into: &actions)
        case .timerFired(let timer): timerFired(timer, now: now, into: &actions)
        case .apiKeysChanged(let entries): authenticator.apiKeysChanged(entries)
        case .bearerKeysChanged(let bearer): authenticator.bearerKeysChanged(bearer)
        }
    }

    mutating func submit(_ submission: BatchSubmission, now: Instant, into actions: inout [Action]) {
        guard let tenant = authorize(submission.request, submission.credential, now: now, into: &actions) else {
            return
        }
        guard let model = configuration.deployment.model(submission.model),
            submission.itemCount >= 1, submission.itemCount <= configuration.itemsMax,
            submission.version == 0 || model.version(submission.version) != nil
        else { return actions.append(.respond(submission.request, .failed(.badRequest, retryAfter: .zero))) }
        let version =
            submission.version != 0 ? submission.version : (model.versions.last { $0.state == .serving }?.number ?? 0)
        guard version != 0 else {
            return actions.append(.respond(submission.request, .failed(.badRequest, retryAfter: .zero)))
        }
        // Without a client key, one derived from the request id still makes our own retries idempotent.
        let idempotencyKey =
            submission.idempotencyKey != 0 ? submission.idempotencyKey : submission.request.value | 1 << 63
        let spec = JobSpec(
            tenant: tenant, model: submission.model, version: version, itemCount: submission.itemCount,
            idempotencyKey: idempotencyKey, bodyHash: submission.bodyHash)
        send(.submit(spec), for: submission.request, into: &actions)
    }

    /// The tenant of a credential allowed to use the batch API, or nil after answering 401/403.
    mutating func authorize(_ request: RequestID, _ credential: String, now: Instant, into actions: inout [Action])
        -> Int?
    {
        switch authenticator.authorize(credential, scope: .batch, now: now) {
        case .allowed(let tenant, _): return tenant
        case .refused(let kind):
            actions.append(.respond(request, .failed(kind, retryAfter: .zero)))
            return nil
        }
    }

    mutating func send(_ command: JobStoreCommand, for request: RequestID, into actions: inout [Action]) {
        guard pending.count < configuration.pendingMax else {
            return actions.append(.respond(request, .failed(.unavailable, retryAfter: .seconds(1))))
        }
        sequence += 1
        let id = StoreRequestID(UInt64(configuration.frontendIndex) << 48 | sequence)
        pending[id.value] = Pending(request: request, command: command, attempts: 1)
        actions.append(.store(id, command))
    }

    mutating func storeReplied(
        _ id: StoreRequestID, _ reply: JobStoreReply, now: Instant, into actions: inout [Action]
    ) {
        guard let entry = pending.removeValue(forKey: id.value) else { return }
        switch reply {
        case .submitted(let record, _):
            if record.state == .accepted { publish(record.id, now: now, into: &actions) }
            actions.append(.respond(entry.request, .job(record)))
        case .idempotencyConflict: actions.append(.respond(entry.request, .failed(.conflict, retryAfter: .zero)))
        case .updated(let record), .record(let record), .notApplicable(let record), .deadLettered(let record),
            .fenced(let record):
            actions.append(.respond(entry.request, .job(record)))
        case .notFound: actions.append(.respond(entry.request, .failed(.notFound, retryAfter: .zero)))
        case .full: actions.append(.respond(entry.request, .failed(.unavailable, retryAfter: .seconds(5))))
        case .markedQueued, .records:
            actions.append(.respond(entry.request, .failed(.unavailable, retryAfter: .seconds(1))))
        }
    }

    /// Store commands are safe to repeat (submits are idempotent, the rest fenced or reads), so a
    /// failure of either kind is retried after a delay, up to `storeAttemptsMax`.
    mutating func retryOrGiveUp(_ id: StoreRequestID, now: Instant, into actions: inout [Action]) {
        guard let entry = pending[id.value] else { return }
        guard entry.attempts < configuration.storeAttemptsMax else {
            pending[id.value] = nil
            return actions.append(.respond(entry.request, .failed(.unavailable, retryAfter: .seconds(1))))
        }
        actions.append(.setTimer(TimerID(id.value << 1), at: now + configuration.storeRetryDelay))
    }

    /// A job's message joins its partition's next batch; an idle partition sends it at once.
    mutating func publish(_ job: JobID, now: Instant, into actions: inout [Action]) {
        let partition = partition(of: job).value
        publishers[partition].gathering.append(job)
        if publishers[partition].batch == 0 { startBatch(partition, now: now, into: &actions) }
    }

    /// Sends the jobs gathered on an idle partition as one batch.
    mutating func startBatch(_ partition: Int, now: Instant, into actions: inout [Action]) {
        guard publishers[partition].batch == 0, !publishers[partition].gathering.isEmpty else { return }
        let taken = min(publishers[partition].gathering.count, configuration.publishBatchMax)
        publishers[partition].inFlight = Array(publishers[partition].gathering.prefix(taken))
        publishers[partition].gathering.removeFirst(taken)
        publishers[partition].attempts = 1
        publishers[partition].batch = nextBatch(partition)
        sendBatch(partition, now: now, into: &actions)
    }

    /// A batch id: a frontend-wide sequence above the partition (12 bits).
    mutating func nextBatch(_ partition: Int) -> UInt64 {
        batchSequence += 1
        return batchSequence << 12 | UInt64(partition)
    }

    func sendBatch(_ partition: Int, now: Instant, into actions: inout [Action]) {
        let publisher = publishers[partition]
        actions.append(.publish(batch: publisher.batch, PartitionID(partition), publisher.inFlight))
        actions.append(
            .setTimer(
                TimerID(publisher.batch << 2 | PublishTimer.timeout.rawValue), at: now + configuration.publishTimeout))
    }

    mutating func published(_ batch: UInt64, _ succeeded: Bool, now: Instant, into actions: inout [Action]) {
        let partition = Int(batch & 0xFFF)
        guard partition < publishers.count, publishers[partition].batch == batch else { return }
        guard succeeded else { return publishFailed(partition, now: now, into: &actions) }
        let jobs = publishers[partition].inFlight
        publishers[partition].inFlight = []
        publishers[partition].batch = 0
        sequence += 1
        // Best effort, unanswered: a job left in `accepted` is still leasable when its message arrives.
        actions.append(.store(StoreRequestID(UInt64(configuration.frontendIndex) << 48 | sequence), .markQueued(jobs)))
        startBatch(partition, now: now, into: &actions)
    }

    /// The batch was refused or not acknowledged in time: it goes again after a delay (under a new id,
    /// so a late answer to the old send is ignored), or after the last attempt its jobs are left to
    /// the dispatcher and the next batch starts.
    mutating func publishFailed(_ partition: Int, now: Instant, into actions: inout [Action]) {
        guard publishers[partition].attempts < configuration.publishAttemptsMax else {
            publishers[partition].inFlight = []
            publishers[partition].batch = 0
            return startBatch(partition, now: now, into: &actions)
        }
        publishers[partition].attempts += 1
        publishers[partition].batch = nextBatch(partition)
        let timer = TimerID(publishers[partition].batch << 2 | PublishTimer.resend.rawValue)
        actions.append(.setTimer(timer, at: now + configuration.storeRetryDelay))
    }

    mutating func timerFired(_ timer: TimerID, now: Instant, into actions: inout [Action]) {
        if let kind = PublishTimer(rawValue: timer.value & 3) {
            let batch = timer.value >> 2
            let partition = Int(batch & 0xFFF)
            guard partition < publishers.count, publishers[partition].batch == batch else { return }
            switch kind {
            case .timeout: return publishFailed(partition, now: now, into: &actions)
            case .resend: return sendBatch(partition, now: now, into: &actions)
            }
        }
        let id = timer.value >> 1
        guard var entry = pending[id] else { return }
        entry.attempts += 1
        pending[id] = entry
        actions.append(.store(StoreRequestID(id), entry.command))
    }
}
