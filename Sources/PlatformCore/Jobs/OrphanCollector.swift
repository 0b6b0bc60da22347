// The result-object collector. A worker writes its attempt's result object before the job table
// records the success that points at it, so a crash, a fenced zombie or a lost answer can leave an
// object no job will ever show. The collector walks the result objects in key order, a page at a
// time, asks the job table about their jobs, and deletes each object that can never become a
// visible result. Fencing makes the decision safe whenever it is taken: an object of a stale
// attempt can never be completed, and a finished job never changes its result.

/// Facts the collector reports for telemetry and the simulator's oracles.
public enum CollectorObservation: Sendable, Hashable {
    /// An object was found orphaned and its deletion was sent.
    case orphanDeleted(ResultLocation)
    /// A walk over every result object ended; how many it deleted.
    case passFinished(deleted: Int)
}

/// The collector machine: object listings and job-table answers in; listings, reads, deletions and
/// timers out.
public struct OrphanCollector: Sendable {
    public struct Configuration: Sendable {
        /// The pause between two walks.
        public var every: Duration = .seconds(10)
        /// Objects listed (and jobs read) per step.
        public var pageSize: Int = 200
        /// How long a listing or a read may take before the step is tried again later.
        public var answerTimeout: Duration = .seconds(2)
        /// Distinguishes this collector's store requests from everyone else's (the high 16 bits).
        public var requestPrefix: UInt64 = 0xC011
        /// SABOTAGE ONLY (keep-orphans): orphans are found but never deleted.
        public var keepsOrphans: Bool = false
        public init() {}
    }

    /// What the collector is told.
    public enum Input: Sendable {
        /// The process started: the first walk is scheduled.
        case started
        /// The answer to `.list`: result objects after the cursor in key order; `complete` when no more follow.
        case listed(UInt64, [ResultLocation], complete: Bool)
        /// The job table answered.
        case storeReplied(StoreRequestID, JobStoreReply)
        /// The job table did not answer.
        case storeFailed(StoreRequestID)
        /// A timer the collector set has fired.
        case timerFired(TimerID)
    }

    /// What the collector asks its shell to do, in order.
    public enum Action: Sendable {
        /// List up to `limit` result objects after `after` (from the first when nil); `id` names the answer.
        case list(UInt64, after: ResultLocation?, limit: Int)
        /// Send a command to the job table.
        case store(StoreRequestID, JobStoreCommand)
        /// Delete a result object (idempotent, unanswered: a lost delete is found again next walk).
        case delete(ResultLocation)
        /// Call back with `timerFired` at this instant of the collector's clock.
        case setTimer(TimerID, at: Instant)
        /// Report a fact.
        case observe(CollectorObservation)
    }

    enum Phase: Sendable, Equatable {
        case idle, listing, reading
    }

    /// Timer kinds in the low bit; the rest is the step the timer belongs to.
    enum TimerKind: UInt64 {
        case walk = 0
        case timeout = 1
    }

    public let configuration: Configuration
    var phase: Phase = .idle
    /// The last object of the previous page, or nil at the start of a walk.
    var cursor: ResultLocation?
    var page: [ResultLocation] = []
    var pageIsLast = false
    /// Names the step in flight; answers and timeouts of older steps are ignored.
    var step: UInt64 = 0
    var deletedThisWalk = 0

    public init(configuration: Configuration) {
        precondition(configuration.pageSize >= 1, "pageSize must be >= 1")
        precondition(configuration.every > .zero, "every must be > 0")
        precondition(configuration.answerTimeout > .zero, "answerTimeout must be > 0")
        precondition(configuration.requestPrefix < 1 << 16, "requestPrefix is 16 bits")
        self.configuration = configuration
    }

