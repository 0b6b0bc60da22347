// The exposition is what Prometheus parses: its exact text for a small case, how shards merge, escaping, a stable
// order, and promtool's own verdict on a full exposition (and on a broken one, so the check is known to bite).

import Foundation
import Testing

@testable import PlatformProduction

private func text(_ shards: [MetricsShard], _ registry: MetricsRegistry) -> String {
    String(decoding: MetricsExposition.render(shards: shards, registry: registry), as: UTF8.self)
}

/// The lines of one family, from its HELP line up to the next family's.
private func block(_ exposition: String, _ family: String) -> String {
    var lines: [Substring] = []
    var inside = false
    for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("# HELP ") { inside = line.hasPrefix("# HELP \(family) ") }
        if inside { lines.append(line) }
    }
    return lines.joined(separator: "\n") + "\n"
}

@Suite struct MetricsTests {
    @Test func exactTextForOneModelVersion() {
        let registry = MetricsRegistry()
        let shard = MetricsShard(registry: registry)
        let resnet = registry.modelVersion(model: "resnet", version: "1")
        shard.inferenceFinished(modelVersion: resnet, status: 200, seconds: 0.003)
        shard.inferenceFinished(modelVersion: resnet, status: 200, seconds: 0.0125)
        shard.inferenceFinished(modelVersion: resnet, status: 503, seconds: 20)
        let exposition = text([shard], registry)
        #expect(
            block(exposition, "inference_requests_total") == """
                # HELP inference_requests_total Inference requests answered, by model, version and status.
                # TYPE inference_requests_total counter
                inference_requests_total{model="resnet",version="1",status="200"} 2
                inference_requests_total{model="resnet",version="1",status="503"} 1

                """)
        #expect(
            block(exposition, "inference_errors_total") == """
                # HELP inference_errors_total Inference requests answered with a status of 400 or above.
                # TYPE inference_errors_total counter
                inference_errors_total{model="resnet",version="1",status="503"} 1

                """)
        let labels = "model=\"resnet\",version=\"1\""
        #expect(
            block(exposition, "inference_request_duration_seconds") == """
                # HELP inference_request_duration_seconds Time from receiving an inference request to replying.
                # TYPE inference_request_duration_seconds histogram
                inference_request_duration_seconds_bucket{\(labels),le="0.001"} 0
                inference_request_duration_seconds_bucket{\(labels),le="0.0025"} 0
                inference_request_duration_seconds_bucket{\(labels),le="0.005"} 1
                inference_request_duration_seconds_bucket{\(labels),le="0.01"} 1
                inference_request_duration_seconds_bucket{\(labels),le="0.025"} 2
                inference_request_duration_seconds_bucket{\(labels),le="0.05"} 2
                inference_request_duration_seconds_bucket{\(labels),le="0.1"} 2
                inference_request_duration_seconds_bucket{\(labels),le="0.25"} 2
                inference_request_duration_seconds_bucket{\(labels),le="0.5"} 2
                inference_request_duration_seconds_bucket{\(labels),le="1"} 2
                inference_request_duration_seconds_bucket{\(labels),le="2.5"} 2
                inference_request_duration_seconds_bucket{\(labels),le="5"} 2
                inference_request_duration_seconds_bucket{\(labels),le="10"} 2
                inference_request_duration_seconds_bucket{\(labels),le="+Inf"} 3
                inference_request_duration_seconds_sum{\(labels)} 20.0155
                inference_request_duration_seconds_count{\(labels)} 3

                """)
        // Families without labels show a zero sample before anything is recorded; labelled ones show only HELP/TYPE.
        #expect(
            block(exposition, "http_connections_open") == """
                # HELP http_connections_open Open HTTP connections (summed over reactors).
                # TYPE http_connections_open gauge
                http_connections_open 0

                """)
        #expect(
            block(exposition, "backend_retries_total") == """
                # HELP backend_retries_total Calls to a backend retried after a failed try.
                # TYPE backend_retries_total counter

                """)
    }

    @Test func familiesAreSortedByName() {
        let registry = MetricsRegistry()
        _ = try! registry.addCounter(name: "aaa_first_total", help: "Registered last, written first.")
        let names = text([MetricsShard(registry: registry)], registry).split(separator: "\n")
            .filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] }
        #expect(names.first == "aaa_first_total")
        #expect(names == names.sorted())
        #expect(names.count == 11)
    }

    @Test func twoShardsMerge() throws {
        let registry = MetricsRegistry()
        let first = MetricsShard(registry: registry)
        let second = MetricsShard(registry: registry)
        let model = registry.modelVersion(model: "bert", version: "2")
        let backend = registry.backend("triton-a")
        let region = try registry.addGauge(name: "active_region", help: "Region serving.", merge: .lastSet)
        first.inferenceFinished(modelVersion: model, status: 200, seconds: 0.004)
        second.inferenceFinished(modelVersion: model, status: 200, seconds: 0.2)
        second.inferenceFinished(modelVersion: model, status: 429, seconds: 0.0001)
        first.httpConnectionOpened()
        first.httpConnectionOpened()
        second.httpConnectionOpened()
        second.httpConnectionClosed()
        second.httpConnectionOpened()
        first.backendBreakerPhase(backend, .open)
        second.backendBreakerPhase(backend, .halfOpen)
        first.backendRetried(backend)
        second.backendRetried(backend)
        first.registryCacheTotals(hits: 3, misses: 1)
        second.registryCacheTotals(hits: 0, misses: 4)
        second.set(region, .unlabelled, 2)
        first.set(region, .unlabelled, 7)
        let exposition = text([first, second], registry)
        let lines = Set(exposition.split(separator: "\n").map(String.init))
        let labels = "model=\"bert\",version=\"2\""
        for expected in [
            "inference_requests_total{\(labels),status=\"200\"} 2",
            "inference_requests_total{\(labels),status=\"429\"} 1",
            "inference_errors_total{\(labels),status=\"429\"} 1",
            "inference_request_duration_seconds_bucket{\(labels),le=\"0.001\"} 1",
            "inference_request_duration_seconds_bucket{\(labels),le=\"0.005\"} 2",
            "inference_request_duration_seconds_bucket{\(labels),le=\"0.25\"} 3",
            "inference_request_duration_seconds_count{\(labels)} 3",
            "http_connections_open 3",
            "backend_breaker_state{backend=\"triton-a\"} 2",
            "backend_retries_total{backend=\"triton-a\"} 2",
            "cache_hit_rate 0.375",
            "active_region 7",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)\n\(exposition)")
        }
        #expect(!exposition.contains("inference_errors_total{\(labels),status=\"200\"}"))
    }

    @Test func labelValuesAndHelpAreEscaped() throws {
        let registry = MetricsRegistry()
        let shard = MetricsShard(registry: registry)
        let family = try registry.addCounter(
            name: "odd_total", help: "Back\\slash, \"quotes\" stay,\nnew line.", schema: .tenant)
        shard.add(family, registry.tenant("a\"b\\c\nd é"), 1)
        #expect(
            block(text([shard], registry), "odd_total") == """
                # HELP odd_total Back\\\\slash, "quotes" stay,\\nnew line.
                # TYPE odd_total counter
                odd_total{tenant="a\\"b\\\\c\\nd é"} 1

                """)
    }

    @Test func seriesAreOrderedByLabelValuesNotInterningOrder() {
        let registry = MetricsRegistry()
        let shard = MetricsShard(registry: registry)
        for tenant in ["zeta", "alpha", "mid", "Alpha", "alpha2"] {
            shard.requestRateLimited(tenant: registry.tenant(tenant))
        }
        let other = MetricsShard(registry: registry)
        other.requestRateLimited(tenant: registry.tenant("beta"))
        let once = text([shard, other], registry)
        let tenants = once.split(separator: "\n").filter { $0.hasPrefix("rate_limited_requests_total{") }
            .map { $0.split(separator: "\"")[1] }
        #expect(tenants == ["Alpha", "alpha", "alpha2", "beta", "mid", "zeta"])
        #expect(text([shard, other], registry) == once)
        #expect(text([other, shard], registry) == once)
    }

    @Test func labelSetsBeyondTheLimitShareAnOverflowSeries() {
        let registry = MetricsRegistry(labelSetsMax: 2)
        let shard = MetricsShard(registry: registry)
        for tenant in ["a", "b", "c", "d"] {
            shard.requestRateLimited(tenant: registry.tenant(tenant))
        }
        #expect(registry.tenant("a") != registry.tenant("c"))
        #expect(registry.tenant("c") == registry.tenant("d"))
        let exposition = text([shard], registry)
        #expect(exposition.contains("rate_limited_requests_total{tenant=\"other\"} 2\n"))
        #expect(exposition.contains("rate_limited_requests_total{tenant=\"a\"} 1\n"))
    }

    @Test func badDefinitionsAreRefusedByName() {
        let registry = MetricsRegistry()
        #expect(throws: MetricsError(description: "metric name \"9lives\" is not [a-zA-Z_:][a-zA-Z0-9_:]*")) {
            try registry.addCounter(name: "9lives", help: "x")
        }
        #expect(throws: MetricsError(description: "metric inference_requests_total is already registered")) {
            try registry.addCounter(name: "inference_requests_total", help: "again")
        }
        #expect(
            throws: MetricsError(
                description: "metric batch_job_duration_seconds_count clashes with batch_job_duration_seconds")
        ) {
            try registry.addGauge(name: "batch_job_duration_seconds_count", help: "x", merge: .sum)
        }
        #expect(throws: MetricsError(description: "buckets [1.0, 1.0] of dup are not finite and strictly increasing")) {
            try registry.addHistogram(name: "dup", help: "x", bounds: [1, 1])
        }
        #expect(throws: MetricsError(description: "histogram bad_le may not have a label named le")) {
            let schema = try registry.schema(labelNames: ["le"])
            _ = try registry.addHistogram(name: "bad_le", help: "x", bounds: [1], schema: schema)
        }
        #expect(
            throws: MetricsError(
                description: "label name \"__reserved\" is not [a-zA-Z_][a-zA-Z0-9_]* without a leading __")
        ) {
            try registry.schema(labelNames: ["__reserved"])
        }
    }

    @Test func aFamilyAddedAfterTheShardExistsIsRecorded() throws {
        let registry = MetricsRegistry()
        let shard = MetricsShard(registry: registry)
        let schema = try registry.schema(labelNames: ["queue"])
        let family = try registry.addHistogram(name: "late_seconds", help: "Late.", bounds: [1, 2], schema: schema)
        shard.observe(family, registry.labelSet(["q1"], in: schema), 1.5)
        #expect(text([shard], registry).contains("late_seconds_bucket{queue=\"q1\",le=\"2\"} 1\n"))
    }

    /// Measures the hot path: one inference (a counter and a histogram under one lock). Prints the figure; the bound
    /// is loose so that a busy machine passes, while a regression by orders of magnitude does not.
    @Test func recordingAnInferenceIsCheap() {
        let registry = MetricsRegistry()
        let shard = MetricsShard(registry: registry)
        let models = (0..<8).map { registry.modelVersion(model: "model\($0)", version: "1") }
        let iterations = 1_000_000
        let start = ContinuousClock.now
        for index in 0..<iterations {
            shard.inferenceFinished(
                modelVersion: models[index & 7], status: index % 50 == 0 ? 503 : 200,
                seconds: Double(index & 1023) * 0.0001)
        }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("metrics: \(Int(nanoseconds / Double(iterations))) ns per recorded inference")
        // Unoptimized builds run the generic Mutex and array code without inlining, some 40 times slower.
        let bound: Double = _isDebugAssertConfiguration() ? 50_000 : 1_000
        #expect(nanoseconds / Double(iterations) < bound)
    }
}

