// A seeded property test of the batch worker: a tiny world (a two-partition log, a job table with the
// store's fencing rules, an object store, flaky backends, a rival worker and forced rebalances) drives
// one worker through faults and then calm, and checks the pool bound, that commits never pass an
// unfinished job, that a fenced attempt never completes, and that every job ends once the faults stop.

import Testing

@testable import PlatformCore

/// The world around one worker, driven by a seeded random stream.
struct BatchWorld {
    enum Event {
        case input(BatchWorker.Input)
        case applyStore(StoreRequestID, JobStoreCommand, fault: StoreFailure?)
        case rivalLease
        case rivalFinish(JobID, attempt: Int, outcome: Int)
        case rebalance
    }

    static let faultsEnd = Instant.zero + .seconds(4)
    static let runEnd = Instant.zero + .seconds(15)
    static let partitionCount = 2

    let seed: UInt64
    var random: SeededRandom
    var worker: BatchWorker
    var now: Instant = .zero
    var events: [(at: Instant, order: UInt64, event: Event)] = []
    var order: UInt64 = 0
    var jobs: [JobRecord] = []
    var failedAttempts: [Int] = []
    var logs: [[JobID]] = Array(repeating: [], count: partitionCount)
    var committed: [Int64] = Array(repeating: 0, count: partitionCount)
    var positions: [Int] = Array(repeating: 0, count: partitionCount)
    var assigned = false
    var fencedAttempts: [ResultLocation] = []
    var problems: [String] = []

    init(seed: UInt64, sabotage: (inout BatchWorker.Configuration) -> Void = { _ in }) {
        self.seed = seed
        random = SeededRandom(seed: seed, stream: 0x7E57)
        var configuration = BatchWorker.Configuration()
        configuration.deployment = WorkerDriver.deployment()
        configuration.slots = 3
        configuration.prefetchMax = 2
        configuration.callsInFlightPerJob = 2
        configuration.itemsPerCall = 2
        configuration.fetchRecordsMin = 2
        configuration.leaseDuration = .seconds(3)
        configuration.itemTimeout = .milliseconds(200)
        configuration.retryBackoffBase = .milliseconds(100)
        configuration.retryBackoffMax = .seconds(1)
        configuration.storeRetryDelay = .milliseconds(50)
        configuration.attemptsMax = 4
        configuration.breaker.consecutiveFailuresToOpen = 3
        configuration.breaker.openDuration = .milliseconds(100)
        configuration.seed = seed
        sabotage(&configuration)
        worker = BatchWorker(configuration: configuration)
        for index in 0..<12 {
            let spec = JobSpec(
                tenant: 1, model: ModelID(0), version: 1, itemCount: random.below(5), idempotencyKey: 0, bodyHash: 0)
            var record = JobRecord(id: JobID(UInt64(index + 1)), spec: spec, now: .zero)
            record.state = .queued
            jobs.append(record)
            failedAttempts.append(0)
            logs[random.below(Self.partitionCount)].append(record.id)
        }
        logs[0].append(JobID(2))  // a duplicate message: the job must still run once
        schedule(.input(.partitionsAssigned((0..<Self.partitionCount).map { PartitionID($0) })), after: .zero)
        assigned = true
        schedule(.rivalLease, after: .milliseconds(300))
        schedule(.rebalance, after: .milliseconds(700))
    }

    var faulty: Bool { now < Self.faultsEnd }

    mutating func schedule(_ event: Event, after delay: Duration) {
        order += 1
        events.append((now + delay, order, event))
    }

    mutating func run() {
        while let next = events.indices.min(by: {
            (events[$0].at, events[$0].order) < (events[$1].at, events[$1].order)
        }) {
            let (at, _, event) = events.remove(at: next)
            guard at <= Self.runEnd else { break }
            now = at
            perform(event)
        }
        for job in jobs where !job.state.isTerminal {
            problems.append("\(job.id) ended the run in \(job.state.name)")
        }
        for partition in 0..<Self.partitionCount where committed[partition] != Int64(logs[partition].count) {
            problems.append("partition \(partition) committed \(committed[partition]) of \(logs[partition].count)")
        }
    }

