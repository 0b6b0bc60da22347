// The `batch` section of a scenario file: topic, worker pool, stores and job streams.

import PlatformCore
import PlatformWire

extension Scenario {
    static func loadBatch(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let field = try root.object("batch") else { return }
        try field.onlyKnown([
            "partitions", "workers", "slots", "prefetchMax", "fetchRecordsMin", "callsInFlightPerJob", "itemsPerCall",
            "leaseSeconds", "attemptsMax",
            "drainSeconds", "itemTimeoutMs", "sessionTimeoutSeconds", "storeLatencyMs", "objectStoreLatencyMs", "jobs",
            "collectEverySeconds",
            "drainJobsPerSecondMin",
        ])
        var batch = BatchSpec()
        batch.partitions = Int(try field.integer("partitions", min: 1, max: 1_024, default: 8))
        batch.workers = Int(try field.integer("workers", min: 1, max: 64, default: 3))
        batch.slots = Int(try field.integer("slots", min: 1, max: 10_000, default: 8))
        batch.prefetchMax = Int(try field.integer("prefetchMax", min: 0, max: 100_000, default: 16))
        batch.fetchRecordsMin = Int(try field.integer("fetchRecordsMin", min: 1, max: 100_000, default: 8))
        batch.callsInFlightPerJob = Int(try field.integer("callsInFlightPerJob", min: 1, max: 1_000, default: 4))
        batch.itemsPerCall = Int(try field.integer("itemsPerCall", min: 1, max: 10_000, default: 8))
        batch.lease = try field.seconds("leaseSeconds", default: batch.lease)
        batch.attemptsMax = Int(try field.integer("attemptsMax", min: 1, max: 100, default: 3))
        batch.drainDeadline = try field.seconds("drainSeconds", default: batch.drainDeadline)
        batch.itemTimeout = try field.milliseconds("itemTimeoutMs", default: batch.itemTimeout)
        batch.sessionTimeout = try field.seconds("sessionTimeoutSeconds", default: batch.sessionTimeout)
        batch.storeLatency = try field.milliseconds("storeLatencyMs", default: batch.storeLatency)
        batch.objectStoreLatency = try field.milliseconds("objectStoreLatencyMs", default: batch.objectStoreLatency)
        batch.collectEvery = try field.seconds("collectEverySeconds", default: batch.collectEvery)
        guard batch.collectEvery > .zero else { throw field.fail("collectEverySeconds", "must be > 0") }
        batch.drainJobsPerSecondMin = try field.integer("drainJobsPerSecondMin", min: 0, max: 10_000_000, default: 0)
        for (index, element) in try field.array("jobs").enumerated() {
            batch.jobs.append(try loadJobStream(try field.element("jobs", index, element), scenario))
        }
        guard !batch.jobs.isEmpty else { throw field.fail("jobs", "at least one job stream is needed") }
        scenario.batch = batch
    }

    static func loadJobStream(_ field: FieldReader, _ scenario: Scenario) throws(ScenarioError) -> JobStreamSpec {
        try field.onlyKnown([
            "key", "jobsPerSecond", "burst", "items", "model", "duplicatePercent", "conflictingPercent",
            "cancelPercent", "crossTenantPercent",
            "pollSeconds", "fromSeconds", "toSeconds",
        ])
        let keyName = try field.string("key")
        guard let key = scenario.keys.firstIndex(where: { $0.name == keyName }) else {
            throw field.fail("key", "no key named \"\(keyName)\"")
        }
        var stream = JobStreamSpec(key: key)
        stream.jobsPerSecond = try field.integer("jobsPerSecond", min: 0, max: 1_000_000, default: 0)
        stream.burst = Int(try field.integer("burst", min: 0, max: 1_000_000, default: 0))
        guard stream.jobsPerSecond > 0 || stream.burst > 0 else {
            throw field.fail("jobsPerSecond", "a job stream needs jobsPerSecond > 0 or a burst")
        }
        stream.items = Int(try field.integer("items", min: 1, max: 10_000, default: 10))
        let modelName = try field.string("model", default: scenario.models[0].name)
        guard let model = scenario.models.firstIndex(where: { $0.name == modelName }) else {
            throw field.fail("model", "no model named \"\(modelName)\"")
        }
        stream.model = model
        stream.duplicate = try field.percent("duplicatePercent", default: .zero)
        stream.conflicting = try field.percent("conflictingPercent", default: .zero)
        stream.cancel = try field.percent("cancelPercent", default: .zero)
        stream.crossTenant = try field.percent("crossTenantPercent", default: .zero)
        stream.pollEvery = try field.seconds("pollSeconds", default: stream.pollEvery)
        stream.start = try field.seconds("fromSeconds", default: .zero)
        if field.value("toSeconds") != nil { stream.end = try field.seconds("toSeconds", default: nil) }
        if let end = stream.end, end <= stream.start { throw field.fail("toSeconds", "must be after fromSeconds") }
        return stream
    }
}
