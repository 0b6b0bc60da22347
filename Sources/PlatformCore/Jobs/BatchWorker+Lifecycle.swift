// Rebalances and graceful shutdown for the batch worker: both give leases back to the store so another
// worker can take the jobs at once, commit what is finished, and wait a bounded time for the answers so
// a store outage never holds up the consumer group or the process.

extension BatchWorker {
    /// A revocation waiting for its releases.
    struct Revocation: Sendable {
        var key: UInt64
        var partitions: [PartitionID]
    }

    mutating func revoke(_ revoked: [PartitionID], now: Instant, into actions: inout [Action]) {
        var requested: [PartitionID] = []
        for id in revoked.sorted() where requested.last != id { requested.append(id) }
        let key = nextSequence()
        var mine = false
        for id in requested {
            guard let index = partitionIndex(id), partitions[index].revocation == 0 else { continue }
            partitions[index].revocation = key
            mine = true
        }
        guard mine else { return actions.append(.revocationDone(requested)) }
        revocations.append(Revocation(key: key, partitions: requested))
        var waiting = false
        for runKey in runOrder {
            guard var run = runs[runKey], requested.contains(run.message.partition) else { continue }
            run.revocation = key
            requestRelease(&run, now: now, into: &actions)
            save(run)
            waiting = true
        }
        if waiting {
            setTimer(key, .revocationDeadline, at: now + configuration.storeRetryDelay * 5, into: &actions)
        } else {
            finishRevocation(key, now: now, into: &actions)
        }
    }

    /// After a run ended: a revocation waiting only for it is done.
    mutating func runEnded(revocation: UInt64, now: Instant, into actions: inout [Action]) {
        guard revocation != 0 else { return }
        for key in runOrder where runs[key]?.revocation == revocation { return }
        finishRevocation(revocation, now: now, into: &actions)
    }

    /// Commits the revoked partitions' finished prefixes and hands them back; runs still waiting for an
    /// answer at the deadline are dropped (their leases simply expire in the store).
    mutating func finishRevocation(_ key: UInt64, now: Instant, into actions: inout [Action]) {
        guard let position = revocations.firstIndex(where: { $0.key == key }) else { return }
        let revocation = revocations.remove(at: position)
        for runKey in runOrder {
            guard var run = runs[runKey], run.revocation == key else { continue }
            run.revocation = 0
            endRun(&run, record: .waiting(readyAt: now), finalState: .leased, now: now, into: &actions)
        }
        commitDurablePrefixes(into: &actions)
        forgetPartitions(revocation: key)
        actions.append(.revocationDone(revocation.partitions))
    }

    mutating func shutdownRequested(now: Instant, into actions: inout [Action]) {
        guard life == .running else { return }
        life = .draining
        setTimer(0, .drainDeadline, at: now + configuration.drainDeadline, into: &actions)
    }

    mutating func drainDeadlinePassed(now: Instant, into actions: inout [Action]) {
        guard life == .draining else { return }
        inFlightAtDeadline = runs.count
        life = .releasing
        for key in runOrder {
            guard var run = runs[key] else { continue }
            requestRelease(&run, now: now, into: &actions)
            save(run)
        }
        setTimer(0, .releaseDeadline, at: now + configuration.storeRetryDelay * 5, into: &actions)
    }

    /// Commits what is finished, reports and stops; later answers are ignored.
    mutating func finishShutdown(into actions: inout [Action]) {
        commitDurablePrefixes(into: &actions)
        for key in runOrder {
            guard var run = runs[key] else { continue }
            stopWork(&run)
        }
        runs = IdentifierTable(capacity: 16)
        runOrder.removeAll()
        actions.append(.observe(.drained(inFlightAtDeadline: inFlightAtDeadline)))
        actions.append(.shutdownComplete)
        life = .shutDown
    }
}
