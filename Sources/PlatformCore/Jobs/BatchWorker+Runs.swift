// One job attempt inside the batch worker: its items go to the version's backends round-robin through
// their circuit breakers, several items per call and a bounded number of calls at a time; the result
// object is written before the store is told, and any failure ends the attempt as a whole because the
// store, not the worker, decides retries.

extension BatchWorker {
    /// Takes a slot for a record and asks the store for a lease.
    mutating func startRun(_ message: JobMessage, now: Instant, into actions: inout [Action]) {
        let key = nextSequence()
        var run = Run(key: key, message: message)
        run.backendCursor = Int(message.job.value % 1_024)
        activeJobs[message.job.value] = key
        runOrder.append(key)
        let command = JobStoreCommand.lease(
            message.job, worker: configuration.workerIndex, leaseFor: configuration.leaseDuration,
            attemptsMax: configuration.attemptsMax)
        sendStore(&run, command, .lease, now: now, into: &actions)
        runs[key] = run
    }

    /// The backends of the job's version, in deployment order (empty when the version is unknown).
    func backends(for spec: JobSpec) -> [BackendID] {
        configuration.deployment.model(spec.model)?.version(spec.version)?.backends ?? []
    }

    /// The lease is ours (granted now, or found ours after an answer was lost): the job starts.
    mutating func leaseGranted(
        _ run: inout Run, _ record: JobRecord, leaseSentAt: Instant, now: Instant,
        into actions: inout [Action]
    ) {
        run.spec = record.spec
        run.attempt = record.attempt
        run.leaseDeadline = leaseSentAt + configuration.leaseDuration
        actions.append(.observe(.jobStarted(record.id, attempt: record.attempt)))
        if run.releaseRequested {
            sendRelease(&run, now: now, into: &actions)
            return
        }
        run.phase = .calling
        run.renewDueAt = now + configuration.leaseDuration / 3
        armUpkeep(at: min(run.renewDueAt, run.leaseDeadline), into: &actions)
        guard !backends(for: record.spec).isEmpty else {
            endAttempt(&run, retryable: false, now: now, into: &actions)
            return
        }
        dispatchItems(&run, now: now, into: &actions)
    }

    /// Sends calls until the per-job limit is reached, all items are sent, or every breaker refuses;
    /// writes the result once every item is done.
    mutating func dispatchItems(_ run: inout Run, now: Instant, into actions: inout [Action]) {
        guard run.phase == .calling, !run.waitingForBreaker, let spec = run.spec else { return }
        let pool = backends(for: spec)
        while run.callCount < configuration.callsInFlightPerJob && run.nextItem < spec.itemCount {
            var admitted: (backend: BackendID, probe: Bool)?
            var shortestWait = Duration.seconds(3_600)
            for _ in 0..<pool.count {
                let backend = pool[run.backendCursor % pool.count]
                run.backendCursor += 1
                switch breakers[backend.value].callStarting(now: now) {
                case .admit(let probe): admitted = (backend, probe)
                case .reject(let retryAfter): shortestWait = min(shortestWait, retryAfter)
                }
                if admitted != nil { break }
            }
            guard let admitted else {
                // Every breaker refuses: the item waits for one to let a probe through, the job does not fail.
                run.waitingForBreaker = true
                setTimer(run.key, .breakerWait, at: now + shortestWait, into: &actions)
                return
            }
            let items = min(configuration.itemsPerCall, spec.itemCount - run.nextItem)
            let callSequence = nextSequence()
            calls[callSequence] = ItemCall(
                run: run.key, backend: admitted.backend, probe: admitted.probe, startedAt: now, items: items)
            linkCall(callSequence, to: &run)
            run.nextItem += items
            let call = BackendCall(
                call: CallID(identifier(callSequence)), backend: admitted.backend, model: spec.model,
                version: spec.version, inputElements: items)
            actions.append(.call(call))
            actions.append(.observe(.itemsCalled(run.message.job, admitted.backend, items: items)))
            callOrder.append(callSequence)
            armCallSweep(into: &actions)
        }
        if run.callCount == 0 && run.nextItem >= spec.itemCount { startPut(&run, into: &actions) }
    }

