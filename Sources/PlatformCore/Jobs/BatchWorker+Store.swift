// The batch worker's conversation with the job table: every command is fenced by attempt, so a
// command whose answer was lost is simply sent again, and each answer is read for what it says about
// the job's final state, which alone decides whether the record's offset may be committed.

extension BatchWorker {
    /// Sends a command for a run and remembers it until answered.
    mutating func sendStore(
        _ run: inout Run, _ command: JobStoreCommand, _ purpose: StorePurpose, now: Instant,
        into actions: inout [Action]
    ) {
        let requestSequence = nextSequence()
        storeRequests[requestSequence] = StoreRequest(
            run: run.key, command: command, purpose: purpose, firstSentAt: now, sentAt: now)
        if purpose == .renew { run.renewRequest = requestSequence } else { run.mainRequest = requestSequence }
        actions.append(.store(StoreRequestID(identifier(requestSequence)), command))
    }

    /// The store did not answer: the same command goes again after `storeRetryDelay`.
    mutating func storeFailed(_ id: StoreRequestID, now: Instant, into actions: inout [Action]) {
        guard let requestSequence = sequence(of: id.value), storeRequests.contains(requestSequence) else { return }
        setTimer(requestSequence, .storeRetry, at: now + configuration.storeRetryDelay, into: &actions)
    }

    mutating func resendStoreRequest(_ requestSequence: UInt64, now: Instant, into actions: inout [Action]) {
        guard var request = storeRequests[requestSequence], runs.contains(request.run) else { return }
        request.sentAt = now
        storeRequests[requestSequence] = request
        actions.append(.store(StoreRequestID(identifier(requestSequence)), request.command))
    }

    mutating func storeReplied(_ id: StoreRequestID, _ reply: JobStoreReply, now: Instant, into actions: inout [Action])
    {
        guard let requestSequence = sequence(of: id.value),
            let request = storeRequests.removeValue(forKey: requestSequence),
            var run = runs[request.run]
        else { return }
        if request.purpose == .renew { run.renewRequest = 0 } else { run.mainRequest = 0 }
        let understood: Bool
        switch request.purpose {
        case .lease: understood = leaseAnswered(&run, reply, request, now: now, into: &actions)
        case .renew: understood = renewAnswered(&run, reply, request, now: now, into: &actions)
        case .complete: understood = completeAnswered(&run, reply, now: now, into: &actions)
        case .ending: understood = endingAnswered(&run, reply, now: now, into: &actions)
        case .release: understood = releaseAnswered(&run, reply, now: now, into: &actions)
        }
        if !understood {
            // An answer that does not fit the command is treated as no answer at all.
            storeRequests[requestSequence] = request
            if request.purpose == .renew {
                run.renewRequest = requestSequence
            } else {
                run.mainRequest = requestSequence
            }
            setTimer(requestSequence, .storeRetry, at: now + configuration.storeRetryDelay, into: &actions)
        }
        save(run)
    }

    mutating func leaseAnswered(
        _ run: inout Run, _ reply: JobStoreReply, _ request: StoreRequest, now: Instant, into actions: inout [Action]
    ) -> Bool {
        switch reply {
        case .updated(let record) where record.state == .leased:
            leaseGranted(&run, record, leaseSentAt: request.sentAt, now: now, into: &actions)
        case .notApplicable(let record)
        where record.state == .leased && record.leaseHolder == configuration.workerIndex:
            // Our own lease whose answer was lost (or an earlier run's here): no other run holds the job
            // here, so we carry on under it; fencing protects the job if the store has moved on.
            leaseGranted(&run, record, leaseSentAt: request.firstSentAt, now: now, into: &actions)
        case .updated(let record), .notApplicable(let record), .deadLettered(let record), .fenced(let record):
            endRun(
                &run, record: recordStatus(after: record, now: now), finalState: record.state, now: now,
                into: &actions)
        case .notFound:
            endRun(&run, record: .durable, finalState: .failed, now: now, into: &actions)
        case .submitted, .idempotencyConflict, .record, .full, .markedQueued, .records:
            return false
        }
        return true
    }

    mutating func renewAnswered(
        _ run: inout Run, _ reply: JobStoreReply, _ request: StoreRequest, now: Instant, into actions: inout [Action]
    ) -> Bool {
        guard run.phase == .calling || run.phase == .putting else { return true }
        switch reply {
        case .updated:
            run.leaseDeadline = max(run.leaseDeadline, request.sentAt + configuration.leaseDuration)
        case .fenced(let record):
            fenced(&run, record, now: now, into: &actions)
        case .notApplicable(let record), .deadLettered(let record):
            endRun(
                &run, record: recordStatus(after: record, now: now), finalState: record.state, now: now,
                into: &actions)
        case .notFound:
            endRun(&run, record: .durable, finalState: .failed, now: now, into: &actions)
        case .submitted, .idempotencyConflict, .record, .full, .markedQueued, .records:
            return false
        }
        return true
    }

