// The batch worker as transcripts: broker, store, object-store and backend answers in; fetches,
// leases, calls, puts, commits and releases out. Each test tells one story of one record's life.

import Testing

@testable import PlatformCore

@Suite struct BatchWorkerTests {
    typealias Driver = WorkerDriver
    static let p0 = WorkerDriver.partition

    /// Fires the lease upkeep timer set last, at its instant.
    func fireUpkeep(_ driver: inout Driver) -> [BatchWorker.Action] {
        guard let (upkeep, at) = batchTimer(.leaseUpkeep, in: Array(driver.log.reversed())) else {
            Issue.record("no lease upkeep timer was set")
            return []
        }
        driver.now = at
        return driver.feed(.timerFired(upkeep))
    }

    /// Assigns the partition and delivers `jobs` at offsets 0, 1, 2...; returns the lease requests.
    func deliver(_ driver: inout Driver, jobs: [UInt64], from offset: Int64 = 0) -> [StoreRequestID] {
        if offset == 0 { driver.feed(.partitionsAssigned([Self.p0])) }
        let messages = jobs.enumerated().map { Driver.message(offset + Int64($0.offset), job: $0.element) }
        let actions = driver.feed(.recordsFetched(Self.p0, messages))
        return batchStores(actions).filter { $0.1.commandName == "lease" }.map(\.0)
    }

    /// Grants a lease and returns what the worker did.
    func grant(_ driver: inout Driver, _ id: StoreRequestID, job: UInt64, items: Int = 2, attempt: Int = 1)
        -> [BatchWorker.Action]
    {
        driver.feed(.storeReplied(id, .updated(Driver.record(job, state: .leased, attempt: attempt, items: items))))
    }

    /// Runs a granted job's calls to success and its put; returns the complete request.
    func finishItems(_ driver: inout Driver, _ actions: [BatchWorker.Action]) -> StoreRequestID? {
        var pending = batchCalls(actions)
        var putActions: [BatchWorker.Action] = actions
        while let call = pending.first {
            pending.removeFirst()
            let more = driver.feed(.backendReplied(BackendReply(call: call.call, failure: nil)))
            pending += batchCalls(more)
            putActions += more
        }
        guard let put = batchPuts(putActions).first else { return nil }
        let completing = driver.feed(.objectPutReplied(put.0, succeeded: true))
        return batchStores(completing).first { $0.1.commandName == "complete" }?.0
    }

    @Test func happyPathLeasesCallsPutsCompletesAndCommits() {
        var driver = Driver { $0.itemsPerCall = 1 }
        let assigned = driver.feed(.partitionsAssigned([Self.p0]))
        #expect(batchFetches(assigned).map(\.1) == [24], "slots + prefetchMax")
        let fetched = driver.feed(.recordsFetched(Self.p0, [Driver.message(0, job: 1)]))
        let lease = batchStores(fetched)[0]
        #expect(lease.1 == .lease(JobID(1), worker: 0, leaseFor: .seconds(30), attemptsMax: 3))
        #expect(batchFetches(fetched).map(\.1) == [23], "the next fetch leaves room for the job in progress")
        let started = grant(&driver, lease.0, job: 1)
        #expect(batchObservations(started).contains(.jobStarted(JobID(1), attempt: 1)))
        let sent = batchCalls(started)
        #expect(sent.map(\.backend) == [BackendID(1), BackendID(0)], "round-robin over the version's backends")
        let sweeps = batchTimers(started).filter { $0.0 == BatchWorker.timer(0, .callSweep) }
        #expect(sweeps.map(\.1) == [driver.now + .seconds(2)], "one sweep timer for both calls, at the oldest deadline")
        driver.advance(.milliseconds(5))
        #expect(batchPuts(driver.feed(.backendReplied(BackendReply(call: sent[0].call, failure: nil)))).isEmpty)
        let done = driver.feed(.backendReplied(BackendReply(call: sent[1].call, failure: nil)))
        let put = batchPuts(done)[0]
        #expect(put.1 == ResultLocation(job: JobID(1), attempt: 1) && put.2 == 512)
        let completing = driver.feed(.objectPutReplied(put.0, succeeded: true))
        let complete = batchStores(completing)[0]
        #expect(complete.1 == .complete(JobID(1), attempt: 1, result: put.1))
        #expect(batchCommits(driver.log).isEmpty, "nothing is committed before the outcome is durable")
        let finished = driver.feed(.storeReplied(complete.0, .updated(Driver.record(1, state: .succeeded))))
        #expect(batchObservations(finished).contains(.jobFinished(JobID(1), attempt: 1, .succeeded)))
        #expect(batchCommits(finished).map(\.1) == [1])
        #expect(driver.worker.jobsInProgress == 0)
    }

