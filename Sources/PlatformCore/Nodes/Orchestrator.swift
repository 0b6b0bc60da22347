// The orchestrator node: runs one routed request against the backends of its version. Every
// attempt passes the backend's circuit breaker and gets a per-try timeout; failures are retried
// with jittered exponential backoff, on another backend when one is available, only while the
// retry budget and the deadline allow. It answers its router exactly once per request.

/// The orchestrator machine: execute requests in, backend calls and execute replies out.
public struct Orchestrator: Sendable {
    public struct Configuration: Sendable {
        /// Distinguishes call ids of several orchestrators (high bits of every id it makes).
        public var orchestratorIndex: Int = 0
        public var deployment = Deployment(models: [], backendCount: 0)
        public var breaker = CircuitBreaker.Configuration()
        public var retry = RetryPolicy.Configuration()
        public var budget = RetryBudget.Configuration()
        /// Kept back from the budget so the reply reaches the router in time.
        public var replyMargin: Duration = .milliseconds(2)
        public var executionsMax: Int = 100_000
        public var sabotage: Sabotage = []
        public var seed: UInt64 = 3
        public init() {}
    }

    /// What the orchestrator is told.
    public enum Input: Sendable {
        /// The router asks to run a request.
        case execute(ExecuteRequest)
        /// A backend answered an attempt.
        case backendReplied(BackendReply)
        /// A timer the orchestrator set has fired.
        case timerFired(TimerID)
    }

    /// What the orchestrator asks its shell to do.
    public enum Action: Sendable {
        /// Send an attempt to a backend.
        case call(BackendCall)
        /// Answer the router.
        case reply(ExecuteReply)
        /// Call back with `timerFired` at this instant of the orchestrator's clock.
        case setTimer(TimerID, at: Instant)
        /// Report a fact for telemetry and oracles.
        case observe(Observation)
    }

    /// One request being run. Its sequence number names its calls and timers.
    struct Execution {
        var request: ExecuteRequest
        var deadline: Instant
        var attempts: Int = 0
        var backend: BackendID
        var callStartedAt: Instant = .zero
        var probe: Bool = false
        /// True while an attempt is in flight (false while backing off).
        var calling: Bool = false
        var preferredFailed: Bool = false
        var lastFailure: RetryPolicy.Failure = .unavailable
    }

    /// Timer kinds, in the low bit of a timer id.
    enum TimerKind: UInt64 {
        case attemptTimeout = 0
        case backoffOver = 1
    }

    public let configuration: Configuration
    var breakers: [CircuitBreaker]
    let policy: RetryPolicy
    var budget: RetryBudget
    var executions = IdentifierTable<Execution>(capacity: 1_024)
    var sequence: UInt64 = 0
    var random: SeededRandom

    public init(configuration: Configuration) {
        precondition(configuration.retry.attemptsMax < 256, "attempt numbers live in 8 bits of call ids")
        self.configuration = configuration
        var breakerConfiguration = configuration.breaker
        if configuration.sabotage.contains(.noBreaker) { breakerConfiguration.neverOpens = true }
        breakers = Array(
            repeating: CircuitBreaker(configuration: breakerConfiguration),
            count: configuration.deployment.backendCount)
        policy = RetryPolicy(configuration: configuration.retry)
        var budgetConfiguration = configuration.budget
        if configuration.sabotage.contains(.unboundedRetries) { budgetConfiguration.ignoresBudget = true }
        budget = RetryBudget(configuration: budgetConfiguration)
        random = SeededRandom(seed: configuration.seed, stream: 0x0C4E)
    }

    /// Requests being run.
    public var executionCount: Int { executions.count }

    /// The phase of each backend's breaker, indexed by `BackendID.value`.
    public var breakerPhases: [CircuitBreaker.Phase] { breakers.map(\.phase) }

