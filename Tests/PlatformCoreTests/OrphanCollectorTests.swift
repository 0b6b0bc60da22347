// The result-object collector as transcripts: the orphan rule case by case, then whole walks over
// listings and job-table reads, with failures, timeouts, late answers and the keep-orphans sabotage.

import Testing

@testable import PlatformCore

/// Drives one collector and keeps what it asked for.
private struct CollectorDriver {
    var collector: OrphanCollector
    var now: Instant = .zero

    init(pageSize: Int = 3, keepsOrphans: Bool = false) {
        var configuration = OrphanCollector.Configuration()
        configuration.pageSize = pageSize
        configuration.keepsOrphans = keepsOrphans
        collector = OrphanCollector(configuration: configuration)
    }

    mutating func feed(_ input: OrphanCollector.Input) -> [OrphanCollector.Action] {
        var actions: [OrphanCollector.Action] = []
        collector.handle(input, now: now, into: &actions)
        return actions
    }

    /// Fires the last timer set in `actions` at its instant.
    mutating func fireLastTimer(in actions: [OrphanCollector.Action]) -> [OrphanCollector.Action] {
        guard let (timer, at) = timers(actions).last else {
            Issue.record("no timer in \(actions)")
            return []
        }
        now = at
        return feed(.timerFired(timer))
    }
}

private func timers(_ actions: [OrphanCollector.Action]) -> [(TimerID, Instant)] {
    actions.compactMap { if case .setTimer(let timer, let at) = $0 { return (timer, at) } else { return nil } }
}

private func listings(_ actions: [OrphanCollector.Action]) -> [(id: UInt64, after: ResultLocation?, limit: Int)] {
    actions.compactMap {
        guard case .list(let id, let after, let limit) = $0 else { return nil }
        return (id, after, limit)
    }
}

private func reads(_ actions: [OrphanCollector.Action]) -> [(StoreRequestID, JobStoreCommand)] {
    actions.compactMap { if case .store(let id, let command) = $0 { return (id, command) } else { return nil } }
}

private func deletions(_ actions: [OrphanCollector.Action]) -> [ResultLocation] {
    actions.compactMap { if case .delete(let location) = $0 { return location } else { return nil } }
}

private func observations(_ actions: [OrphanCollector.Action]) -> [CollectorObservation] {
    actions.compactMap { if case .observe(let observation) = $0 { return observation } else { return nil } }
}

private func location(_ job: UInt64, _ attempt: Int) -> ResultLocation {
    ResultLocation(job: JobID(job), attempt: attempt)
}

/// A job row in `state` at `attempt`; a succeeded one shows the result of `resultAttempt` (its own by default).
private func jobRecord(_ job: UInt64, _ state: JobState, attempt: Int, resultAttempt: Int? = nil) -> JobRecord {
    let spec = JobSpec(tenant: 1, model: ModelID(0), version: 1, itemCount: 1, idempotencyKey: 0, bodyHash: 0)
    var record = JobRecord(id: JobID(job), spec: spec, now: .zero)
    record.state = state
    record.attempt = attempt
    if state == .succeeded { record.result = location(job, resultAttempt ?? attempt) }
    return record
}

@Suite struct OrphanCollectorTests {
    /// (job state, the job's attempt, the attempt of the succeeded job's result, the object's attempt, orphan?)
    static let rule: [(JobState, Int, Int?, Int, Bool)] = [
        (.succeeded, 2, 2, 2, false),
        (.succeeded, 2, 2, 1, true),
        (.succeeded, 3, 2, 3, true),
        (.failed, 1, nil, 1, true),
        (.cancelled, 2, nil, 2, true),
        (.deadLettered, 3, nil, 3, true),
        (.accepted, 0, nil, 1, false),
        (.queued, 2, nil, 1, true),
        (.queued, 2, nil, 2, false),
        (.leased, 3, nil, 2, true),
        (.leased, 3, nil, 3, false),
        (.leased, 3, nil, 4, false),
    ]

    @Test(arguments: rule)
    func orphanRule(_ state: JobState, _ attempt: Int, _ resultAttempt: Int?, _ object: Int, _ orphan: Bool) {
        let record = jobRecord(7, state, attempt: attempt, resultAttempt: resultAttempt)
        #expect(OrphanCollector.isOrphan(location(7, object), of: record) == orphan)
    }

    @Test func anObjectWithoutAJobOrOfAnotherJobIsAnOrphan() {
        #expect(OrphanCollector.isOrphan(location(7, 1), of: nil))
        #expect(OrphanCollector.isOrphan(location(7, 1), of: jobRecord(8, .leased, attempt: 1)))
    }

    /// Five objects over two pages of three: job 1 succeeded with attempt 2 (attempt 1 is an orphan), job 2
    /// does not exist, job 3 is leased at attempt 1, job 4 failed.
    static let objects = [location(1, 1), location(1, 2), location(2, 1), location(3, 1), location(4, 1)]
    static let rows = [
        jobRecord(1, .succeeded, attempt: 2), jobRecord(3, .leased, attempt: 1), jobRecord(4, .failed, attempt: 1),
    ]

    /// Starts a collector and fires its first walk timer; returns the first listing's actions.
    private func startWalk(_ driver: inout CollectorDriver) -> [OrphanCollector.Action] {
        let started = driver.feed(.started)
        #expect(timers(started).map(\.1) == [.zero + .seconds(10)], "the first walk waits `every`")
        return driver.fireLastTimer(in: started)
    }