    @Test func retryableItemFailureRetriesLaterAndLeasesAgainAfterTheBackoff() {
        var driver = Driver()
        let lease = deliver(&driver, jobs: [1])[0]
        let call = batchCalls(grant(&driver, lease, job: 1, items: 1))[0]
        driver.advance(.milliseconds(10))
        let failed = driver.feed(.backendReplied(BackendReply(call: call.call, failure: .unavailable)))
        guard case .retryLater(let job, 1, let notBefore) = batchStores(failed)[0].1 else {
            Issue.record("expected retryLater, got \(batchStores(failed))")
            return
        }
        #expect(job == JobID(1) && notBefore <= driver.now + .seconds(1))
        var queued = Driver.record(1, state: .queued)
        queued.notBefore = notBefore
        let answered = driver.feed(.storeReplied(batchStores(failed)[0].0, .updated(queued)))
        #expect(batchObservations(answered).contains(.jobFinished(JobID(1), attempt: 1, .queued)))
        #expect(batchCommits(answered).isEmpty, "a retried job is not finished: its record stays uncommitted")
        driver.now = max(notBefore, driver.now)
        let woken = driver.feed(.timerFired(BatchWorker.timer(0, .wake)))
        #expect(batchStores(woken).map(\.1.commandName) == ["lease"], "leased again once the backoff is over")
    }

    @Test func nonRetryableItemFailureFailsTheJob() {
        var driver = Driver { $0.itemsPerCall = 1 }
        let lease = deliver(&driver, jobs: [1])[0]
        let sent = batchCalls(grant(&driver, lease, job: 1, items: 2))
        let failed = driver.feed(.backendReplied(BackendReply(call: sent[0].call, failure: .badRequest)))
        let command = batchStores(failed)[0]
        #expect(command.1 == .fail(JobID(1), attempt: 1, .rejectedByBackend))
        #expect(batchPuts(driver.feed(.backendReplied(BackendReply(call: sent[1].call, failure: nil)))).isEmpty)
        let answered = driver.feed(.storeReplied(command.0, .updated(Driver.record(1, state: .failed))))
        #expect(batchObservations(answered).contains(.jobFinished(JobID(1), attempt: 1, .failed)))
        #expect(batchCommits(answered).map(\.1) == [1])
    }

    @Test func completeWithUnknownOutcomeIsRetriedAndRecognised() {
        var driver = Driver()
        let lease = deliver(&driver, jobs: [1])[0]
        let complete = finishItems(&driver, grant(&driver, lease, job: 1))!
        let lost = driver.feed(.storeFailed(complete, .outcomeUnknown))
        let (retryTimer, at) = batchTimer(.storeRetry, in: lost)!
        #expect(at == driver.now + .milliseconds(200))
        driver.now = at
        let again = batchStores(driver.feed(.timerFired(retryTimer)))
        #expect(again.map(\.1) == [.complete(JobID(1), attempt: 1, result: ResultLocation(job: JobID(1), attempt: 1))])
        let recognised = driver.feed(.storeReplied(again[0].0, .notApplicable(Driver.record(1, state: .succeeded))))
        #expect(batchObservations(recognised).contains(.jobFinished(JobID(1), attempt: 1, .succeeded)))
        #expect(batchCommits(recognised).map(\.1) == [1])
    }

    @Test func fencedRenewStopsTheJobForGood() {
        var driver = Driver()
        let lease = deliver(&driver, jobs: [1])[0]
        let started = grant(&driver, lease, job: 1, items: 1)
        let call = batchCalls(started)[0]
        let renewing = fireUpkeep(&driver)
        #expect(driver.now == .zero + .seconds(10), "the first renew is due a third into the lease")
        let renew = batchStores(renewing)[0]
        #expect(renew.1 == .renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 0))
        let newer = Driver.record(1, state: .leased, attempt: 2, holder: 5, now: driver.now)
        let fenced = driver.feed(.storeReplied(renew.0, .fenced(newer)))
        #expect(batchObservations(fenced).contains(.fenced(JobID(1), attempt: 1)))
        #expect(driver.worker.jobsInProgress == 0)
        let late = driver.feed(.backendReplied(BackendReply(call: call.call, failure: nil)))
        #expect(batchPuts(late).isEmpty && batchStores(late).isEmpty, "a fenced attempt never writes again")
        #expect(batchCommits(driver.log).isEmpty, "another attempt owns the job: its record is not finished")
    }

