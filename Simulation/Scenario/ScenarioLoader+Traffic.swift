// The traffic, fault, clock and expectation sections of a scenario file.

import PlatformCore
import PlatformWire

extension Scenario {
    static func loadWorkload(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        let elements = try root.array("workload")
        guard !elements.isEmpty || root.value("batch") != nil else {
            throw root.fail("workload", "at least one arrival stream is needed (or a batch section)")
        }
        for (index, element) in elements.enumerated() {
            let field = try root.element("workload", index, element)
            try field.onlyKnown([
                "key", "requestsPerSecond", "model", "version", "stickyPercent", "stickyKeys", "timeoutMs",
                "invalidPercent", "inputElements", "fromSeconds", "toSeconds", "credential",
            ])
            let keyName = try field.string("key")
            let keyIndex = keyName == "unknown" ? -1 : scenario.keys.firstIndex { $0.name == keyName }
            guard let keyIndex else { throw field.fail("key", "no key named \"\(keyName)\" (or \"unknown\" for 401s)") }
            let modelName = try field.string("model", default: scenario.models[0].name)
            guard let modelIndex = scenario.models.firstIndex(where: { $0.name == modelName }) else {
                throw field.fail("model", "no model named \"\(modelName)\"")
            }
            var stream = StreamSpec(
                key: keyIndex,
                requestsPerSecond: try field.integer("requestsPerSecond", min: 1, max: 1_000_000, default: nil),
                model: modelIndex)
            stream.version = Int(try field.integer("version", min: 0, max: 1_000_000, default: 0))
            stream.sticky = try field.percent("stickyPercent", default: .zero)
            stream.stickyKeys = Int(try field.integer("stickyKeys", min: 1, max: 100_000_000, default: 1_000))
            stream.timeout = try field.milliseconds("timeoutMs", default: .zero)
            stream.invalid = try field.percent("invalidPercent", default: .zero)
            stream.inputElements = Int(try field.integer("inputElements", min: 1, max: 1 << 30, default: 64))
            stream.start = try field.seconds("fromSeconds", default: .zero)
            if field.value("toSeconds") != nil { stream.end = try field.seconds("toSeconds", default: nil) }
            if let end = stream.end, end <= stream.start { throw field.fail("toSeconds", "must be after fromSeconds") }
            let credentialName = try field.string("credential", default: "static")
            guard let credential = CredentialKind(rawValue: credentialName) else {
                let known = CredentialKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw field.fail("credential", "expected one of \(known), got \"\(credentialName)\"")
            }
            if credential != .static {
                guard root.value("auth") != nil else { throw field.fail("credential", "needs an `auth` section") }
                guard keyIndex >= 0 else { throw field.fail("credential", "needs a named key, not \"unknown\"") }
            }
            stream.credential = credential
            scenario.workload.append(stream)
        }
    }

    static func loadResilience(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let resilience = try root.object("resilience") else { return }
        try resilience.onlyKnown([
            "breaker", "retry", "budget", "backendHealth", "orchestratorHealth", "defaultTimeoutMs",
        ])
        scenario.defaultTimeout = try resilience.milliseconds("defaultTimeoutMs", default: scenario.defaultTimeout)
        if let field = try resilience.object("breaker") {
            try field.onlyKnown([
                "consecutiveFailuresToOpen", "failureRatePercent", "slidingWindowSeconds", "minimumCallsInWindow",
                "slowCallMs", "openSeconds", "openSecondsMax", "halfOpenProbesMax", "halfOpenSuccessesToClose",
            ])
            var breaker = scenario.breaker
            breaker.consecutiveFailuresToOpen = Int(
                try field.integer("consecutiveFailuresToOpen", min: 1, max: 10_000, default: 5))
            breaker.failureRateToOpen = try field.percent("failureRatePercent", default: breaker.failureRateToOpen)
            breaker.slidingWindow = try field.seconds("slidingWindowSeconds", default: breaker.slidingWindow)
            breaker.minimumCallsInWindow = Int(
                try field.integer("minimumCallsInWindow", min: 1, max: 1_000_000, default: 20))
            breaker.slowCallThreshold = try field.milliseconds("slowCallMs", default: breaker.slowCallThreshold)
            breaker.openDuration = try field.seconds("openSeconds", default: breaker.openDuration)
            breaker.openDurationMax = try field.seconds("openSecondsMax", default: breaker.openDurationMax)
            breaker.halfOpenProbesMax = Int(try field.integer("halfOpenProbesMax", min: 1, max: 1_000, default: 2))
            breaker.halfOpenSuccessesToClose = Int(
                try field.integer("halfOpenSuccessesToClose", min: 1, max: 1_000, default: 2))
            scenario.breaker = breaker
        }
        if let field = try resilience.object("retry") {
            try field.onlyKnown(["attemptsMax", "backoffBaseMs", "backoffMaxMs", "perTryTimeoutMs"])
            var retry = scenario.retry
            retry.attemptsMax = Int(try field.integer("attemptsMax", min: 1, max: 255, default: 3))
            retry.backoffBase = try field.milliseconds("backoffBaseMs", default: retry.backoffBase)
            retry.backoffMax = try field.milliseconds("backoffMaxMs", default: retry.backoffMax)
            retry.perTryTimeout = try field.milliseconds("perTryTimeoutMs", default: retry.perTryTimeout)
            scenario.retry = retry
        }
        if let field = try resilience.object("budget") {
            try field.onlyKnown(["retryPercent", "minimumRetriesPerWindow", "windowSeconds"])
            var budget = scenario.budget
            budget.retryRatio = try field.percent("retryPercent", default: budget.retryRatio, max: 1_000)
            budget.minimumRetriesPerWindow = try field.integer(
                "minimumRetriesPerWindow", min: 0, max: 1_000_000, default: 10)
            budget.window = try field.seconds("windowSeconds", default: budget.window)
            scenario.budget = budget
        }
        scenario.backendHealth = try loadHealth(resilience, "backendHealth", scenario.backendHealth)
        scenario.orchestratorHealth = try loadHealth(resilience, "orchestratorHealth", scenario.orchestratorHealth)
    }