    @Test func aWalkOverTwoPagesDeletesExactlyTheOrphans() throws {
        var driver = CollectorDriver()
        let listing = startWalk(&driver)
        let first = try #require(listings(listing).first)
        #expect(listings(listing).count == 1 && first.after == nil && first.limit == 3)
        let reading = driver.feed(.listed(first.id, Array(Self.objects[0..<3]), complete: false))
        let read = try #require(reads(reading).first)
        #expect(reads(reading).map(\.1) == [.inspect([JobID(1), JobID(2)])], "each job read once")
        let firstPage = driver.feed(.storeReplied(read.0, .records([Self.rows[0]])))
        #expect(deletions(firstPage) == [location(1, 1), location(2, 1)])
        #expect(observations(firstPage) == [.orphanDeleted(location(1, 1)), .orphanDeleted(location(2, 1))])
        let second = try #require(listings(firstPage).first)
        #expect(second.after == location(2, 1), "the next page starts after the last")
        let secondReading = driver.feed(.listed(second.id, Array(Self.objects[3...]), complete: true))
        let secondRead = try #require(reads(secondReading).first)
        #expect(secondRead.1 == .inspect([JobID(3), JobID(4)]))
        let finished = driver.feed(.storeReplied(secondRead.0, .records(Array(Self.rows[1...]))))
        #expect(deletions(finished) == [location(4, 1)])
        #expect(observations(finished) == [.orphanDeleted(location(4, 1)), .passFinished(deleted: 3)])
        #expect(listings(finished).isEmpty)
        #expect(timers(finished).last?.1 == driver.now + .seconds(10), "the next walk waits `every`")
        let next = listings(driver.fireLastTimer(in: finished))
        #expect(next.count == 1 && next.first?.after == nil, "a new walk starts from the first object")
    }

    @Test func anEmptyListingEndsTheWalk() throws {
        var driver = CollectorDriver()
        let list = try #require(listings(startWalk(&driver)).first)
        let finished = driver.feed(.listed(list.id, [], complete: true))
        #expect(observations(finished) == [.passFinished(deleted: 0)])
        #expect(reads(finished).isEmpty && deletions(finished).isEmpty)
    }

    @Test func aStoreFailureRetriesTheSamePageAfterTheAnswerTimeout() throws {
        var driver = CollectorDriver()
        let first = try #require(listings(startWalk(&driver)).first)
        let reading = driver.feed(.listed(first.id, Array(Self.objects[0..<3]), complete: false))
        let read = try #require(reads(reading).first)
        let failed = driver.feed(.storeFailed(read.0))
        #expect(deletions(failed).isEmpty && listings(failed).isEmpty)
        #expect(timers(failed).map(\.1) == [driver.now + .seconds(2)])
        #expect(driver.feed(.storeReplied(read.0, .records(Self.rows))).isEmpty, "the failed step's late answer")
        let again = try #require(listings(driver.fireLastTimer(in: failed)).first)
        #expect(again.after == nil && again.id != first.id, "the same page, a new step")
    }

    @Test func anUnansweredStepTimesOutAndIsTriedAgain() throws {
        var driver = CollectorDriver()
        let listing = startWalk(&driver)
        let first = try #require(listings(listing).first)
        let (timeout, at) = try #require(timers(listing).first)
        #expect(at == driver.now + .seconds(2))
        driver.now = at
        let timedOut = driver.feed(.timerFired(timeout))
        #expect(listings(timedOut).isEmpty)
        #expect(driver.feed(.listed(first.id, Self.objects, complete: true)).isEmpty, "the timed-out listing's answer")
        let again = try #require(listings(driver.fireLastTimer(in: timedOut)).first)
        #expect(again.after == nil)
        // A read that times out retries the page it was reading, not the next one.
        let page = driver.feed(.listed(again.id, Array(Self.objects[0..<3]), complete: false))
        let (readTimeout, readAt) = try #require(timers(page).last)
        driver.now = readAt
        let readTimedOut = driver.feed(.timerFired(readTimeout))
        #expect(deletions(readTimedOut).isEmpty)
        let third = try #require(listings(driver.fireLastTimer(in: readTimedOut)).first)
        #expect(third.after == nil)
    }

    @Test func answersOfOtherStepsAndUnexpectedRepliesAreIgnored() throws {
        var driver = CollectorDriver()
        let first = try #require(listings(startWalk(&driver)).first)
        #expect(driver.feed(.listed(first.id + 1, Self.objects, complete: true)).isEmpty, "an unknown listing id")
        let reading = driver.feed(.listed(first.id, Array(Self.objects[0..<3]), complete: false))
        let read = try #require(reads(reading).first)
        #expect(driver.feed(.listed(first.id, Self.objects, complete: true)).isEmpty, "a repeated listing")
        let stranger = StoreRequestID(read.0.value + 1)
        #expect(driver.feed(.storeReplied(stranger, .records([]))).isEmpty, "someone else's answer")
        #expect(driver.feed(.storeFailed(stranger)).isEmpty)
        // An answer that is not a read's answer counts as a failed step.
        let odd = driver.feed(.storeReplied(read.0, .notFound))
        #expect(deletions(odd).isEmpty && timers(odd).map(\.1) == [driver.now + .seconds(2)])
    }

    @Test func keepOrphansSabotageReportsButNeverDeletes() throws {
        var driver = CollectorDriver(pageSize: 10, keepsOrphans: true)
        let list = try #require(listings(startWalk(&driver)).first)
        let read = try #require(reads(driver.feed(.listed(list.id, Self.objects, complete: true))).first)
        let finished = driver.feed(.storeReplied(read.0, .records(Self.rows)))
        #expect(deletions(finished).isEmpty)
        let reported = observations(finished).filter { if case .orphanDeleted = $0 { true } else { false } }
        #expect(reported == [location(1, 1), location(2, 1), location(4, 1)].map { .orphanDeleted($0) })
    }
}
