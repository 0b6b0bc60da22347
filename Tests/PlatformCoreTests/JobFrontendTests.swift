// The batch API as a transcript: authentication and validation, idempotent store commands retried
// after failures, 202 only once the row is durable, the job message published after it, tenant
// scoping of reads and cancels, and store answers mapped to HTTP statuses.

import Testing

@testable import PlatformCore

@Suite struct JobFrontendTests {
    func frontend() -> JobFrontend {
        var configuration = JobFrontend.Configuration()
        configuration.keys = [
            Gateway.APIKey(credential: "sk-a", name: "a"),
            Gateway.APIKey(credential: "sk-reader", name: "r", mayInfer: false),
        ]
        configuration.deployment = Deployment(
            models: [
                Deployment.Model(
                    name: "m",
                    versions: [
                        Deployment.Version(number: 1, state: .serving, weight: 1, backends: [BackendID(0)]),
                        Deployment.Version(number: 2, state: .canary, weight: 1, backends: [BackendID(0)]),
                    ], inputElementsMax: 10)
            ], backendCount: 1)
        configuration.partitionCount = 4
        return JobFrontend(configuration: configuration)
    }

    func submission(_ id: UInt64, credential: String = "sk-a", items: Int = 5, key: UInt64 = 0) -> BatchSubmission {
        BatchSubmission(
            request: RequestID(id), credential: credential, model: ModelID(0), version: 0, itemCount: items,
            idempotencyKey: key, bodyHash: 42)
    }

    func commands(_ actions: [JobFrontend.Action]) -> [(StoreRequestID, JobStoreCommand)] {
        actions.compactMap { if case .store(let id, let command) = $0 { return (id, command) } else { return nil } }
    }

    func responses(_ actions: [JobFrontend.Action]) -> [(RequestID, BatchOutcome)] {
        actions.compactMap { if case .respond(let id, let outcome) = $0 { return (id, outcome) } else { return nil } }
    }

    func publishes(_ actions: [JobFrontend.Action]) -> [(batch: UInt64, partition: PartitionID, jobs: [JobID])] {
        actions.compactMap {
            guard case .publish(let batch, let partition, let jobs) = $0 else { return nil }
            return (batch, partition, jobs)
        }
    }

    func timers(_ actions: [JobFrontend.Action]) -> [(TimerID, Instant)] {
        actions.compactMap { if case .setTimer(let timer, let at) = $0 { return (timer, at) } else { return nil } }
    }

    /// Submits a request and answers it with a new accepted job `job`; returns the actions of the answer.
    func accept(_ machine: inout JobFrontend, _ job: JobID, now: Instant = .zero) -> [JobFrontend.Action] {
        var actions: [JobFrontend.Action] = []
        machine.handle(.submit(submission(job.value)), now: now, into: &actions)
        guard case (let id, .submit(let spec))? = commands(actions).first else {
            Issue.record("no submit command for \(job)")
            return []
        }
        actions.removeAll()
        let record = JobRecord(id: job, spec: spec, now: now)
        machine.handle(.storeReplied(id, .submitted(record, created: true)), now: now, into: &actions)
        return actions
    }

    /// The first `count` job ids whose messages go to `partition`.
    func jobs(on partition: PartitionID, count: Int, of machine: JobFrontend) -> [JobID] {
        let candidates = (UInt64(1)...10_000).lazy.map { JobID($0) }
        return Array(candidates.filter { machine.partition(of: $0) == partition }.prefix(count))
    }

    /// Feeds one input and returns its actions.
    func feed(_ machine: inout JobFrontend, _ input: JobFrontend.Input, now: Instant = .zero) -> [JobFrontend.Action] {
        var actions: [JobFrontend.Action] = []
        machine.handle(input, now: now, into: &actions)
        return actions
    }

    @Test(arguments: [
        ("sk-x", 5, ErrorKind.unauthorized), ("sk-reader", 5, .forbidden), ("sk-a", 0, .badRequest),
        ("sk-a", 10_001, .badRequest),
    ])
    func refusesBadSubmissions(_ credential: String, _ items: Int, _ expected: ErrorKind) {
        var machine = frontend()
        var actions: [JobFrontend.Action] = []
        machine.handle(.submit(submission(1, credential: credential, items: items)), now: .zero, into: &actions)
        #expect(responses(actions).map(\.1) == [.failed(expected, retryAfter: .zero)])
        #expect(commands(actions).isEmpty)
    }

