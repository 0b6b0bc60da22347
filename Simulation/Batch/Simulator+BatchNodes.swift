// Feeding the batch machines their inputs with their node's clock, and performing their actions.

import PlatformCore

extension Simulator {
    func frontend(_ gateway: Int, _ input: JobFrontend.Input) {
        let node = layout.gateway(gateway)
        // As for the workers: the buffer is emptied by moving its actions out in order, none copied.
        var actions = frontendActions
        frontendActions = []
        batch!.frontends[gateway].handle(input, now: localNow(node), into: &actions)
        actions.reverse()
        while let action = actions.popLast() {
            switch action {
            case .respond(let request, let outcome):
                send(.batchResponse(request, outcome), from: node, to: NodeLayout.client)
            case .store(let id, let command): send(.storeCommand(id, command), from: node, to: layout.store)
            case .publish(let batch, let partition, let jobs):
                send(.publish(batch: batch, partition, jobs), from: node, to: layout.broker)
            case .setTimer(let timer, let at):
                queue.schedule(at: globalTime(at, node: node), .frontendTimer(gateway: gateway, timer))
            }
        }
        frontendActions = actions
    }

    func collector(_ input: OrphanCollector.Input) {
        let node = layout.collector
        batch!.collectorActions.removeAll(keepingCapacity: true)
        batch!.collector.handle(input, now: localNow(node), into: &batch!.collectorActions)
        for action in batch!.collectorActions {
            switch action {
            case .list(let id, let after, let limit):
                send(.listObjects(id, after: after, limit: limit), from: node, to: layout.objectStore)
            case .store(let id, let command): send(.storeCommand(id, command), from: node, to: layout.store)
            case .delete(let location): send(.deleteObject(location), from: node, to: layout.objectStore)
            case .setTimer(let timer, let at): queue.schedule(at: globalTime(at, node: node), .collectorTimer(timer))
            case .observe(.orphanDeleted):
                oracles.hit(.orphanDeleted)
                batch!.orphansCollected += 1
            case .observe(.passFinished): break
            }
        }
    }

    func worker(_ index: Int, _ input: BatchWorker.Input) {
        guard batch!.workers[index] != nil else { return }  // a crashed or stopped process hears nothing
        let node = layout.worker(index)
        // The buffer is taken out while its actions run and emptied by moving each one out, in order, from
        // the reversed buffer: an action is never copied, and the buffer needs no clearing (each clearing
        // and each copy is a generic witness call per action). It goes back empty, keeping its capacity.
        var actions = workerActions
        workerActions = []
        batch!.workers[index]!.handle(input, now: localNow(node), into: &actions)
        actions.reverse()
        while let action = actions.popLast() { performWorker(action, index: index, node: node) }
        workerActions = actions
    }

    func performWorker(_ action: BatchWorker.Action, index: Int, node: Int) {
        switch action {
        case .fetch(let partition, let maxRecords):
            send(.fetch(partition, maxRecords: maxRecords), from: node, to: layout.broker)
        case .commitOffset(let partition, let offset):
            send(.commit(partition, nextOffset: offset), from: node, to: layout.broker)
        case .revocationDone(let partitions): send(.revocationDone(partitions), from: node, to: layout.broker)
        case .store(let id, let command): send(.storeCommand(id, command), from: node, to: layout.store)
        case .putObject(let id, let location, let bytes):
            send(.putObject(id, location, bytes: bytes), from: node, to: layout.objectStore)
        case .call(let call): send(.call(call), from: node, to: layout.backend(call.backend.value))
        case .setTimer(let timer, let at):
            queue.schedule(
                at: globalTime(at, node: node), .workerTimer(worker: index, epoch: batch!.workerEpoch[index], timer))
        case .observe(let observation): observeBatch(observation, worker: index)
        case .shutdownComplete:
            batch!.workers[index] = nil
            batch!.broker.members[index] = false
            rebalance()
        }
    }

    func observeBatch(_ observation: BatchObservation, worker index: Int) {
        switch observation {
        case .jobStarted:
            batch!.inProgress[index] += 1
            if batch!.inProgress[index] > batch!.spec.slots {
                oracles.violate(
                    "pool-bound", at: now,
                    "worker-\(index) has \(batch!.inProgress[index]) jobs in progress, its pool has "
                        + "\(batch!.spec.slots) slots"
                )
            }
        case .jobFinished: batch!.inProgress[index] = max(0, batch!.inProgress[index] - 1)
        case .itemsCalled(_, let backend, _): metrics.recordCall(at: now, backend: backend.value, retry: false)
        case .fenced: break
        case .backpressure(let paused): if paused { oracles.hit(.workerBackpressure) }
        case .offsetCommitted, .drained: break
        }
    }

    /// Checks every write the job table applies: a job's result, once set, never changes.
    func checkStoreWrite(_ command: JobStoreCommand) {
        guard case .complete(let job, _, _) = command, let result = batch!.store.model.result(of: job) else { return }
        if let earlier = batch!.resultSeen(job) {
            if earlier != result {
                oracles.violate(
                    "single-result", at: now,
                    "\(job)'s result changed from \(earlier) to \(result): two attempts both succeeded")
            }
        } else {
            batch!.setResultSeen(job, result)
            if now >= scenario.faultsEnd.nanoseconds { batch!.completedAfterFaults += 1 }
            batch!.lastCompletionAt = now
        }
    }

    func workerTimer(_ index: Int, epoch: UInt32, _ timer: TimerID) {
        guard batch!.workerEpoch[index] == epoch else { return }
        record(node: layout.worker(index), kind: 47, id: timer.value)
        worker(index, .timerFired(timer))
    }

    func sessionExpired(_ index: Int, epoch: UInt32) {
        guard batch!.workerEpoch[index] == epoch, batch!.workers[index] == nil, batch!.broker.members[index] else {
            return
        }
        record(node: layout.broker, kind: 48, id: UInt64(index))
        batch!.broker.members[index] = false
        rebalance()
    }

    func applyBatchFault(_ fault: FaultSpec, starting: Bool) {
        switch fault.kind {
        case .storeOutage:
            batch!.store.outage = starting
            batch!.store.unknownOutcome = fault.rate
        case .storeSlow: batch!.store.slowFactor = starting ? fault.factor : 1
        case .objectStoreErrors: batch!.objects.failure = starting ? fault.rate : .zero
        case .rebalance: if starting { rebalance() }
        case .workerCrash:
            if starting {
                batch!.workers[fault.backend] = nil
                batch!.workerEpoch[fault.backend] &+= 1
                batch!.inProgress[fault.backend] = 0
                let epoch = batch!.workerEpoch[fault.backend]
                queue.schedule(
                    at: now + batch!.spec.sessionTimeout.nanoseconds,
                    .sessionExpired(worker: fault.backend, epoch: epoch))
            } else {
                startWorker(fault.backend)
            }
        case .workerShutdown:
            if starting {
                worker(fault.backend, .shutdownRequested)
            } else if batch!.workers[fault.backend] == nil {
                startWorker(fault.backend)
            }
        case .crash, .hang, .slowdown, .errors, .partition, .loss, .delay, .limiterOutage, .registryOutage: break
        }
    }
}
