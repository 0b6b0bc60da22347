// Transcript tests for the job table, one command and one answer at a time, plus the seeded property
// test that the simulator's job oracles rely on (see JobStoreModelPropertyTests.swift).

import PlatformCore
import Testing

/// An instant `seconds` after the epoch.
private func at(_ seconds: Int64) -> Instant { Instant(nanoseconds: seconds * 1_000_000_000) }

/// A job spec with defaults that the tests override where it matters.
private func jobSpec(tenant: Int = 1, key: UInt64 = 0, body: UInt64 = 7, items: Int = 4) -> JobSpec {
    JobSpec(tenant: tenant, model: ModelID(0), version: 1, itemCount: items, idempotencyKey: key, bodyHash: body)
}

@Suite struct JobStoreModelTests {
    /// A table holding one job, submitted at t=1s and marked queued at t=2s.
    static func queuedStore(configuration: JobStoreModel.Configuration = .init()) -> JobStoreModel {
        var store = JobStoreModel(configuration: configuration)
        _ = store.apply(.submit(jobSpec()), now: at(1))
        _ = store.apply(.markQueued([JobID(1)]), now: at(2))
        return store
    }

    /// `queuedStore` with job 1 leased by worker 3 at t=10s for 30s (attempt 1).
    static func leasedStore(configuration: JobStoreModel.Configuration = .init()) -> JobStoreModel {
        var store = queuedStore(configuration: configuration)
        _ = store.apply(.lease(JobID(1), worker: 3, leaseFor: .seconds(30), attemptsMax: 3), now: at(10))
        return store
    }

    @Test func submitCreatesJobsNumberedInOrder() {
        var store = JobStoreModel(configuration: .init())
        let first = store.apply(.submit(jobSpec()), now: at(1))
        var expected = JobRecord(id: JobID(1), spec: jobSpec(), now: at(1))
        #expect(first == .submitted(expected, created: true))
        #expect(expected.state == .accepted && expected.rowVersion == 1 && expected.status == .queued)
        let second = store.apply(.submit(jobSpec(tenant: 2)), now: at(2))
        expected = JobRecord(id: JobID(2), spec: jobSpec(tenant: 2), now: at(2))
        #expect(second == .submitted(expected, created: true))
        #expect(store.jobCount == 2)
        #expect(store.job(JobID(3)) == nil && store.job(JobID(0)) == nil)
    }

    @Test func submitWithSameKeyAndBodyFindsTheEarlierJob() {
        var store = JobStoreModel(configuration: .init())
        _ = store.apply(.submit(jobSpec(key: 42, body: 5)), now: at(1))
        _ = store.apply(.markQueued([JobID(1)]), now: at(2))
        let retried = store.apply(.submit(jobSpec(key: 42, body: 5)), now: at(3))
        #expect(retried == .submitted(store.job(JobID(1))!, created: false))
        #expect(retried.carried?.state == .queued)
        #expect(store.jobCount == 1)
    }

    @Test func submitWithSameKeyAndDifferentBodyConflicts() {
        var store = JobStoreModel(configuration: .init())
        _ = store.apply(.submit(jobSpec(key: 42, body: 5)), now: at(1))
        #expect(store.apply(.submit(jobSpec(key: 42, body: 6)), now: at(2)) == .idempotencyConflict(existing: JobID(1)))
        #expect(store.jobCount == 1)
        #expect(store.job(JobID(1))?.rowVersion == 1)
    }

    @Test func idempotencyKeysBelongToOneTenantAndZeroMeansNone() {
        var store = JobStoreModel(configuration: .init())
        _ = store.apply(.submit(jobSpec(tenant: 1, key: 42)), now: at(1))
        let otherTenant = store.apply(.submit(jobSpec(tenant: 2, key: 42)), now: at(2))
        #expect(otherTenant.carried?.id == JobID(2))
        #expect(otherTenant == .submitted(store.job(JobID(2))!, created: true))
        _ = store.apply(.submit(jobSpec(tenant: 1, key: 0)), now: at(3))
        let again = store.apply(.submit(jobSpec(tenant: 1, key: 0)), now: at(4))
        #expect(again == .submitted(store.job(JobID(4))!, created: true))
        #expect(store.apply(.submit(jobSpec(tenant: 2, key: 42)), now: at(5)).carried?.id == JobID(2))
    }

