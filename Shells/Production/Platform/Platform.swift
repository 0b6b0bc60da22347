// `aiplatform serve`: starts one reactor thread per core, each with the gateway's listener (SO_REUSEPORT), its
// own gateway, router and orchestrator, a backend transport and, in embedded mode, the built-in reference
// backend's listener. The main thread waits for SIGINT or SIGTERM, then stops accepting, lets requests in
// flight finish (bounded), and stops the reactors.

import Foundation
import PlatformCore
import PlatformWire
import Synchronization

public final class Platform: @unchecked Sendable {
    public let settings: ServeSettings
    public let log: JSONLogger
    let hub: TelemetryHub
    var reactors: [Reactor] = []
    var gatewayServers: [HTTPServer] = []
    var backendServers: [HTTPServer] = []
    var hosts: [NodeHost] = []
    var batchWiring: BatchWiring?
    /// The trace writer while `--record` is on.
    var recording: TraceWriter?
    let metadata = MetadataParts()
    let running = Atomic<Int>(0)
    public private(set) var models = ServedModels(models: [], backendCount: 0)
    public private(set) var gatewayPort = 0
    public private(set) var referencePort = 0

    public init(settings: ServeSettings, log: JSONLogger) {
        self.settings = settings
        self.log = log
        hub = TelemetryHub(log: log)
    }

    /// The demo key's secret, accepted in embedded mode only.
    public static let demoToken = "demo-token"

    /// The models served: the sample classifier, version 1, on every backend.
    static func servedModels(backendCount: Int) -> ServedModels {
        let spec = ModelVersionSpec(
            name: SampleClassifier.modelName, version: 1, framework: "python", endpoints: [],
            inputs: [
                TensorSchema(name: SampleClassifier.inputName, datatype: .fp32, shape: SampleClassifier.inputShape)
            ],
            outputs: [
                TensorSchema(name: SampleClassifier.scoresName, datatype: .fp32, shape: SampleClassifier.scoresShape),
                TensorSchema(name: SampleClassifier.labelName, datatype: .bytes, shape: SampleClassifier.labelShape),
            ], labels: [:])
        return ServedModels(
            models: [
                ServedModels.Model(
                    name: SampleClassifier.modelName,
                    versions: [ServedVersion(spec: spec, backends: Array(0..<backendCount))], inputElementsMax: 1 << 16)
            ], backendCount: backendCount)
    }

    /// The machines of reactor `index`: the same function configures them for serving and for replaying a trace.
    public static func machineConfigurations(
        settings: ServeSettings, index: Int, keys: [Gateway.APIKey], models: ServedModels,
        limits: RateLimiter.Configuration
    ) -> (Gateway.Configuration, Router.Configuration, Orchestrator.Configuration) {
        var gateway = Gateway.Configuration()
        gateway.gatewayIndex = index
        gateway.gatewayCount = settings.threads
        gateway.keys = keys
        gateway.rateLimits = limits
        gateway.credentials = storedKeyCredentials()
        var shared = SharedLimitSettings(policy: .failOpen)
        shared.timeout = .milliseconds(20)
        gateway.rateLimitMode = .shared(shared)
        gateway.deployment = models.deployment
        gateway.defaultTimeout = settings.requestTimeout
        gateway.seed = UInt64(index + 1)
        var router = Router.Configuration()
        router.deployment = models.deployment
        router.strategy = .leastLatency
        router.seed = UInt64(index + 101)
        var orchestrator = Orchestrator.Configuration()
        orchestrator.deployment = models.deployment
        orchestrator.seed = UInt64(index + 201)
        return (gateway, router, orchestrator)
    }

    /// The rate limits every key gets.
    public static func rateLimits(_ settings: ServeSettings) -> RateLimiter.Configuration {
        var limits = RateLimiter.Configuration()
        limits.defaultRate = TokenBucket.Rate(requests: settings.rateLimitPerMinute, per: .minutes(1))
        limits.defaultBurst = settings.rateLimitBurst
        return limits
    }

