// The metric families and interned label sets every reactor's `MetricsShard` records into. Label values are turned
// into small integer ids once (when a model version or backend is first seen), so recording a sample on the hot path
// indexes arrays instead of hashing or building strings; only the exposition turns ids back into text.

import Synchronization

/// A list of label names (e.g. `model`, `version`). Label sets are interned per schema, so one id serves every family
/// that carries the same labels: a model version's id labels its request counter and its latency histogram alike.
public struct LabelSchema: Hashable, Sendable {
    let index: Int32

    /// No labels: the one series of a plain counter or gauge.
    public static let unlabelled = LabelSchema(index: 0)
    /// `model`, `version`.
    public static let modelVersion = LabelSchema(index: 1)
    /// `backend`.
    public static let backend = LabelSchema(index: 2)
    /// `tenant`.
    public static let tenant = LabelSchema(index: 3)
}

/// One interned tuple of label values within a schema; cheap to copy and to compare.
public struct LabelSetID: Hashable, Sendable {
    let schema: Int32
    let index: Int32

    /// The empty label set, for families without labels.
    public static let unlabelled = LabelSetID(schema: 0, index: 0)
}

/// A metric family registered in a `MetricsRegistry`; the standard ones have fixed ids.
public struct FamilyID: Hashable, Sendable {
    let index: Int

    public static let inferenceRequestDuration = FamilyID(index: 0)
    public static let inferenceRequests = FamilyID(index: 1)
    public static let inferenceErrors = FamilyID(index: 2)
    public static let batchJobDuration = FamilyID(index: 3)
    public static let cacheHitRate = FamilyID(index: 4)
    public static let backendBreakerState = FamilyID(index: 5)
    public static let backendRetries = FamilyID(index: 6)
    public static let rateLimitedRequests = FamilyID(index: 7)
    public static let batchQueueDepth = FamilyID(index: 8)
    public static let httpConnectionsOpen = FamilyID(index: 9)
}

/// How the exposition combines one gauge series held by several shards (each reactor sets its own copy).
public enum GaugeMerge: Sendable, Equatable {
    /// Each shard holds its share (its own connections, its own queue): the total is the sum.
    case sum
    /// Each shard sees the same thing from its side (a breaker's phase): the worst, i.e. the largest, wins.
    case maximum
    /// One fact that any shard may update: the value set most recently, across all shards, wins.
    case lastSet
    /// Each shard sets a numerator and a denominator (hits, lookups): the value is the sum of numerators over the
    /// sum of denominators, zero while the denominators sum to zero. Averaging per-shard ratios would weigh an idle
    /// reactor as much as a busy one.
    case ratioOfSums
}

/// What a family is, as Prometheus's TYPE line names it, with what the kind needs.
public enum MetricKind: Sendable, Equatable {
    case counter
    case gauge(GaugeMerge)
    /// Upper bounds of the buckets, strictly increasing and finite; `+Inf` is implied.
    case histogram(bounds: [Double])
}

/// A family's declaration: its name, help text, kind and labels.
public struct MetricFamilyDefinition: Sendable, Equatable {
    public var name: String
    public var help: String
    public var kind: MetricKind
    public var schema: LabelSchema
    /// An extra label with an integer value (e.g. `status`), written after the schema's labels; counters and gauges
    /// only. Integers need no interning, so an HTTP status can be recorded as it is.
    public var codeLabel: String?

    public init(name: String, help: String, kind: MetricKind, schema: LabelSchema, codeLabel: String? = nil) {
        self.name = name
        self.help = help
        self.kind = kind
        self.schema = schema
        self.codeLabel = codeLabel
    }
}

/// A family or label that cannot be registered; the message names the offending value.
public struct MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
}

/// Latency buckets from one millisecond to ten seconds: an inference is a few milliseconds when the model is warm
/// and seconds when it is cold or queued, and both ends must be visible.
public let inferenceLatencyBounds: [Double] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/// Batch jobs run from a fraction of a second to an hour.
public let batchJobDurationBounds: [Double] = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600]

/// The families and label sets shared by every shard. Registration and interning take a lock and happen rarely (at
/// start, when a model version or backend is first seen); shards read definitions only when they meet a new family.
public final class MetricsRegistry: Sendable {
    /// Interned label sets per schema beyond which new values map to the schema's overflow set (all values `other`):
    /// an unbounded label, such as a tenant name from a request, must not grow memory and the exposition forever.
    public let labelSetsMax: Int

    struct State {
        var schemaNames: [[String]] = []
        var schemaIndexByNames: [[String]: Int32] = [:]
        /// Per schema, the values of each interned set in id order.
        var labelValues: [[[String]]] = []
        var labelIndexByValues: [[[String]: Int32]] = []
        var families: [MetricFamilyDefinition] = []
        var familyIndexByName: [String: Int] = [:]
    }