/// promtool, Prometheus's own checker.
enum Promtool {
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return (directories + ["/usr/bin", "/usr/local/bin"]).map { $0 + "/promtool" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Under CI a missing promtool is a failure (the install script was skipped), not a silent skip.
    static let runs = path != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// promtool's exit status and output on `exposition`.
    static func check(_ exposition: [UInt8]) throws -> (status: Int32, output: String) {
        guard let path else {
            Issue.record("promtool not found; run deploy/local/install-test-tools.sh as root")
            return (-1, "")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("exposition-\(UUID()).prom")
        try Data(exposition).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["check", "metrics"]
        process.standardInput = try FileHandle(forReadingFrom: file)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    static func populated() throws -> (MetricsRegistry, [MetricsShard]) {
        let registry = MetricsRegistry()
        let shards = [MetricsShard(registry: registry), MetricsShard(registry: registry)]
        let model = registry.modelVersion(model: "resnet \"50\"", version: "3\\b")
        let backend = registry.backend("triton-1")
        let schema = try registry.schema(labelNames: ["stage"])
        let extra = try registry.addHistogram(
            name: "stage_duration_seconds", help: "A later family.", bounds: [0.5, 1], schema: schema)
        for (index, shard) in shards.enumerated() {
            shard.inferenceFinished(modelVersion: model, status: 200, seconds: 0.01 * Double(index + 1))
            shard.inferenceFinished(modelVersion: model, status: 500, seconds: 1.5)
            shard.batchJobFinished(seconds: 42)
            shard.registryCacheTotals(hits: 9, misses: 1)
            shard.backendBreakerPhase(backend, index == 0 ? .closed : .open)
            shard.backendRetried(backend)
            shard.requestRateLimited(tenant: registry.tenant("acme\nnewline"))
            shard.batchQueueDepth(5)
            shard.httpConnectionOpened()
            shard.observe(extra, registry.labelSet(["decode"], in: schema), 0.7)
        }
        return (registry, shards)
    }
}

// In MetricsTests so that `--filter MetricsTests` runs them.
extension MetricsTests {

    @Test(.enabled(if: Promtool.runs, "promtool is not installed: run deploy/local/install-test-tools.sh as root"))
    func promtoolAcceptsEveryFamily() throws {
        let (registry, shards) = try Promtool.populated()
        let exposition = MetricsExposition.render(shards: shards, registry: registry)
        let result = try Promtool.check(exposition)
        #expect(result.status == 0, "promtool: \(result.output)\n\(String(decoding: exposition, as: UTF8.self))")
        #expect(result.output.isEmpty, "promtool lint: \(result.output)")
    }

    @Test(.enabled(if: Promtool.runs, "promtool is not installed: run deploy/local/install-test-tools.sh as root"))
    func promtoolRefusesADuplicateHelp() throws {
        let (registry, shards) = try Promtool.populated()
        let exposition = MetricsExposition.render(shards: shards, registry: registry)
        let broken = Array("# HELP http_connections_open Again.\n".utf8) + exposition
        let result = try Promtool.check(broken)
        #expect(result.status != 0, "promtool accepted a duplicate HELP line")
    }
}
