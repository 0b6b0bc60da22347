// The gateway node: authenticates (a stored API key, a bearer token, or a static key), validates the
// request against the deployment,
// rate-limits per key (by itself, or through a limiter store shared by every gateway), turns the
// client's timeout into a deadline, forwards to the router and guarantees the client exactly one
// answer by that deadline (504 if nothing better came back).

/// The gateway machine: client requests in, router requests and client responses out.
public struct Gateway: Sendable {
    /// A static API key and what it may do.
    public struct APIKey: Sendable, Hashable {
        /// The secret the client presents.
        public var credential: String
        /// A display name for reports and logs (never the secret).
        public var name: String
        /// False for keys that may not call inference (403).
        public var mayInfer: Bool
        public init(credential: String, name: String, mayInfer: Bool = true) {
            self.credential = credential
            self.name = name
            self.mayInfer = mayInfer
        }
    }

    public struct Configuration: Sendable {
        /// Distinguishes request ids of several gateways (high 16 bits of every id it makes).
        public var gatewayIndex: Int = 0
        /// Gateways sharing the key limits. Until the shared limiter store exists, each gateway
        /// enforces its share (rate and burst divided by this count), so a key's limit holds
        /// across all gateways when clients spread over them.
        public var gatewayCount: Int = 1
        /// The tenants' limit entries (and static credentials); a stored key's or a token's tenant names one.
        public var keys: [APIKey] = []
        /// Stored API keys and bearer tokens, besides the static keys (see `Authenticator`).
        public var credentials = CredentialSources()
        public var rateLimits = RateLimiter.Configuration()
        /// Local limits only, or a shared limiter store with its outage policy.
        public var rateLimitMode: RateLimitMode = .local
        public var deployment = Deployment(models: [], backendCount: 0)
        /// Used when the client gives no timeout.
        public var defaultTimeout: Duration = .seconds(1)
        /// Longest deadline a client may ask for.
        public var timeoutMax: Duration = .seconds(30)
        /// Time kept back from the downstream budget so the router's answer can travel back in time.
        public var replyMargin: Duration = .milliseconds(5)
        /// Requests in flight beyond this are shed with 503.
        public var pendingMax: Int = 100_000
        public var sabotage: Sabotage = []
        /// Seed of the gateway's own random stream (used only by the lost-reply sabotage).
        public var seed: UInt64 = 1
        public init() {}
    }

    /// What the gateway is told.
    public enum Input: Sendable {
        /// A client sent a request (the shell assigned `request.id` or the gateway will via `nextRequestID`).
        case request(InferenceRequest)
        /// The router answered a forwarded request.
        case routerReplied(RouteReply)
        /// A timer the gateway set has fired.
        case timerFired(TimerID)
        /// The shared limiter store answered a check.
        case limiterAnswered(LimitAnswer)
        /// Stored API keys changed (created, revoked, rotated): the replica takes them.
        case apiKeysChanged([APIKeyEntry])
        /// The token signing keys changed: tokens are checked by this authenticator from now on.
        case bearerKeysChanged(any BearerAuthenticator)
    }

    /// What the gateway asks its shell to do.
    public enum Action: Sendable {
        /// Send this request to the router.
        case forward(RouteRequest)
        /// Answer the client.
        case respond(InferenceResponse)
        /// Ask the shared limiter store for tokens; its answer comes back as `limiterAnswered`.
        case checkLimit(LimitCheck)
        /// Call back with `timerFired` at this instant of the gateway's clock.
        case setTimer(TimerID, at: Instant)
        /// Report a fact for telemetry and oracles.
        case observe(Observation)
    }

    struct Pending {
        var deadline: Instant
        var keyIndex: Int
    }

    /// A request waiting for the limiter store, with what it needs to go on.
    struct AwaitingLimit {
        var route: RouteRequest
        var keyIndex: Int
        var ownLimit: KeyLimit?
        var deadline: Instant
        var probe: Bool
        var sentAt: Instant
    }

    /// Limiter-timeout timers carry this bit, so they never collide with a request's deadline timer. Public so a
    /// shell whose limiter store answers within the same step can tell the timer will find nothing to do.
    public static let limiterTimerBit: UInt64 = 1 << 62

