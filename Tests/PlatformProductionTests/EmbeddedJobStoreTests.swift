import Foundation
import PlatformCore
import Testing

@testable import PlatformProduction

@Suite struct EmbeddedJobStoreTests {
    private static func spec(tenant: Int = 1, key: UInt64 = 0, body: UInt64 = 7, items: Int = 3) -> JobSpec {
        JobSpec(tenant: tenant, model: ModelID(1), version: 1, itemCount: items, idempotencyKey: key, bodyHash: body)
    }

    @Test func acknowledgedStateSurvivesReopen() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("jobs.sqlite")
        var expected: [JobRecord] = []
        do {
            let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path))
            _ = try store.apply(.submit(Self.spec(key: 11)), now: Instant(nanoseconds: 10))
            _ = try store.apply(.submit(Self.spec()), now: Instant(nanoseconds: 20))
            _ = try store.apply(.markQueued([JobID(1), JobID(2)]), now: Instant(nanoseconds: 30))
            let leaseFor = PlatformCore.Duration.seconds(5)
            _ = try store.apply(
                .lease(JobID(1), worker: 0, leaseFor: leaseFor, attemptsMax: 2), now: Instant(nanoseconds: 40))
            _ = try store.apply(
                .retryLater(JobID(1), attempt: 1, notBefore: Instant(nanoseconds: 90)), now: Instant(nanoseconds: 50))
            expected = [store.model.job(JobID(1))!, store.model.job(JobID(2))!]
        }
        let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path))
        #expect(store.model.jobCount == 2)
        #expect([store.model.job(JobID(1))!, store.model.job(JobID(2))!] == expected)
        // Idempotency survives: the same key and body finds job 1.
        let again = try store.apply(.submit(Self.spec(key: 11)), now: Instant(nanoseconds: 60))
        #expect(again == .submitted(expected[0], created: false))
        // So does the failed-attempt count the model keeps privately: the second lease dead-letters.
        let lease = try store.apply(
            .lease(JobID(1), worker: 0, leaseFor: .seconds(5), attemptsMax: 1), now: Instant(nanoseconds: 100))
        guard case .deadLettered = lease else {
            Issue.record("expected a dead letter, got \(lease)")
            return
        }
        #expect(try store.logLength() == 6)
    }

    @Test func editedRowsAreDetectedOnOpen() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("jobs.sqlite")
        do {
            let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path))
            _ = try store.apply(.submit(Self.spec()), now: Instant(nanoseconds: 10))
        }
        try SQLiteDatabase(path: path).execute("UPDATE jobs SET attempt = 5")
        #expect(throws: EmbeddedStoreError.self) { try EmbeddedJobStore(database: try SQLiteDatabase(path: path)) }
        try SQLiteDatabase(path: path).execute("UPDATE job_log SET command = x'0163'")
        let error = #expect(throws: LogDecodingError.self) {
            try EmbeddedJobStore(database: try SQLiteDatabase(path: path))
        }
        #expect(error?.description.contains("job_log") == true)
    }

    /// A write that cannot commit (another connection holds the lock) is refused as `.unavailable`, and the
    /// model goes back to what the disk holds: the refused submit's job id is handed out again later.
    @Test func failedCommitLeavesModelEqualToDisk() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("jobs.sqlite")
        let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path, busyTimeoutMs: 20))
        _ = try store.apply(.submit(Self.spec()), now: Instant(nanoseconds: 1))
        let blocker = try SQLiteDatabase(path: path)
        try blocker.execute("BEGIN IMMEDIATE")
        let error = #expect(throws: JobStoreWriteError.self) {
            try store.apply(.submit(Self.spec()), now: Instant(nanoseconds: 2))
        }
        #expect(error?.failure == .unavailable)
        #expect(store.model.jobCount == 1)
        // Reads need no write lock and still answer.
        #expect(try store.apply(.get(JobID(1), tenant: 1), now: Instant(nanoseconds: 3)) != .notFound)
        try blocker.execute("ROLLBACK")
        let reply = try store.apply(.submit(Self.spec()), now: Instant(nanoseconds: 4))
        guard case .submitted(let record, created: true) = reply else {
            Issue.record("expected a new job, got \(reply)")
            return
        }
        #expect(record.id == JobID(2))
    }

    /// One random command over a handful of jobs, valid for the core's preconditions given `reference`.
    private static func command(_ random: inout SeededRandom, _ reference: JobStoreModel) -> JobStoreCommand {
        let jobs = reference.jobCount
        let id = JobID(UInt64(random.below(jobs + 2)))  // sometimes 0 or one past the end: .notFound
        let attempt = random.below(4)
        let leaseFor = PlatformCore.Duration.nanoseconds(random.between(1, 400))
        switch random.below(12) {
        case 0, 1:
            let key = UInt64(random.below(4))
            return .submit(
                spec(tenant: random.below(2), key: key, body: UInt64(random.below(2)), items: random.below(5)))
        case 2: return .markQueued((0..<random.below(4)).map { _ in JobID(UInt64(random.below(jobs + 2))) })
        case 3, 4: return .lease(id, worker: random.below(3), leaseFor: leaseFor, attemptsMax: 1 + random.below(3))
        case 5:
            let items = reference.job(id)?.spec.itemCount ?? 0
            return .renew(id, attempt: attempt, leaseFor: leaseFor, itemsDone: random.below(items + 1))
        case 6: return .release(id, attempt: attempt)
        case 7: return .complete(id, attempt: attempt, result: ResultLocation(job: id, attempt: attempt))
        case 8: return .retryLater(id, attempt: attempt, notBefore: Instant(nanoseconds: random.between(0, 2_000)))
        case 9: return .fail(id, attempt: attempt, .rejectedByBackend)
        case 10: return .cancel(id, tenant: random.below(2))
        default: return random.below(2) == 0 ? .get(id, tenant: random.below(2)) : .inspect([id, JobID(1)])
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func answersExactlyAsTheModel(seed: UInt64) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("jobs.sqlite")
        var random = SeededRandom(seed: seed)
        var configuration = JobStoreModel.Configuration()
        configuration.jobsMax = 40
        var reference = JobStoreModel(configuration: configuration)
        var store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path), configuration: configuration)
        var now: Int64 = 0
        for step in 0..<600 {
            now += random.between(0, 20)
            // Sometimes several commands in one transaction, each at its own instant, as the group-committing
            // service sends them.
            let count = random.below(4) == 0 ? 1 + random.below(4) : 1
            var commands: [(command: JobStoreCommand, now: Instant)] = []
            var expected: [JobStoreReply] = []
            for _ in 0..<count {
                let command = Self.command(&random, reference)
                now += random.between(0, 3)
                commands.append((command, Instant(nanoseconds: now)))
                expected.append(reference.apply(command, now: Instant(nanoseconds: now)))
            }
            let replies = try store.apply(commands)
            #expect(replies == expected, "reproduce with seed=\(seed), step \(step): \(commands.map(\.command))")
            if replies != expected { return }
            if random.below(50) == 0 {
                store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path), configuration: configuration)
            }
        }
        store = try EmbeddedJobStore(database: try SQLiteDatabase(path: path), configuration: configuration)
        #expect(store.model.jobCount == reference.jobCount, "seed=\(seed)")
        for raw in 0...reference.jobCount {
            #expect(store.model.job(JobID(UInt64(raw))) == reference.job(JobID(UInt64(raw))), "seed=\(seed)")
        }
        #expect(store.acceptedJobs(limit: 100) == reference.acceptedJobs(limit: 100), "seed=\(seed)")
    }

    /// Submit + lease + complete cycles, one command per transaction and grouped by `batch`; prints the rate.
    /// `EMBEDDED_BENCH_CYCLES` raises the count for a real measurement (the default keeps the test quick).
    @Test func measuresCycleThroughput() throws {
        let cycles = ProcessInfo.processInfo.environment["EMBEDDED_BENCH_CYCLES"].flatMap { Int($0) } ?? 50
        for batch in [1, 32] {
            let folder = try TemporaryFolder()
            let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: folder.file("jobs.sqlite")))
            let started = ContinuousClock.now
            var next: UInt64 = 1
            var commands = 0
            while Int(next) <= cycles {
                let ids = (next..<min(next + UInt64(batch), UInt64(cycles) + 1)).map(JobID.init)
                next += UInt64(ids.count)
                let now = Instant(nanoseconds: Int64(next) * 1_000)
                _ = try store.apply(ids.map { _ in .submit(Self.spec()) }, now: now)
                _ = try store.apply(
                    ids.map { .lease($0, worker: 0, leaseFor: .seconds(30), attemptsMax: 3) },
                    now: now + .nanoseconds(1))
                let replies = try store.apply(
                    ids.map { .complete($0, attempt: 1, result: ResultLocation(job: $0, attempt: 1)) },
                    now: now + .nanoseconds(2))
                for reply in replies {
                    guard case .updated(let record) = reply, record.state == .succeeded else {
                        Issue.record("cycle did not complete: \(reply)")
                        return
                    }
                }
                commands += 3 * ids.count
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                "embedded job store, batch \(batch): \(commands) commands in \(seconds)s = \(Int(Double(commands) / seconds)) commands/s"
            )
        }
    }
}
