// The simulated batch clients: open-loop job submissions (and bursts), duplicate and conflicting
// resubmissions, cancellations, and polling until each job is terminal. What they see is judged
// here: idempotent submits, statuses that never go backwards.

import PlatformCore

extension Simulator {
    /// Submits the next job of a stream. A burst's jobs leave the client 1 µs apart; one event sends
    /// up to `burstGroup` of them, each delayed by its place in the group.
    func jobArrival(stream encoded: Int) {
        let isBurst = encoded < 0
        let index = isBurst ? -1 - encoded : encoded
        guard isBurst else {
            submitJob(stream: index, after: 0)
            return scheduleJobArrival(stream: index, after: now)
        }
        let group = min(batch!.burstLeft[index], Simulator.burstGroup)
        for position in 0..<group { submitJob(stream: index, after: Int64(position) * 1_000) }
        batch!.burstLeft[index] -= group
        if batch!.burstLeft[index] > 0 { queue.schedule(at: now + Int64(group) * 1_000, .jobArrival(stream: encoded)) }
    }

    static let burstGroup = 64

    func submitJob(stream index: Int, after delay: Int64) {
        let stream = batch!.spec.jobs[index]
        batch!.submissions += 1
        nextRequest += 1
        let counter = UInt64(batch!.submissions)
        var idempotency = StableHasher()
        idempotency.combine(0x1D3A_7E00_0000_0001)
        idempotency.combine(counter)
        let submission = BatchSubmission(
            request: RequestID(nextRequest), credential: batch!.streamCredentials[index],
            model: ModelID(stream.model), version: 0, itemCount: stream.items,
            idempotencyKey: idempotency.value, bodyHash: counter)
        record(node: NodeLayout.client, kind: 49, id: submission.request.value)
        let clientJob = batch!.clientJobs.count
        batch!.clientJobs.append(ClientJob(stream: index, submission: submission))
        sendBatchRequest(
            submission.request, .batchSubmit(submission), BatchClientRequest(followUp: nil, clientJob: clientJob),
            after: delay)
    }

    func sendBatchRequest(
        _ request: RequestID, _ message: BatchMessage, _ entry: BatchClientRequest, after delay: Int64 = 0
    ) {
        batch!.clientRequests[request.value] = entry
        let gateway = nextGateway
        nextGateway = (nextGateway + 1) % scenario.gateways
        send(message, from: NodeLayout.client, to: layout.gateway(gateway), after: delay)
    }

    func batchClientReceived(_ request: RequestID, _ outcome: BatchOutcome) {
        guard let entry = batch!.clientRequests.removeValue(forKey: request.value) else { return }
        let index = entry.clientJob
        switch entry.followUp {
        case nil: submitAnswered(index, outcome)
        case .duplicate?:
            if case .job(let record) = outcome, let first = batch!.clientJobs[index].job, record.id != first {
                oracles.violate(
                    "idempotent-submit", at: now,
                    "a repeated submit with the same key and body made \(record.id) besides \(first)")
            }
        case .conflicting?:
            if case .job(let record) = outcome {
                oracles.violate(
                    "idempotent-submit", at: now,
                    "a submit reusing an idempotency key with another body was accepted as \(record.id) instead of 409")
            }
        case .poll?: pollAnswered(index, outcome)
        case .cancel?: break
        case .probe?:
            if case .job(let record) = outcome {
                let key = scenario.keys[batch!.spec.jobs[batch!.clientJobs[index].stream].key].name
                oracles.violate("tenant-isolation", at: now, "key \(key) read \(record.id), a job of another tenant")
            }
        }
    }

    func submitAnswered(_ index: Int, _ outcome: BatchOutcome) {
        // The world is read through one reference here: every `batch!` would retain and release it again.
        guard case .job(let record) = outcome, let world = batch else { return }
        world.clientJobs[index].job = record.id
        if world.accept(record.id) { world.acceptedJobs.append(record.id) }
        let streamIndex = world.clientJobs[index].stream
        let stream = world.spec.jobs[streamIndex]
        var random = world.streamRandom[streamIndex]
        if random.chance(stream.duplicate) {
            queue.schedule(at: now + 20_000_000, .jobFollowUp(clientJob: index, kind: .duplicate))
        }
        if random.chance(stream.conflicting) {
            queue.schedule(at: now + 20_000_000, .jobFollowUp(clientJob: index, kind: .conflicting))
        }
        if random.chance(stream.cancel) {
            queue.schedule(at: now + 50_000_000, .jobFollowUp(clientJob: index, kind: .cancel))
        }
        if random.chance(stream.crossTenant) {
            queue.schedule(at: now + 30_000_000, .jobFollowUp(clientJob: index, kind: .probe))
        }
        world.latestJobOfKey[stream.key] = record.id
        world.streamRandom[streamIndex] = random
        if stream.pollEvery > .zero {
            queue.schedule(at: now + stream.pollEvery.nanoseconds, .jobFollowUp(clientJob: index, kind: .poll))
        }
    }

    func pollAnswered(_ index: Int, _ outcome: BatchOutcome) {
        guard case .job(let record) = outcome else {
            let poll = batch!.spec.jobs[batch!.clientJobs[index].stream].pollEvery.nanoseconds
            return queue.schedule(at: now + poll, .jobFollowUp(clientJob: index, kind: .poll))
        }
        let rank = record.status.rank
        if rank < batch!.clientJobs[index].lastRank {
            oracles.violate(
                "status-monotonic", at: now, "a client polling \(record.id) saw its status go back to \(record.status)")
        }
        batch!.clientJobs[index].lastRank = max(rank, batch!.clientJobs[index].lastRank)
        if record.state.isTerminal {
            batch!.clientJobs[index].terminal = true
        } else {
            let poll = batch!.spec.jobs[batch!.clientJobs[index].stream].pollEvery.nanoseconds
            queue.schedule(at: now + poll, .jobFollowUp(clientJob: index, kind: .poll))
        }
    }

