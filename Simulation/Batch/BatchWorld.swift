// The batch half of the simulated world: the gateways' batch frontends, the worker pool, the
// job store, the broker, the object store, the batch clients and the batch oracles' state.

import PlatformCore

/// A batch job as its client knows it.
struct ClientJob {
    var stream: Int
    var submission: BatchSubmission
    var job: JobID?
    var lastRank = -1
    var terminal = false
}

/// What a batch client request was, so its answer can be judged.
struct BatchClientRequest {
    var followUp: FollowUp?
    var clientJob: Int
}

/// A class, not a struct: the simulator reaches into it on every batch event, and a struct this
/// size behind an optional would be copied on reads.
final class BatchWorld {
    let spec: BatchSpec
    var frontends: [JobFrontend] = []
    var collector: OrphanCollector
    var collectorActions: [OrphanCollector.Action] = []
    var workers: [BatchWorker?] = []
    var workerConfigurations: [BatchWorker.Configuration] = []
    var workerEpoch: [UInt32] = []
    var store: SimulatedJobStore
    var broker: SimulatedBroker
    var objects: SimulatedObjectStore
    var streamRandom: [SeededRandom]
    /// Per job stream, the credential its client presents and the burst submissions still to come.
    let streamCredentials: [String]
    var burstLeft: [Int]
    var submissions = 0
    var clientRequests = IdentifierTable<BatchClientRequest>(capacity: 1_024)
    var clientJobs: [ClientJob] = []
    var pendingRevocations = 0
    var orphansCollected = 0
    /// Per key (tenant), its latest accepted job: what other tenants' probes ask for.
    var latestJobOfKey: [JobID?] = []

    // Oracle state.
    var acceptedJobs: [JobID] = []
    /// Per job, by id - 1: whether a client got its 202, and the result the job table first showed for it.
    /// Job ids are handed out 1, 2, 3..., so arrays in id order stand in for hash tables, and jobs that run
    /// together share cache lines.
    var acceptedByID: [Bool] = []
    var resultSeenByID: [ResultLocation?] = []
    var inProgress: [Int] = []
    var completedAfterFaults = 0
    var lastCompletionAt: Int64 = 0
    var backlogAtFaultsEnd: Int64 = -1

    init(
        spec: BatchSpec, keyNames: [String], duration: Duration, root: SeededRandom,
        storeConfiguration: JobStoreModel.Configuration, collectorConfiguration: OrphanCollector.Configuration
    ) {
        collector = OrphanCollector(configuration: collectorConfiguration)
        self.spec = spec
        store = SimulatedJobStore(
            model: JobStoreModel(configuration: storeConfiguration), random: root.split(stream: 3_001))
        broker = SimulatedBroker(partitions: spec.partitions, workers: spec.workers)
        objects = SimulatedObjectStore(random: root.split(stream: 3_002))
        streamRandom = spec.jobs.indices.map { root.split(stream: 3_100 + UInt64($0)) }
        // Tables sized for the jobs the streams will submit, so they do not grow (and rehash) step by step.
        let expected = min(spec.expectedJobs(duration: duration), 1_000_000)
        store.model.reserveCapacity(expected)
        objects.objects = IdentifierTable(capacity: expected)
        objects.ordered.reserveCapacity(expected)
        acceptedByID.reserveCapacity(expected)
        resultSeenByID.reserveCapacity(expected)
        acceptedJobs.reserveCapacity(expected)
        clientJobs.reserveCapacity(expected)
        streamCredentials = spec.jobs.map { Simulator.credential(keyNames[$0.key]) }
        burstLeft = spec.jobs.map(\.burst)
        latestJobOfKey = Array(repeating: nil, count: keyNames.count)
        inProgress = Array(repeating: 0, count: spec.workers)
        workerEpoch = Array(repeating: 0, count: spec.workers)
    }

    /// Records that a client got a 202 for `job`; false when one already had.
    func accept(_ job: JobID) -> Bool {
        let row = Int(job.value) - 1
        precondition(row >= 0, "job ids start at 1")
        if row >= acceptedByID.count {
            acceptedByID.append(contentsOf: repeatElement(false, count: row + 1 - acceptedByID.count))
        }
        if acceptedByID[row] { return false }
        acceptedByID[row] = true
        return true
    }

    /// The result first seen for `job`, if any.
    func resultSeen(_ job: JobID) -> ResultLocation? {
        let row = Int(job.value) - 1
        return row >= 0 && row < resultSeenByID.count ? resultSeenByID[row] : nil
    }

    func setResultSeen(_ job: JobID, _ result: ResultLocation) {
        let row = Int(job.value) - 1
        precondition(row >= 0, "job ids start at 1")
        if row >= resultSeenByID.count {
            resultSeenByID.append(contentsOf: repeatElement(nil, count: row + 1 - resultSeenByID.count))
        }
        resultSeenByID[row] = result
    }
}