    /// False when `.timerFired(timer)` at `now` would find nothing to do (the execution it belongs to finished, moved
    /// on to a later attempt, or is no longer in the phase the timer guards): no action, no state changed, so a
    /// shell may drop the firing.
    /// `mutating` only so that the machine is passed by address: it changes nothing, and a non-mutating call
    /// copies the whole machine onto the stack first, once per timer.
    public mutating func timerIsLive(_ timer: TimerID, now: Instant) -> Bool {
        let attemptNumber = Int((timer.value >> 1) & 0xFF)
        guard let execution = executions[timer.value >> 9], execution.attempts == attemptNumber else { return false }
        switch TimerKind(rawValue: timer.value & 1)! {
        case .attemptTimeout: return execution.calling
        case .backoffOver: return !execution.calling
        }
    }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        switch input {
        case .execute(let request): start(request, now: now, into: &actions)
        case .backendReplied(let reply):
            let (key, attemptNumber) = Self.decode(reply.call.value)
            guard var execution = executions[key], execution.calling, execution.attempts == attemptNumber else {
                return
            }
            if let failure = reply.failure {
                attemptFailed(&execution, key: key, failure, now: now, into: &actions)
            } else {
                finishCall(&execution, key: key, succeeded: true, now: now, into: &actions)
                executions[key] = nil
                let outcome = InferenceOutcome.ok(backend: execution.backend, version: execution.request.version)
                answer(execution, outcome, into: &actions)
            }
        case .timerFired(let timer):
            let key = timer.value >> 9
            let attemptNumber = Int((timer.value >> 1) & 0xFF)
            guard var execution = executions[key], execution.attempts == attemptNumber else { return }
            switch TimerKind(rawValue: timer.value & 1)! {
            case .attemptTimeout:
                guard execution.calling else { return }
                attemptFailed(&execution, key: key, .timeout, now: now, into: &actions)
            case .backoffOver:
                guard !execution.calling else { return }
                let next = alternate(after: execution.backend, request: execution.request)
                attempt(&execution, key: key, backend: next, now: now, into: &actions)
            }
        }
    }

    mutating func start(_ request: ExecuteRequest, now: Instant, into actions: inout [Action]) {
        guard executions.count < configuration.executionsMax else {
            let outcome = InferenceOutcome.failed(.unavailable, retryAfter: .seconds(1))
            return actions.append(
                .reply(ExecuteReply(id: request.id, outcome: outcome, preferredBackendFailed: false, attempts: 0)))
        }
        sequence += 1
        let key = UInt64(configuration.orchestratorIndex) << 40 | sequence
        var execution = Execution(
            request: request, deadline: now + request.budget - configuration.replyMargin,
            backend: request.preferredBackend)
        budget.requestStarted(now: now)
        actions.append(.observe(.executionStarted(request.id)))
        attempt(&execution, key: key, backend: request.preferredBackend, now: now, into: &actions)
    }

    /// Sends the next attempt to `backend`, or to another backend of the version if its breaker
    /// refuses; answers 503 at once when every breaker refuses.
    mutating func attempt(
        _ execution: inout Execution, key: UInt64, backend: BackendID, now: Instant, into actions: inout [Action]
    ) {
        var candidate = backend
        var refusedRetryAfter = Duration.seconds(60)
        // The version's pool is only needed once a breaker refuses (to find the next candidate and bound the tries);
        // the first candidate is always tried.
        var pool: [BackendID] = []
        var triesMax = 1
        var tries = 0
        while tries < triesMax {
            tries += 1
            let before = breakers[candidate.value].phase
            let decision = breakers[candidate.value].callStarting(now: now)
            noteBreaker(candidate, before: before, into: &actions)
            switch decision {
            case .admit(let probe):
                execution.attempts += 1
                execution.backend = candidate
                execution.probe = probe
                execution.calling = true
                execution.callStartedAt = now
                let call = CallID(key << 8 | UInt64(execution.attempts))
                actions.append(
                    .observe(.callStarted(execution.request.id, call, candidate, retry: execution.attempts > 1)))
                actions.append(
                    .call(
                        BackendCall(
                            call: call, backend: candidate, model: execution.request.model,
                            version: execution.request.version, inputElements: execution.request.inputElements)))
                let timeout = policy.perTryTimeout(now: now, deadline: execution.deadline)
                actions.append(.setTimer(Self.timer(key, execution.attempts, .attemptTimeout), at: now + timeout))
                executions[key] = execution
                return
            case .reject(let retryAfter):
                actions.append(.observe(.breakerRejected(candidate)))
                if candidate == execution.request.preferredBackend { execution.preferredFailed = true }
                refusedRetryAfter = min(refusedRetryAfter, retryAfter)
                if tries == 1 {
                    pool = backends(of: execution.request) ?? [backend]
                    triesMax = max(pool.count, 1)
                }
                candidate = Self.next(after: candidate, in: pool)
            }
        }
        executions[key] = nil
        answer(execution, .failed(.unavailable, retryAfter: refusedRetryAfter), into: &actions)
    }

    mutating func attemptFailed(
        _ execution: inout Execution, key: UInt64, _ failure: RetryPolicy.Failure, now: Instant,
        into actions: inout [Action]
    ) {
        finishCall(&execution, key: key, succeeded: false, now: now, into: &actions)
        execution.lastFailure = failure
        if execution.backend == execution.request.preferredBackend { execution.preferredFailed = true }
        let decision = policy.decide(
            attemptsMade: execution.attempts, failure: failure, idempotent: true, now: now,
            deadline: execution.deadline, budget: &budget, random: &random)
        switch decision {
        case .retry(let after):
            executions[key] = execution
            actions.append(.setTimer(Self.timer(key, execution.attempts, .backoffOver), at: now + after))
        case .giveUp(let reason):
            actions.append(.observe(.retryRefused(execution.request.id, reason)))
            executions[key] = nil
            let kind: ErrorKind = failure == .timeout && reason == .deadlineExceeded ? .timeout : .unavailable
            let retryAfter: Duration = kind == .unavailable ? .seconds(1) : .zero
            answer(execution, .failed(kind, retryAfter: retryAfter), into: &actions)
        }
    }

    /// Tells the breaker how the attempt in flight ended.
    mutating func finishCall(
        _ execution: inout Execution, key: UInt64, succeeded: Bool, now: Instant, into actions: inout [Action]
    ) {
        execution.calling = false
        let latency = now - execution.callStartedAt
        let backend = execution.backend
        let before = breakers[backend.value].phase
        breakers[backend.value].callFinished(
            succeeded ? .success(latency: latency) : .failure, probe: execution.probe, now: now)
        let call = CallID(key << 8 | UInt64(execution.attempts))
        actions.append(.observe(.callFinished(call, backend, succeeded: succeeded, latency: latency)))
        noteBreaker(backend, before: before, into: &actions)
    }

    func noteBreaker(_ backend: BackendID, before: CircuitBreaker.Phase, into actions: inout [Action]) {
        let after = breakers[backend.value].phase
        if after != before { actions.append(.observe(.breakerChanged(backend, after))) }
    }

    func answer(_ execution: Execution, _ outcome: InferenceOutcome, into actions: inout [Action]) {
        actions.append(
            .reply(
                ExecuteReply(
                    id: execution.request.id, outcome: outcome, preferredBackendFailed: execution.preferredFailed,
                    attempts: execution.attempts)))
    }

    /// The backend to retry on: the next one of the version after the failed one, so a retry
    /// avoids the backend that just failed when the version has another.
    func alternate(after backend: BackendID, request: ExecuteRequest) -> BackendID {
        guard let pool = backends(of: request) else { return backend }
        return Self.next(after: backend, in: pool)
    }

    /// The backends of the request's version (the first version with its number), read in place: no model or
    /// version record is copied.
    func backends(of request: ExecuteRequest) -> [BackendID]? {
        let modelIndex = request.model.value
        guard modelIndex >= 0 && modelIndex < configuration.deployment.models.count else { return nil }
        let versions = configuration.deployment.models[modelIndex].versions
        var position = 0
        while position < versions.count {
            if versions[position].number == request.version { return versions[position].backends }
            position += 1
        }
        return nil
    }

    static func next(after backend: BackendID, in pool: [BackendID]) -> BackendID {
        guard let position = pool.firstIndex(of: backend) else { return pool.first ?? backend }
        return pool[(position + 1) % pool.count]
    }

    static func timer(_ key: UInt64, _ attempt: Int, _ kind: TimerKind) -> TimerID {
        TimerID(key << 9 | UInt64(attempt & 0xFF) << 1 | kind.rawValue)
    }

    static func decode(_ call: UInt64) -> (key: UInt64, attempt: Int) { (call >> 8, Int(call & 0xFF)) }
}
