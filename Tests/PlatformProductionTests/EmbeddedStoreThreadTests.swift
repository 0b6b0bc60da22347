import Foundation
import PlatformCore
import Testing

@testable import PlatformProduction

/// A mailbox that collects posted jobs and runs them when the test asks, as a reactor would between rounds.
final class CollectingMailbox: Mailbox, @unchecked Sendable {
    // @unchecked: `jobs` is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []

    func post(_ job: @escaping @Sendable () -> Void) {
        condition.withLock {
            jobs.append(job)
            condition.broadcast()
        }
    }

    /// Waits until `count` jobs are waiting, then takes them all and runs them in order on the calling thread.
    func run(awaiting count: Int) -> Bool {
        let taken: [@Sendable () -> Void]? = condition.withLock {
            let deadline = Date().addingTimeInterval(10)
            while jobs.count < count { if !condition.wait(until: deadline) { return nil } }
            defer { jobs = [] }
            return jobs
        }
        guard let taken else { return false }
        for job in taken { job() }
        return true
    }
}

/// Answers gathered on the "reactor" thread.
final class Answers: @unchecked Sendable {
    // @unchecked: appended only from the thread that runs `CollectingMailbox.run`.
    var values: [(StoreRequestID, JobStoreAnswer)] = []
}

@Suite struct EmbeddedStoreThreadTests {
    @Test func workRunsInOrderAndShutdownDrains() {
        let thread = StoreThread(name: "test-store")
        let mailbox = CollectingMailbox()
        let seen = StoreConfined<[Int]>([])
        for index in 0..<100 {
            #expect(thread.submit { seen.value.append(index) })
        }
        thread.submit { mailbox.post {} }
        thread.shutdown()
        #expect(seen.value == Array(0..<100))
        #expect(mailbox.run(awaiting: 1))
        #expect(!thread.submit {})
    }

    @Test func jobStoreServiceAnswersThroughTheMailbox() throws {
        let folder = try TemporaryFolder()
        let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: folder.file("jobs.sqlite")))
        let thread = StoreThread()
        let service = JobStoreService(store: store, thread: thread)
        let mailbox = CollectingMailbox()
        let answers = Answers()
        let spec = JobSpec(tenant: 1, model: ModelID(1), version: 1, itemCount: 1, idempotencyKey: 0, bodyHash: 1)
        for index in 1...50 {
            service.send(StoreRequestID(UInt64(index)), .submit(spec), now: Instant(nanoseconds: 5), replyTo: mailbox) {
                answers.values.append(($0, $1))
            }
        }
        #expect(mailbox.run(awaiting: 50))
        thread.shutdown()
        #expect(answers.values.map(\.0.value) == Array(1...50))
        for (id, answer) in answers.values {
            guard case .replied(.submitted(let record, created: true)) = answer else {
                Issue.record("request \(id.value): \(answer)")
                continue
            }
            #expect(record.id.value == id.value)
        }
        // After shutdown the service answers unavailable instead of losing the request.
        service.send(StoreRequestID(99), .get(JobID(1), tenant: 1), now: .zero, replyTo: mailbox) {
            answers.values.append(($0, $1))
        }
        #expect(mailbox.run(awaiting: 1))
        #expect(answers.values.last?.1 == .failed(.unavailable))
    }

    /// Submit, lease and complete cycles through the service with every request of a phase in flight at
    /// once, as many reactors would send them: group commit decides the rate. Prints commands per second.
    @Test func measuresServiceThroughput() throws {
        let cycles = ProcessInfo.processInfo.environment["EMBEDDED_BENCH_CYCLES"].flatMap { Int($0) } ?? 50
        let folder = try TemporaryFolder()
        let store = try EmbeddedJobStore(database: try SQLiteDatabase(path: folder.file("jobs.sqlite")))
        let thread = StoreThread()
        let service = JobStoreService(store: store, thread: thread)
        let mailbox = CollectingMailbox()
        let answers = Answers()
        let spec = JobSpec(tenant: 1, model: ModelID(1), version: 1, itemCount: 1, idempotencyKey: 0, bodyHash: 1)
        let started = ContinuousClock.now
        let phases: [(JobID) -> JobStoreCommand] = [
            { _ in .submit(spec) },
            { .lease($0, worker: 0, leaseFor: .seconds(30), attemptsMax: 3) },
            { .complete($0, attempt: 1, result: ResultLocation(job: $0, attempt: 1)) },
        ]
        for (phase, command) in phases.enumerated() {
            for index in 1...cycles {
                let id = StoreRequestID(UInt64(phase * cycles + index))
                service.send(
                    id, command(JobID(UInt64(index))), now: Instant(nanoseconds: Int64(phase)), replyTo: mailbox
                ) {
                    answers.values.append(($0, $1))
                }
            }
            #expect(mailbox.run(awaiting: cycles))
        }
        let elapsed = ContinuousClock.now - started
        thread.shutdown()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(store.model.state(of: JobID(UInt64(cycles))) == .succeeded)
        print(
            "job store service: \(3 * cycles) commands in \(seconds)s = \(Int(Double(3 * cycles) / seconds)) commands/s"
        )
    }
}
