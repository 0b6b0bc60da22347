// The model registry in the simulated world: the registry store (PostgreSQL, node `postgres`) applies
// the registry's reference semantics; each gateway reads model metadata through its own read-through
// cache (Redis in production); an operator's writes reach the store over the network, and every
// acknowledged write publishes an invalidation to every gateway's cache. The staleness oracle compares
// each answer a cache gives with the writes the store had acknowledged by then.

import PlatformCore

/// The `registry` section of a scenario.
public struct RegistrySpec: Sendable {
    public var cache = RegistryCache.Configuration()
    /// After a write is acknowledged, no gateway may answer the version it replaced for longer than this.
    public var stalenessBound: Duration = .milliseconds(500)
    /// Metadata lookups across all gateways, and operator writes, per second.
    public var lookupsPerSecond: Int64 = 200
    public var writesPerSecond: Int64 = 2
    /// Models registered at the start, each with this many versions.
    public var models = 4
    public var versions = 3
}

/// A store answer or an operator's command in flight: classes keep the simulator's messages small.
final class RegistryStoreAnswer {
    let read: RegistryCacheReadID
    let result: RegistryStoreResult
    init(read: RegistryCacheReadID, result: RegistryStoreResult) {
        self.read = read
        self.result = result
    }
}

final class RegistryWrite {
    let id: UInt64
    let command: RegistryCommand
    init(id: UInt64, command: RegistryCommand) {
        self.id = id
        self.command = command
    }
}

final class RegistryWorld {
    let spec: RegistrySpec
    var model: RegistryModel
    var caches: [RegistryCache]
    var cacheActions: [RegistryCache.Action] = []
    /// Per gateway, the instant its cache's one timer is set for (global time; -1: none).
    var cacheTimerAt: [Int64]
    var down = false
    var random: SeededRandom
    var nextLookup: UInt64 = 0
    var nextWrite: UInt64 = 0
    /// The registry's keys, in a fixed order.
    let keys: [RegistryCacheKey]
    /// Per key (by position in `keys`): when each resource version was acknowledged to the operator
    /// (index rv - 1), in global time.
    var acknowledgedAt: [[Int64]]
    var lookups = 0
    var writesRefused = 0

    init(spec: RegistrySpec, gateways: Int, sabotage: Sabotage, random: SeededRandom) {
        self.spec = spec
        self.random = random
        var cache = spec.cache
        if sabotage.contains(.staleCache) { cache.ignoresInvalidation = true }
        caches = Array(repeating: RegistryCache(configuration: cache), count: gateways)
        cacheTimerAt = Array(repeating: -1, count: gateways)
        model = RegistryModel()
        var keys: [RegistryCacheKey] = []
        for index in 0..<spec.models {
            for version in 1...spec.versions {
                let name = "model-\(index)"
                let created = model.apply(
                    .create(
                        ModelVersionSpec(
                            name: name, version: version, framework: "onnxruntime",
                            endpoints: ["triton-\(version):8001"]),
                        tenant: 0), now: .zero)
                precondition(created.httpStatus == 201, "the simulator's registry content is valid")
                keys.append(.version(name, version))
            }
        }
        self.keys = keys
        acknowledgedAt = Array(repeating: [0], count: keys.count)
    }
}

extension Simulator {
    func startRegistry() {
        guard let world = registry else { return }
        scheduleRegistry(lookup: true, after: 0, world)
        scheduleRegistry(lookup: false, after: 0, world)
    }

    func scheduleRegistry(lookup: Bool, after time: Int64, _ world: RegistryWorld) {
        let rate = lookup ? world.spec.lookupsPerSecond : world.spec.writesPerSecond
        guard rate > 0 else { return }
        let next =
            time + max(world.random.exponential(mean: Duration(nanoseconds: 1_000_000_000 / rate)).nanoseconds, 1)
        if next < scenario.duration.nanoseconds { queue.schedule(at: next, lookup ? .registryLookup : .registryWrite) }
    }

    /// A gateway resolves a version's metadata through its cache.
    func registryLookup() {
        let world = registry!
        scheduleRegistry(lookup: true, after: now, world)
        let gateway = Int(world.random.below(UInt64(scenario.gateways)))
        let key = world.keys[Int(world.random.below(UInt64(world.keys.count)))]
        world.nextLookup += 1
        record(node: layout.gateway(gateway), kind: 60, id: world.nextLookup)
        driveCache(gateway, .lookup(RequestID(world.nextLookup), key))
    }

    /// The operator bumps a label on one version: a write that changes its resource version.
    func registryWrite() {
        let world = registry!
        scheduleRegistry(lookup: false, after: now, world)
        let key = world.keys[Int(world.random.below(UInt64(world.keys.count)))]
        world.nextWrite += 1
        record(node: NodeLayout.client, kind: 61, id: world.nextWrite)
        let command = RegistryCommand.update(
            name: key.name, version: key.version!, tenant: 0,
            labels: [Label(key: "revision", value: "\(world.nextWrite)")])
        send(
            .control(ControlMessage(.registryWrite(RegistryWrite(id: world.nextWrite, command: command)))),
            from: NodeLayout.client,
            to: layout.store)
    }