    /// Appends a call just entered in `calls` to the run's calls, after the last one.
    mutating func linkCall(_ callSequence: UInt64, to run: inout Run) {
        run.callCount += 1
        guard run.firstCall != 0 else {
            run.firstCall = callSequence
            return
        }
        var last = run.firstCall
        while let next = calls[last]?.nextInRun, next != 0 { last = next }
        calls[last]?.nextInRun = callSequence
    }

    /// Takes a call already removed from `calls` (its link was `next`) out of the run's calls.
    mutating func unlinkCall(_ callSequence: UInt64, next: UInt64, from run: inout Run) {
        run.callCount -= 1
        if run.firstCall == callSequence {
            run.firstCall = next
            return
        }
        var previous = run.firstCall
        while previous != 0, let call = calls[previous] {
            if call.nextInRun == callSequence {
                calls[previous]?.nextInRun = next
                return
            }
            previous = call.nextInRun
        }
    }

    mutating func breakerWaitOver(_ key: UInt64, now: Instant, into actions: inout [Action]) {
        guard var run = runs[key], run.phase == .calling, run.waitingForBreaker else { return }
        run.waitingForBreaker = false
        dispatchItems(&run, now: now, into: &actions)
        save(run)
    }

    mutating func backendReplied(_ reply: BackendReply, now: Instant, into actions: inout [Action]) {
        guard let callSequence = sequence(of: reply.call.value) else { return }
        itemEnded(callSequence, failure: reply.failure, now: now, into: &actions)
    }

    /// Sets the call sweep timer at the deadline of the oldest call in flight, unless it is set.
    mutating func armCallSweep(into actions: inout [Action]) {
        guard !callSweepArmed else { return }
        trimCallOrder()
        guard callOrderHead < callOrder.count, let oldest = calls[callOrder[callOrderHead]] else { return }
        callSweepArmed = true
        setTimer(0, .callSweep, at: oldest.startedAt + configuration.itemTimeout, into: &actions)
    }

    /// Drops finished calls from the front of the call order.
    mutating func trimCallOrder() {
        while callOrderHead < callOrder.count && !calls.contains(callOrder[callOrderHead]) { callOrderHead += 1 }
        if callOrderHead == callOrder.count {
            callOrder.removeAll(keepingCapacity: true)
            callOrderHead = 0
        } else if callOrderHead > 32 && callOrderHead * 2 > callOrder.count {
            callOrder.removeFirst(callOrderHead)
            callOrderHead = 0
        }
    }

    /// Times out every call past its deadline, oldest first, then sets the timer for the next one.
    mutating func sweepCalls(now: Instant, into actions: inout [Action]) {
        // Still marked as set while sweeping, so calls sent meanwhile do not set a second timer.
        while callOrderHead < callOrder.count {
            let callSequence = callOrder[callOrderHead]
            if let call = calls[callSequence], call.startedAt + configuration.itemTimeout > now { break }
            callOrderHead += 1
            itemEnded(callSequence, failure: .timeout, now: now, into: &actions)
        }
        callSweepArmed = false
        armCallSweep(into: &actions)
    }

    /// One call ended (answer or timeout); late answers to calls already given up are ignored.
    mutating func itemEnded(
        _ callSequence: UInt64, failure: RetryPolicy.Failure?, now: Instant, into actions: inout [Action]
    ) {
        guard let call = calls.removeValue(forKey: callSequence) else { return }
        // A refused input says nothing about the backend's health.
        let healthy = failure == nil || failure == .badRequest || failure == .notFound
        breakers[call.backend.value].callFinished(
            healthy ? .success(latency: now - call.startedAt) : .failure, probe: call.probe, now: now)
        guard var run = runs[call.run] else { return }
        unlinkCall(callSequence, next: call.nextInRun, from: &run)
        switch failure {
        case nil:
            run.itemsDone += call.items
            dispatchItems(&run, now: now, into: &actions)
        case .badRequest, .notFound:
            endAttempt(&run, retryable: false, now: now, into: &actions)
        case .timeout, .connectionFailed, .unavailable, .overloaded, .serverError:
            endAttempt(&run, retryable: true, now: now, into: &actions)
        }
        save(run)
    }