    let state: Mutex<State>
    /// Orders `lastSet` gauge updates across shards; relaxed is enough because only the order of values matters.
    let setSequence = Atomic<UInt64>(0)

    /// A registry holding the standard families (their ids are the `FamilyID` constants).
    public init(labelSetsMax: Int = 10_000) {
        precondition(labelSetsMax >= 1, "labelSetsMax \(labelSetsMax) must be at least 1")
        self.labelSetsMax = labelSetsMax
        state = Mutex(State())
        for names in [[], ["model", "version"], ["backend"], ["tenant"]] {
            _ = try! schema(labelNames: names)
        }
        for definition in MetricsRegistry.standardFamilies {
            _ = try! register(definition)
        }
    }

    static let standardFamilies: [MetricFamilyDefinition] = [
        MetricFamilyDefinition(
            name: "inference_request_duration_seconds", help: "Time from receiving an inference request to replying.",
            kind: .histogram(bounds: inferenceLatencyBounds), schema: .modelVersion),
        MetricFamilyDefinition(
            name: "inference_requests_total", help: "Inference requests answered, by model, version and status.",
            kind: .counter, schema: .modelVersion, codeLabel: "status"),
        MetricFamilyDefinition(
            name: "inference_errors_total", help: "Inference requests answered with a status of 400 or above.",
            kind: .counter, schema: .modelVersion, codeLabel: "status"),
        MetricFamilyDefinition(
            name: "batch_job_duration_seconds", help: "Time from a batch job's acceptance to its terminal state.",
            kind: .histogram(bounds: batchJobDurationBounds), schema: .unlabelled),
        MetricFamilyDefinition(
            name: "cache_hit_rate", help: "Model registry cache hits over lookups since start (0 to 1).",
            kind: .gauge(.ratioOfSums), schema: .unlabelled),
        MetricFamilyDefinition(
            name: "backend_breaker_state",
            help: "Circuit breaker phase per backend: 0 closed, 1 half-open, 2 open (the most open any reactor sees).",
            kind: .gauge(.maximum), schema: .backend),
        MetricFamilyDefinition(
            name: "backend_retries_total", help: "Calls to a backend retried after a failed try.",
            kind: .counter, schema: .backend),
        MetricFamilyDefinition(
            name: "rate_limited_requests_total", help: "Requests refused by the rate limiter, by tenant.",
            kind: .counter, schema: .tenant),
        MetricFamilyDefinition(
            name: "batch_queue_depth", help: "Batch jobs waiting for a worker (summed over reactors).",
            kind: .gauge(.sum), schema: .unlabelled),
        MetricFamilyDefinition(
            name: "http_connections_open", help: "Open HTTP connections (summed over reactors).",
            kind: .gauge(.sum), schema: .unlabelled),
    ]

    /// The schema for these label names, registering it the first time.
    public func schema(labelNames: [String]) throws(MetricsError) -> LabelSchema {
        for name in labelNames {
            try MetricsRegistry.checkLabelName(name)
        }
        if Set(labelNames).count != labelNames.count {
            throw MetricsError(description: "label names \(labelNames) repeat a name")
        }
        return state.withLock { state in
            if let index = state.schemaIndexByNames[labelNames] { return LabelSchema(index: index) }
            let index = Int32(state.schemaNames.count)
            state.schemaNames.append(labelNames)
            state.schemaIndexByNames[labelNames] = index
            // Index 0 of every schema is its overflow set, so a full schema always has somewhere to count.
            let overflow = labelNames.isEmpty ? [] : Array(repeating: "other", count: labelNames.count)
            state.labelValues.append([overflow])
            state.labelIndexByValues.append([overflow: 0])
            return LabelSchema(index: index)
        }
    }

    /// The id of these label values in `schema`, interning them the first time; the schema's overflow set once
    /// `labelSetsMax` sets exist.
    public func labelSet(_ values: [String], in schema: LabelSchema) -> LabelSetID {
        state.withLock { state in
            let names = state.schemaNames[Int(schema.index)]
            precondition(values.count == names.count, "label values \(values) do not match label names \(names)")
            if let index = state.labelIndexByValues[Int(schema.index)][values] {
                return LabelSetID(schema: schema.index, index: index)
            }
            guard state.labelValues[Int(schema.index)].count < labelSetsMax + 1 else {
                return LabelSetID(schema: schema.index, index: 0)
            }
            let index = Int32(state.labelValues[Int(schema.index)].count)
            state.labelValues[Int(schema.index)].append(values)
            state.labelIndexByValues[Int(schema.index)][values] = index
            return LabelSetID(schema: schema.index, index: index)
        }
    }

    /// The label set for a model version.
    public func modelVersion(model: String, version: String) -> LabelSetID {
        labelSet([model, version], in: .modelVersion)
    }

