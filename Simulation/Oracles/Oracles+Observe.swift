// The oracles' view of node observations: breaker and retry references, rate limits, routing.

import PlatformCore

extension Oracles {
    /// Feeds one observation reported by `node` at global `time`.
    mutating func observe(_ observation: Observation, node: Int, time: Int64) {
        switch observation {
        case .admitted(let id, let keyIndex):
            checkRateLimit(keyIndex, at: time)
            if let fallback = limiterFallback, fallback.id == id, fallback.policy == .failClosed {
                violate(
                    "limiter-policy", at: time,
                    "request \(id.value) admitted without the limiter store under fail-closed")
            }
        case .rejectedAtGateway(let id, let kind):
            if kind == .rateLimited { hit(.requestRateLimited) }
            if kind == .unavailable, let fallback = limiterFallback, fallback.id == id, fallback.policy == .failOpen {
                violate(
                    "limiter-policy", at: time,
                    "request \(id.value) refused with 503 for a limiter outage under fail-open")
            }
        case .canaryDecided: break  // the simulator reads the router's audit log (`rolloutDecided`)
        case .limiterUnavailable(let id, let policy):
            limiterFallback = (id, policy)
            hit(.limiterFellBack)
        case .routed(let id, let model, let version, let state, _, _):
            checkRouted(id, model: model, version: version, state: state, at: time)
        case .backendEjected(let backend):
            backendEjected[backend.value] = true
            hit(.backendEjected)
        case .backendReadmitted(let backend):
            backendEjected[backend.value] = false
            hit(.backendReadmitted)
        case .orchestratorEjected(let orchestrator):
            orchestratorEjected[orchestrator.value] = true
            hit(.orchestratorEjected)
        case .orchestratorReadmitted(let orchestrator): orchestratorEjected[orchestrator.value] = false
        case .orchestratorTimedOut: break
        case .executionStarted: firstAttempts[node - layout.orchestrator(0)].add(at: time)
        case .callStarted(let id, _, let backend, let retry):
            callStarted(
                id, backend: backend.value, retry: retry, orchestrator: node - layout.orchestrator(0), at: time)
        case .callFinished(_, let backend, let succeeded, let latency):
            callFinished(
                backend: backend.value, orchestrator: node - layout.orchestrator(0), succeeded: succeeded,
                latency: latency, at: time)
        case .breakerChanged(let backend, let phase):
            let pair = (node - layout.orchestrator(0)) * backendCount + backend.value
            let previous = breakerPhases[pair]
            breakerPhases[pair] = phase
            breakerTransitions[pair].append(BreakerTransition(atSeconds: Double(time) / 1e9, phase: Self.name(phase)))
            switch phase {
            case .open: hit(.breakerOpened)
            case .halfOpen: hit(.breakerHalfOpened)
            case .closed: if previous != .closed { hit(.breakerReclosed) }
            }
        case .breakerRejected: break
        case .retryRefused(_, let reason):
            switch reason {
            case .budgetExhausted: hit(.retryRefusedByBudget)
            case .deadlineExceeded: hit(.retryRefusedByDeadline)
            case .notRetryable, .attemptsExhausted: break
            }
        }
    }

    static func name(_ phase: CircuitBreaker.Phase) -> String {
        switch phase {
        case .closed: "closed"
        case .halfOpen: "halfOpen"
        case .open: "open"
        }
    }

    /// Admitted requests per key never exceed limit + burst in any one-minute window (plus what
    /// the gateway's own clock drift can add).
    mutating func checkRateLimit(_ keyIndex: Int, at time: Int64) {
        let key = scenario.keys[keyIndex]
        let inWindow = Int64(admitted[keyIndex].add(at: time))
        let bound = key.requestsPerMinute + key.burst + rateTolerance[keyIndex]
        if inWindow > bound && time >= rateLimitReportedUntil[keyIndex] {
            rateLimitReportedUntil[keyIndex] = time + Duration.minutes(1).nanoseconds
            violate(
                "rate-limit", at: time,
                "key \(key.name): \(inWindow) requests admitted in the minute before \(seconds(time)), limit "
                    + "\(key.requestsPerMinute)/min + burst \(key.burst)"
            )
        }
    }

    mutating func checkRouted(
        _ id: RequestID, model: ModelID, version: Int, state: VersionState, at time: Int64
    ) {
        if !state.takesTraffic {
            violate("serving-version-only", at: time, "\(id) routed to version \(version) in state \(state.name)")
        }
        if scenario.canary != nil { client.routed(id.value, version: version) }
        guard let record = client.record(id.value), record.version == 0 else { return }
        guard let position = scenario.models[model.value].versions.firstIndex(where: { $0.number == version }) else {
            return
        }
        if record.stickyKey == 0 {
            canaryCounts[model.value][position] += 1
        } else if let earlier = stickyVersions[record.stickyKey] {
            if earlier != version {
                violate(
                    "canary-share", at: time,
                    "sticky key \(record.stickyKey) went to version \(earlier) and then to version \(version)")
            }
        } else if stickyVersions.count < 200_000 {
            stickyVersions[record.stickyKey] = version
        }
    }