    /// The attempt failed: stop its other calls and tell the store (retry later, or fail for good).
    mutating func endAttempt(_ run: inout Run, retryable: Bool, now: Instant, into actions: inout [Action]) {
        stopWork(&run)
        run.phase = .ending
        let job = run.message.job
        if retryable {
            let delay = retryPolicy.backoff(beforeRetry: max(run.attempt, 1), random: &random)
            run.retryAt = now + delay
            sendStore(
                &run, .retryLater(job, attempt: run.attempt, notBefore: run.retryAt), .ending, now: now,
                into: &actions)
        } else {
            sendStore(&run, .fail(job, attempt: run.attempt, .rejectedByBackend), .ending, now: now, into: &actions)
        }
    }

    /// Gives up the run's calls, renew and put; their answers will be ignored.
    mutating func stopWork(_ run: inout Run) {
        var callSequence = run.firstCall
        while callSequence != 0, let call = calls.removeValue(forKey: callSequence) {
            breakers[call.backend.value].callAbandoned(probe: call.probe)
            callSequence = call.nextInRun
        }
        run.firstCall = 0
        run.callCount = 0
        run.waitingForBreaker = false
        if run.renewRequest != 0 {
            storeRequests[run.renewRequest] = nil
            run.renewRequest = 0
        }
        if run.put != 0 {
            puts[run.put] = nil
            run.put = 0
        }
    }

    mutating func startPut(_ run: inout Run, into actions: inout [Action]) {
        guard let spec = run.spec else { return }
        run.phase = .putting
        let putSequence = nextSequence()
        run.put = putSequence
        puts[putSequence] = run.key
        emitPut(putSequence, run, into: &actions)
        precondition(spec.itemCount >= 0, "a job has a non-negative item count")
    }

    func emitPut(_ putSequence: UInt64, _ run: Run, into actions: inout [Action]) {
        let bytes = (run.spec?.itemCount ?? 0) * configuration.resultBytesPerItem
        let location = ResultLocation(job: run.message.job, attempt: run.attempt)
        actions.append(.putObject(PutID(identifier(putSequence)), location, bytes: bytes))
    }

    mutating func putReplied(_ id: PutID, succeeded: Bool, now: Instant, into actions: inout [Action]) {
        guard let putSequence = sequence(of: id.value), let key = puts[putSequence] else { return }
        guard var run = runs[key], run.phase == .putting, run.put == putSequence else { return }
        guard succeeded else {
            setTimer(putSequence, .putRetry, at: now + configuration.storeRetryDelay, into: &actions)
            return
        }
        stopWork(&run)
        run.phase = .completing
        let location = ResultLocation(job: run.message.job, attempt: run.attempt)
        sendStore(
            &run, .complete(run.message.job, attempt: run.attempt, result: location), .complete, now: now,
            into: &actions)
        save(run)
    }

    mutating func resendPut(_ putSequence: UInt64, into actions: inout [Action]) {
        guard let key = puts[putSequence], let run = runs[key], run.phase == .putting, run.put == putSequence else {
            return
        }
        emitPut(putSequence, run, into: &actions)
    }

    /// Stores a changed run back, unless it ended meanwhile.
    mutating func save(_ run: Run) {
        if !run.ended { runs[run.key] = run }
    }

    /// Frees the run's slot and sets its record's status; reports the job's end if it had started.
    mutating func endRun(
        _ run: inout Run, record status: RecordStatus, finalState: JobState, now: Instant,
        into actions: inout [Action]
    ) {
        stopWork(&run)
        if run.mainRequest != 0 {
            storeRequests[run.mainRequest] = nil
            run.mainRequest = 0
        }
        run.ended = true
        runs[run.key] = nil
        runOrder.removeAll { $0 == run.key }
        activeJobs[run.message.job.value] = nil
        setRecordStatus(run.message, status, now: now, into: &actions)
        if run.started {
            actions.append(.observe(.jobFinished(run.message.job, attempt: run.attempt, finalState)))
        }
        runEnded(revocation: run.revocation, now: now, into: &actions)
    }
}