    func driveCache(_ gateway: Int, _ input: RegistryCache.Input) {
        let world = registry!
        world.cacheActions.removeAll(keepingCapacity: true)
        world.caches[gateway].handle(input, now: localNow(layout.gateway(gateway)), into: &world.cacheActions)
        for action in world.cacheActions {
            switch action {
            case .answer(_, let answer): checkRegistryAnswer(answer, world)
            case .readStore(let read, let key):
                send(
                    .control(ControlMessage(.registryRead(read, key))), from: layout.gateway(gateway), to: layout.store)
            case .setTimer(let at):
                let time = globalTime(at, node: layout.gateway(gateway))
                world.cacheTimerAt[gateway] = time
                queue.schedule(at: time, .registryTimer(gateway: gateway))
            }
        }
    }

    func registryTimer(_ gateway: Int) {
        let world = registry!
        guard world.cacheTimerAt[gateway] == now else { return }  // replaced by a later timer
        world.cacheTimerAt[gateway] = -1
        record(node: layout.gateway(gateway), kind: 62, id: 0)
        driveCache(gateway, .timerFired)
    }

    /// The store answers a cache's read (nothing while it is down: the cache's read timeout answers).
    func registryRead(_ read: RegistryCacheReadID, _ key: RegistryCacheKey, from gateway: Int) {
        let world = registry!
        record(node: layout.store, kind: 63, id: read.value)
        guard !world.down else { return }
        let result: RegistryStoreResult
        if let version = key.version {
            let record = world.model.record(name: key.name, version: version)
            result = .value(record.map { .record($0) } ?? .notFound)
        } else {
            result = .value(
                .servingVersions(world.model.allRecords.filter { $0.spec.name == key.name && $0.state == .serving }))
        }
        send(
            .control(ControlMessage(.registryReply(RegistryStoreAnswer(read: read, result: result)))),
            from: layout.store, to: gateway)
    }

    /// The store applies an operator's write; once acknowledged, the writer invalidates every gateway's cache.
    func registryWriteArrived(_ write: RegistryWrite) {
        let world = registry!
        record(node: layout.store, kind: 64, id: write.id)
        guard !world.down else {
            world.writesRefused += 1
            return
        }
        let reply = world.model.apply(write.command, now: localNow(layout.store))
        guard case .updated(let record) = reply else { return }
        let key = RegistryCacheKey.version(record.spec.name, record.spec.version)
        guard let position = world.keys.firstIndex(of: key) else { return }
        // The acknowledgement reaches the operator one network hop later; the oracle counts from the store's commit
        // (earlier, so stricter).
        world.acknowledgedAt[position].append(now)
        for affected in RegistryCacheKey.affected(by: write.command) {
            for gateway in 0..<scenario.gateways {
                send(
                    .control(ControlMessage(.registryInvalidate(affected))), from: layout.store,
                    to: layout.gateway(gateway))
            }
        }
    }

    /// No answer is of a version the store replaced more than the staleness bound ago; stale answers are young
    /// enough.
    func checkRegistryAnswer(_ answer: RegistryCacheAnswer, _ world: RegistryWorld) {
        world.lookups += 1
        let value: RegistryCacheValue
        switch answer {
        case .hit(let cached), .filled(let cached): value = cached
        case .stale(let cached, let age):
            oracles.hit(.registryServedStale)
            if age > world.spec.cache.staleServeMax {
                oracles.violate(
                    "registry-staleness", at: now,
                    "a stale entry \(age) old was served, beyond \(world.spec.cache.staleServeMax)")
            }
            value = cached
        case .unavailable: return
        }
        guard case .record(let record) = value,
            let position = world.keys.firstIndex(of: .version(record.spec.name, record.spec.version))
        else { return }
        let history = world.acknowledgedAt[position]
        guard record.resourceVersion < history.count else { return }
        let replacedAt = history[record.resourceVersion]
        if now > replacedAt + world.spec.stalenessBound.nanoseconds {
            oracles.violate(
                "registry-staleness", at: now,
                "\(record.spec.name)@\(record.spec.version) answered at resource version \(record.resourceVersion), "
                    + "replaced by a write acknowledged at \(JSONSeconds.format(replacedAt))")
        }
    }
}

extension Simulator {
    /// The registry caches' figures for the report, summed over the gateways.
    func registrySummary() -> RegistrySummary? {
        guard let world = registry else { return nil }
        let hits = world.caches.reduce(0) { $0 + $1.hits }
        let misses = world.caches.reduce(0) { $0 + $1.misses }
        let stale = world.caches.reduce(0) { $0 + $1.staleServed }
        let unavailable = world.caches.reduce(0) { $0 + $1.unavailableAnswered }
        let lookups = world.lookups
        return RegistrySummary(
            lookups: lookups, hits: hits, misses: misses, staleServed: stale, unavailable: unavailable,
            hitRatePartsPerMillion: lookups == 0 ? 0 : Int64(hits) * 1_000_000 / Int64(lookups),
            writesRefused: world.writesRefused)
    }
}
