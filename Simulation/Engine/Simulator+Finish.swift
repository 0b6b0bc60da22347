// The end of a run: the liveness oracles (after the faults stop the system must converge within
// the recovery bound), the end-of-run safety checks, and the run's report.

import PlatformCore

/// What one run produced.
public struct RunOutcome: Sendable {
    public var report: RunReport
    public var historyHash: UInt64
    public var violationCount: Int
    public var sometimesHits: [Int]
    /// Batch jobs that got a 202, and how many of them succeeded (zero without a batch path).
    public var batchJobsAccepted = 0
    public var batchJobsSucceeded = 0
}

extension Simulator {
    func finish() -> RunOutcome {
        checkLiveness()
        checkCanaryShares()
        checkRollout()
        checkKeys()
        checkExpectations()
        checkBatchEnd()
        let hash = history.value
        var report = buildReport(hash: hash)
        report.batch = batchSummary()
        report.registry = registrySummary()
        if scenario.canary != nil { report.canaryDecisions = oracles.canaryAudit }
        var outcome = RunOutcome(
            report: report, historyHash: hash, violationCount: oracles.violationCount,
            sometimesHits: oracles.sometimesHits)
        if let world = batch {
            outcome.batchJobsAccepted = world.acceptedJobs.count
            outcome.batchJobsSucceeded =
                world.acceptedJobs.filter { world.store.model.job($0)?.state == .succeeded }.count
        }
        return outcome
    }

    func checkLiveness() {
        let end = horizon
        for orchestrator in 0..<scenario.orchestrators {
            for backend in 0..<scenario.backends.count {
                let phase = oracles.breakerPhases[orchestrator * scenario.backends.count + backend]
                if phase != .closed {
                    oracles.violate(
                        "liveness-breakers-closed", at: end,
                        "orchestrator-\(orchestrator)'s breaker for \(scenario.backends[backend].name) is "
                            + "still \(Oracles.name(phase)) at the end"
                    )
                }
            }
        }
        for (backend, ejected) in oracles.backendEjected.enumerated() where ejected {
            oracles.violate(
                "liveness-readmitted", at: end,
                "\(scenario.backends[backend].name) is still ejected by the router at the end")
        }
        for (orchestrator, ejected) in oracles.orchestratorEjected.enumerated() where ejected {
            oracles.violate("liveness-readmitted", at: end, "orchestrator-\(orchestrator) is still ejected at the end")
        }
        if metrics.recovered.total >= 20 {
            let p99 = metrics.recovered.percentileMilliseconds(99)
            if p99 > Double(scenario.sloP99.nanoseconds) / 1e6 {
                oracles.violate(
                    "liveness-latency-slo", at: end,
                    "p99 \(ReportNumber.ms(p99))ms after recovery (from "
                        + "\(JSONSeconds.format(recoveredFrom))), SLO \(scenario.sloP99)"
                )
            }
        }
        if metrics.recoveredRequests >= 100
            && Int64(metrics.recoveredFailures) * 1_000_000 > scenario.errorRateMax.partsPerMillion
                * Int64(metrics.recoveredRequests)
        {
            oracles.violate(
                "liveness-errors", at: end,
                "\(metrics.recoveredFailures) of \(metrics.recoveredRequests) requests failed (503/504) after "
                    + "recovery, allowed \(scenario.errorRateMax)"
            )
        }
        let stuck =
            gateways.map(\.pendingCount).reduce(0, +) + router.pendingCount
            + orchestrators.map(\.executionCount).reduce(0, +)
        if stuck > 0 {
            oracles.violate(
                "liveness-drained", at: end,
                "\(stuck) requests still pending in gateways, router or orchestrators at the end")
        }
    }

