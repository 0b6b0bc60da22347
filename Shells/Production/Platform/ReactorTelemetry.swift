// Each reactor's metrics shard and its share of the log: what the gateway service and the machines' observations
// become in Prometheus series and JSON lines. Shards are merged only when `/metrics` is scraped.

import PlatformCore

/// The registry and every reactor's shard, for rendering `/metrics` from any reactor.
public final class TelemetryHub: @unchecked Sendable {
    public let registry = MetricsRegistry()
    /// Filled before any reactor thread starts, read-only afterwards.
    public private(set) var shards: [MetricsShard] = []
    public let log: JSONLogger

    public init(log: JSONLogger) { self.log = log }

    func makeShard() -> MetricsShard {
        let shard = MetricsShard(registry: registry)
        shards.append(shard)
        return shard
    }
}

public final class ReactorTelemetry: GatewayTelemetry {
    public let hub: TelemetryHub
    public let shard: MetricsShard
    let backendLabels: [LabelSetID]
    /// Label sets by model and version, interned once each.
    var modelVersions: [String: [LabelSetID]] = [:]

    public init(hub: TelemetryHub, backendNames: [String]) {
        self.hub = hub
        shard = hub.makeShard()
        backendLabels = backendNames.map { hub.registry.backend($0) }
    }

    /// The last label set used, found without hashing the model's name.
    var lastLabel: (model: String, version: Int, id: LabelSetID)?

    func label(model: String, version: Int) -> LabelSetID {
        if let last = lastLabel, last.version == version, last.model == model { return last.id }
        let id = internedLabel(model: model, version: version)
        lastLabel = (model, version, id)
        return id
    }

    func internedLabel(model: String, version: Int) -> LabelSetID {
        if let known = modelVersions[model], version < known.count, known[version] != .unlabelled {
            return known[version]
        }
        var list = modelVersions[model] ?? []
        if list.count <= version {
            list.append(contentsOf: repeatElement(.unlabelled, count: version + 1 - list.count))
        }
        let id = hub.registry.modelVersion(model: model, version: version == 0 ? "" : String(version))
        list[version] = id
        modelVersions[model] = list
        return id
    }

    public func inferenceAnswered(model: String, version: Int, status: Int, duration: Duration, correlationID: String) {
        let seconds = Double(duration.nanoseconds) / 1e9
        shard.inferenceFinished(modelVersion: label(model: model, version: version), status: status, seconds: seconds)
        let level: LogLevel = status >= 500 ? .warn : .info
        guard hub.log.isEnabled(level) else { return }
        hub.log.log(
            level, caller: "gateway", "inference answered", correlationID: correlationID, model: model,
            version: version == 0 ? nil : String(version), durationMs: seconds * 1_000, status: status)
    }

    public func rateLimited(tenant: String) {
        shard.requestRateLimited(tenant: hub.registry.tenant(tenant))
    }

    public func exposition() -> [UInt8] {
        MetricsExposition.render(shards: hub.shards, registry: hub.registry)
    }

    /// The machines' facts that are series: breaker phases and retries.
    public func observed(_ observation: Observation) {
        switch observation {
        case .breakerChanged(let backend, let phase):
            guard backend.value < backendLabels.count else { return }
            shard.backendBreakerPhase(backendLabels[backend.value], phase)
            hub.log.warn(
                caller: "orchestrator", "backend breaker \(phase)",
                fields: [("backend", .integer(Int64(backend.value)))])
        case .callStarted(_, _, let backend, let retry) where retry:
            guard backend.value < backendLabels.count else { return }
            shard.backendRetried(backendLabels[backend.value])
        default: break
        }
    }
}