    @Test func submitStoresThenAnswersThenPublishes() throws {
        var machine = frontend()
        var actions: [JobFrontend.Action] = []
        machine.handle(.submit(submission(1)), now: .zero, into: &actions)
        guard case (let id, .submit(let spec))? = commands(actions).first else {
            Issue.record("no submit command")
            return
        }
        #expect(spec.version == 1, "an unpinned job runs on the serving version")
        #expect(spec.idempotencyKey != 0, "a key is derived when the client sent none")
        #expect(responses(actions).isEmpty, "nothing is answered before the row is durable")
        actions.removeAll()
        let record = JobRecord(id: JobID(7), spec: spec, now: .zero)
        machine.handle(.storeReplied(id, .submitted(record, created: true)), now: .zero, into: &actions)
        #expect(responses(actions).map(\.1) == [.job(record)])
        let sent = try #require(publishes(actions).first)
        #expect(sent.partition == machine.partition(of: JobID(7)) && sent.jobs == [JobID(7)])
        #expect(timers(actions).map(\.0) == [TimerID(sent.batch << 2 | 1)], "a publish timeout is set")
        #expect(timers(actions).map(\.1) == [.zero + .seconds(2)])
        actions.removeAll()
        machine.handle(.published(batch: sent.batch, succeeded: true), now: .zero, into: &actions)
        #expect(commands(actions).map(\.1) == [.markQueued([JobID(7)])])
        #expect(machine.unpublishedCount == 0)
    }

    @Test func storeFailuresAreRetriedThenAnswered503() {
        var machine = frontend()
        var actions: [JobFrontend.Action] = []
        machine.handle(.submit(submission(1)), now: .zero, into: &actions)
        var (id, command) = commands(actions)[0]
        var now = Instant.zero
        for _ in 1..<3 {
            actions.removeAll()
            machine.handle(.storeFailed(id, .outcomeUnknown), now: now, into: &actions)
            guard case .setTimer(let timer, let at)? = actions.first else {
                Issue.record("no retry timer")
                return
            }
            now = at
            actions.removeAll()
            machine.handle(.timerFired(timer), now: now, into: &actions)
            #expect(commands(actions).map(\.1) == [command], "the same idempotent command is repeated")
            (id, command) = commands(actions)[0]
        }
        actions.removeAll()
        machine.handle(.storeFailed(id, .unavailable), now: now, into: &actions)
        #expect(responses(actions).map(\.1) == [.failed(.unavailable, retryAfter: .seconds(1))])
        #expect(machine.pendingCount == 0)
    }

    @Test func readsAndCancelsAreTenantScopedAndMapped() {
        var machine = frontend()
        var actions: [JobFrontend.Action] = []
        machine.handle(.getJob(RequestID(1), credential: "sk-a", JobID(3)), now: .zero, into: &actions)
        #expect(commands(actions).map(\.1) == [.get(JobID(3), tenant: 0)])
        let id = commands(actions)[0].0
        actions.removeAll()
        machine.handle(.storeReplied(id, .notFound), now: .zero, into: &actions)
        #expect(responses(actions).map(\.1) == [.failed(.notFound, retryAfter: .zero)])
        actions.removeAll()
        machine.handle(.cancelJob(RequestID(2), credential: "sk-a", JobID(3)), now: .zero, into: &actions)
        #expect(commands(actions).map(\.1) == [.cancel(JobID(3), tenant: 0)])
    }

    @Test func idempotencyConflictIs409() {
        var machine = frontend()
        var actions: [JobFrontend.Action] = []
        machine.handle(.submit(submission(1, key: 99)), now: .zero, into: &actions)
        let id = commands(actions)[0].0
        actions.removeAll()
        machine.handle(.storeReplied(id, .idempotencyConflict(existing: JobID(1))), now: .zero, into: &actions)
        #expect(responses(actions).map(\.1) == [.failed(.conflict, retryAfter: .zero)])
    }

    @Test func failedPublishIsRetriedAFewTimes() throws {
        var machine = frontend()
        var batch = try #require(publishes(accept(&machine, JobID(5))).first).batch
        var publishCount = 0
        var now = Instant.zero
        for _ in 0..<10 {
            let failed = feed(&machine, .published(batch: batch, succeeded: false), now: now)
            guard let (timer, at) = timers(failed).first else { break }
            #expect(at == now + .milliseconds(100), "resent after storeRetryDelay")
            now = at
            let resent = publishes(feed(&machine, .timerFired(timer), now: now))
            #expect(resent.map(\.jobs) == [[JobID(5)]] && resent.map(\.batch) != [batch], "the same jobs, a new id")
            publishCount += resent.count
            batch = resent.first?.batch ?? batch
        }
        #expect(publishCount == 2, "three attempts in all, then the job is left to the dispatcher")
        #expect(machine.unpublishedCount == 0)
    }