    /// The label set for a backend.
    public func backend(_ name: String) -> LabelSetID { labelSet([name], in: .backend) }

    /// The label set for a tenant.
    public func tenant(_ name: String) -> LabelSetID { labelSet([name], in: .tenant) }

    /// Adds a family; shards learn of it the first time they record into it.
    public func register(_ definition: MetricFamilyDefinition) throws(MetricsError) -> FamilyID {
        try MetricsRegistry.check(definition)
        return try state.withLock { state throws(MetricsError) in
            guard Int(definition.schema.index) < state.schemaNames.count else {
                throw MetricsError(description: "metric \(definition.name) uses an unregistered label schema")
            }
            let labels = state.schemaNames[Int(definition.schema.index)] + (definition.codeLabel.map { [$0] } ?? [])
            if Set(labels).count != labels.count {
                throw MetricsError(description: "metric \(definition.name) repeats a label in \(labels)")
            }
            if case .histogram = definition.kind, labels.contains("le") {
                throw MetricsError(description: "histogram \(definition.name) may not have a label named le")
            }
            if state.familyIndexByName[definition.name] != nil {
                throw MetricsError(description: "metric \(definition.name) is already registered")
            }
            for taken in MetricsRegistry.exposedNames(of: definition) {
                for family in state.families where MetricsRegistry.exposedNames(of: family).contains(taken) {
                    throw MetricsError(description: "metric \(definition.name) clashes with \(family.name)")
                }
            }
            state.families.append(definition)
            state.familyIndexByName[definition.name] = state.families.count - 1
            return FamilyID(index: state.families.count - 1)
        }
    }

    /// Registers a counter.
    public func addCounter(
        name: String, help: String, schema: LabelSchema = .unlabelled, codeLabel: String? = nil
    ) throws(MetricsError) -> FamilyID {
        try register(
            MetricFamilyDefinition(name: name, help: help, kind: .counter, schema: schema, codeLabel: codeLabel))
    }

    /// Registers a gauge.
    public func addGauge(
        name: String, help: String, merge: GaugeMerge, schema: LabelSchema = .unlabelled, codeLabel: String? = nil
    ) throws(MetricsError) -> FamilyID {
        try register(
            MetricFamilyDefinition(name: name, help: help, kind: .gauge(merge), schema: schema, codeLabel: codeLabel))
    }

    /// Registers a histogram.
    public func addHistogram(
        name: String, help: String, bounds: [Double], schema: LabelSchema = .unlabelled
    ) throws(MetricsError) -> FamilyID {
        try register(MetricFamilyDefinition(name: name, help: help, kind: .histogram(bounds: bounds), schema: schema))
    }

    func definition(_ family: FamilyID) -> MetricFamilyDefinition {
        state.withLock { state in
            precondition(family.index < state.families.count, "metric family \(family.index) is not registered")
            return state.families[family.index]
        }
    }

    func nextSetSequence() -> UInt64 {
        setSequence.add(1, ordering: .relaxed).newValue
    }

    /// The sample names a family writes, which must not collide with another family's.
    static func exposedNames(of definition: MetricFamilyDefinition) -> [String] {
        switch definition.kind {
        case .counter, .gauge: return [definition.name]
        case .histogram:
            return [definition.name] + ["_bucket", "_sum", "_count"].map { definition.name + $0 }
        }
    }

    static func check(_ definition: MetricFamilyDefinition) throws(MetricsError) {
        let name = definition.name
        guard let first = name.utf8.first, !isDigit(first),
            name.utf8.allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") })
        else {
            throw MetricsError(description: "metric name \"\(name)\" is not [a-zA-Z_:][a-zA-Z0-9_:]*")
        }
        if !definition.help.utf8.allSatisfy({ $0 != 0 }) {
            throw MetricsError(description: "help of metric \(name) contains a NUL byte")
        }
        if let codeLabel = definition.codeLabel {
            try checkLabelName(codeLabel)
        }
        switch definition.kind {
        case .counter, .gauge: break
        case .histogram(let bounds):
            if definition.codeLabel != nil {
                throw MetricsError(description: "histogram \(name) cannot have a code label")
            }
            if bounds.isEmpty || !bounds.allSatisfy(\.isFinite) || zip(bounds, bounds.dropFirst()).contains(where: >=) {
                throw MetricsError(description: "buckets \(bounds) of \(name) are not finite and strictly increasing")
            }
        }
    }

    static func checkLabelName(_ name: String) throws(MetricsError) {
        guard let first = name.utf8.first, !isDigit(first), !name.hasPrefix("__"),
            name.utf8.allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") })
        else {
            throw MetricsError(description: "label name \"\(name)\" is not [a-zA-Z_][a-zA-Z0-9_]* without a leading __")
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") || byte == UInt8(ascii: "_")
    }
}
