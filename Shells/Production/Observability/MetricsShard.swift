// One reactor thread's metrics. Each reactor records into its own shard, so the lock is uncontended except while the
// exposition copies it out; recording indexes flat arrays by family and label-set id and never allocates once a
// series exists.

import PlatformCore
import Synchronization

/// A counter or gauge series value, for one label set and one code (`noCode` when the family has no code label).
struct MetricCell {
    var code: Int32
    var value: Double
    /// The denominator of a `ratioOfSums` gauge; unused otherwise.
    var denominator: Double
    /// When a `lastSet` gauge was last set, from the registry's sequence; unused otherwise.
    var sequence: UInt64
}

/// A shard's storage for one family. One struct for every kind (rather than an enum with payloads) so that nested
/// arrays are mutated in place: switching over an enum payload would copy the arrays on every sample.
struct FamilyCells {
    enum Kind: Equatable {
        case counter
        case gauge
        case histogram
    }

    var kind: Kind
    var schema: Int32
    var hasCode: Bool
    /// Histogram bucket upper bounds (without `+Inf`).
    var bounds: [Double]
    /// Counters and gauges: per label-set index, the cells seen, usually one or a few codes.
    var cells: [[MetricCell]] = []
    /// Histograms: `bounds.count + 1` non-cumulative bucket counts per label-set index (the last is `+Inf`), flat
    /// so that a sample checks one array's uniqueness rather than two.
    var buckets: [UInt64] = []
    /// Histograms: per label-set index, the sum of observations.
    var sums: [Double] = []

    static let noCode: Int32 = .min

    init(_ definition: MetricFamilyDefinition) {
        schema = definition.schema.index
        hasCode = definition.codeLabel != nil
        switch definition.kind {
        case .counter:
            kind = .counter
            bounds = []
        case .gauge:
            kind = .gauge
            bounds = []
        case .histogram(let familyBounds):
            kind = .histogram
            bounds = familyBounds
        }
    }

    /// The position of the cell for `labels` and `code`, creating it the first time.
    mutating func cellIndex(_ labels: Int, code: Int32) -> Int {
        if labels >= cells.count {
            cells.append(contentsOf: repeatElement([], count: labels + 1 - cells.count))
        }
        // A linear search: a series has one or a handful of codes, fewer than a hash would pay for.
        for index in cells[labels].indices where cells[labels][index].code == code {
            return index
        }
        cells[labels].append(MetricCell(code: code, value: 0, denominator: 0, sequence: 0))
        return cells[labels].count - 1
    }

    mutating func observe(_ labels: Int, _ value: Double) {
        let stride = bounds.count + 1
        if labels >= sums.count {
            let missing = labels + 1 - sums.count
            buckets.append(contentsOf: repeatElement(0, count: missing * stride))
            sums.append(contentsOf: repeatElement(0, count: missing))
        }
        // Linear: a dozen bounds, and most observations fall in the first few buckets. NaN lands in `+Inf`.
        let bucket = bounds.withUnsafeBufferPointer { bounds in
            var bucket = 0
            while bucket < bounds.count && !(value <= bounds[bucket]) {
                bucket += 1
            }
            return bucket
        }
        buckets[labels * stride + bucket] &+= 1
        sums[labels] += value
    }

    /// The bucket counts of one label set.
    func buckets(of labels: Int) -> ArraySlice<UInt64> {
        let stride = bounds.count + 1
        return buckets[labels * stride..<(labels + 1) * stride]
    }
}

struct ShardStorage {
    var families: [FamilyCells] = []
}

/// Metrics recorded by one reactor thread. Thread-safe (its `Mutex`), but meant to be written by one thread: the
/// exposition is the only other reader.
public final class MetricsShard: Sendable {
    public let registry: MetricsRegistry
    let storage = Mutex(ShardStorage())

    public init(registry: MetricsRegistry) {
        self.registry = registry
        let definitions = registry.state.withLock { $0.families }
        storage.withLock { storage in
            storage.families = definitions.map(FamilyCells.init)
        }
    }

    // MARK: The platform's events

    /// An inference request was answered: counts it by status, counts it as an error when the status is 400 or
    /// above, and records its latency.
    public func inferenceFinished(modelVersion: LabelSetID, status: Int, seconds: Double) {
        let code = Int32(clamping: status)
        storage.withLock { storage in
            storage.add(FamilyID.inferenceRequests.index, modelVersion, code: code, 1, registry)
            if status >= 400 {
                storage.add(FamilyID.inferenceErrors.index, modelVersion, code: code, 1, registry)
            }
            storage.observe(FamilyID.inferenceRequestDuration.index, modelVersion, seconds, registry)
        }
    }

    /// A batch job reached a terminal state this long after it was accepted.
    public func batchJobFinished(seconds: Double) {
        observe(.batchJobDuration, .unlabelled, seconds)
    }

    /// The registry cache's running totals on this reactor, as its `hits` and `misses` report them.
    public func registryCacheTotals(hits: Int, misses: Int) {
        setRatio(.cacheHitRate, .unlabelled, numerator: Double(hits), denominator: Double(hits + misses))
    }