    func jobFollowUp(_ index: Int, _ kind: FollowUp) {
        let clientJob = batch!.clientJobs[index]
        guard let job = clientJob.job, !clientJob.terminal || kind != .poll else { return }
        nextRequest += 1
        let request = RequestID(nextRequest)
        record(node: NodeLayout.client, kind: 50, id: request.value)
        let credential = clientJob.submission.credential
        let entry = BatchClientRequest(followUp: kind, clientJob: index)
        switch kind {
        case .poll: sendBatchRequest(request, .jobGet(request, credential: credential, job), entry)
        case .probe:
            let own = batch!.spec.jobs[clientJob.stream].key
            let keys = scenario.keys.count
            guard
                let other = (1..<max(keys, 1)).lazy.compactMap({ self.batch!.latestJobOfKey[(own + $0) % keys] }).first
            else { return }
            sendBatchRequest(request, .jobGet(request, credential: credential, other), entry)
        case .cancel: sendBatchRequest(request, .jobCancel(request, credential: credential, job), entry)
        case .duplicate, .conflicting:
            var again = clientJob.submission
            again.request = request
            if kind == .conflicting { again.bodyHash &+= 1 }
            sendBatchRequest(request, .batchSubmit(again), entry)
        }
    }

    /// The batch oracles at the end of the run.
    func checkBatchEnd() {
        guard let world = batch else { return }
        for job in world.acceptedJobs {
            guard let state = world.store.model.state(of: job) else {
                oracles.violate("job-terminal", at: horizon, "\(job) got a 202 but is not in the job table")
                continue
            }
            if !state.isTerminal {
                oracles.violate("job-terminal", at: horizon, "\(job) got a 202 and is still \(state.name) at the end")
            }
            let result = world.store.model.result(of: job)
            if state == .succeeded {
                if let result, world.objects.contains(result) { continue }
                oracles.violate("result-visible", at: horizon, "\(job) succeeded but its result object is missing")
            } else if let result {
                oracles.violate(
                    "no-result-unless-succeeded", at: horizon, "\(job) is \(state.name) yet shows result \(result)")
            }
        }
        checkDrainRate(world)
        checkOrphans(world)
    }

    /// Every result object that no job can ever show must be gone within two collector walks of its
    /// writing: objects written later may legitimately still wait for their walk.
    func checkOrphans(_ world: BatchWorld) {
        let cutoff = horizon - 2 * world.spec.collectEvery.nanoseconds
        for key in world.objects.ordered {
            let location = SimulatedObjectStore.location(key)
            guard let writtenAt = world.objects.objects[key], writtenAt < cutoff else { continue }
            guard OrphanCollector.isOrphan(location, of: world.store.model.job(location.job)) else { continue }
            oracles.violate(
                "orphans-collected", at: horizon,
                "\(location), written at \(JSONSeconds.format(writtenAt)), is shown by no job and was never collected")
            return
        }
    }

    func checkDrainRate(_ world: BatchWorld) {
        let minimum = world.spec.drainJobsPerSecondMin
        guard minimum > 0, world.backlogAtFaultsEnd > 100, world.lastCompletionAt > scenario.faultsEnd.nanoseconds
        else { return }
        let seconds = Double(world.lastCompletionAt - scenario.faultsEnd.nanoseconds) / 1e9
        let rate = Double(world.completedAfterFaults) / max(seconds, 0.001)
        if rate < Double(minimum) {
            oracles.violate(
                "backlog-drain-rate", at: world.lastCompletionAt,
                "the backlog drained at \(Int(rate)) jobs/s after the faults ended, below the \(minimum) jobs/s stated")
        }
    }
}

extension Simulator {
    /// The safety phase ends: remember the backlog the liveness phase must drain.
    func markFaultsEnd() {
        guard let world = batch else { return }
        var backlog: Int64 = 0
        for job in world.acceptedJobs where !(world.store.model.state(of: job)?.isTerminal ?? true) { backlog += 1 }
        batch!.backlogAtFaultsEnd = backlog
        batch!.completedAfterFaults = 0
    }
}

extension Simulator {
    /// The batch figures for the report.
    func batchSummary() -> BatchSummary? {
        guard let world = batch else { return nil }
        var counts = [Int](repeating: 0, count: JobState.allCases.count)
        for job in world.acceptedJobs {
            if let state = world.store.model.state(of: job) { counts[Int(state.rawValue)] += 1 }
        }
        let unfinished =
            world.acceptedJobs.count - counts[Int(JobState.succeeded.rawValue)]
            - counts[Int(JobState.failed.rawValue)] - counts[Int(JobState.cancelled.rawValue)]
            - counts[Int(JobState.deadLettered.rawValue)]
        return BatchSummary(
            accepted: world.acceptedJobs.count, succeeded: counts[Int(JobState.succeeded.rawValue)],
            failed: counts[Int(JobState.failed.rawValue)], cancelled: counts[Int(JobState.cancelled.rawValue)],
            deadLettered: counts[Int(JobState.deadLettered.rawValue)], unfinished: unfinished,
            backlogAtFaultsEnd: Int(max(world.backlogAtFaultsEnd, 0)), completedAfterFaults: world.completedAfterFaults,
            brokerLag: Int(world.broker.lag), orphansCollected: world.orphansCollected)
    }
}