    func checkCanaryShares() {
        for (modelIndex, model) in scenario.models.enumerated() {
            let counts = oracles.canaryCounts[modelIndex]
            let total = counts.reduce(0, +)
            let weights = model.versions.map { $0.state.takesTraffic ? $0.weight : 0 }
            let weightTotal = weights.reduce(0, +)
            guard total >= 200, weightTotal > 0, weights.filter({ $0 > 0 }).count >= 2 else { continue }
            for (position, version) in model.versions.enumerated() {
                let expected = Double(weights[position]) / Double(weightTotal)
                let mean = Double(total) * expected
                let bound = 5 * (Double(total) * expected * (1 - expected)).squareRoot() + 5
                if abs(Double(counts[position]) - mean) > bound {
                    oracles.violate(
                        "canary-share", at: horizon,
                        "\(model.name) v\(version.number) got \(counts[position]) of \(total) unpinned "
                            + "requests; weight \(weights[position])/\(weightTotal) expects \(Int(mean)) ± "
                            + "\(Int(bound))"
                    )
                }
            }
        }
    }

    func checkKeys() {
        for (index, key) in scenario.keys.enumerated() where key.protected {
            let figures = metrics.keys[index]
            if figures.rateLimited > 0 {
                oracles.violate("key-slo", at: horizon, "protected key \(key.name) got \(figures.rateLimited) 429s")
            }
            let p99 = figures.latency.percentileMilliseconds(99)
            if figures.latency.total >= 20 && p99 > Double(scenario.sloP99.nanoseconds) / 1e6 {
                oracles.violate(
                    "key-slo", at: horizon,
                    "protected key \(key.name) p99 \(ReportNumber.ms(p99))ms over the run, SLO "
                        + "\(scenario.sloP99)"
                )
            }
        }
    }

    func checkExpectations() {
        for (index, expectation) in scenario.expectations.enumerated() {
            let counts = oracles.expectationCalls[index]
            guard counts.pool > 0 else { continue }
            if Int64(counts.backend) * 1_000_000 > expectation.share.partsPerMillion * Int64(counts.pool) {
                oracles.violate(
                    "expectation", at: expectation.end.nanoseconds,
                    "\(scenario.backends[expectation.backend].name) got \(counts.backend) of \(counts.pool) "
                        + "calls of its pool between \(JSONSeconds.format(expectation.start.nanoseconds)) and "
                        + "\(JSONSeconds.format(expectation.end.nanoseconds)), at most "
                        + "\(expectation.share) expected"
                )
            }
        }
    }
}

extension Simulator {
    /// The rollout reached the verdict the scenario expects, by its deadline; a rollback came before the canary
    /// failed more than the scenario allows beyond stable's rate.
    func checkRollout() {
        guard let canary = scenario.canary else { return }
        let deadline = canary.deadline.nanoseconds
        guard let verdict = oracles.rolloutVerdict else {
            return oracles.violate(
                "canary-verdict", at: horizon,
                "the canary analysis reached no verdict; expected \(canary.expect.rawValue) by "
                    + JSONSeconds.format(deadline))
        }
        let promoted: Bool
        switch verdict.verdict {
        case .promoted: promoted = true
        default: promoted = false
        }
        if promoted != (canary.expect == .promote) {
            oracles.violate(
                "canary-verdict", at: verdict.at,
                "the canary was \(promoted ? "promoted" : "rolled back (\(verdict.verdict))") at "
                    + "\(JSONSeconds.format(verdict.at)); expected \(canary.expect.rawValue)")
        } else if verdict.at > deadline {
            oracles.violate(
                "canary-verdict", at: verdict.at,
                "the canary was \(promoted ? "promoted" : "rolled back") at \(JSONSeconds.format(verdict.at)), after "
                    + "the deadline \(JSONSeconds.format(deadline))")
        }
        if canary.expect == .rollback && verdict.excess > canary.allowedExcessFailures {
            oracles.violate(
                "canary-verdict", at: verdict.at,
                "the canary failed \(verdict.excess) requests beyond stable's rate before its rollback, allowed "
                    + "\(canary.allowedExcessFailures)")
        }
    }
}
