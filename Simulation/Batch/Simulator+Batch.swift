// Binding the batch machines to the simulated world: job frontends on the gateways, batch
// workers, the job store, the broker with its consumer group, the object store. As for the
// synchronous path, the shell only delivers and performs; every decision is in a machine.

import PlatformCore

extension Simulator {
    static func makeBatchWorld(
        _ scenario: Scenario, _ deployment: Deployment, _ sabotage: Sabotage, _ root: SeededRandom,
        auth: AuthWorld? = nil
    )
        -> BatchWorld?
    {
        guard let spec = scenario.batch else { return nil }
        var storeConfiguration = JobStoreModel.Configuration()
        storeConfiguration.ignoresFencing = sabotage.contains(.noFencing)
        storeConfiguration.ignoresIdempotency = sabotage.contains(.noIdempotency)
        storeConfiguration.ignoresTenant = sabotage.contains(.crossTenant)
        var collectorConfiguration = OrphanCollector.Configuration()
        collectorConfiguration.every = spec.collectEvery
        collectorConfiguration.keepsOrphans = sabotage.contains(.keepOrphans)
        let world = BatchWorld(
            spec: spec, keyNames: scenario.keys.map(\.name), duration: scenario.duration, root: root,
            storeConfiguration: storeConfiguration, collectorConfiguration: collectorConfiguration)
        for index in 0..<scenario.gateways {
            var configuration = JobFrontend.Configuration()
            configuration.keys = Simulator.apiKeys(scenario)
            if let auth { configuration.credentials = auth.initialSources() }
            configuration.deployment = deployment
            configuration.partitionCount = spec.partitions
            configuration.frontendIndex = index
            world.frontends.append(JobFrontend(configuration: configuration))
        }
        for index in 0..<spec.workers {
            var configuration = BatchWorker.Configuration()
            configuration.workerIndex = index
            configuration.deployment = deployment
            configuration.slots = spec.slots
            configuration.prefetchMax = spec.prefetchMax
            configuration.fetchRecordsMin = spec.fetchRecordsMin
            configuration.callsInFlightPerJob = spec.callsInFlightPerJob
            configuration.itemsPerCall = spec.itemsPerCall
            configuration.leaseDuration = spec.lease
            configuration.attemptsMax = spec.attemptsMax
            configuration.drainDeadline = spec.drainDeadline
            configuration.itemTimeout = spec.itemTimeout
            configuration.breaker = scenario.breaker
            configuration.commitsBeforeOutcome = sabotage.contains(.ackBeforeCommit)
            configuration.ignoresBackpressure = sabotage.contains(.noBackpressure)
            var workerRandom = root.split(stream: 3_200 + UInt64(index))
            configuration.seed = workerRandom.next()
            world.workerConfigurations.append(configuration)
            world.workers.append(nil)
        }
        return world
    }

    /// Starts the workers and the job streams (called when the run begins).
    func startBatch() {
        guard let world = batch else { return }
        for worker in 0..<world.spec.workers { startWorker(worker) }
        collector(.started)
        for (index, stream) in world.spec.jobs.enumerated() {
            // A burst's submissions come 1 µs apart, each scheduling the next, so the queue holds one at a time.
            if stream.burst > 0 { queue.schedule(at: stream.start.nanoseconds, .jobArrival(stream: -1 - index)) }
            if stream.jobsPerSecond > 0 { scheduleJobArrival(stream: index, after: stream.start.nanoseconds) }
        }
    }

    func scheduleJobArrival(stream index: Int, after time: Int64) {
        let stream = batch!.spec.jobs[index]
        let mean = Duration(nanoseconds: 1_000_000_000 / stream.jobsPerSecond)
        let next = time + max(batch!.streamRandom[index].exponential(mean: mean).nanoseconds, 1)
        let end = min((stream.end ?? scenario.duration).nanoseconds, scenario.duration.nanoseconds)
        if next < end { queue.schedule(at: next, .jobArrival(stream: index)) }
    }

    func startWorker(_ index: Int) {
        batch!.workerEpoch[index] &+= 1
        batch!.workers[index] = BatchWorker(configuration: batch!.workerConfigurations[index])
        batch!.inProgress[index] = 0
        batch!.broker.members[index] = true
        rebalance()
    }

    /// A rebalance: revoke everything from live members, wait for their confirmations (bounded
    /// by the session timeout), then assign.
    func rebalance() {
        let revoked = batch!.broker.revokeAll()
        batch!.pendingRevocations = 0
        for (worker, partitions) in revoked.enumerated() where !partitions.isEmpty && batch!.workers[worker] != nil {
            batch!.pendingRevocations += 1
            send(.revoked(partitions), from: layout.broker, to: layout.worker(worker))
        }
        if batch!.pendingRevocations == 0 {
            assignPartitions()
        } else {
            let generation = batch!.broker.generation
            queue.schedule(at: now + batch!.spec.sessionTimeout.nanoseconds, .rebalanceDeadline(generation: generation))
        }
    }

    func assignPartitions() {
        batch!.pendingRevocations = 0
        let assignment = batch!.broker.assign()
        for (worker, partitions) in assignment.enumerated() where batch!.workers[worker] != nil {
            send(.assigned(partitions), from: layout.broker, to: layout.worker(worker))
        }
    }