    static func loadHealth(
        _ resilience: FieldReader, _ name: String, _ base: HealthTracker.Configuration
    ) throws(ScenarioError) -> HealthTracker.Configuration {
        guard let field = try resilience.object(name) else { return base }
        try field.onlyKnown([
            "consecutiveFailuresToEject", "ejectionSeconds", "ejectionSecondsMax", "ejectedPercentMax",
        ])
        var health = base
        health.consecutiveFailuresToEject = Int(
            try field.integer("consecutiveFailuresToEject", min: 1, max: 10_000, default: 5))
        health.ejectionDuration = try field.seconds("ejectionSeconds", default: health.ejectionDuration)
        health.ejectionDurationMax = try field.seconds("ejectionSecondsMax", default: health.ejectionDurationMax)
        health.ejectedRatioMax = try field.percent("ejectedPercentMax", default: health.ejectedRatioMax)
        return health
    }

    static func loadFaults(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        for (index, element) in try root.array("faults").enumerated() {
            let field = try root.element("faults", index, element)
            try field.onlyKnown([
                "kind", "target", "between", "fromSeconds", "toSeconds", "factor", "percent", "delayMs",
            ])
            let kindName = try field.string("kind")
            guard let kind = FaultSpec.Kind(rawValue: kindName) else {
                let known = FaultSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                throw field.fail("kind", "expected one of \(known), got \"\(kindName)\"")
            }
            let start = try field.seconds("fromSeconds", default: nil)
            let end = try field.seconds("toSeconds", default: nil)
            guard end > start else { throw field.fail("toSeconds", "must be after fromSeconds") }
            guard end <= scenario.faultsEnd else {
                throw field.fail("toSeconds", "faults must end by faultsEndSeconds (the safety phase)")
            }
            var fault = FaultSpec(kind: kind, targetName: "", start: start, end: end)
            switch kind {
            case .crash, .hang, .slowdown, .errors:
                let target = try field.string("target")
                guard let backend = scenario.backends.firstIndex(where: { $0.name == target }) else {
                    throw field.fail("target", "no backend named \"\(target)\"")
                }
                fault.backend = backend
                fault.targetName = target
                fault.factor = try field.integer("factor", min: 1, max: 1_000, default: kind == .slowdown ? 5 : 1)
                fault.rate = try field.percent("percent", default: kind == .errors ? .percent(50) : .zero)
            case .storeOutage, .storeSlow, .objectStoreErrors, .rebalance:
                guard scenario.batch != nil else { throw field.fail("kind", "\(kindName) needs a `batch` section") }
                fault.targetName =
                    kind == .objectStoreErrors ? "objectstore" : kind == .rebalance ? "kafka" : "postgres"
                fault.factor = try field.integer("factor", min: 1, max: 1_000, default: kind == .storeSlow ? 10 : 1)
                fault.rate = try field.percent("percent", default: kind == .objectStoreErrors ? .percent(50) : .zero)
            case .registryOutage:
                guard scenario.registry != nil else {
                    throw field.fail("kind", "registryOutage needs a `registry` section")
                }
                fault.targetName = "postgres"
            case .limiterOutage:
                guard scenario.limiter != nil else {
                    throw field.fail("kind", "limiterOutage needs a `limiter` section")
                }
                fault.targetName = "redis"
            case .workerCrash, .workerShutdown:
                let target = try field.string("target")
                let node = try nodeIndex(target, scenario, field, "target")
                guard scenario.layout.workers > 0, node >= scenario.layout.worker(0), node < scenario.layout.store
                else {
                    throw field.fail("target", "expected a batch worker (worker-N), got \"\(target)\"")
                }
                fault.backend = node - scenario.layout.worker(0)
                fault.targetName = target
            case .partition, .loss, .delay:
                if kind == .delay { fault.delay = try field.milliseconds("delayMs", default: nil) }
                let names = try field.strings("between")
                guard names.count == 2 else { throw field.fail("between", "expected two node names") }
                let first = try nodeIndex(names[0], scenario, field, "between[0]")
                let second = try nodeIndex(names[1], scenario, field, "between[1]")
                guard first != second else { throw field.fail("between", "the two nodes must differ") }
                fault.nodes = (first, second)
                fault.targetName = "\(names[0])<->\(names[1])"
                fault.rate = try field.percent("percent", default: kind == .loss ? .percent(10) : .percent(100))
            }
            scenario.faults.append(fault)
        }
    }

