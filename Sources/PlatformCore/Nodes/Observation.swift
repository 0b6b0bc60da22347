// Facts a node reports about its own decisions: the shell turns them into metrics, logs and
// spans, and the simulator's oracles and "sometimes" properties read them. They never feed back
// into a machine.

/// Something a node decided or saw, for telemetry and oracles.
public enum Observation: Sendable, Hashable {
    /// The gateway let a request through authentication, validation and the rate limiter.
    case admitted(RequestID, keyIndex: Int)
    /// The gateway answered a request itself without forwarding it.
    case rejectedAtGateway(RequestID, ErrorKind)
    /// The shared limiter store could not answer for this request (down, slow, or its breaker open), so the
    /// gateway's outage policy decided instead.
    case limiterUnavailable(RequestID, LimiterPolicy)
    /// The router sent a request to a version and backend through an orchestrator.
    case routed(RequestID, model: ModelID, version: Int, state: VersionState, backend: BackendID, via: OrchestratorID)
    /// The router's health tracking took a backend out of rotation.
    case backendEjected(BackendID)
    /// The router put an ejected backend back into rotation.
    case backendReadmitted(BackendID)
    /// The router's health tracking took an orchestrator out of rotation.
    case orchestratorEjected(OrchestratorID)
    /// The router put an ejected orchestrator back into rotation.
    case orchestratorReadmitted(OrchestratorID)
    /// The router gave up waiting for an orchestrator.
    case orchestratorTimedOut(RequestID, OrchestratorID)
    /// An orchestrator began running a request (before any breaker decision).
    case executionStarted(RequestID)
    /// An orchestrator sent an attempt to a backend; `retry` is false for a request's first attempt.
    case callStarted(RequestID, CallID, BackendID, retry: Bool)
    /// An attempt ended as the orchestrator saw it (a per-try timeout is a failure).
    case callFinished(CallID, BackendID, succeeded: Bool, latency: Duration)
    /// A backend's circuit breaker (in this orchestrator) changed phase.
    case breakerChanged(BackendID, CircuitBreaker.Phase)
    /// A breaker refused a call to a backend.
    case breakerRejected(BackendID)
    /// The rollout controller of a model decided something (every look, step, promotion, rollback, override);
    /// the decision with its evidence waits in the router's audit log (`takeCanaryAudit`). Observations stay
    /// plain values: every action of every node carries one.
    case canaryDecided(ModelID)
    /// The retry policy declined to retry.
    case retryRefused(RequestID, RetryPolicy.GiveUpReason)
}