    func deliverBatch(_ message: BatchMessage, from: Int, to: Int) {
        switch message {
        case .batchSubmit(let submission):
            record(node: to, kind: 30, id: submission.request.value)
            frontend(to - layout.gateway(0), .submit(submission))
        case .jobGet(let request, let credential, let job):
            record(node: to, kind: 31, id: request.value)
            frontend(to - layout.gateway(0), .getJob(request, credential: credential, job))
        case .jobCancel(let request, let credential, let job):
            record(node: to, kind: 32, id: request.value)
            frontend(to - layout.gateway(0), .cancelJob(request, credential: credential, job))
        case .batchResponse(let request, let outcome):
            record(node: to, kind: 33, id: request.value)
            batchClientReceived(request, outcome)
        case .storeCommand(let id, let command):
            record(node: to, kind: 34, id: id.value)
            storeReceived(id, command, from: from)
        case .storeReply(let id, let reply):
            record(node: to, kind: 35, id: id.value)
            if to == layout.collector {
                collector(.storeReplied(id, reply))
            } else if to >= layout.worker(0) {
                worker(to - layout.worker(0), .storeReplied(id, reply))
            } else {
                frontend(to - layout.gateway(0), .storeReplied(id, reply))
            }
        case .storeFailure(let id, let failure):
            record(node: to, kind: 36, id: id.value)
            if to == layout.collector {
                collector(.storeFailed(id))
            } else if to >= layout.worker(0) {
                worker(to - layout.worker(0), .storeFailed(id, failure))
            } else {
                frontend(to - layout.gateway(0), .storeFailed(id, failure))
            }
        default: deliverBroker(message, from: from, to: to)
        }
    }

    func deliverBroker(_ message: BatchMessage, from: Int, to: Int) {
        switch message {
        case .publish(let batchID, let partition, let jobs):
            record(node: to, kind: 37, id: batchID)
            for job in jobs { _ = batch!.broker.append(job, to: partition) }
            send(.publishAck(batch: batchID, succeeded: true), from: to, to: from)
            if let parked = batch!.broker.parkedFetch[partition.value] {
                batch!.broker.parkedFetch[partition.value] = nil
                serveFetch(partition, worker: parked.worker, maxRecords: parked.maxRecords)
            }
        case .publishAck(let batchID, let succeeded):
            record(node: to, kind: 38, id: batchID)
            frontend(to - layout.gateway(0), .published(batch: batchID, succeeded: succeeded))
        case .fetch(let partition, let maxRecords):
            record(node: to, kind: 39, id: UInt64(partition.value))
            serveFetch(partition, worker: from - layout.worker(0), maxRecords: maxRecords)
        case .records(let partition, let records):
            record(node: to, kind: 40, id: UInt64(partition.value) << 32 | UInt64(records.count))
            worker(to - layout.worker(0), .recordsFetched(partition, records))
        case .commit(let partition, let offset):
            record(node: to, kind: 41, id: UInt64(offset))
            _ = batch!.broker.commit(partition, nextOffset: offset, from: from - layout.worker(0))
        case .assigned(let partitions):
            record(node: to, kind: 42, id: UInt64(partitions.count))
            worker(to - layout.worker(0), .partitionsAssigned(partitions))
        case .revoked(let partitions):
            record(node: to, kind: 43, id: UInt64(partitions.count))
            worker(to - layout.worker(0), .partitionsRevoked(partitions))
        case .revocationDone(let partitions):
            record(node: to, kind: 44, id: UInt64(partitions.count))
            guard batch!.pendingRevocations > 0 else { return }
            batch!.pendingRevocations -= 1
            if batch!.pendingRevocations == 0 { assignPartitions() }
        case .putObject(let id, let location, let bytes):
            record(node: to, kind: 45, id: id.value)
            let stored = batch!.objects.put(location, bytes: bytes, now: now)
            send(.putAck(id, succeeded: stored), from: to, to: from, after: batch!.spec.objectStoreLatency.nanoseconds)
        case .listObjects(let id, let after, let limit):
            record(node: to, kind: 52, id: id)
            let (locations, complete) = batch!.objects.list(after: after, limit: limit)
            send(
                .objectsListed(id, locations, complete: complete), from: to, to: from,
                after: batch!.spec.objectStoreLatency.nanoseconds)
        case .objectsListed(let id, let locations, let complete):
            record(node: to, kind: 53, id: id)
            collector(.listed(id, locations, complete: complete))
        case .deleteObject(let location):
            record(node: to, kind: 54, id: SimulatedObjectStore.key(location))
            batch!.objects.delete(location)
        case .putAck(let id, let succeeded):
            record(node: to, kind: 46, id: id.value)
            worker(to - layout.worker(0), .objectPutReplied(id, succeeded: succeeded))
        case .batchSubmit, .jobGet, .jobCancel, .batchResponse, .storeCommand, .storeReply, .storeFailure:
            preconditionFailure("deliverBatch handles client and store messages itself")
        }
    }

    func serveFetch(_ partition: PartitionID, worker index: Int, maxRecords: Int) {
        guard batch!.broker.owner[partition.value] == index else { return }
        let records = batch!.broker.read(partition, maxRecords: maxRecords)
        if records.isEmpty {
            batch!.broker.parkedFetch[partition.value] = (index, maxRecords)
        } else {
            send(.records(partition, records), from: layout.broker, to: layout.worker(index))
        }
    }

    func storeReceived(_ id: StoreRequestID, _ command: JobStoreCommand, from: Int) {
        let at = Instant(nanoseconds: now)
        let delay = batch!.spec.storeLatency.nanoseconds * batch!.store.slowFactor
        if let failure = batch!.store.refusal(command, now: at) {
            checkStoreWrite(command)
            return send(.storeFailure(id, failure), from: layout.store, to: from, after: delay)
        }
        let reply = batch!.store.model.apply(command, now: at)
        checkStoreWrite(command)
        if case .fenced = reply { oracles.hit(.jobFenced) }
        send(.storeReply(id, reply), from: layout.store, to: from, after: delay)
    }
}
