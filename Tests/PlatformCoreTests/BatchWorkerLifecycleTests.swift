// The batch worker's breakers, rebalances, graceful shutdown and sabotage switches as transcripts.

import Testing

@testable import PlatformCore

@Suite struct BatchWorkerLifecycleTests {
    typealias Driver = WorkerDriver
    static let p0 = WorkerDriver.partition

    func deliver(_ driver: inout Driver, jobs: [UInt64]) -> [StoreRequestID] {
        driver.feed(.partitionsAssigned([Self.p0]))
        let messages = jobs.enumerated().map { Driver.message(Int64($0.offset), job: $0.element) }
        return batchStores(driver.feed(.recordsFetched(Self.p0, messages))).map(\.0)
    }

    func grant(_ driver: inout Driver, _ id: StoreRequestID, job: UInt64, items: Int) -> [BatchWorker.Action] {
        driver.feed(.storeReplied(id, .updated(Driver.record(job, state: .leased, items: items))))
    }

    @Test func openBreakersMakeItemsWaitAndPauseFetching() {
        var driver = Driver {
            $0.breaker.consecutiveFailuresToOpen = 1
            $0.breaker.openDuration = .milliseconds(500)
        }
        let leases = deliver(&driver, jobs: [1, 2, 3])
        let first = batchCalls(grant(&driver, leases[0], job: 1, items: 1))[0]
        let second = batchCalls(grant(&driver, leases[1], job: 2, items: 1))[0]
        #expect(first.backend != second.backend)
        driver.feed(.backendReplied(BackendReply(call: first.call, failure: .unavailable)))
        driver.feed(.backendReplied(BackendReply(call: second.call, failure: .unavailable)))
        let third = grant(&driver, leases[2], job: 3, items: 1)
        #expect(batchCalls(third).isEmpty, "every breaker is open: the item waits")
        #expect(batchStores(third).isEmpty, "waiting on breakers does not fail the job")
        #expect(batchObservations(third).contains(.backpressure(paused: true)))
        let (waitTimer, at) = batchTimer(.breakerWait, in: third)!
        #expect(at == driver.now + .milliseconds(500))
        driver.now = at
        let probing = driver.feed(.timerFired(waitTimer))
        #expect(batchCalls(probing).count == 1, "a probe goes once a breaker half-opens")
        #expect(batchObservations(probing).contains(.backpressure(paused: false)))
    }

    @Test func revocationReleasesLeasesThenReportsDone() {
        var driver = Driver()
        let leases = deliver(&driver, jobs: [1, 2])
        grant(&driver, leases[0], job: 1, items: 1)
        let secondDone = batchStores(grant(&driver, leases[1], job: 2, items: 0))
        #expect(secondDone.isEmpty, "job 2 is writing its result")
        let revoked = driver.feed(.partitionsRevoked([Self.p0]))
        let releases = batchStores(revoked)
        #expect(releases.map(\.1) == [.release(JobID(1), attempt: 1), .release(JobID(2), attempt: 1)])
        #expect(batchRevocationsDone(revoked).isEmpty, "waits for the releases")
        driver.feed(.storeReplied(releases[0].0, .updated(Driver.record(1, state: .queued))))
        let done = driver.feed(.storeReplied(releases[1].0, .updated(Driver.record(2, state: .queued))))
        #expect(batchRevocationsDone(done) == [[Self.p0]])
        #expect(batchCommits(driver.log).isEmpty, "released jobs are not finished: the next owner gets them")
        #expect(driver.worker.jobsInProgress == 0)
        #expect(batchFetches(driver.feed(.recordsFetched(Self.p0, []))).isEmpty, "the partition is gone")
    }

    @Test func revocationWaitIsBounded() {
        var driver = Driver()
        let leases = deliver(&driver, jobs: [1])
        grant(&driver, leases[0], job: 1, items: 1)
        let revoked = driver.feed(.partitionsRevoked([Self.p0]))
        driver.feed(.storeFailed(batchStores(revoked)[0].0, .unavailable))
        let (deadline, at) = batchTimer(.revocationDeadline, in: revoked)!
        #expect(at == driver.now + .seconds(1), "storeRetryDelay * 5")
        driver.now = at
        #expect(batchRevocationsDone(driver.feed(.timerFired(deadline))) == [[Self.p0]])
    }

    @Test func gracefulShutdownFinishesWhatItCanThenReleasesTheRest() {
        var driver = Driver()
        let leases = deliver(&driver, jobs: [1, 2])
        let quick = grant(&driver, leases[0], job: 1, items: 1)
        grant(&driver, leases[1], job: 2, items: 1)
        let stopping = driver.feed(.shutdownRequested)
        let (drainTimer, drainAt) = batchTimer(.drainDeadline, in: stopping)!
        #expect(drainAt == driver.now + .seconds(20))
        driver.advance(.milliseconds(5))
        let put = batchPuts(driver.feed(.backendReplied(BackendReply(call: batchCalls(quick)[0].call, failure: nil))))
        let complete = batchStores(driver.feed(.objectPutReplied(put[0].0, succeeded: true)))[0]
        let committed = driver.feed(.storeReplied(complete.0, .updated(Driver.record(1, state: .succeeded))))
        #expect(batchCommits(committed).map(\.1) == [1], "finished work is committed while draining")
        #expect(batchFetches(driver.log.suffix(committed.count + 10)).isEmpty, "no fetching while draining")
        driver.now = drainAt
        let released = driver.feed(.timerFired(drainTimer))
        let release = batchStores(released)[0]
        #expect(release.1 == .release(JobID(2), attempt: 1))
        let finished = driver.feed(.storeReplied(release.0, .updated(Driver.record(2, state: .queued))))
        #expect(batchObservations(finished).contains(.drained(inFlightAtDeadline: 1)))
        #expect(batchCompletesShutdown(finished) && driver.worker.isShutDown)
        #expect(driver.feed(.partitionsAssigned([PartitionID(3)])).isEmpty, "inputs after shutdown are ignored")
    }

    @Test func idleShutdownCompletesAtOnce() {
        var driver = Driver()
        driver.feed(.partitionsAssigned([Self.p0]))
        let stopped = driver.feed(.shutdownRequested)
        #expect(batchObservations(stopped).contains(.drained(inFlightAtDeadline: 0)))
        #expect(batchCompletesShutdown(stopped))
    }

    @Test func commitsBeforeOutcomeSabotageCommitsOnFetch() {
        var honest = Driver()
        _ = deliver(&honest, jobs: [1, 2])
        #expect(batchCommits(honest.log).isEmpty)
        var sabotaged = Driver { $0.commitsBeforeOutcome = true }
        _ = deliver(&sabotaged, jobs: [1, 2])
        #expect(batchCommits(sabotaged.log).map(\.1) == [2], "committed before any outcome")
    }

    @Test func ignoresBackpressureSabotageStartsEverything() {
        var honest = Driver {
            $0.slots = 1
            $0.prefetchMax = 1
        }
        #expect(deliver(&honest, jobs: [1, 2, 3]).count == 1)
        var sabotaged = Driver {
            $0.slots = 1
            $0.prefetchMax = 1
        }
        sabotaged.worker = BatchWorker(
            configuration: {
                var configuration = sabotaged.worker.configuration
                configuration.ignoresBackpressure = true
                return configuration
            }())
        #expect(deliver(&sabotaged, jobs: [1, 2, 3]).count == 3, "more jobs in progress than slots")
        #expect(sabotaged.worker.jobsInProgress == 3)
        #expect(batchFetches(sabotaged.log).count >= 2, "it keeps fetching with no free slot")
    }
}
