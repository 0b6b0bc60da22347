// The batch worker's worker-wide timers and its batching as transcripts: one call sweep for every call
// in flight, one lease upkeep timer for every lease (stale firings ignored), items grouped into calls,
// and fetches that wait for a worthwhile amount of room unless the buffer is empty.

import Testing

@testable import PlatformCore

@Suite struct BatchWorkerSchedulingTests {
    typealias Driver = WorkerDriver
    static let p0 = WorkerDriver.partition
    static let sweep = BatchWorker.timer(0, .callSweep)

    /// Assigns `partitions` (default: the one partition) and delivers `jobs` on the first at offsets 0, 1, 2...
    func deliver(_ driver: inout Driver, jobs: [UInt64], partitions: [PartitionID] = [p0]) -> [BatchWorker.Action] {
        driver.feed(.partitionsAssigned(partitions))
        let messages = jobs.enumerated().map { Driver.message(Int64($0.offset), job: $0.element) }
        return driver.feed(.recordsFetched(partitions[0], messages))
    }

    /// The lease request the worker sent for `job`.
    func leaseRequest(_ job: UInt64, in log: [BatchWorker.Action]) -> StoreRequestID? {
        batchStores(log).last { command in
            if case .lease(JobID(job), _, _, _) = command.1 { true } else { false }
        }?.0
    }

    func grant(_ driver: inout Driver, job: UInt64, items: Int) -> [BatchWorker.Action] {
        guard let request = leaseRequest(job, in: driver.log) else {
            Issue.record("no lease was requested for job \(job)")
            return []
        }
        return driver.feed(.storeReplied(request, .updated(Driver.record(job, state: .leased, items: items))))
    }

    /// Ends a job whose lease is still being asked for: the store shows it already succeeded.
    func finishUnstarted(_ driver: inout Driver, job: UInt64) -> [BatchWorker.Action] {
        guard let request = leaseRequest(job, in: driver.log) else {
            Issue.record("no lease was requested for job \(job)")
            return []
        }
        return driver.feed(.storeReplied(request, .notApplicable(Driver.record(job, state: .succeeded))))
    }

    // MARK: - Call sweep

    @Test func oneSweepTimerServesEveryCallAndEndsTheOverdueOne() throws {
        var driver = Driver()
        _ = deliver(&driver, jobs: [1, 2])
        let first = grant(&driver, job: 1, items: 1)
        #expect(batchTimers(.callSweep, in: first).map(\.1) == [.zero + .seconds(2)])
        #expect(batchTimers(.callSweep, in: first).map(\.0) == [Self.sweep])
        driver.advance(.milliseconds(500))
        let second = grant(&driver, job: 2, items: 1)
        let secondCall = try #require(batchCalls(second).first)
        #expect(batchTimers(.callSweep, in: second).isEmpty, "the sweep already set covers the new call")
        driver.advance(.milliseconds(500))
        let firstCall = try #require(batchCalls(first).first)
        driver.feed(.backendReplied(BackendReply(call: firstCall.call, failure: nil)))
        driver.now = .zero + .seconds(2)
        let early = driver.feed(.timerFired(Self.sweep))
        #expect(batchStores(early).isEmpty, "job 2's call is not overdue yet")
        #expect(batchTimers(.callSweep, in: early).map(\.1) == [.zero + .milliseconds(2_500)], "set for the next")
        driver.now = .zero + .milliseconds(2_500)
        let overdue = driver.feed(.timerFired(Self.sweep))
        guard case .retryLater(JobID(2), attempt: 1, _)? = batchStores(overdue).first?.1 else {
            Issue.record("expected retryLater for job 2, got \(batchStores(overdue))")
            return
        }
        #expect(batchTimers(.callSweep, in: overdue).isEmpty, "no call left in flight")
        let late = driver.feed(.backendReplied(BackendReply(call: secondCall.call, failure: nil)))
        #expect(batchPuts(late).isEmpty && batchStores(late).isEmpty, "a timed-out call's answer is ignored")
    }