    static func loadClocks(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        for (index, element) in try root.array("clocks").enumerated() {
            let field = try root.element("clocks", index, element)
            try field.onlyKnown(["node", "offsetMs", "driftPpm"])
            let node = try nodeIndex(try field.string("node"), scenario, field, "node")
            let offsetMilliseconds = try field.number("offsetMs", min: -86_400_000, max: 86_400_000, default: 0)
            let drift = try field.integer("driftPpm", min: -50_000, max: 50_000, default: 0)
            scenario.clocks.append(
                ClockSpec(
                    node: node, offset: Duration(nanoseconds: Int64(offsetMilliseconds * 1e6)),
                    driftPartsPerMillion: drift))
        }
    }

    static func loadExpectations(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        for (index, element) in try root.array("expectations").enumerated() {
            let field = try root.element("expectations", index, element)
            try field.onlyKnown(["kind", "backend", "fromSeconds", "toSeconds", "percent"])
            let kindName = try field.string("kind")
            guard let kind = ExpectationSpec.Kind(rawValue: kindName) else {
                throw field.fail("kind", "expected \"backendShareAtMost\", got \"\(kindName)\"")
            }
            let name = try field.string("backend")
            guard let backend = scenario.backends.firstIndex(where: { $0.name == name }) else {
                throw field.fail("backend", "no backend named \"\(name)\"")
            }
            let start = try field.seconds("fromSeconds", default: nil)
            let end = try field.seconds("toSeconds", default: nil)
            guard end > start else { throw field.fail("toSeconds", "must be after fromSeconds") }
            scenario.expectations.append(
                ExpectationSpec(
                    kind: kind, backend: backend, start: start, end: end,
                    share: try field.percent("percent", default: nil)))
        }
    }

    /// The node number for a name: client, router, gateway-N, orchestrator-N or a backend's name.
    static func nodeIndex(_ name: String, _ scenario: Scenario, _ field: FieldReader, _ path: String)
        throws(ScenarioError) -> Int
    {
        let layout = scenario.layout
        if name == "client" { return NodeLayout.client }
        if name == "router" { return layout.router }
        if name.hasPrefix("gateway-"), let index = Int(name.dropFirst(8)), index >= 0, index < scenario.gateways {
            return layout.gateway(index)
        }
        if name.hasPrefix("orchestrator-"), let index = Int(name.dropFirst(13)), index >= 0,
            index < scenario.orchestrators
        {
            return layout.orchestrator(index)
        }
        if let backend = scenario.backends.firstIndex(where: { $0.name == name }) { return layout.backend(backend) }
        if name.hasPrefix("worker-"), let index = Int(name.dropFirst(7)), index >= 0, index < layout.workers {
            return layout.worker(index)
        }
        if name == "postgres" { return layout.store }
        if name == "kafka" { return layout.broker }
        if name == "objectstore" { return layout.objectStore }
        if name == "collector" { return layout.collector }
        if name == "redis" { return layout.redis }
        throw field.fail(
            path,
            "no node named \"\(name)\" (client, router, gateway-N, orchestrator-N, worker-N, postgres, kafka, "
                + "objectstore, collector, redis, or a backend)"
        )
    }

    /// The node numbering for this scenario.
    public var layout: NodeLayout {
        NodeLayout(
            gateways: gateways, orchestrators: orchestrators, backends: backends.count, workers: batch?.workers ?? 0)
    }

    /// The node's name as scenarios and reports write it.
    public func nodeName(_ node: Int) -> String {
        let layout = self.layout
        if node == NodeLayout.client { return "client" }
        if node == layout.router { return "router" }
        if node < layout.router { return "gateway-\(node - 1)" }
        if node < layout.backend(0) { return "orchestrator-\(node - layout.orchestrator(0))" }
        if node < layout.worker(0) { return backends[node - layout.backend(0)].name }
        if node < layout.store { return "worker-\(node - layout.worker(0))" }
        if node == layout.store { return "postgres" }
        if node == layout.broker { return "kafka" }
        if node == layout.collector { return "collector" }
        if node == layout.redis { return "redis" }
        return "objectstore"
    }
}