    @Test func manyIdempotencyKeysStayExact() {
        var store = JobStoreModel(configuration: .init())
        for key in UInt64(1)...2_000 {
            _ = store.apply(.submit(jobSpec(tenant: Int(key % 3), key: key, body: key)), now: at(1))
        }
        for key in UInt64(1)...2_000 {
            let reply = store.apply(.submit(jobSpec(tenant: Int(key % 3), key: key, body: key)), now: at(2))
            #expect(reply == .submitted(store.job(JobID(key))!, created: false))
        }
        #expect(store.jobCount == 2_000)
    }

    @Test func submitBeyondJobsMaxIsFullButRetriesStillAnswer() {
        var configuration = JobStoreModel.Configuration()
        configuration.jobsMax = 2
        var store = JobStoreModel(configuration: configuration)
        _ = store.apply(.submit(jobSpec(key: 1)), now: at(1))
        _ = store.apply(.submit(jobSpec(key: 2)), now: at(1))
        #expect(store.apply(.submit(jobSpec(key: 3)), now: at(2)) == .full)
        #expect(store.apply(.submit(jobSpec(key: 0)), now: at(2)) == .full)
        #expect(store.apply(.submit(jobSpec(key: 2)), now: at(3)) == .submitted(store.job(JobID(2))!, created: false))
        #expect(store.jobCount == 2)
    }

    @Test func markQueuedMovesAcceptedOnceAndIgnoresDuplicates() {
        var store = JobStoreModel(configuration: .init())
        _ = store.apply(.submit(jobSpec()), now: at(1))
        #expect(store.apply(.markQueued([JobID(1)]), now: at(2)) == .markedQueued(count: 1))
        guard let record = store.job(JobID(1)) else {
            Issue.record("job 1 is gone")
            return
        }
        #expect(record.state == .queued && record.rowVersion == 2 && record.updatedAt == at(2))
        #expect(record.createdAt == at(1) && record.status == .queued)
        #expect(store.apply(.markQueued([JobID(1)]), now: at(3)) == .markedQueued(count: 0))
        #expect(store.apply(.markQueued([JobID(9)]), now: at(3)) == .markedQueued(count: 0))
        #expect(store.job(JobID(1)) == record, "a job no longer accepted is left alone")
    }

    @Test func groupMarkQueuedMovesOnlyTheListedAcceptedJobs() {
        var store = JobStoreModel(configuration: .init())
        for _ in 1...5 { _ = store.apply(.submit(jobSpec()), now: at(1)) }
        _ = store.apply(.lease(JobID(2), worker: 0, leaseFor: .seconds(30), attemptsMax: 3), now: at(2))
        let before = (1...5).map { store.job(JobID(UInt64($0)))! }
        let ids = [JobID(1), JobID(2), JobID(1), JobID(9), JobID(4), JobID(0)]
        #expect(store.apply(.markQueued(ids), now: at(3)) == .markedQueued(count: 2), "jobs 1 and 4, once each")
        for (index, old) in before.enumerated() {
            let current = store.job(old.id)!
            if old.id == JobID(1) || old.id == JobID(4) {
                var expected = old
                expected.state = .queued
                expected.rowVersion = old.rowVersion + 1
                expected.updatedAt = at(3)
                #expect(current == expected, "job \(index + 1) moves to queued with one write")
            } else {
                #expect(current == old, "job \(index + 1) is not listed or no longer accepted")
            }
        }
        #expect(store.acceptedJobs(limit: 10) == [JobID(3), JobID(5)])
        #expect(store.apply(.markQueued([]), now: at(4)) == .markedQueued(count: 0))
        #expect(store.apply(.markQueued([JobID(3), JobID(5)]), now: at(5)) == .markedQueued(count: 2))
        #expect(store.acceptedJobs(limit: 10).isEmpty)
    }