    mutating func completeAnswered(
        _ run: inout Run, _ reply: JobStoreReply, now: Instant, into actions: inout [Action]
    ) -> Bool {
        let location = ResultLocation(job: run.message.job, attempt: run.attempt)
        switch reply {
        case .notApplicable(let record) where record.state == .succeeded && record.result == location:
            // An earlier try of this complete applied and its answer was lost: it is our success.
            endRun(&run, record: .durable, finalState: .succeeded, now: now, into: &actions)
        case .fenced(let record):
            fenced(&run, record, now: now, into: &actions)
        case .updated(let record), .notApplicable(let record), .deadLettered(let record):
            endRun(
                &run, record: recordStatus(after: record, now: now), finalState: record.state, now: now,
                into: &actions)
        case .notFound:
            endRun(&run, record: .durable, finalState: .failed, now: now, into: &actions)
        case .submitted, .idempotencyConflict, .record, .full, .markedQueued, .records:
            return false
        }
        return true
    }

    /// The answer to `retryLater` or `fail`.
    mutating func endingAnswered(
        _ run: inout Run, _ reply: JobStoreReply, now: Instant, into actions: inout [Action]
    ) -> Bool {
        switch reply {
        case .updated(let record) where !record.state.isTerminal:
            // Retried: the record stays uncommitted and is leased again here once our backoff is over.
            endRun(
                &run, record: .waiting(readyAt: max(run.retryAt, now)), finalState: record.state, now: now,
                into: &actions)
        case .fenced(let record):
            fenced(&run, record, now: now, into: &actions)
        case .updated(let record), .notApplicable(let record), .deadLettered(let record):
            endRun(
                &run, record: recordStatus(after: record, now: now), finalState: record.state, now: now,
                into: &actions)
        case .notFound:
            endRun(&run, record: .durable, finalState: .failed, now: now, into: &actions)
        case .submitted, .idempotencyConflict, .record, .full, .markedQueued, .records:
            return false
        }
        return true
    }

    mutating func releaseAnswered(
        _ run: inout Run, _ reply: JobStoreReply, now: Instant, into actions: inout [Action]
    ) -> Bool {
        switch reply {
        case .updated(let record), .notApplicable(let record), .deadLettered(let record), .fenced(let record):
            // A released job is queued again: its record must not be committed, so the next owner leases it.
            let status: RecordStatus = record.state.isTerminal ? .durable : .waiting(readyAt: now)
            endRun(&run, record: status, finalState: record.state, now: now, into: &actions)
        case .notFound:
            endRun(&run, record: .durable, finalState: .failed, now: now, into: &actions)
        case .submitted, .idempotencyConflict, .record, .full, .markedQueued, .records:
            return false
        }
        return true
    }

    /// A newer attempt owns the job: stop at once and never write for this attempt again.
    mutating func fenced(_ run: inout Run, _ record: JobRecord, now: Instant, into actions: inout [Action]) {
        actions.append(.observe(.fenced(run.message.job, attempt: run.attempt)))
        endRun(&run, record: recordStatus(after: record, now: now), finalState: record.state, now: now, into: &actions)
    }

    /// Stops the run's work and gives its lease back.
    mutating func sendRelease(_ run: inout Run, now: Instant, into actions: inout [Action]) {
        stopWork(&run)
        run.phase = .releasing
        sendStore(&run, .release(run.message.job, attempt: run.attempt), .release, now: now, into: &actions)
    }

    /// Releases the run's lease as soon as it holds one; a run whose outcome is already on its way to the
    /// store is left to finish.
    mutating func requestRelease(_ run: inout Run, now: Instant, into actions: inout [Action]) {
        switch run.phase {
        case .leasing: run.releaseRequested = true
        case .calling, .putting: sendRelease(&run, now: now, into: &actions)
        case .completing, .ending, .releasing: return
        }
    }

    /// Sets the lease upkeep timer for `instant`, unless it is already set no later.
    mutating func armUpkeep(at instant: Instant, into actions: inout [Action]) {
        if let upkeepAt, upkeepAt <= instant { return }
        upkeepGeneration += 1
        upkeepAt = instant
        setTimer(upkeepGeneration, .leaseUpkeep, at: instant, into: &actions)
    }

    /// Renews the leases that are due (every third of the lease, one renew outstanding at a time) and
    /// abandons jobs whose lease may have run out: another worker may hold them now, so this one must not
    /// call or complete; their records stay uncommitted and are leased again later.
    mutating func leaseUpkeep(now: Instant, into actions: inout [Action]) {
        upkeepAt = nil
        var next: Instant?
        for key in runOrder {
            guard var run = runs[key], run.phase == .calling || run.phase == .putting else { continue }
            if now >= run.leaseDeadline {
                let readyAt = now + configuration.storeRetryDelay
                endRun(&run, record: .waiting(readyAt: readyAt), finalState: .leased, now: now, into: &actions)
                continue
            }
            if now >= run.renewDueAt {
                if run.renewRequest == 0 {
                    let command = JobStoreCommand.renew(
                        run.message.job, attempt: run.attempt, leaseFor: configuration.leaseDuration,
                        itemsDone: run.itemsDone)
                    sendStore(&run, command, .renew, now: now, into: &actions)
                }
                run.renewDueAt = now + configuration.leaseDuration / 3
                save(run)
            }
            let due = min(run.renewDueAt, run.leaseDeadline)
            next = min(next ?? due, due)
        }
        if let next { armUpkeep(at: next, into: &actions) }
    }
}
