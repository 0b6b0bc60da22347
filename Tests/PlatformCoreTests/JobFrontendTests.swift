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

    @Test func submitStoresThenAnswersThenPublishes() {
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
        #expect(
            actions.contains {
                if case .publish(JobID(7), machine.partition(of: JobID(7))) = $0 { true } else { false }
            })
        actions.removeAll()
        machine.handle(.published(JobID(7), succeeded: true), now: .zero, into: &actions)
        #expect(commands(actions).map(\.1) == [.markQueued(JobID(7))])
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

    @Test func failedPublishIsRetriedAFewTimes() {
        var machine = frontend()
        var actions: [JobFrontend.Action] = []
        machine.handle(.submit(submission(1)), now: .zero, into: &actions)
        let (id, command) = commands(actions)[0]
        guard case .submit(let spec) = command else { return }
        machine.handle(
            .storeReplied(id, .submitted(JobRecord(id: JobID(5), spec: spec, now: .zero), created: true)),
            now: .zero, into: &actions)
        var publishes = 0
        var now = Instant.zero
        for _ in 0..<10 {
            actions.removeAll()
            machine.handle(.published(JobID(5), succeeded: false), now: now, into: &actions)
            guard case .setTimer(let timer, let at)? = actions.first else { break }
            now = at
            actions.removeAll()
            machine.handle(.timerFired(timer), now: now, into: &actions)
            publishes += actions.filter { if case .publish = $0 { true } else { false } }.count
        }
        #expect(publishes == 2, "three attempts in all, then the job is left to the dispatcher")
    }
}
