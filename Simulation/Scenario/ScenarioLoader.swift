// Turns a scenario file into a validated `Scenario`: names resolved to indices, windows checked
// against the run's phases, every number range-checked, with errors that say where and why.

import PlatformCore
import PlatformWire

extension Scenario {
    /// The invariants a run can check, by the names scenarios and reports use.
    public static let invariantNames = [
        "exactly-one-response", "response-by-deadline", "no-calls-while-open", "retry-budget",
        "no-retry-after-deadline", "rate-limit", "canary-share", "serving-version-only", "key-slo",
        "liveness-breakers-closed", "liveness-readmitted", "liveness-latency-slo", "liveness-errors",
        "liveness-drained", "expectation", "job-terminal", "single-result", "result-visible",
        "no-result-unless-succeeded", "status-monotonic", "pool-bound", "idempotent-submit", "backlog-drain-rate",
        "orphans-collected", "limiter-policy", "tenant-isolation", "canary-verdict", "authentication",
        "registry-staleness",
    ]

    /// The "sometimes" properties a run can report.
    public static let sometimesNames = [
        "breaker.opened", "breaker.halfOpened", "breaker.reclosed", "retry.sent", "retry.refusedByBudget",
        "retry.refusedByDeadline", "backend.ejected", "backend.readmitted", "orchestrator.ejected",
        "request.rateLimited", "request.timedOut", "request.unavailable", "network.dropped", "network.duplicated",
        "network.reordered", "backend.overloaded", "job.fenced", "worker.backpressure", "orphan.deleted",
        "limiter.fellBack", "credential.refused", "registry.servedStale",
    ]

