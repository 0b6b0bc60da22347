// The gateway node: authenticates by static API key, rate-limits per key, validates the request
// against the deployment, turns the client's timeout into a deadline, forwards to the router and
// guarantees the client exactly one answer by that deadline (504 if nothing better came back).

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
        public var keys: [APIKey] = []
        public var rateLimits = RateLimiter.Configuration()
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
    }

    /// What the gateway asks its shell to do.
    public enum Action: Sendable {
        /// Send this request to the router.
        case forward(RouteRequest)
        /// Answer the client.
        case respond(InferenceResponse)
        /// Call back with `timerFired` at this instant of the gateway's clock.
        case setTimer(TimerID, at: Instant)
        /// Report a fact for telemetry and oracles.
        case observe(Observation)
    }

    struct Pending {
        var deadline: Instant
        var keyIndex: Int
    }

    public let configuration: Configuration
    var limiter: RateLimiter
    let keyTable: APIKeyTable
    var pending = IdentifierTable<Pending>(capacity: 1_024)
    var random: SeededRandom
    var requestCounter: UInt64 = 0

    public init(configuration: Configuration) {
        self.configuration = configuration
        limiter = RateLimiter(configuration: Gateway.share(configuration.rateLimits, of: configuration.gatewayCount))
        keyTable = APIKeyTable(configuration.keys)
        random = SeededRandom(seed: configuration.seed, stream: 0x6A7E)
    }

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
        shared.overrides = limits.overrides.map {
            RateLimiter.Override(
                key: $0.key, rate: TokenBucket.Rate(requests: $0.rate.requests, per: $0.rate.period * divisor),
                burst: max(1, $0.burst / divisor))
        }
        return shared
    }

    /// A fresh request id for a request the shell parsed (unique across gateways).
    public mutating func nextRequestID() -> RequestID {
        requestCounter += 1
        return RequestID(UInt64(configuration.gatewayIndex) << 48 | requestCounter)
    }

    /// Feeds one input; actions are appended in the order the shell must perform them.
    public mutating func handle(_ input: Input, now: Instant, into actions: inout [Action]) {
        switch input {
        case .request(let request): accept(request, now: now, into: &actions)
        case .routerReplied(let reply):
            guard pending.removeValue(forKey: reply.id.value) != nil else { return }
            respond(reply.id, reply.outcome, into: &actions)
        case .timerFired(let timer):
            let id = RequestID(timer.value)
            guard pending.removeValue(forKey: id.value) != nil else { return }
            respond(id, .failed(.timeout, retryAfter: .zero), into: &actions)
        }
    }

    mutating func accept(_ request: InferenceRequest, now: Instant, into actions: inout [Action]) {
        let keyIndex: Int
        switch keyTable.authorize(request.credential) {
        case .allowed(let index): keyIndex = index
        case .refused(let kind): return reject(request.id, kind, into: &actions)
        }
        let key = configuration.keys[keyIndex]
        if let problem = validate(request) { return reject(request.id, problem, into: &actions) }
        if !configuration.sabotage.contains(.noRateLimit) {
            if case .denied(let retryAfter) = limiter.admit(key: key.name, now: now) {
                actions.append(.observe(.rejectedAtGateway(request.id, .rateLimited)))
                return actions.append(
                    .respond(InferenceResponse(id: request.id, outcome: .failed(.rateLimited, retryAfter: retryAfter))))
            }
        }
        guard pending.count < configuration.pendingMax, !pending.contains(request.id.value) else {
            return reject(request.id, .unavailable, into: &actions)
        }
        var timeout = request.timeout == .zero ? configuration.defaultTimeout : request.timeout
        timeout = min(timeout, configuration.timeoutMax)
        let deadline = now + timeout
        pending[request.id.value] = Pending(deadline: deadline, keyIndex: keyIndex)
        actions.append(.observe(.admitted(request.id, keyIndex: keyIndex)))
        actions.append(.setTimer(TimerID(request.id.value), at: deadline))
        let budget = timeout - configuration.replyMargin
        actions.append(
            .forward(
                RouteRequest(
                    id: request.id, model: request.model, version: request.version, stickyKey: request.stickyKey,
                    inputElements: request.inputElements, budget: budget)))
    }

    /// Checks the request against the deployment; returns the error to answer with, if any.
    func validate(_ request: InferenceRequest) -> ErrorKind? {
        guard let model = configuration.deployment.model(request.model) else { return .badRequest }
        if request.inputElements < 1 || request.inputElements > model.inputElementsMax { return .badRequest }
        if request.version != 0 && model.version(request.version) == nil { return .badRequest }
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