    /// True when no object of `location`'s kind can ever be shown by `record` (or by no record at all).
    public static func isOrphan(_ location: ResultLocation, of record: JobRecord?) -> Bool {
        guard let record, record.id == location.job else { return true }
        switch record.state {
        case .succeeded: return record.result != location
        case .failed, .cancelled, .deadLettered: return true
        // A later attempt holds the fencing token: this one can never complete.
        case .accepted, .queued, .leased: return location.attempt < record.attempt
        }
    }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        switch input {
        case .started:
            scheduleWalk(after: configuration.every, now: now, into: &actions)
        case .listed(let id, let locations, let complete):
            guard phase == .listing, id == step else { return }
            listed(locations, complete: complete, now: now, into: &actions)
        case .storeReplied(let id, let reply):
            guard phase == .reading, id == requestID(step) else { return }
            guard case .records(let records) = reply else { return retryLater(now: now, into: &actions) }
            read(records, now: now, into: &actions)
        case .storeFailed(let id):
            guard phase == .reading, id == requestID(step) else { return }
            retryLater(now: now, into: &actions)
        case .timerFired(let timer):
            let payload = timer.value >> 1
            guard payload == step else { return }
            switch TimerKind(rawValue: timer.value & 1)! {
            case .walk: if phase == .idle { listNextPage(now: now, into: &actions) }
            case .timeout: if phase != .idle { retryLater(now: now, into: &actions) }
            }
        }
    }

    func requestID(_ step: UInt64) -> StoreRequestID {
        StoreRequestID(configuration.requestPrefix << 48 | (step & (1 << 48 - 1)))
    }

    mutating func scheduleWalk(after delay: Duration, now: Instant, into actions: inout [Action]) {
        phase = .idle
        step += 1
        actions.append(.setTimer(TimerID(step << 1 | TimerKind.walk.rawValue), at: now + delay))
    }

    mutating func beginStep(now: Instant, into actions: inout [Action]) {
        step += 1
        let timer = TimerID(step << 1 | TimerKind.timeout.rawValue)
        actions.append(.setTimer(timer, at: now + configuration.answerTimeout))
    }

    mutating func listNextPage(now: Instant, into actions: inout [Action]) {
        beginStep(now: now, into: &actions)
        phase = .listing
        actions.append(.list(step, after: cursor, limit: configuration.pageSize))
    }

    mutating func listed(_ locations: [ResultLocation], complete: Bool, now: Instant, into actions: inout [Action]) {
        guard !locations.isEmpty else { return finishWalk(now: now, into: &actions) }
        page = Array(locations.prefix(configuration.pageSize))
        pageIsLast = complete && locations.count <= configuration.pageSize
        var jobs: [JobID] = []
        jobs.reserveCapacity(page.count)
        for location in page where jobs.last != location.job { jobs.append(location.job) }
        beginStep(now: now, into: &actions)
        phase = .reading
        actions.append(.store(requestID(step), .inspect(jobs)))
    }

    mutating func read(_ records: [JobRecord], now: Instant, into actions: inout [Action]) {
        // The records come in the order asked (the page's job order, missing jobs left out), so one walk
        // in step with the page finds each.
        var next = 0
        var previous: JobID?
        for location in page {
            if let previous, location.job != previous, next < records.count, records[next].id == previous { next += 1 }
            previous = location.job
            let record = next < records.count && records[next].id == location.job ? records[next] : nil
            guard Self.isOrphan(location, of: record) else { continue }
            actions.append(.observe(.orphanDeleted(location)))
            deletedThisWalk += 1
            if !configuration.keepsOrphans { actions.append(.delete(location)) }
        }
        cursor = page.last
        page = []
        if pageIsLast { return finishWalk(now: now, into: &actions) }
        listNextPage(now: now, into: &actions)
    }

    /// The step failed or timed out: the same page is tried again after a short pause.
    mutating func retryLater(now: Instant, into actions: inout [Action]) {
        page = []
        scheduleWalk(after: configuration.answerTimeout, now: now, into: &actions)
    }

    mutating func finishWalk(now: Instant, into actions: inout [Action]) {
        actions.append(.observe(.passFinished(deleted: deletedThisWalk)))
        deletedThisWalk = 0
        cursor = nil
        page = []
        scheduleWalk(after: configuration.every, now: now, into: &actions)
    }
}