    public let configuration: Configuration
    var limiter: RateLimiter
    /// The buckets of stored keys with a limit of their own (this gateway's share of it), apart from the tenants'.
    var ownLimiter: RateLimiter
    /// Per key index, the limiter slot its bucket was last found in (see `RateLimiter.admit(key:hint:)`).
    var limiterHints: [Int]
    var authenticator: Authenticator
    var pending = IdentifierTable<Pending>(capacity: 1_024)
    var awaitingLimit = IdentifierTable<AwaitingLimit>(capacity: 64)
    /// Guards the limiter store (shared mode only).
    var limiterBreaker: CircuitBreaker
    /// The shared mode's policy and timeout (nil in local mode), apart from the configuration so no request copies
    /// the breaker's settings.
    var sharedLimits: (policy: LimiterPolicy, timeout: Duration)? = nil
    var random: SeededRandom
    var requestCounter: UInt64 = 0

    public init(configuration: Configuration) {
        self.configuration = configuration
        limiter = RateLimiter(configuration: Gateway.share(configuration.rateLimits, of: configuration.gatewayCount))
        ownLimiter = RateLimiter(configuration: configuration.rateLimits)
        limiterHints = Array(repeating: RateLimiter.none, count: configuration.keys.count)
        authenticator = Authenticator(keys: configuration.keys, sources: configuration.credentials)
        random = SeededRandom(seed: configuration.seed, stream: 0x6A7E)
        if case .shared(let settings) = configuration.rateLimitMode {
            sharedLimits = (settings.policy, settings.timeout)
            limiterBreaker = CircuitBreaker(configuration: settings.breaker)
        } else {
            limiterBreaker = CircuitBreaker(configuration: CircuitBreaker.Configuration())
        }
    }

    /// The limiter store's breaker phase (always closed in local mode).
    public var limiterPhase: CircuitBreaker.Phase { limiterBreaker.phase }

    /// Requests forwarded and not yet answered.
    public var pendingCount: Int { pending.count }

    /// One gateway's share of every limit: the same requests over a period `count` times as long.
    static func share(_ limits: RateLimiter.Configuration, of count: Int) -> RateLimiter.Configuration {
        precondition(count >= 1, "at least one gateway")
        guard count > 1 else { return limits }
        var shared = limits
        let divisor = Int64(count)
        shared.defaultRate = TokenBucket.Rate(
            requests: limits.defaultRate.requests, per: limits.defaultRate.period * divisor)
        shared.defaultBurst = max(1, limits.defaultBurst / divisor)
        shared.overrides = limits.overrides.map { share($0, of: count) }
        return shared
    }

    /// One gateway's share of one bucket's limit.
    static func share(_ limit: RateLimiter.Override, of count: Int) -> RateLimiter.Override {
        guard count > 1 else { return limit }
        let divisor = Int64(count)
        return RateLimiter.Override(
            key: limit.key, rate: TokenBucket.Rate(requests: limit.rate.requests, per: limit.rate.period * divisor),
            burst: max(1, limit.burst / divisor))
    }

    /// A fresh request id for a request the shell parsed (unique across gateways).
    public mutating func nextRequestID() -> RequestID {
        requestCounter += 1
        return RequestID(UInt64(configuration.gatewayIndex) << 48 | requestCounter)
    }

    /// False when `.timerFired(timer)` at `now` would find nothing to do: no action, no state changed (the request it
    /// guards was answered, or its limiter check came back). A shell may then drop the firing instead of feeding
    /// it; the simulator feeds every timer and checks that a timer called dead does nothing.
    public func timerIsLive(_ timer: TimerID, now: Instant) -> Bool {
        if timer.value & Gateway.limiterTimerBit != 0 {
            return sharedLimits != nil && awaitingLimit.contains(timer.value & ~Gateway.limiterTimerBit)
        }
        return pending.contains(timer.value)
    }

    /// Feeds one input; actions are appended in the order the shell must perform them. The input is consumed: a
    /// caller done with it hands it over, and its payload (a whole request) is moved rather than copied.
    public mutating func handle(_ input: consuming Input, now: Instant, into actions: inout [Action]) {
        switch consume input {
        case .request(let request): accept(request, now: now, into: &actions)
        case .routerReplied(let reply):
            guard pending.removeValue(forKey: reply.id.value) != nil else { return }
            respond(reply.id, reply.outcome, into: &actions)
        case .timerFired(let timer):
            if timer.value & Gateway.limiterTimerBit != 0 {
                return limiterTimedOut(RequestID(timer.value & ~Gateway.limiterTimerBit), now: now, into: &actions)
            }
            let id = RequestID(timer.value)
            guard pending.removeValue(forKey: id.value) != nil else { return }
            respond(id, .failed(.timeout, retryAfter: .zero), into: &actions)
        case .limiterAnswered(let answer): limiterAnswered(answer, now: now, into: &actions)
        case .apiKeysChanged(let entries): authenticator.apiKeysChanged(entries)
        case .bearerKeysChanged(let bearer): authenticator.bearerKeysChanged(bearer)
        }
    }