    mutating func perform(_ event: Event) {
        switch event {
        case .input(let input): feed(input)
        case .applyStore(let id, let command, let fault):
            if fault == .unavailable {
                return schedule(.input(.storeFailed(id, .unavailable)), after: .milliseconds(1))
            }
            let reply = apply(command)
            let answer: BatchWorker.Input =
                fault == .outcomeUnknown ? .storeFailed(id, .outcomeUnknown) : .storeReplied(id, reply)
            schedule(.input(answer), after: .milliseconds(Int64(1 + random.below(3))))
        case .rivalLease:
            guard faulty else { return }
            // The rival prefers a job whose lease lapsed (as a worker given its redelivered record would).
            let lapsed = jobs.first { $0.state == .leased && now >= $0.leaseExpiresAt }?.id
            let job = lapsed ?? JobID(UInt64(1 + random.below(jobs.count)))
            if case .updated(let record) = apply(.lease(job, worker: 9, leaseFor: .seconds(1), attemptsMax: 4)) {
                let delay = Duration.milliseconds(Int64(random.below(1_500)))
                schedule(.rivalFinish(job, attempt: record.attempt, outcome: random.below(3)), after: delay)
            }
            schedule(.rivalLease, after: .milliseconds(100))
        case .rivalFinish(let job, let attempt, let outcome):
            // 0: completes, 1: releases, 2: crashed (its lease just expires).
            if outcome == 0 {
                _ = apply(.complete(job, attempt: attempt, result: ResultLocation(job: job, attempt: attempt)))
            }
            if outcome == 1 { _ = apply(.release(job, attempt: attempt)) }
        case .rebalance:
            guard faulty else { return }
            if assigned && random.chance(.percent(40)) {
                assigned = false
                feed(.partitionsRevoked((0..<Self.partitionCount).map { PartitionID($0) }))
            }
            schedule(.rebalance, after: .milliseconds(700))
        }
    }

    mutating func feed(_ input: BatchWorker.Input) {
        var actions: [BatchWorker.Action] = []
        worker.handle(input, now: now, into: &actions)
        let configuration = worker.configuration
        if !worker.countsAreConsistent {
            problems.append("the worker's record and fetch counts disagree with its records after \(input)")
        }
        if worker.jobsInProgress > configuration.slots {
            problems.append("\(worker.jobsInProgress) jobs in progress with \(configuration.slots) slots")
        }
        if worker.jobsInProgress + worker.recordsBuffered > configuration.slots + configuration.prefetchMax {
            problems.append("\(worker.jobsInProgress) in progress + \(worker.recordsBuffered) buffered over the bound")
        }
        for action in actions { interpret(action) }
    }

    mutating func interpret(_ action: BatchWorker.Action) {
        switch action {
        case .fetch(let partition, let maxRecords):
            let log = logs[partition.value]
            let start = positions[partition.value]
            let end = min(start + maxRecords, log.count)
            positions[partition.value] = end
            let messages = (start..<end).map { JobMessage(partition: partition, offset: Int64($0), job: log[$0]) }
            schedule(.input(.recordsFetched(partition, messages)), after: .milliseconds(messages.isEmpty ? 50 : 1))
        case .commitOffset(let partition, let next):
            for offset in 0..<Int(next) {
                let job = jobs[Int(logs[partition.value][offset].value) - 1]
                if !job.state.isTerminal {
                    problems.append(
                        "commit \(next) on \(partition) passes offset \(offset): \(job.id) is \(job.state.name)")
                }
            }
            committed[partition.value] = max(committed[partition.value], next)
        case .revocationDone:
            positions = committed.map { Int($0) }
            assigned = true
            schedule(
                .input(.partitionsAssigned((0..<Self.partitionCount).map { PartitionID($0) })), after: .milliseconds(10)
            )
        case .store(let id, let command):
            if case .complete(_, _, let result) = command, fencedAttempts.contains(result) {
                problems.append("complete sent for \(result) after it was fenced")
            }
            var fault: StoreFailure?
            if faulty && random.chance(.percent(8)) { fault = .unavailable }
            if faulty && random.chance(.percent(6)) { fault = .outcomeUnknown }
            // A few commands stall for longer than a lease, so leases lapse and the rival's writes fence ours.
            let stall = faulty && random.chance(.percent(6)) ? Duration.seconds(Int64(2 + random.below(4))) : .zero
            schedule(.applyStore(id, command, fault: fault), after: stall + .milliseconds(Int64(1 + random.below(4))))
        case .putObject(let id, _, _):
            let succeeded = !(faulty && random.chance(.percent(10)))
            schedule(.input(.objectPutReplied(id, succeeded: succeeded)), after: .milliseconds(2))
        case .call(let call): answer(call)
        case .setTimer(let timer, let at): schedule(.input(.timerFired(timer)), after: max(at - now, .zero))
        case .observe(.fenced(let job, let attempt)): fencedAttempts.append(ResultLocation(job: job, attempt: attempt))
        case .observe, .shutdownComplete: return
        }
    }