    /// Binds every listener and starts the reactor threads; throws before any thread starts if a port is taken.
    public func start() throws {
        var keys = settings.staticKeys
        if settings.embedded && settings.demoKey {
            keys.append(Gateway.APIKey(credential: Self.demoToken, name: "demo"))
        }
        guard !keys.isEmpty else {
            throw SettingsError("no credential would be accepted: set API_KEYS (name:secret) or run embedded")
        }
        var endpoints = settings.backends
        var classifier: SampleClassifier?
        if settings.embedded {
            let directory = settings.modelRepository + "/" + SampleClassifier.modelName
            do {
                classifier = try SampleClassifier.load(modelDirectory: directory)
            } catch {
                throw SettingsError("cannot load the sample model from \(directory): \(error)")
            }
            endpoints = [BackendEndpoint(host: "127.0.0.1", port: settings.referencePort)]
        }
        models = Self.servedModels(backendCount: endpoints.count)
        let limits = Self.rateLimits(settings)
        let store = InProcessLimiterStore(limits: limits, keyNames: keys.map(\.name))
        batchWiring = openBatch(keys: keys)
        let metadataStores = try openMetadataStores()

        for index in 0..<settings.threads {
            let reactor = try Reactor(index: index)
            reactors.append(reactor)
            if let classifier {
                // Every reactor serves the reference backend too: it is CPU work of microseconds per row.
                let server = try HTTPServer(
                    reactor: reactor, host: "127.0.0.1",
                    port: referencePort == 0 ? settings.referencePort : referencePort,
                    service: ReferenceBackendService(classifier: classifier))
                referencePort = server.port
                endpoints = [BackendEndpoint(host: "127.0.0.1", port: server.port)]
                backendServers.append(server)
            }
            let (gateway, router, orchestrator) = Self.machineConfigurations(
                settings: settings, index: index, keys: keys, models: models, limits: limits)
            let transport = KServeHTTPTransport(reactor: reactor, endpoints: endpoints, settings: settings.backendPool)
            let host = NodeHost(
                reactor: reactor, models: models, gateway: gateway, router: router, orchestrator: orchestrator,
                transport: transport)
            host.limiterStore = store
            hosts.append(host)
            let telemetry = ReactorTelemetry(hub: hub, backendNames: endpoints.map(\.description))
            let service = GatewayService(host: host, keys: keys, telemetry: telemetry)
            mountBatch(on: service, reactor: reactor, telemetry: telemetry, endpoints: endpoints)
            let server = try HTTPServer(
                reactor: reactor, host: settings.host, port: gatewayPort == 0 ? settings.gatewayPort : gatewayPort,
                settings: settings.http, service: service)
            server.metrics = telemetry.shard
            gatewayPort = server.port
            gatewayServers.append(server)
            try serveMetadata(metadataStores, reactor: reactor, host: host, gateway: service, keys: keys)
        }
        try startRecording(keys: keys)
        for reactor in reactors {
            running.add(1, ordering: .relaxed)
            NamedThread.start("reactor-\(reactor.index)") { [self] in
                reactor.run()
                running.subtract(1, ordering: .releasing)
            }
        }
    }

    /// Logs what runs where, and in embedded mode the demo key and a request to try.
    public func announce() {
        let mode = settings.embedded ? "embedded" : "external backends"
        log.info(
            caller: "serve", "serving",
            fields: [
                ("mode", .string(mode)), ("gateway_port", .integer(Int64(gatewayPort))),
                ("threads", .integer(Int64(settings.threads))),
                ("backends", .string(endpointsText)),
            ])
        if settings.embedded && settings.demoKey {
            log.warn(
                caller: "serve",
                "embedded mode: the development key \"\(Self.demoToken)\" is accepted; never use it beyond this machine"
            )
            log.info(
                caller: "serve",
                "try: curl -s localhost:\(gatewayPort)/v1/infer -H 'Authorization: Bearer \(Self.demoToken)' "
                    + "--json '{\"model\": \"sample-classifier\", \"version\": 1, "
                    + "\"input\": {\"features\": [5.1, 3.5, 1.4, 0.2]}}'")
        }
    }

    var endpointsText: String {
        settings.embedded
            ? "reference backend on 127.0.0.1:\(referencePort)"
            : settings.backends.map(\.description).joined(separator: ",")
    }

    /// Counts answers from the reactors while stopping.
    final class Tally: Sendable {
        let answered = Atomic<Int>(0)
        let inFlight = Atomic<Int>(0)
    }

    /// Stops accepting, waits up to `drain` for requests in flight, then stops every reactor and waits for them.
    public func stop(drain: Duration = .seconds(5)) {
        closeMetadataListeners()
        for (server, reactor) in zip(gatewayServers, reactors) {
            nonisolated(unsafe) let server = server
            reactor.post { server.closeListener() }
        }
        let deadline = Reactor.now() + drain
        while Reactor.now() < deadline {
            let tally = Tally()
            for (host, reactor) in zip(hosts, reactors) {
                nonisolated(unsafe) let host = host
                reactor.post {
                    tally.inFlight.add(host.inFlight, ordering: .relaxed)
                    tally.answered.add(1, ordering: .releasing)
                }
            }
            while tally.answered.load(ordering: .acquiring) < reactors.count { usleep(1_000) }
            if tally.inFlight.load(ordering: .relaxed) == 0 { break }
            usleep(50_000)
        }
        drainBatch()
        for reactor in reactors { reactor.stop() }
        while running.load(ordering: .acquiring) > 0 { usleep(1_000) }
        closeBatch()
        stopRecording()
        metadata.stores?.shutdown()
    }
}