    mutating func callStarted(
        _ id: RequestID, backend: Int, retry: Bool, orchestrator: Int, at time: Int64
    ) {
        let pair = orchestrator * backendCount + backend
        let reference = breakerReferences[pair]
        if time >= reference.windowStart && time < reference.windowEnd && !reference.reported {
            breakerReferences[pair].reported = true
            violate(
                "no-calls-while-open", at: time,
                "orchestrator-\(orchestrator) called \(scenario.backends[backend].name) at \(seconds(time)) "
                    + "after \(scenario.breaker.consecutiveFailuresToOpen) consecutive failures at "
                    + "\(seconds(reference.windowStart)); its breaker must be open"
            )
        }
        for (index, expectation) in scenario.expectations.enumerated()
        where time >= expectation.start.nanoseconds && time < expectation.end.nanoseconds {
            if expectation.backend == backend { expectationCalls[index].backend += 1 }
            if poolOfBackend[expectation.backend].contains(backend) { expectationCalls[index].pool += 1 }
        }
        guard retry else { return }
        hit(.retrySent)
        retries[orchestrator].add(at: time)
        let retriesSeen = retries[orchestrator].total(at: time)
        let firstSeen = firstAttempts[orchestrator].total(at: time)
        let budget = scenario.budget
        let allowed = 3 * budget.minimumRetriesPerWindow + 2 * budget.retryRatio.of(firstSeen) + 5
        if retriesSeen > allowed {
            violate(
                "retry-budget", at: time,
                "orchestrator-\(orchestrator) sent \(retriesSeen) retries for \(firstSeen) requests in "
                    + "\(2 * budget.window.nanoseconds / 1_000_000_000)s (budget \(budget.retryRatio) + "
                    + "\(budget.minimumRetriesPerWindow) per window)"
            )
        }
        if let record = client.record(id.value), time > record.deadline {
            violate(
                "no-retry-after-deadline", at: time,
                "\(id) retried at \(seconds(time)), after its deadline \(seconds(record.deadline))")
        }
    }

    /// The reference breaker: after `consecutiveFailuresToOpen` failures in a row (slow calls
    /// count), the real breaker must be open for at least its open duration; allowing for calls
    /// already in flight when it opened, no call may start for `openDuration - perTryTimeout`.
    mutating func callFinished(backend: Int, orchestrator: Int, succeeded: Bool, latency: Duration, at time: Int64) {
        let pair = orchestrator * backendCount + backend
        var reference = breakerReferences[pair]
        defer { breakerReferences[pair] = reference }
        if time < reference.windowEnd { return }
        if reference.windowEnd > 0 && reference.consecutiveFailures >= scenario.breaker.consecutiveFailuresToOpen {
            reference.consecutiveFailures = 0
        }
        let failed = !succeeded || latency >= scenario.breaker.slowCallThreshold
        guard failed else {
            reference.consecutiveFailures = 0
            return
        }
        reference.consecutiveFailures += 1
        if reference.consecutiveFailures >= scenario.breaker.consecutiveFailuresToOpen && breakerWindow > 0 {
            reference.windowStart = time
            reference.windowEnd = time + breakerWindow
            reference.reported = false
        }
    }

    /// Under fail-closed, nothing is admitted while the limiter store is down, except answers the store sent
    /// before it went down (they arrive within the gateway's limiter timeout).
    mutating func admittedWhileLimiterDown(since: Int64, at time: Int64) {
        guard let limiter = scenario.limiter, limiter.policy == .failClosed else { return }
        if time > since + limiter.timeout.nanoseconds {
            violate(
                "limiter-policy", at: time,
                "a request was admitted under fail-closed while the limiter store has been down since \(seconds(since))"
            )
        }
    }

    /// Counts a finished request of the rollout's two versions, as the client saw it.
    mutating func rolloutAnswered(version: Int32, failed: Bool) {
        guard let canary = scenario.canary else { return }
        if Int(version) == canary.stable {
            rolloutStable.samples += 1
            if failed { rolloutStable.failures += 1 }
        } else if Int(version) == canary.canary {
            rolloutCanary.samples += 1
            if failed { rolloutCanary.failures += 1 }
        }
    }

    /// Canary failures beyond what stable's error rate plus the controller's margin predicts, from the clients'
    /// own counts.
    func rolloutExcess() -> Int64 {
        guard let canary = scenario.canary, rolloutStable.samples > 0 else { return rolloutCanary.failures }
        let marginPpm = canary.controller.errorRateMargin.partsPerMillion
        let predicted =
            (Int128(rolloutCanary.samples) * Int128(rolloutStable.failures) * 1_000_000
                + Int128(rolloutCanary.samples) * Int128(marginPpm) * Int128(rolloutStable.samples))
            / (Int128(rolloutStable.samples) * 1_000_000)
        return max(0, rolloutCanary.failures - Int64(predicted))
    }

    /// A decision of the rollout controller, from the router's audit log.
    mutating func rolloutDecided(_ decision: CanaryDecision, at time: Int64) {
        if canaryAudit.count < 1_000 { canaryAudit.append(CanaryAuditRow(decision, at: time)) }
        switch decision.verdict {
        case .promoted, .rolledBack:
            if rolloutVerdict == nil { rolloutVerdict = (decision.verdict, time, rolloutExcess()) }
        default: break
        }
    }
}