    mutating func answer(_ call: BackendCall) {
        let latency = Duration.milliseconds(Int64(1 + random.below(20)))
        guard faulty else {
            return schedule(.input(.backendReplied(BackendReply(call: call.call, failure: nil))), after: latency)
        }
        let draw = random.below(100)
        if draw < 3 { return }  // never answers: the item timeout fires
        let failures: [RetryPolicy.Failure] = [.unavailable, .overloaded, .serverError, .connectionFailed]
        let failure: RetryPolicy.Failure? =
            draw < 5 ? .badRequest : draw < 15 ? failures[random.below(failures.count)] : nil
        schedule(.input(.backendReplied(BackendReply(call: call.call, failure: failure))), after: latency)
    }
}

extension BatchWorld {
    /// The job table's rules for the commands a worker sends, as `JobStoreModel` applies them.
    mutating func apply(_ command: JobStoreCommand) -> JobStoreReply {
        switch command {
        case .lease(let id, let worker, let leaseFor, let attemptsMax):
            var record = jobs[Int(id.value) - 1]
            let leasable: Bool
            switch record.state {
            case .accepted, .queued: leasable = now >= record.notBefore
            case .leased: leasable = now >= record.leaseExpiresAt
            case .succeeded, .failed, .cancelled, .deadLettered: leasable = false
            }
            guard leasable else { return .notApplicable(record) }
            if failedAttempts[Int(id.value) - 1] >= attemptsMax {
                record.state = .deadLettered
                record.leaseHolder = -1
                return .deadLettered(write(record))
            }
            record.state = .leased
            record.attempt += 1
            record.leaseHolder = worker
            record.leaseExpiresAt = now + leaseFor
            record.itemsDone = 0
            return .updated(write(record))
        case .renew(let id, let attempt, let leaseFor, let itemsDone):
            return fenced(id, attempt) { record, now in
                record.leaseExpiresAt = now + leaseFor
                record.itemsDone = max(record.itemsDone, itemsDone)
            }
        case .release(let id, let attempt):
            return fenced(id, attempt) { record, now in
                record.state = .queued
                record.notBefore = now
            }
        case .complete(let id, let attempt, let result):
            let current = jobs[Int(id.value) - 1]
            if current.state == .succeeded && current.result == result { return .notApplicable(current) }
            return fenced(id, attempt) { record, _ in
                record.state = .succeeded
                record.result = result
            }
        case .retryLater(let id, let attempt, let notBefore):
            let reply = fenced(id, attempt) { record, _ in
                record.state = .queued
                record.notBefore = notBefore
            }
            if case .updated = reply { failedAttempts[Int(id.value) - 1] += 1 }
            return reply
        case .fail(let id, let attempt, let failure):
            return fenced(id, attempt) { record, _ in
                record.state = .failed
                record.failure = failure
            }
        case .markQueued(let ids):
            // Not sent by a worker; kept faithful so the world stays a usable job table.
            var moved = 0
            for id in ids where jobs.indices.contains(Int(id.value) - 1) && jobs[Int(id.value) - 1].state == .accepted {
                var record = jobs[Int(id.value) - 1]
                record.state = .queued
                _ = write(record)
                moved += 1
            }
            return .markedQueued(count: moved)
        case .inspect(let ids):
            return .records(ids.filter { jobs.indices.contains(Int($0.value) - 1) }.map { jobs[Int($0.value) - 1] })
        case .submit, .cancel, .get:
            return .notFound
        }
    }

    /// Applies `change` only for the current attempt of a leased job.
    mutating func fenced(_ id: JobID, _ attempt: Int, _ change: (inout JobRecord, Instant) -> Void) -> JobStoreReply {
        var record = jobs[Int(id.value) - 1]
        if attempt != record.attempt { return .fenced(record) }
        if record.state != .leased { return .notApplicable(record) }
        change(&record, now)
        if record.state != .leased { record.leaseHolder = -1 }
        return .updated(write(record))
    }

    mutating func write(_ record: JobRecord) -> JobRecord {
        var record = record
        record.rowVersion += 1
        record.updatedAt = now
        jobs[Int(record.id.value) - 1] = record
        return record
    }
}

@Suite struct BatchWorkerPropertyTests {
    @Test func seededWorldsKeepTheInvariants() {
        for seed in UInt64(1)...100 {
            var world = BatchWorld(seed: seed)
            world.run()
            for problem in world.problems.prefix(3) {
                Issue.record("\(problem) - reproduce with seed=\(seed)")
            }
        }
    }

    @Test func theWorldCatchesBothSabotages() {
        var commitEarly = BatchWorld(seed: 1) { $0.commitsBeforeOutcome = true }
        commitEarly.run()
        #expect(commitEarly.problems.contains { $0.contains("passes offset") }, "ack-before-commit goes unnoticed")
        var noBackpressure = BatchWorld(seed: 1) { $0.ignoresBackpressure = true }
        noBackpressure.run()
        #expect(noBackpressure.problems.contains { $0.contains("slots") }, "no-backpressure goes unnoticed")
    }
}