    @Test func aLateSweepEndsEveryOverdueCallOldestFirst() {
        var driver = Driver()
        _ = deliver(&driver, jobs: [1, 2, 3])
        _ = grant(&driver, job: 2, items: 1)
        driver.advance(.milliseconds(100))
        _ = grant(&driver, job: 1, items: 1)
        driver.advance(.seconds(2))
        _ = grant(&driver, job: 3, items: 1)
        let swept = driver.feed(.timerFired(Self.sweep))
        let ended = batchStores(swept).compactMap { command -> JobID? in
            if case .retryLater(let job, _, _) = command.1 { job } else { nil }
        }
        #expect(ended == [JobID(2), JobID(1)], "in the order the calls were sent")
        #expect(batchTimers(.callSweep, in: swept).map(\.1) == [driver.now + .seconds(2)], "job 3's call is next")
    }

    // MARK: - Items per call

    @Test func itemsAreGroupedIntoCallsOfItemsPerCall() throws {
        var driver = Driver {
            $0.itemsPerCall = 4
            $0.callsInFlightPerJob = 2
        }
        _ = deliver(&driver, jobs: [1])
        let started = grant(&driver, job: 1, items: 10)
        let first = batchCalls(started)
        try #require(first.map(\.inputElements) == [4, 4], "the calls in flight per job are counted in calls")
        let called = batchObservations(started).filter { if case .itemsCalled = $0 { true } else { false } }
        #expect(called == first.map { .itemsCalled(JobID(1), $0.backend, items: 4) })
        func itemsDone() -> Int? { driver.worker.runOrder.first.flatMap { driver.worker.runs[$0]?.itemsDone } }
        #expect(itemsDone() == 0)
        let answered = driver.feed(.backendReplied(BackendReply(call: first[0].call, failure: nil)))
        #expect(itemsDone() == 4)
        let last = try #require(batchCalls(answered).first)
        #expect(batchCalls(answered).map(\.inputElements) == [2], "the remainder goes in a smaller call")
        #expect(batchObservations(answered).contains(.itemsCalled(JobID(1), last.backend, items: 2)))
        #expect(batchPuts(driver.feed(.backendReplied(BackendReply(call: last.call, failure: nil)))).isEmpty)
        #expect(itemsDone() == 6)
        let done = driver.feed(.backendReplied(BackendReply(call: first[1].call, failure: nil)))
        #expect(itemsDone() == 10)
        #expect(batchPuts(done).map(\.2) == [10 * 256], "every item's result is written")
    }

    @Test func renewsReportTheItemsDone() throws {
        var driver = Driver {
            $0.itemsPerCall = 3
            $0.itemTimeout = .seconds(60)
        }
        _ = deliver(&driver, jobs: [1])
        let calls = batchCalls(grant(&driver, job: 1, items: 7))
        try #require(calls.map(\.inputElements) == [3, 3, 1])
        driver.feed(.backendReplied(BackendReply(call: calls[1].call, failure: nil)))
        let upkeep = try #require(batchTimers(.leaseUpkeep, in: driver.log).first)
        driver.now = upkeep.1
        let renewing = driver.feed(.timerFired(upkeep.0))
        #expect(batchStores(renewing).map(\.1) == [.renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 3)])
    }

    // MARK: - Lease upkeep

    @Test func anEarlierLeaseDeadlineRearmsTheUpkeepAndTheStaleFiringIsIgnored() throws {
        var driver = Driver { $0.itemTimeout = .seconds(60) }
        // Job 2's lease is asked for at 0 s and answered only at 25 s: its lease ends at 30 s.
        _ = deliver(&driver, jobs: [2])
        driver.now = .zero + .seconds(24)
        driver.feed(.recordsFetched(Self.p0, [Driver.message(1, job: 1)]))
        let first = grant(&driver, job: 1, items: 1)
        let upkeepForJob1 = try #require(batchTimers(.leaseUpkeep, in: first).first)
        #expect(batchTimers(.leaseUpkeep, in: first).map(\.1) == [.zero + .seconds(34)], "a third into job 1's lease")
        driver.now = .zero + .seconds(25)
        let second = grant(&driver, job: 2, items: 1)
        let upkeepForJob2 = try #require(batchTimers(.leaseUpkeep, in: second).first)
        #expect(upkeepForJob2.1 == .zero + .seconds(30), "job 2's lease ends before job 1's renew")
        #expect(upkeepForJob2.0 != upkeepForJob1.0, "a new generation")
        driver.now = .zero + .seconds(30)
        let expired = driver.feed(.timerFired(upkeepForJob2.0))
        #expect(batchObservations(expired).contains(.jobFinished(JobID(2), attempt: 1, .leased)))
        #expect(batchStores(expired).isEmpty, "job 1's renew is not due yet")
        let rearmed = try #require(batchTimers(.leaseUpkeep, in: expired).first)
        #expect(rearmed.1 == .zero + .seconds(34))
        driver.now = .zero + .seconds(34)
        let stale = driver.feed(.timerFired(upkeepForJob1.0))
        #expect(!batchStores(stale).contains { $0.1.commandName == "renew" }, "a stale generation does nothing")
        #expect(driver.worker.jobsInProgress == 2, "job 1, and job 2 leased again")
        let current = driver.feed(.timerFired(rearmed.0))
        #expect(batchStores(current).map(\.1) == [.renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 0)])
    }

