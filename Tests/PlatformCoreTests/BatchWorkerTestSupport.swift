// Helpers shared by the batch worker tests: a configured worker, a driver that feeds inputs at a
// virtual time and keeps the actions, and extractors that pick one kind of action out of a transcript.

import Testing

@testable import PlatformCore

/// Drives one worker through a transcript.
struct WorkerDriver {
    static let partition = PartitionID(0)
    static let model = ModelID(0)

    static func deployment(backends: Int = 2) -> Deployment {
        Deployment(
            models: [
                Deployment.Model(
                    name: "m",
                    versions: [
                        Deployment.Version(
                            number: 1, state: .serving, weight: 1, backends: (0..<backends).map { BackendID($0) })
                    ],
                    inputElementsMax: 100)
            ], backendCount: backends)
    }

    var worker: BatchWorker
    var now: Instant = .zero
    var log: [BatchWorker.Action] = []

    init(configure: (inout BatchWorker.Configuration) -> Void = { _ in }) {
        var configuration = BatchWorker.Configuration()
        configuration.deployment = Self.deployment()
        configure(&configuration)
        worker = BatchWorker(configuration: configuration)
    }

    /// Feeds one input at the current time and returns the actions it produced.
    @discardableResult mutating func feed(_ input: BatchWorker.Input) -> [BatchWorker.Action] {
        var actions: [BatchWorker.Action] = []
        worker.handle(input, now: now, into: &actions)
        let consistent = worker.countsAreConsistent
        #expect(consistent, "the worker's counts disagree with its records after \(input)")
        log += actions
        return actions
    }

    mutating func advance(_ duration: Duration) { now = now + duration }

    static func message(_ offset: Int64, job: UInt64, partition: PartitionID = partition) -> JobMessage {
        JobMessage(partition: partition, offset: offset, job: JobID(job))
    }

    static func record(
        _ job: UInt64, state: JobState, attempt: Int = 1, items: Int = 2, holder: Int = 0, now: Instant = .zero
    ) -> JobRecord {
        let spec = JobSpec(tenant: 1, model: model, version: 1, itemCount: items, idempotencyKey: 0, bodyHash: 0)
        var record = JobRecord(id: JobID(job), spec: spec, now: now)
        record.state = state
        record.attempt = attempt
        record.leaseHolder = state == .leased ? holder : -1
        record.leaseExpiresAt = now + .seconds(30)
        if state == .succeeded { record.result = ResultLocation(job: JobID(job), attempt: attempt) }
        return record
    }
}

func batchStores(_ actions: [BatchWorker.Action]) -> [(StoreRequestID, JobStoreCommand)] {
    actions.compactMap { if case .store(let id, let command) = $0 { return (id, command) } else { return nil } }
}

func batchCalls(_ actions: [BatchWorker.Action]) -> [BackendCall] {
    actions.compactMap { if case .call(let call) = $0 { return call } else { return nil } }
}

func batchPuts(_ actions: [BatchWorker.Action]) -> [(PutID, ResultLocation, Int)] {
    actions.compactMap {
        if case .putObject(let id, let location, let bytes) = $0 { return (id, location, bytes) } else { return nil }
    }
}

func batchFetches(_ actions: [BatchWorker.Action]) -> [(PartitionID, Int)] {
    actions.compactMap { if case .fetch(let partition, let most) = $0 { return (partition, most) } else { return nil } }
}

func batchCommits(_ actions: [BatchWorker.Action]) -> [(PartitionID, Int64)] {
    actions.compactMap {
        if case .commitOffset(let partition, let next) = $0 { return (partition, next) } else { return nil }
    }
}

func batchObservations(_ actions: [BatchWorker.Action]) -> [BatchObservation] {
    actions.compactMap { if case .observe(let observation) = $0 { return observation } else { return nil } }
}

func batchTimers(_ actions: [BatchWorker.Action]) -> [(TimerID, Instant)] {
    actions.compactMap { if case .setTimer(let timer, let at) = $0 { return (timer, at) } else { return nil } }
}

/// The timers of one kind set in `actions`, in order.
func batchTimers(_ kind: BatchWorker.TimerKind, in actions: [BatchWorker.Action]) -> [(TimerID, Instant)] {
    batchTimers(actions).filter { $0.0.value & 0xF == kind.rawValue }
}

/// The first timer of `kind` set in `actions`.
func batchTimer(_ kind: BatchWorker.TimerKind, in actions: [BatchWorker.Action]) -> (TimerID, Instant)? {
    batchTimers(kind, in: actions).first
}

func batchRevocationsDone(_ actions: [BatchWorker.Action]) -> [[PartitionID]] {
    actions.compactMap { if case .revocationDone(let partitions) = $0 { return partitions } else { return nil } }
}

func batchCompletesShutdown(_ actions: [BatchWorker.Action]) -> Bool {
    actions.contains { if case .shutdownComplete = $0 { return true } else { return false } }
}

extension JobStoreCommand {
    /// The command's name, for compact expectations.
    var commandName: String {
        switch self {
        case .submit: "submit"
        case .markQueued: "markQueued"
        case .lease: "lease"
        case .renew: "renew"
        case .release: "release"
        case .complete: "complete"
        case .retryLater: "retryLater"
        case .fail: "fail"
        case .cancel: "cancel"
        case .get: "get"
        case .inspect: "inspect"
        }
    }
}
