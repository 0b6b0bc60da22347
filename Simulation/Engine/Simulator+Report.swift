// Assembling the run's report from the metrics and oracles: figures, timeline, breaker tracks,
// traffic per backend, keys, violations and sometimes-properties, all in fixed order.

import PlatformCore

extension Simulator {
    func buildReport(hash: UInt64) -> RunReport {
        let bucketSeconds = Double(metrics.bucketNanoseconds) / 1e9
        let timeline = metrics.buckets.enumerated().map { index, bucket in
            TimeBucket(
                startSeconds: Double(index) * bucketSeconds, requests: bucket.requests, ok: bucket.ok,
                rateLimited: bucket.errors[Int(ErrorKind.rateLimited.rawValue)],
                unavailable: bucket.errors[Int(ErrorKind.unavailable.rawValue)],
                timeout: bucket.errors[Int(ErrorKind.timeout.rawValue)],
                otherErrors: bucket.errors[Int(ErrorKind.badRequest.rawValue)]
                    + bucket.errors[Int(ErrorKind.unauthorized.rawValue)]
                    + bucket.errors[Int(ErrorKind.forbidden.rawValue)],
                retries: bucket.retries, p50Milliseconds: bucket.latency.percentileMilliseconds(50),
                p95Milliseconds: bucket.latency.percentileMilliseconds(95),
                p99Milliseconds: bucket.latency.percentileMilliseconds(99))
        }
        var breakers: [BreakerTrack] = []
        for orchestrator in 0..<scenario.orchestrators {
            for backend in 0..<scenario.backends.count {
                let transitions = oracles.breakerTransitions[orchestrator * scenario.backends.count + backend]
                guard !transitions.isEmpty else { continue }
                breakers.append(
                    BreakerTrack(
                        name: "orchestrator-\(orchestrator) → \(scenario.backends[backend].name)",
                        transitions: transitions))
            }
        }
        var backendTraffic: [BackendTraffic] = []
        for (index, backend) in scenario.backends.enumerated() {
            var modelName = ""
            var versionNumber = 0
            for model in scenario.models {
                if let version = model.versions.first(where: { $0.backends.contains(index) }) {
                    modelName = model.name
                    versionNumber = version.number
                    break
                }
            }
            backendTraffic.append(
                BackendTraffic(
                    name: backend.name, model: modelName, version: versionNumber,
                    callsPerBucket: metrics.backendCalls[index]))
        }
        var keys = scenario.keys.enumerated().map { index, key in
            let figures = metrics.keys[index]
            return KeySummary(
                key: key.name, requests: figures.requests, ok: figures.ok, rateLimited: figures.rateLimited,
                p99Milliseconds: figures.latency.percentileMilliseconds(99))
        }
        if let unknown = metrics.keys.last, unknown.requests > 0 {
            keys.append(
                KeySummary(
                    key: "(unknown credential)", requests: unknown.requests, ok: unknown.ok, rateLimited: 0,
                    p99Milliseconds: 0))
        }
        let faults = scenario.faults.map {
            FaultWindow(
                kind: $0.kind.rawValue, target: $0.targetName, startSeconds: Double($0.start.nanoseconds) / 1e9,
                endSeconds: Double($0.end.nanoseconds) / 1e9)
        }
        let errors = ErrorKind.allCases.sorted { $0.name < $1.name }.map {
            ErrorCount(kind: $0.name, status: $0.httpStatus, count: metrics.errors[Int($0.rawValue)])
        }
        let sometimes = scenario.sometimes.compactMap { name in
            Scenario.sometimesNames.firstIndex(of: name).map {
                SometimesProperty(name: name, hits: oracles.sometimesHits[$0])
            }
        }
        return RunReport(
            scenario: scenario.name, description: scenario.description, seed: seed,
            sabotage: Sabotage.named.filter { sabotage.contains($0.sabotage) }.map(\.name).first,
            historyHash: Simulator.hex(hash), events: events, simulatedSeconds: Double(horizon) / 1e9, wallSeconds: 0,
            safetyEndSeconds: Double(scenario.faultsEnd.nanoseconds) / 1e9,
            recoveryBoundSeconds: Double(scenario.recoveryBound.nanoseconds) / 1e9,
            sloP99Milliseconds: Double(scenario.sloP99.nanoseconds) / 1e6,
            latency: LatencySummary(
                p50: metrics.overall.percentileMilliseconds(50), p95: metrics.overall.percentileMilliseconds(95),
                p99: metrics.overall.percentileMilliseconds(99)),
            requests: RequestCounts(total: metrics.total, ok: metrics.ok, errors: errors), faults: faults,
            bucketSeconds: bucketSeconds, timeline: timeline, breakers: breakers, backends: backendTraffic, keys: keys,
            violations: oracles.violations, sometimes: sometimes)
    }

    static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