    @Test func aRepeatedUpkeepFiringDoesNotRenewTwice() throws {
        var driver = Driver()
        _ = deliver(&driver, jobs: [1])
        let upkeep = try #require(batchTimers(.leaseUpkeep, in: grant(&driver, job: 1, items: 1)).first)
        driver.now = upkeep.1
        let renewing = driver.feed(.timerFired(upkeep.0))
        let renew = try #require(batchStores(renewing).first)
        #expect(renew.1.commandName == "renew")
        driver.feed(.storeReplied(renew.0, .updated(Driver.record(1, state: .leased))))
        driver.advance(.seconds(5))
        let again = driver.feed(.timerFired(upkeep.0))
        #expect(batchStores(again).isEmpty && batchTimers(.leaseUpkeep, in: again).isEmpty)
    }

    // MARK: - Fetching

    @Test func anEmptyBufferFetchesAgainEvenWhenOtherFetchesHoldTheRoom() {
        var driver = Driver()
        let partitions = (0..<4).map { PartitionID($0) }
        let assigned = driver.feed(.partitionsAssigned(partitions))
        #expect(batchFetches(assigned).map(\.1) == [6, 6, 6, 6], "the room is shared among the partitions")
        // Partitions 1-3 are quiet: their fetches stay parked at the broker and are never answered.
        let messages = (0..<6).map { Driver.message(Int64($0), job: UInt64($0 + 1)) }
        let fetched = driver.feed(.recordsFetched(Self.p0, messages))
        #expect(batchFetches(fetched).isEmpty, "six running and eighteen reserved: no room")
        #expect(driver.worker.recordsBuffered == 0 && driver.worker.jobsInProgress == 6)
        let finished = finishUnstarted(&driver, job: 1)
        #expect(batchCommits(finished).map(\.1) == [1])
        // One record fits, far fewer than fetchRecordsMin (8), but with nothing buffered waiting would stall.
        #expect(batchFetches(finished).map(\.0) == [Self.p0], "nothing buffered: the answered partition fetches")
        #expect(batchFetches(finished).map(\.1) == [1])
        #expect(driver.worker.configuration.fetchRecordsMin == 8 && driver.worker.fetchRoom == 0)
    }

    @Test func fetchesWaitForFetchRecordsMinWhileRecordsAreBuffered() {
        var driver = Driver {
            $0.slots = 2
            $0.prefetchMax = 10
            $0.fetchRecordsMin = 4
        }
        let fetched = deliver(&driver, jobs: Array(1...12))
        #expect(batchFetches(driver.log).map(\.1) == [12])
        #expect(batchFetches(fetched).isEmpty && driver.worker.recordsBuffered == 10)
        for job in UInt64(1)...3 {
            let finished = finishUnstarted(&driver, job: job)
            #expect(batchFetches(finished).isEmpty, "room \(driver.worker.fetchRoom) is below fetchRecordsMin")
        }
        let fourth = finishUnstarted(&driver, job: 4)
        #expect(batchFetches(fourth).map(\.1) == [4], "one fetch once four records fit")
        #expect(driver.worker.recordsBuffered == 6 && driver.worker.jobsInProgress == 2)
    }
}
