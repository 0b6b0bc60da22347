// The values that travel between nodes on the synchronous inference path:
// client -> gateway -> router -> orchestrator -> backend and back. Ids and integers only (the
// credential aside), so the simulator can move millions of them a second and the production
// shell can encode them on any wire.

/// Why a request did not succeed; each kind is one HTTP status on the gateway.
public enum ErrorKind: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    /// The request is malformed or names something that does not exist (400).
    case badRequest
    /// No valid credential (401).
    case unauthorized
    /// The credential may not do this (403).
    case forbidden
    /// The key is over its rate limit (429 with Retry-After).
    case rateLimited
    /// No backend can take the request now: breakers open, retries exhausted, overload (503 with Retry-After).
    case unavailable
    /// The deadline passed before an answer (504).
    case timeout
    /// No such resource, or not visible to this credential (404).
    case notFound
    /// The request contradicts an earlier one, e.g. an idempotency key reused with another body (409).
    case conflict

    public static func < (lhs: ErrorKind, rhs: ErrorKind) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The HTTP status the gateway answers with.
    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .rateLimited: 429
        case .unavailable: 503
        case .timeout: 504
        case .notFound: 404
        case .conflict: 409
        }
    }

    /// The stable name used in reports and metrics.
    public var name: String {
        switch self {
        case .badRequest: "badRequest"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .rateLimited: "rateLimited"
        case .unavailable: "unavailable"
        case .timeout: "timeout"
        case .notFound: "notFound"
        case .conflict: "conflict"
        }
    }
}

/// How a request ended.
public enum InferenceOutcome: Sendable, Hashable {
    /// A backend answered; `version` is the model version that served it.
    case ok(backend: BackendID, version: Int)
    /// It failed; `retryAfter` is set for 429 and 503 (zero otherwise).
    case failed(ErrorKind, retryAfter: Duration)
}

/// A client's inference request as the gateway receives it (already parsed by the shell).
public struct InferenceRequest: Sendable, Hashable {
    public var id: RequestID
    /// The API key presented, e.g. from `Authorization: Bearer …`.
    public var credential: String
    public var model: ModelID
    /// A pinned version, or 0 to let the router choose (canary split).
    public var version: Int
    /// A stickiness key (e.g. a user id hash) for the canary split, or 0 for none.
    public var stickyKey: UInt64
    /// Number of input tensor elements, validated against the gateway's limits.
    public var inputElements: Int
    /// How long the client is willing to wait; zero means the gateway's default.
    public var timeout: Duration

    public init(
        id: RequestID, credential: String, model: ModelID, version: Int = 0, stickyKey: UInt64 = 0,
        inputElements: Int, timeout: Duration = .zero
    ) {
        self.id = id
        self.credential = credential
        self.model = model
        self.version = version
        self.stickyKey = stickyKey
        self.inputElements = inputElements
        self.timeout = timeout
    }
}

/// The gateway's answer to a client.
public struct InferenceResponse: Sendable, Hashable {
    public var id: RequestID
    public var outcome: InferenceOutcome
    public init(id: RequestID, outcome: InferenceOutcome) {
        self.id = id
        self.outcome = outcome
    }
}

/// Gateway -> router: route this admitted request. Time left travels as a budget, not an
/// instant, because node clocks disagree.
public struct RouteRequest: Sendable, Hashable {
    public var id: RequestID
    public var model: ModelID
    public var version: Int
    public var stickyKey: UInt64
    public var inputElements: Int
    public var budget: Duration
    public init(id: RequestID, model: ModelID, version: Int, stickyKey: UInt64, inputElements: Int, budget: Duration) {
        self.id = id
        self.model = model
        self.version = version
        self.stickyKey = stickyKey
        self.inputElements = inputElements
        self.budget = budget
    }
}

/// Router -> gateway: how the routed request ended.
public struct RouteReply: Sendable, Hashable {
    public var id: RequestID
    public var outcome: InferenceOutcome
    public init(id: RequestID, outcome: InferenceOutcome) {
        self.id = id
        self.outcome = outcome
    }
}

/// Router -> orchestrator: run this request on a version, starting with the preferred backend.
public struct ExecuteRequest: Sendable, Hashable {
    public var id: RequestID
    public var model: ModelID
    public var version: Int
    public var preferredBackend: BackendID
    public var inputElements: Int
    public var budget: Duration
    public init(
        id: RequestID, model: ModelID, version: Int, preferredBackend: BackendID, inputElements: Int, budget: Duration
    ) {
        self.id = id
        self.model = model
        self.version = version
        self.preferredBackend = preferredBackend
        self.inputElements = inputElements
        self.budget = budget
    }
}

/// Orchestrator -> router: how the execution ended, and whether the preferred backend failed
/// (what the router's health tracking learns from).
public struct ExecuteReply: Sendable, Hashable {
    public var id: RequestID
    public var outcome: InferenceOutcome
    public var preferredBackendFailed: Bool
    public var attempts: Int
    public init(id: RequestID, outcome: InferenceOutcome, preferredBackendFailed: Bool, attempts: Int) {
        self.id = id
        self.outcome = outcome
        self.preferredBackendFailed = preferredBackendFailed
        self.attempts = attempts
    }
}

/// Orchestrator -> backend: one inference attempt (KServe v2 infer in production).
public struct BackendCall: Sendable, Hashable {
    public var call: CallID
    public var backend: BackendID
    public var model: ModelID
    public var version: Int
    public var inputElements: Int
    public init(call: CallID, backend: BackendID, model: ModelID, version: Int, inputElements: Int) {
        self.call = call
        self.backend = backend
        self.model = model
        self.version = version
        self.inputElements = inputElements
    }
}

/// Backend -> orchestrator: the attempt's result.
public struct BackendReply: Sendable, Hashable {
    public var call: CallID
    /// nil on success, else the failure as the retry policy classifies it.
    public var failure: RetryPolicy.Failure?
    public init(call: CallID, failure: RetryPolicy.Failure?) {
        self.call = call
        self.failure = failure
    }
}