    @Test func inspectReadsJobsOfAnyTenantInTheOrderAskedAndChangesNothing() {
        var store = JobStoreModel(configuration: .init())
        _ = store.apply(.submit(jobSpec(tenant: 1)), now: at(1))
        _ = store.apply(.submit(jobSpec(tenant: 2)), now: at(1))
        _ = store.apply(.submit(jobSpec(tenant: 3)), now: at(1))
        _ = store.apply(.lease(JobID(2), worker: 0, leaseFor: .seconds(30), attemptsMax: 3), now: at(2))
        let rows = (1...3).map { store.job(JobID(UInt64($0)))! }
        let reply = store.apply(.inspect([JobID(3), JobID(7), JobID(1), JobID(2)]), now: at(5))
        #expect(reply == .records([rows[2], rows[0], rows[1]]), "unknown job 7 is left out")
        #expect((1...3).map { store.job(JobID(UInt64($0)))! } == rows, "a read writes nothing")
        #expect(store.apply(.inspect([]), now: at(6)) == .records([]))
        #expect(store.apply(.inspect([JobID(0), JobID(4)]), now: at(6)) == .records([]))
    }

    @Test func leaseTakesAQueuedJobAndRefusesASecondWorkerWhileItRuns() {
        var store = Self.queuedStore()
        let leased = store.apply(.lease(JobID(1), worker: 3, leaseFor: .seconds(30), attemptsMax: 3), now: at(10))
        guard case .updated(let record) = leased else {
            Issue.record("expected .updated, got \(leased)")
            return
        }
        #expect(record.state == .leased && record.attempt == 1 && record.leaseHolder == 3)
        #expect(record.leaseExpiresAt == at(40) && record.itemsDone == 0 && record.status == .running)
        let second = store.apply(.lease(JobID(1), worker: 4, leaseFor: .seconds(30), attemptsMax: 3), now: at(39))
        #expect(second == .notApplicable(record))
        #expect(
            store.apply(.lease(JobID(7), worker: 4, leaseFor: .seconds(1), attemptsMax: 3), now: at(39)) == .notFound)
    }

    @Test func anExpiredLeaseGoesToTheNextWorkerAndFencesTheFirst() {
        var store = Self.leasedStore()
        _ = store.apply(.renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 2), now: at(20))
        let taken = store.apply(.lease(JobID(1), worker: 4, leaseFor: .seconds(30), attemptsMax: 3), now: at(50))
        guard case .updated(let record) = taken else {
            Issue.record("expected .updated, got \(taken)")
            return
        }
        #expect(record.attempt == 2 && record.leaseHolder == 4 && record.itemsDone == 0)
        let zombie = store.apply(
            .complete(JobID(1), attempt: 1, result: ResultLocation(job: JobID(1), attempt: 1)),
            now: at(51))
        #expect(zombie == .fenced(record))
        #expect(
            store.apply(.renew(JobID(1), attempt: 1, leaseFor: .seconds(9), itemsDone: 4), now: at(52))
                == .fenced(record))
        #expect(store.job(JobID(1)) == record)
    }

    @Test func anAcceptedJobIsLeasableBecauseItsMessageWasDelivered() {
        var store = JobStoreModel(configuration: .init())
        _ = store.apply(.submit(jobSpec()), now: at(1))
        let leased = store.apply(.lease(JobID(1), worker: 0, leaseFor: .seconds(5), attemptsMax: 1), now: at(2))
        #expect(leased.carried?.state == .leased)
        #expect(store.acceptedJobs(limit: 10).isEmpty)
        #expect(store.apply(.markQueued([JobID(1)]), now: at(3)) == .markedQueued(count: 0))
        #expect(store.job(JobID(1))?.state == .leased)
    }

    @Test func renewExtendsTheLeaseAndProgressNeverGoesBack() {
        var store = Self.leasedStore()
        let renewed = store.apply(.renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 3), now: at(20))
        #expect(renewed.carried?.leaseExpiresAt == at(50) && renewed.carried?.itemsDone == 3)
        #expect(renewed.carried?.rowVersion == 4)
        let late = store.apply(.renew(JobID(1), attempt: 1, leaseFor: .seconds(30), itemsDone: 1), now: at(21))
        #expect(late.carried?.itemsDone == 3 && late.carried?.leaseExpiresAt == at(51))
        #expect(
            store.apply(.renew(JobID(1), attempt: 2, leaseFor: .seconds(30), itemsDone: 4), now: at(22))
                == .fenced(store.job(JobID(1))!))
        #expect(
            store.apply(.renew(JobID(5), attempt: 1, leaseFor: .seconds(30), itemsDone: 0), now: at(22)) == .notFound)
    }

    @Test func releaseRequeuesWithoutCountingAsAFailure() {
        var store = Self.leasedStore()
        let released = store.apply(.release(JobID(1), attempt: 1), now: at(20))
        guard case .updated(let record) = released else {
            Issue.record("expected .updated, got \(released)")
            return
        }
        #expect(record.state == .queued && record.attempt == 1 && record.leaseHolder == -1)
        #expect(record.notBefore == at(20) && record.status == .running)
        #expect(store.apply(.release(JobID(1), attempt: 1), now: at(21)) == .notApplicable(record))
        // Releases never bring a job closer to dead-lettering, even with attemptsMax 1.
        for round in Int64(1)...5 {
            let lease = store.apply(
                .lease(JobID(1), worker: 2, leaseFor: .seconds(5), attemptsMax: 1), now: at(30 + round))
            let attempt = lease.carried?.attempt ?? -1
            #expect(lease.carried?.state == .leased && attempt == Int(round) + 1)
            _ = store.apply(.release(JobID(1), attempt: attempt), now: at(30 + round))
        }
    }

    @Test func completeStoresTheResultOnce() {
        var store = Self.leasedStore()
        let result = ResultLocation(job: JobID(1), attempt: 1)
        let completed = store.apply(.complete(JobID(1), attempt: 1, result: result), now: at(20))
        guard case .updated(let record) = completed else {
            Issue.record("expected .updated, got \(completed)")
            return
        }
        #expect(record.state == .succeeded && record.result == result && record.status == .succeeded)
        #expect(record.leaseHolder == -1 && record.itemsDone == 4 && record.failure == nil)
        #expect(store.apply(.fail(JobID(1), attempt: 1, .rejectedByBackend), now: at(21)) == .notApplicable(record))
        #expect(
            store.apply(.lease(JobID(1), worker: 1, leaseFor: .seconds(5), attemptsMax: 3), now: at(99))
                == .notApplicable(record))
    }

    @Test func aCommitWithUnknownOutcomeRetriedIsRecognised() {
        var store = Self.leasedStore()
        let result = ResultLocation(job: JobID(1), attempt: 1)
        let first = store.apply(.complete(JobID(1), attempt: 1, result: result), now: at(20))
        // The reply was lost; the worker retries after its lease would have expired.
        let retried = store.apply(.complete(JobID(1), attempt: 1, result: result), now: at(60))
        #expect(retried == .notApplicable(first.carried!))
        #expect(store.job(JobID(1))?.rowVersion == first.carried?.rowVersion)
    }

    @Test func anExpiredLeaseNobodyRetookStillCompletes() {
        var store = Self.leasedStore()
        let result = ResultLocation(job: JobID(1), attempt: 1)
        let late = store.apply(.complete(JobID(1), attempt: 1, result: result), now: at(100))
        #expect(late.carried?.state == .succeeded && late.carried?.result == result)
        #expect(late.carried?.leaseExpiresAt == at(40))
    }

    @Test func retryLaterWaitsForItsBackoffThenDeadLettersAfterAttemptsMax() {
        var store = Self.queuedStore()
        var now = at(10)
        for attempt in 1...3 {
            let leased = store.apply(.lease(JobID(1), worker: attempt, leaseFor: .seconds(5), attemptsMax: 3), now: now)
            #expect(leased.carried?.attempt == attempt && leased.carried?.state == .leased)
            let retry = store.apply(.retryLater(JobID(1), attempt: attempt, notBefore: now + .seconds(10)), now: now)
            #expect(retry.carried?.state == .queued && retry.carried?.notBefore == now + .seconds(10))
            #expect(retry.carried?.status == .running && retry.carried?.leaseHolder == -1)
            let early = store.apply(
                .lease(JobID(1), worker: 9, leaseFor: .seconds(5), attemptsMax: 3), now: now + .seconds(9))
            #expect(early == .notApplicable(retry.carried!))
            now = now + .seconds(10)
        }
        let exhausted = store.apply(.lease(JobID(1), worker: 9, leaseFor: .seconds(5), attemptsMax: 3), now: now)
        guard case .deadLettered(let record) = exhausted else {
            Issue.record("expected dead letter: \(exhausted)")
            return
        }
        #expect(record.state == .deadLettered && record.failure == .attemptsExhausted && record.attempt == 3)
        #expect(record.result == nil && record.leaseHolder == -1 && record.status == .deadLettered)
        #expect(
            store.apply(.lease(JobID(1), worker: 9, leaseFor: .seconds(5), attemptsMax: 9), now: now)
                == .notApplicable(record))
        #expect(store.apply(.retryLater(JobID(1), attempt: 2, notBefore: now), now: now) == .fenced(record))
    }

    @Test func failEndsTheJobForGood() {
        var store = Self.leasedStore()
        #expect(
            store.apply(.fail(JobID(1), attempt: 0, .rejectedByBackend), now: at(20)) == .fenced(store.job(JobID(1))!))
        let failed = store.apply(.fail(JobID(1), attempt: 1, .rejectedByBackend), now: at(20))
        #expect(failed.carried?.state == .failed && failed.carried?.failure == .rejectedByBackend)
        #expect(failed.carried?.status == .failed && failed.carried?.result == nil)
        #expect(store.apply(.cancel(JobID(1), tenant: 1), now: at(21)) == .notApplicable(failed.carried!))
    }

    @Test func cancelChecksTheTenantAndStopsAtTerminalStates() {
        var store = Self.queuedStore()
        #expect(store.apply(.cancel(JobID(1), tenant: 2), now: at(5)) == .notFound)
        #expect(store.apply(.cancel(JobID(8), tenant: 1), now: at(5)) == .notFound)
        let cancelled = store.apply(.cancel(JobID(1), tenant: 1), now: at(5))
        #expect(cancelled.carried?.state == .cancelled && cancelled.carried?.failure == .cancelledByClient)
        #expect(cancelled.carried?.status == .cancelled && cancelled.carried?.rowVersion == 3)
        #expect(store.apply(.cancel(JobID(1), tenant: 1), now: at(6)) == .notApplicable(cancelled.carried!))
        #expect(
            store.apply(.lease(JobID(1), worker: 0, leaseFor: .seconds(5), attemptsMax: 3), now: at(7))
                == .notApplicable(cancelled.carried!))
    }

    @Test func cancelThenCompleteNeverSetsAResult() {
        var store = Self.leasedStore()
        let cancelled = store.apply(.cancel(JobID(1), tenant: 1), now: at(20))
        #expect(cancelled.carried?.leaseHolder == -1 && cancelled.carried?.leaseExpiresAt == at(20))
        let result = ResultLocation(job: JobID(1), attempt: 1)
        #expect(
            store.apply(.complete(JobID(1), attempt: 1, result: result), now: at(21))
                == .notApplicable(cancelled.carried!))
        #expect(
            store.apply(.renew(JobID(1), attempt: 1, leaseFor: .seconds(5), itemsDone: 1), now: at(21))
                == .notApplicable(cancelled.carried!))
        #expect(store.job(JobID(1))?.result == nil)
    }

    @Test func completeThenCancelKeepsTheResult() {
        var store = Self.leasedStore()
        let result = ResultLocation(job: JobID(1), attempt: 1)
        let completed = store.apply(.complete(JobID(1), attempt: 1, result: result), now: at(20))
        #expect(store.apply(.cancel(JobID(1), tenant: 1), now: at(20)) == .notApplicable(completed.carried!))
        #expect(store.job(JobID(1))?.result == result)
    }

    @Test func getShowsAJobToItsTenantOnly() {
        var store = Self.queuedStore()
        #expect(store.apply(.get(JobID(1), tenant: 1), now: at(3)) == .record(store.job(JobID(1))!))
        #expect(store.apply(.get(JobID(1), tenant: 2), now: at(3)) == .notFound)
        #expect(store.apply(.get(JobID(2), tenant: 1), now: at(3)) == .notFound)
        #expect(store.job(JobID(1))?.rowVersion == 2)
    }

    @Test func acceptedJobsListsTheOutboxOldestFirst() {
        var store = JobStoreModel(configuration: .init())
        for _ in 1...500 { _ = store.apply(.submit(jobSpec()), now: at(1)) }
        for id in UInt64(1)...500 where id % 7 != 0 { _ = store.apply(.markQueued([JobID(id)]), now: at(2)) }
        let expected = (UInt64(1)...500).filter { $0 % 7 == 0 }.map { JobID($0) }
        #expect(store.acceptedJobs(limit: 1_000) == expected)
        #expect(store.acceptedJobs(limit: 3) == [JobID(7), JobID(14), JobID(21)])
        #expect(store.acceptedJobs(limit: 0).isEmpty)
        _ = store.apply(.cancel(JobID(7), tenant: 1), now: at(3))
        _ = store.apply(.submit(jobSpec()), now: at(4))
        #expect(store.acceptedJobs(limit: 2) == [JobID(14), JobID(21)])
        #expect(store.acceptedJobs(limit: 1_000).last == JobID(501))
    }

    @Test func sabotageIgnoresFencingLetsAZombieOverwriteTheResult() {
        var configuration = JobStoreModel.Configuration()
        configuration.ignoresFencing = true
        var store = Self.leasedStore(configuration: configuration)
        _ = store.apply(.lease(JobID(1), worker: 4, leaseFor: .seconds(30), attemptsMax: 3), now: at(50))
        let second = ResultLocation(job: JobID(1), attempt: 2)
        _ = store.apply(.complete(JobID(1), attempt: 2, result: second), now: at(51))
        let zombie = store.apply(
            .complete(JobID(1), attempt: 1, result: ResultLocation(job: JobID(1), attempt: 1)),
            now: at(52))
        #expect(zombie.carried?.result == ResultLocation(job: JobID(1), attempt: 1))
        #expect(store.job(JobID(1))?.result != second)
    }

    @Test func sabotageIgnoresIdempotencyCreatesDuplicates() {
        var configuration = JobStoreModel.Configuration()
        configuration.ignoresIdempotency = true
        var store = JobStoreModel(configuration: configuration)
        _ = store.apply(.submit(jobSpec(key: 42)), now: at(1))
        let duplicate = store.apply(.submit(jobSpec(key: 42)), now: at(2))
        #expect(duplicate == .submitted(store.job(JobID(2))!, created: true))
        #expect(store.apply(.submit(jobSpec(key: 42, body: 99)), now: at(3)).carried?.id == JobID(3))
    }
}