    /// A backend's breaker on this reactor moved to `phase`.
    public func backendBreakerPhase(_ backend: LabelSetID, _ phase: CircuitBreaker.Phase) {
        let value: Double
        switch phase {
        case .closed: value = 0
        case .halfOpen: value = 1
        case .open: value = 2
        }
        set(.backendBreakerState, backend, value)
    }

    /// A call to a backend is being retried.
    public func backendRetried(_ backend: LabelSetID) {
        add(.backendRetries, backend, 1)
    }

    /// The rate limiter refused a tenant's request.
    public func requestRateLimited(tenant: LabelSetID) {
        add(.rateLimitedRequests, tenant, 1)
    }

    /// The batch queue this reactor's machines hold has `depth` jobs waiting.
    public func batchQueueDepth(_ depth: Int) {
        set(.batchQueueDepth, .unlabelled, Double(depth))
    }

    /// The reactor accepted a connection.
    public func httpConnectionOpened() {
        add(.httpConnectionsOpen, .unlabelled, 1)
    }

    /// The reactor closed a connection.
    public func httpConnectionClosed() {
        add(.httpConnectionsOpen, .unlabelled, -1)
    }

    // MARK: Any family

    /// Adds `amount` to a counter (never negative) or a gauge.
    public func add(_ family: FamilyID, _ labels: LabelSetID, code: Int? = nil, _ amount: Double) {
        let code = code.map { Int32(clamping: $0) } ?? FamilyCells.noCode
        storage.withLock { $0.add(family.index, labels, code: code, amount, registry) }
    }

    /// Sets a gauge.
    public func set(_ family: FamilyID, _ labels: LabelSetID, code: Int? = nil, _ value: Double) {
        let code = code.map { Int32(clamping: $0) } ?? FamilyCells.noCode
        storage.withLock { storage in
            let cell = storage.gaugeCell(family.index, labels, code: code, registry)
            storage.families[family.index].cells[cell.labels][cell.index].value = value
            storage.families[family.index].cells[cell.labels][cell.index].sequence = registry.nextSetSequence()
        }
    }

    /// Sets a `ratioOfSums` gauge's share from this shard.
    public func setRatio(
        _ family: FamilyID, _ labels: LabelSetID, code: Int? = nil, numerator: Double, denominator: Double
    ) {
        let code = code.map { Int32(clamping: $0) } ?? FamilyCells.noCode
        storage.withLock { storage in
            let cell = storage.gaugeCell(family.index, labels, code: code, registry)
            storage.families[family.index].cells[cell.labels][cell.index].value = numerator
            storage.families[family.index].cells[cell.labels][cell.index].denominator = denominator
        }
    }

    /// Records one observation in a histogram.
    public func observe(_ family: FamilyID, _ labels: LabelSetID, _ value: Double) {
        storage.withLock { $0.observe(family.index, labels, value, registry) }
    }

    /// A copy of everything recorded, for the exposition; taken under the lock so it is consistent.
    func snapshot() -> [FamilyCells] {
        storage.withLock { $0.families }
    }
}

// A shard's storage is only ever touched inside its mutex; these helpers check the family's kind and labels, which
// catch a caller passing a backend id where a model version belongs.
extension ShardStorage {
    mutating func ensureFamily(_ index: Int, _ registry: MetricsRegistry) {
        while families.count <= index {
            families.append(FamilyCells(registry.definition(FamilyID(index: families.count))))
        }
    }

    mutating func add(_ family: Int, _ labels: LabelSetID, code: Int32, _ amount: Double, _ registry: MetricsRegistry) {
        if family >= families.count { ensureFamily(family, registry) }
        let kind = families[family].kind
        precondition(kind != .histogram, "add to histogram family \(family)")
        precondition(kind == .gauge || amount >= 0, "a counter cannot go down by \(amount)")
        check(family, labels, code: code)
        let cell = families[family].cellIndex(Int(labels.index), code: code)
        families[family].cells[Int(labels.index)][cell].value += amount
    }

    mutating func gaugeCell(
        _ family: Int, _ labels: LabelSetID, code: Int32, _ registry: MetricsRegistry
    ) -> (labels: Int, index: Int) {
        if family >= families.count { ensureFamily(family, registry) }
        precondition(families[family].kind == .gauge, "set on non-gauge family \(family)")
        check(family, labels, code: code)
        return (Int(labels.index), families[family].cellIndex(Int(labels.index), code: code))
    }

    mutating func observe(_ family: Int, _ labels: LabelSetID, _ value: Double, _ registry: MetricsRegistry) {
        if family >= families.count { ensureFamily(family, registry) }
        precondition(families[family].kind == .histogram, "observe on non-histogram family \(family)")
        check(family, labels, code: FamilyCells.noCode)
        families[family].observe(Int(labels.index), value)
    }

    private func check(_ family: Int, _ labels: LabelSetID, code: Int32) {
        precondition(labels.schema == families[family].schema, "label set of another schema for family \(family)")
        precondition((code != FamilyCells.noCode) == families[family].hasCode, "code given or missing for \(family)")
    }
}