    /// Loads and validates a scenario from JSON text; `file` names it in errors.
    public static func load(json text: String, file: String) throws(ScenarioError) -> Scenario {
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            throw ScenarioError(file: file, path: "", message: "not valid JSON: \(error)")
        }
        let root = try FieldReader(file: file, path: "", value: document)
        try root.onlyKnown([
            "name", "description", "durationSeconds", "faultsEndSeconds", "recoveryBoundSeconds", "slo",
            "responseSlackMs", "bucketSeconds", "checks", "sometimes", "topology", "models", "backends", "network",
            "keys", "workload", "faults", "clocks", "expectations", "resilience", "batch", "limiter", "canary", "auth",
            "registry",
        ])
        var scenario = Scenario()
        scenario.name = try root.string("name")
        scenario.description = try root.string("description", default: "")
        scenario.duration = try root.seconds("durationSeconds", default: nil)
        guard scenario.duration > .zero else { throw root.fail("durationSeconds", "must be greater than 0") }
        scenario.faultsEnd = try root.seconds("faultsEndSeconds", default: scenario.duration)
        guard scenario.faultsEnd <= scenario.duration else {
            throw root.fail("faultsEndSeconds", "must not be after durationSeconds")
        }
        scenario.recoveryBound = try root.seconds("recoveryBoundSeconds", default: .seconds(10))
        guard scenario.faultsEnd + scenario.recoveryBound < scenario.duration else {
            throw root.fail(
                "recoveryBoundSeconds", "faultsEndSeconds + recoveryBoundSeconds must end before durationSeconds")
        }
        if let slo = try root.object("slo") {
            try slo.onlyKnown(["p99Ms", "errorRatePercent"])
            scenario.sloP99 = try slo.milliseconds("p99Ms", default: scenario.sloP99)
            scenario.errorRateMax = try slo.percent("errorRatePercent", default: scenario.errorRateMax)
        }
        scenario.responseSlack = try root.milliseconds("responseSlackMs", default: scenario.responseSlack)
        scenario.bucket = try root.seconds("bucketSeconds", default: .zero)
        scenario.checks = try root.strings("checks")
        for (index, name) in scenario.checks.enumerated() where !invariantNames.contains(name) {
            throw root.fail(
                "checks[\(index)]", "unknown invariant \"\(name)\" (known: \(invariantNames.joined(separator: ", ")))")
        }
        scenario.sometimes = try root.strings("sometimes")
        for (index, name) in scenario.sometimes.enumerated() where !sometimesNames.contains(name) {
            throw root.fail(
                "sometimes[\(index)]", "unknown property \"\(name)\" (known: \(sometimesNames.joined(separator: ", ")))"
            )
        }
        try loadTopology(root, into: &scenario)
        try loadBackends(root, into: &scenario)
        try loadModels(root, into: &scenario)
        try loadNetwork(root, into: &scenario)
        try loadKeys(root, into: &scenario)
        try loadWorkload(root, into: &scenario)
        try loadBatch(root, into: &scenario)
        try loadLimiter(root, into: &scenario)
        try loadCanary(root, into: &scenario)
        try loadAuth(root, into: &scenario)
        try loadRegistry(root, into: &scenario)
        try loadResilience(root, into: &scenario)
        try loadFaults(root, into: &scenario)
        try loadClocks(root, into: &scenario)
        try loadExpectations(root, into: &scenario)
        return scenario
    }

    static func loadTopology(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let topology = try root.object("topology") else { return }
        try topology.onlyKnown(["gateways", "orchestrators", "strategy"])
        scenario.gateways = Int(try topology.integer("gateways", min: 1, max: 16, default: 1))
        scenario.orchestrators = Int(try topology.integer("orchestrators", min: 1, max: 64, default: 2))
        let strategy = try topology.string("strategy", default: "leastLatency")
        guard let parsed = Router.Strategy(rawValue: strategy) else {
            throw topology.fail("strategy", "expected \"roundRobin\" or \"leastLatency\", got \"\(strategy)\"")
        }
        scenario.strategy = parsed
    }

    static func loadBackends(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        let elements = try root.array("backends")
        guard !elements.isEmpty else { throw root.fail("backends", "at least one backend is needed") }
        guard elements.count <= 1_024 else { throw root.fail("backends", "at most 1024 backends") }
        for (index, element) in elements.enumerated() {
            let field = try root.element("backends", index, element)
            try field.onlyKnown([
                "name", "concurrency", "queueMax", "serviceBaseMs", "serviceMeanExtraMs", "errorPercent",
            ])
            var backend = BackendSpec(name: try field.string("name"))
            if scenario.backends.contains(where: { $0.name == backend.name }) {
                throw field.fail("name", "duplicate backend name \"\(backend.name)\"")
            }
            if reservedNodeName(backend.name) {
                throw field.fail("name", "\"\(backend.name)\" is a reserved node name")
            }
            backend.concurrency = Int(try field.integer("concurrency", min: 1, max: 10_000, default: 8))
            backend.queueMax = Int(try field.integer("queueMax", min: 0, max: 1_000_000, default: 256))
            backend.serviceBase = try field.milliseconds("serviceBaseMs", default: backend.serviceBase)
            backend.serviceMeanExtra = try field.milliseconds("serviceMeanExtraMs", default: backend.serviceMeanExtra)
            backend.errorRate = try field.percent("errorPercent", default: .zero)
            scenario.backends.append(backend)
        }
    }

    static func loadModels(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        let elements = try root.array("models")
        guard !elements.isEmpty else { throw root.fail("models", "at least one model is needed") }
        for (index, element) in elements.enumerated() {
            let field = try root.element("models", index, element)
            try field.onlyKnown(["name", "inputElementsMax", "versions"])
            let name = try field.string("name")
            let inputMax = Int(try field.integer("inputElementsMax", min: 1, max: 1 << 30, default: 1 << 20))
            var versions: [VersionSpec] = []
            for (position, versionValue) in try field.array("versions").enumerated() {
                let version = try field.element("versions", position, versionValue)
                try version.onlyKnown(["version", "state", "weight", "backends"])
                let number = Int(try version.integer("version", min: 1, max: 1_000_000, default: nil))
                if versions.contains(where: { $0.number == number }) {
                    throw version.fail("version", "duplicate version \(number)")
                }
                let stateName = try version.string("state", default: "serving")
                guard let state = VersionState.allCases.first(where: { $0.name == stateName }) else {
                    let known = VersionState.allCases.map(\.name).joined(separator: ", ")
                    throw version.fail("state", "expected one of \(known), got \"\(stateName)\"")
                }
                let weight = try version.integer("weight", min: 0, max: 1_000_000, default: 100)
                var backendIndices: [Int] = []
                for (backendPosition, backendName) in try version.strings("backends").enumerated() {
                    guard let backendIndex = scenario.backends.firstIndex(where: { $0.name == backendName }) else {
                        throw version.fail("backends[\(backendPosition)]", "no backend named \"\(backendName)\"")
                    }
                    backendIndices.append(backendIndex)
                }
                guard !backendIndices.isEmpty else {
                    throw version.fail("backends", "a version needs at least one backend")
                }
                versions.append(VersionSpec(number: number, state: state, weight: weight, backends: backendIndices))
            }
            guard !versions.isEmpty else { throw field.fail("versions", "a model needs at least one version") }
            versions.sort { $0.number < $1.number }
            scenario.models.append(ModelSpec(name: name, inputElementsMax: inputMax, versions: versions))
        }
    }

    static func loadNetwork(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let network = try root.object("network") else { return }
        try network.onlyKnown([
            "latencyBaseMs", "latencyMeanExtraMs", "lossPercent", "duplicatePercent", "reorderPercent",
            "reorderDelayMaxMs",
        ])
        var spec = NetworkSpec()
        spec.latencyBase = try network.milliseconds("latencyBaseMs", default: spec.latencyBase)
        spec.latencyMeanExtra = try network.milliseconds("latencyMeanExtraMs", default: spec.latencyMeanExtra)
        spec.loss = try network.percent("lossPercent", default: .zero)
        spec.duplication = try network.percent("duplicatePercent", default: .zero)
        spec.reorder = try network.percent("reorderPercent", default: .zero)
        spec.reorderDelayMax = try network.milliseconds("reorderDelayMaxMs", default: spec.reorderDelayMax)
        scenario.network = spec
    }

    static func loadKeys(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        for (index, element) in try root.array("keys").enumerated() {
            let field = try root.element("keys", index, element)
            try field.onlyKnown(["name", "requestsPerMinute", "burst", "protected", "mayInfer"])
            var key = KeySpec(name: try field.string("name"))
            if scenario.keys.contains(where: { $0.name == key.name }) {
                throw field.fail("name", "duplicate key \"\(key.name)\"")
            }
            key.requestsPerMinute = try field.integer("requestsPerMinute", min: 1, max: 1_000_000_000, default: 100)
            key.burst = try field.integer("burst", min: 1, max: 1_000_000_000, default: 20)
            key.protected = try field.bool("protected", default: false)
            key.mayInfer = try field.bool("mayInfer", default: true)
            scenario.keys.append(key)
        }
        guard !scenario.keys.isEmpty else { throw root.fail("keys", "at least one API key is needed") }
    }

    static func reservedNodeName(_ name: String) -> Bool {
        name == "client" || name == "router" || name.hasPrefix("gateway-") || name.hasPrefix("orchestrator-")
    }

    /// The `limiter` section: the gateways share one limiter store (Redis) with this outage policy.
    static func loadLimiter(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let field = try root.object("limiter") else { return }
        try field.onlyKnown(["policy", "timeoutMs"])
        let name = try field.string("policy")
        guard let policy = LimiterPolicy(rawValue: name) else {
            throw field.fail("policy", "expected \"fail-open\" or \"fail-closed\", got \"\(name)\"")
        }
        var settings = SharedLimitSettings(policy: policy)
        settings.timeout = try field.milliseconds("timeoutMs", default: settings.timeout)
        guard settings.timeout > .zero else { throw field.fail("timeoutMs", "must be greater than 0") }
        scenario.limiter = settings
    }

    /// The `auth` section: stored API keys and bearer tokens, and when they rotate.
    static func loadAuth(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let field = try root.object("auth") else { return }
        try field.onlyKnown(["issuer", "audience", "rotateAtSeconds", "graceSeconds", "switchAfterMs"])
        var auth = AuthSpec()
        auth.issuer = try field.string("issuer", default: auth.issuer)
        auth.audience = try field.string("audience", default: auth.audience)
        if field.value("rotateAtSeconds") != nil {
            let at = try field.seconds("rotateAtSeconds", default: nil)
            guard at > .zero, at < scenario.duration else {
                throw field.fail("rotateAtSeconds", "must be within the run")
            }
            auth.rotateAt = at
        }
        auth.grace = try field.seconds("graceSeconds", default: auth.grace)
        auth.switchAfter = try field.milliseconds("switchAfterMs", default: auth.switchAfter)
        guard auth.switchAfter < auth.grace else {
            throw field.fail("switchAfterMs", "clients must switch before the grace period ends")
        }
        scenario.auth = auth
    }

    /// The `registry` section: registry content, lookup and write rates, the caches' lifetimes and the bound.
    static func loadRegistry(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let field = try root.object("registry") else { return }
        try field.onlyKnown([
            "models", "versions", "lookupsPerSecond", "writesPerSecond", "ttlSeconds", "staleServeMaxSeconds",
            "readTimeoutMs", "stalenessBoundMs",
        ])
        var registry = RegistrySpec()
        registry.models = Int(try field.integer("models", min: 1, max: 1_000, default: 4))
        registry.versions = Int(try field.integer("versions", min: 1, max: 100, default: 3))
        registry.lookupsPerSecond = try field.integer("lookupsPerSecond", min: 0, max: 1_000_000, default: 200)
        registry.writesPerSecond = try field.integer("writesPerSecond", min: 0, max: 10_000, default: 2)
        registry.cache.ttl = try field.seconds("ttlSeconds", default: registry.cache.ttl)
        registry.cache.staleServeMax = try field.seconds("staleServeMaxSeconds", default: registry.cache.staleServeMax)
        registry.cache.readTimeout = try field.milliseconds("readTimeoutMs", default: registry.cache.readTimeout)
        registry.stalenessBound = try field.milliseconds("stalenessBoundMs", default: registry.stalenessBound)
        guard registry.cache.ttl > .zero, registry.cache.readTimeout > .zero, registry.stalenessBound > .zero else {
            throw field.fail("ttlSeconds", "ttlSeconds, readTimeoutMs and stalenessBoundMs must be greater than 0")
        }
        scenario.registry = registry
    }
}