    @Test func leaseIsRenewedEveryThirdOfItsDuration() {
        var driver = Driver()
        let lease = deliver(&driver, jobs: [1])[0]
        let started = grant(&driver, lease, job: 1, items: 1)
        #expect(batchTimer(.leaseUpkeep, in: started)?.1 == .zero + .seconds(10))
        let first = fireUpkeep(&driver)
        #expect(batchStores(first).map(\.1) == [.renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 0)])
        #expect(batchTimer(.leaseUpkeep, in: first)?.1 == .zero + .seconds(20))
        driver.feed(.storeReplied(batchStores(first)[0].0, .updated(Driver.record(1, state: .leased))))
        let second = fireUpkeep(&driver)
        #expect(driver.now == .zero + .seconds(20))
        #expect(batchStores(second).map(\.1.commandName) == ["renew"])
        #expect(batchTimer(.leaseUpkeep, in: second)?.1 == .zero + .seconds(30))
        // The second renew goes unanswered: at 30 s none is sent again, and the lease renewed at 10 s holds to 40 s.
        let third = fireUpkeep(&driver)
        #expect(batchStores(third).isEmpty, "one renew outstanding at a time")
        #expect(batchTimer(.leaseUpkeep, in: third)?.1 == .zero + .seconds(40), "the renewed lease ends later")
        #expect(driver.worker.jobsInProgress == 1)
    }

    @Test func localLeaseExpiryAbandonsTheJob() {
        var driver = Driver()
        let lease = deliver(&driver, jobs: [1])[0]
        let call = batchCalls(grant(&driver, lease, job: 1, items: 1))[0]
        let renewing = fireUpkeep(&driver)
        driver.feed(.storeFailed(batchStores(renewing)[0].0, .unavailable))
        #expect(batchStores(fireUpkeep(&driver)).isEmpty, "the failed renew is still outstanding at 20 s")
        let expired = fireUpkeep(&driver)
        #expect(driver.now == .zero + .seconds(30))
        #expect(batchObservations(expired).contains(.jobFinished(JobID(1), attempt: 1, .leased)))
        #expect(driver.worker.jobsInProgress == 0)
        #expect(batchTimer(.wake, in: expired)?.1 == driver.now + .milliseconds(200), "leased again after a pause")
        let late = driver.feed(.backendReplied(BackendReply(call: call.call, failure: nil)))
        #expect(batchPuts(late).isEmpty, "an abandoned job is never completed")
        #expect(batchCommits(driver.log).isEmpty, "an abandoned job's record stays uncommitted")
    }

    @Test func offsetsCommitOnlyTheContiguousFinishedPrefix() {
        var driver = Driver()
        let leases = deliver(&driver, jobs: [1, 2, 3])
        var completes: [StoreRequestID] = []
        for (index, lease) in leases.enumerated() {
            completes.append(finishItems(&driver, grant(&driver, lease, job: UInt64(index + 1), items: 0))!)
        }
        let third = driver.feed(.storeReplied(completes[2], .updated(Driver.record(3, state: .succeeded))))
        let second = driver.feed(.storeReplied(completes[1], .updated(Driver.record(2, state: .succeeded))))
        #expect(batchCommits(third + second).isEmpty, "offset 0 is not finished yet")
        let first = driver.feed(.storeReplied(completes[0], .updated(Driver.record(1, state: .succeeded))))
        #expect(batchCommits(first).map(\.1) == [3], "one commit covers the whole prefix")
        #expect(batchObservations(first).contains(.offsetCommitted(Self.p0, 3)))
    }

    @Test func slotsAndPrefetchBoundTheWork() {
        var driver = Driver {
            $0.slots = 2
            $0.prefetchMax = 1
        }
        let assigned = driver.feed(.partitionsAssigned([Self.p0]))
        #expect(batchFetches(assigned).map(\.1) == [3])
        let messages = (0..<3).map { Driver.message(Int64($0), job: UInt64($0 + 1)) }
        let fetched = driver.feed(.recordsFetched(Self.p0, messages))
        #expect(batchStores(fetched).count == 2, "never more leases than slots")
        #expect(batchFetches(fetched).isEmpty, "no room: two in progress and one buffered")
        #expect(batchObservations(fetched).contains(.backpressure(paused: true)))
        #expect(driver.worker.jobsInProgress == 2 && driver.worker.recordsBuffered == 1)
        let lease = batchStores(fetched)[0].0
        let answered = driver.feed(.storeReplied(lease, .notApplicable(Driver.record(1, state: .succeeded))))
        #expect(batchStores(answered).map(\.1.commandName) == ["lease"], "a freed slot takes the buffered record")
        #expect(batchFetches(answered).map(\.1) == [1])
        #expect(batchObservations(answered).contains(.backpressure(paused: false)))
    }
}