    mutating func accept(_ request: InferenceRequest, now: Instant, into actions: inout [Action]) {
        let keyIndex: Int
        let ownLimit: KeyLimit?
        switch authenticator.authorizeRemembering(request.credential, scope: .infer, now: now) {
        case .allowed(let index, let limit):
            keyIndex = index
            ownLimit = limit
        case .refused(let kind): return reject(request.id, kind, into: &actions)
        }
        if let problem = validate(request) { return reject(request.id, problem, into: &actions) }
        guard pending.count + awaitingLimit.count < configuration.pendingMax, !pending.contains(request.id.value),
            !awaitingLimit.contains(request.id.value)
        else {
            return reject(request.id, .unavailable, into: &actions)
        }
        var timeout = request.timeout == .zero ? configuration.defaultTimeout : request.timeout
        timeout = min(timeout, configuration.timeoutMax)
        let deadline = now + timeout
        let route = RouteRequest(
            id: request.id, model: request.model, version: request.version, stickyKey: request.stickyKey,
            inputElements: request.inputElements, budget: timeout - configuration.replyMargin)
        guard let settings = sharedLimits, !configuration.sabotage.contains(.noRateLimit)
        else {
            return limitLocally(
                route, keyIndex: keyIndex, ownLimit: ownLimit, deadline: deadline, now: now, into: &actions)
        }
        switch limiterBreaker.callStarting(now: now) {
        case .reject:
            applyPolicy(
                settings.policy, route, keyIndex: keyIndex, ownLimit: ownLimit, deadline: deadline, now: now,
                into: &actions)
        case .admit(let probe):
            awaitingLimit[request.id.value] = AwaitingLimit(
                route: route, keyIndex: keyIndex, ownLimit: ownLimit, deadline: deadline, probe: probe, sentAt: now)
            actions.append(.checkLimit(LimitCheck(id: request.id, keyIndex: keyIndex, ownLimit: ownLimit)))
            actions.append(
                .setTimer(
                    TimerID(request.id.value | Gateway.limiterTimerBit), at: min(now + settings.timeout, deadline)))
        }
    }

    /// Local mode, and fail-open's fallback: the gateway's own share of the key's limit decides.
    mutating func limitLocally(
        _ route: RouteRequest, keyIndex: Int, ownLimit: KeyLimit?, deadline: Instant, now: Instant,
        into actions: inout [Action]
    ) {
        if !configuration.sabotage.contains(.noRateLimit) {
            if case .denied(let retryAfter) = takeLocally(keyIndex: keyIndex, ownLimit: ownLimit, now: now) {
                return rateLimited(route.id, retryAfter: retryAfter, into: &actions)
            }
        }
        admit(route, keyIndex: keyIndex, deadline: deadline, into: &actions)
    }

    /// A token from this gateway's share of the bucket the request draws from: the stored key's own, or the
    /// tenant's.
    mutating func takeLocally(keyIndex: Int, ownLimit: KeyLimit?, now: Instant) -> TokenBucket.Decision {
        guard let ownLimit else {
            return limiter.admit(key: configuration.keys[keyIndex].name, hint: &limiterHints[keyIndex], now: now)
        }
        // `ownLimiter` holds the full limits, so the bucket is the key's whole limit before this gateway's share.
        let bucket = ownLimiter.bucket(for: ownLimit, tenant: configuration.keys[keyIndex].name)
        return ownLimiter.admit(Gateway.share(bucket, of: configuration.gatewayCount), now: now)
    }