    @Test func jobsGatherWhileTheirPartitionHasABatchInFlight() throws {
        var configuration = frontend().configuration
        configuration.publishBatchMax = 2
        var machine = JobFrontend(configuration: configuration)
        let partition = machine.partition(of: JobID(1))
        let same = jobs(on: partition, count: 4, of: machine)
        let first = try #require(publishes(accept(&machine, same[0])).first)
        #expect(first.jobs == [same[0]], "an idle partition publishes at once")
        for job in same.dropFirst() { #expect(publishes(accept(&machine, job)).isEmpty, "\(job) gathers") }
        let other = jobs(on: PartitionID((partition.value + 1) % 4), count: 1, of: machine)[0]
        #expect(publishes(accept(&machine, other)).map(\.jobs) == [[other]], "other partitions are not held up")
        #expect(machine.unpublishedCount == 5)
        let acked = feed(&machine, .published(batch: first.batch, succeeded: true))
        #expect(commands(acked).map(\.1) == [.markQueued([same[0]])])
        let second = try #require(publishes(acked).first)
        #expect(second.jobs == [same[1], same[2]], "the next batch takes at most publishBatchMax")
        #expect(second.batch != first.batch && second.partition == partition)
        #expect(feed(&machine, .published(batch: first.batch, succeeded: true)).isEmpty, "a repeated ack")
        let third = feed(&machine, .published(batch: second.batch, succeeded: true))
        #expect(commands(third).map(\.1) == [.markQueued([same[1], same[2]])])
        #expect(publishes(third).map(\.jobs) == [[same[3]]])
        #expect(machine.unpublishedCount == 2, "same[3] and the other partition's job")
    }

    @Test func aStaleAckForAFailedSendIsIgnored() throws {
        var machine = frontend()
        let first = try #require(publishes(accept(&machine, JobID(5))).first)
        let failed = feed(&machine, .published(batch: first.batch, succeeded: false))
        #expect(publishes(failed).isEmpty && commands(failed).isEmpty, "the resend waits for its timer")
        #expect(feed(&machine, .published(batch: first.batch, succeeded: true)).isEmpty, "the old send's late ack")
        let (resend, at) = try #require(timers(failed).first)
        #expect(resend.value & 3 == 3 && at == .zero + .milliseconds(100))
        let again = feed(&machine, .timerFired(resend), now: at)
        let second = try #require(publishes(again).first)
        #expect(second.jobs == [JobID(5)] && second.batch != first.batch)
        #expect(timers(again).map(\.0) == [TimerID(second.batch << 2 | 1)], "a new timeout for the resend")
        #expect(feed(&machine, .timerFired(TimerID(first.batch << 2 | 1)), now: at).isEmpty, "the old timeout")
        let acked = feed(&machine, .published(batch: second.batch, succeeded: true), now: at)
        #expect(commands(acked).map(\.1) == [.markQueued([JobID(5)])])
    }

    @Test func anUnacknowledgedBatchTimesOutAndIsSentAgain() throws {
        var machine = frontend()
        let accepted = accept(&machine, JobID(5))
        let first = try #require(publishes(accepted).first)
        let (timeout, at) = try #require(timers(accepted).first)
        #expect(timeout == TimerID(first.batch << 2 | 1) && at == .zero + .seconds(2))
        let timedOut = feed(&machine, .timerFired(timeout), now: at)
        #expect(publishes(timedOut).isEmpty)
        let (resend, resendAt) = try #require(timers(timedOut).first)
        #expect(resendAt == at + .milliseconds(100))
        let second = try #require(publishes(feed(&machine, .timerFired(resend), now: resendAt)).first)
        #expect(second.jobs == [JobID(5)] && second.batch != first.batch)
        #expect(feed(&machine, .published(batch: first.batch, succeeded: true), now: resendAt).isEmpty)
        #expect(machine.unpublishedCount == 1)
    }

    @Test func aBatchIsDroppedAfterItsLastAttemptAndTheNextOneStarts() throws {
        var machine = frontend()
        let partition = machine.partition(of: JobID(1))
        let same = jobs(on: partition, count: 2, of: machine)
        var batch = try #require(publishes(accept(&machine, same[0])).first).batch
        #expect(publishes(accept(&machine, same[1])).isEmpty)
        var now = Instant.zero
        for attempt in 1...2 {
            let failed = feed(&machine, .published(batch: batch, succeeded: false), now: now)
            let (resend, at) = try #require(timers(failed).first)
            now = at
            let resent = try #require(publishes(feed(&machine, .timerFired(resend), now: now)).first)
            #expect(resent.jobs == [same[0]], "attempt \(attempt + 1)")
            batch = resent.batch
        }
        let given = feed(&machine, .published(batch: batch, succeeded: false), now: now)
        #expect(commands(given).isEmpty, "a dropped batch's jobs stay accepted for the dispatcher")
        #expect(publishes(given).map(\.jobs) == [[same[1]]], "the gathered job goes next")
        #expect(machine.unpublishedCount == 1)
    }
}