    mutating func limiterAnswered(_ answer: LimitAnswer, now: Instant, into actions: inout [Action]) {
        guard let settings = sharedLimits,
            let waiting = awaitingLimit.removeValue(forKey: answer.id.value)
        else { return }
        switch answer.decision {
        case .granted:
            limiterBreaker.callFinished(.success(latency: now - waiting.sentAt), probe: waiting.probe, now: now)
            // The local bucket is charged too, so a fail-open fallback starts from this gateway's real usage.
            _ = takeLocally(keyIndex: waiting.keyIndex, ownLimit: waiting.ownLimit, now: now)
            admit(waiting.route, keyIndex: waiting.keyIndex, deadline: waiting.deadline, into: &actions)
        case .denied(let retryAfter):
            limiterBreaker.callFinished(.success(latency: now - waiting.sentAt), probe: waiting.probe, now: now)
            rateLimited(answer.id, retryAfter: retryAfter, into: &actions)
        case .unavailable:
            limiterBreaker.callFinished(.failure, probe: waiting.probe, now: now)
            applyPolicy(
                settings.policy, waiting.route, keyIndex: waiting.keyIndex, ownLimit: waiting.ownLimit,
                deadline: waiting.deadline, now: now, into: &actions)
        }
    }

    mutating func limiterTimedOut(_ id: RequestID, now: Instant, into actions: inout [Action]) {
        guard let settings = sharedLimits,
            let waiting = awaitingLimit.removeValue(forKey: id.value)
        else { return }
        limiterBreaker.callFinished(.failure, probe: waiting.probe, now: now)
        applyPolicy(
            settings.policy, waiting.route, keyIndex: waiting.keyIndex, ownLimit: waiting.ownLimit,
            deadline: waiting.deadline, now: now, into: &actions)
    }

    /// The store could not answer: the configured policy decides.
    mutating func applyPolicy(
        _ policy: LimiterPolicy, _ route: RouteRequest, keyIndex: Int, ownLimit: KeyLimit?, deadline: Instant,
        now: Instant, into actions: inout [Action]
    ) {
        actions.append(.observe(.limiterUnavailable(route.id, policy)))
        var applied = policy
        if configuration.sabotage.contains(.flipLimiterPolicy) {
            applied = policy == .failOpen ? .failClosed : .failOpen
        }
        switch applied {
        case .failOpen:
            limitLocally(route, keyIndex: keyIndex, ownLimit: ownLimit, deadline: deadline, now: now, into: &actions)
        case .failClosed: reject(route.id, .unavailable, into: &actions)
        }
    }

    mutating func rateLimited(_ id: RequestID, retryAfter: Duration, into actions: inout [Action]) {
        actions.append(.observe(.rejectedAtGateway(id, .rateLimited)))
        actions.append(.respond(InferenceResponse(id: id, outcome: .failed(.rateLimited, retryAfter: retryAfter))))
    }

    /// Past every check: the request is forwarded and its deadline timer set.
    mutating func admit(_ route: RouteRequest, keyIndex: Int, deadline: Instant, into actions: inout [Action]) {
        pending[route.id.value] = Pending(deadline: deadline, keyIndex: keyIndex)
        actions.append(.observe(.admitted(route.id, keyIndex: keyIndex)))
        actions.append(.setTimer(TimerID(route.id.value), at: deadline))
        actions.append(.forward(route))
    }

    /// Checks the request against the deployment; returns the error to answer with, if any.
    func validate(_ request: InferenceRequest) -> ErrorKind? {
        // The deployment is read in place: no model record is copied per request.
        let modelIndex = request.model.value
        let models = configuration.deployment.models
        guard modelIndex >= 0 && modelIndex < models.count else { return .badRequest }
        if request.inputElements < 1 || request.inputElements > models[modelIndex].inputElementsMax {
            return .badRequest
        }
        if request.version != 0 && !Deployment.contains(version: request.version, in: models[modelIndex].versions) {
            return .badRequest
        }
        if request.timeout < .zero { return .badRequest }
        return nil
    }

    mutating func reject(_ id: RequestID, _ kind: ErrorKind, into actions: inout [Action]) {
        actions.append(.observe(.rejectedAtGateway(id, kind)))
        let retryAfter: Duration = kind == .unavailable ? .seconds(1) : .zero
        actions.append(.respond(InferenceResponse(id: id, outcome: .failed(kind, retryAfter: retryAfter))))
    }

    mutating func respond(_ id: RequestID, _ outcome: InferenceOutcome, into actions: inout [Action]) {
        if configuration.sabotage.contains(.lostReply) && random.chance(.permille(5)) { return }
        actions.append(.respond(InferenceResponse(id: id, outcome: outcome)))
    }
}
