// Seeded property test of the job table: random command sequences (many workers, zombies with stale
// attempts, duplicated commands, random times) checked after every step against the invariants the
// simulator's job oracles rely on. The sabotage switches must break them, or the checks prove nothing.

import PlatformCore
import Testing

extension JobStoreReply {
    /// The row an answer carries, if any (for this file and the store's unit tests).
    var carried: JobRecord? {
        switch self {
        case .submitted(let record, _), .updated(let record), .deadLettered(let record), .notApplicable(let record),
            .fenced(let record), .record(let record):
            record
        case .idempotencyConflict, .notFound, .full, .markedQueued, .records:
            nil
        }
    }
}

/// One broken invariant, named so a test can expect a particular break.
struct JobStoreViolation: Sendable, CustomStringConvertible {
    /// Which invariant broke.
    enum Kind: String, Sendable {
        case replyMismatch, unexpectedChange, writeBookkeeping, statusRankDecreased, terminalLeft
        case resultState, resultChanged, attemptDecreased, fencedWrongly, staleWriteApplied
        case leaseOverlap, leaseHolder, idempotency, identifierOrder, outbox
    }
    var kind: Kind
    var message: String
    var description: String { "\(kind.rawValue): \(message)" }
}

/// Drives one seeded run and records every violation, each naming its seed.
struct JobStoreRun {
    let seed: UInt64
    var random: SeededRandom
    var store: JobStoreModel
    var now = Instant(nanoseconds: 1_000_000_000)
    let attemptsMax: Int
    /// The rows as they were after the previous step, by id - 1.
    var previous: [JobRecord] = []
    /// The status rank of the last record the store handed out for each job.
    var lastHandedOutRank: [Int] = []
    var firstResult: [ResultLocation?] = []
    /// (tenant, idempotency key) -> (job, body hash) of the first job created with it. Lookup only.
    var idempotencyKeys: [[UInt64]: (JobID, UInt64)] = [:]
    var lastCommand: JobStoreCommand?
    /// The step being checked, described only when something broke (describing every step is slow).
    var context: (step: Int, command: JobStoreCommand, reply: JobStoreReply)?
    /// Every kind of violation seen, and the first few violations in full (describing them all is slow).
    var kindsSeen: Set<JobStoreViolation.Kind> = []
    var violations: [JobStoreViolation] = []

    init(seed: UInt64, configuration: JobStoreModel.Configuration) {
        self.seed = seed
        random = SeededRandom(seed: seed)
        store = JobStoreModel(configuration: configuration)
        attemptsMax = 1 + random.below(4)
    }

    mutating func record(_ kind: JobStoreViolation.Kind, _ what: String) {
        kindsSeen.insert(kind)
        guard violations.count < 5 else { return }
        let step = context.map { "step \($0.step): \($0.command) -> \($0.reply)" } ?? "before any step"
        violations.append(JobStoreViolation(kind: kind, message: "\(what) at \(step) (reproduce with seed=\(seed))"))
    }

    mutating func run(steps: Int) {
        for step in 0..<steps {
            now = now + .milliseconds(random.between(0, 2_000))
            let command = nextCommand()
            lastCommand = command
            let reply = store.apply(command, now: now)
            check(command, reply, step: step)
        }
    }

    /// An attempt a worker might name: usually the current one, sometimes a stale or an unheard-of one.
    mutating func someAttempt(of id: JobID) -> Int {
        let current = store.job(id)?.attempt ?? 1
        return max(0, current - random.below(3) + (random.below(20) == 0 ? 1 : 0))
    }

    mutating func nextCommand() -> JobStoreCommand {
        let count = store.jobCount
        let draw = count == 0 ? 0 : random.below(100)
        if draw >= 97, let lastCommand { return lastCommand }  // a duplicate delivery or a retried commit
        let id = JobID(UInt64(1 + random.below(count + 1)))  // sometimes one past the last: unknown
        let tenant = random.below(3)
        switch draw {
        case 0..<15:
            let spec = JobSpec(
                tenant: tenant, model: ModelID(0), version: 1, itemCount: 1 + random.below(5),
                idempotencyKey: UInt64(random.below(4)), bodyHash: UInt64(1 + random.below(2)))
            return .submit(spec)
        case 15..<22:
            // A publish batch: one to three jobs, sometimes unknown or named twice.
            return .markQueued((0...random.below(3)).map { _ in JobID(UInt64(1 + random.below(count + 1))) })
        case 22..<25:
            return .inspect((0..<random.below(4)).map { _ in JobID(UInt64(random.below(count + 2))) })
        case 25..<45:
            let leaseFor = Duration.milliseconds(random.between(500, 4_000))
            return .lease(id, worker: random.below(6), leaseFor: leaseFor, attemptsMax: attemptsMax)
        case 45..<55:
            let items = store.job(id)?.spec.itemCount ?? 0
            let leaseFor = Duration.milliseconds(random.between(500, 4_000))
            return .renew(id, attempt: someAttempt(of: id), leaseFor: leaseFor, itemsDone: random.below(items + 1))
        case 55..<60:
            return .release(id, attempt: someAttempt(of: id))
        case 60..<75:
            let attempt = someAttempt(of: id)
            return .complete(id, attempt: attempt, result: ResultLocation(job: id, attempt: attempt))
        case 75..<87:
            let notBefore = now + .milliseconds(random.between(0, 3_000))
            return .retryLater(id, attempt: someAttempt(of: id), notBefore: notBefore)
        case 87..<90:
            return .fail(id, attempt: someAttempt(of: id), .rejectedByBackend)
        case 90..<95:
            return .cancel(id, tenant: tenant)
        default:
            return .get(id, tenant: tenant)
        }
    }

    mutating func check(_ command: JobStoreCommand, _ reply: JobStoreReply, step: Int) {
        let rows = (0..<store.jobCount).map { store.job(JobID(UInt64($0 + 1)))! }
        context = (step, command, reply)
        for (index, row) in rows.enumerated() {
            checkRow(row, before: index < previous.count ? previous[index] : nil)
        }
        checkReply(command, reply, rows: rows)
        if case .submit(let spec) = command { checkIdempotency(spec, reply) }
        let accepted = rows.filter { $0.state == .accepted }.map(\.id)
        if store.acceptedJobs(limit: 1_000) != accepted { record(.outbox, "outbox disagrees") }
        previous = rows
    }

    /// The reply carries the row as it now is; a write bumps the version once; anything else changes nothing.
    mutating func checkReply(_ command: JobStoreCommand, _ reply: JobStoreReply, rows: [JobRecord]) {
        switch command {
        case .markQueued(let ids): return checkMarkQueued(ids, reply, rows: rows)
        case .inspect(let ids): return checkInspect(ids, reply, rows: rows)
        case .submit, .lease, .renew, .release, .complete, .retryLater, .fail, .cancel, .get: break
        }
        let target = Self.target(of: command, reply: reply)
        for (index, row) in rows.enumerated() where index < previous.count && row.id != target {
            if row != previous[index] { record(.unexpectedChange, "\(row.id) changed") }
        }
        guard let carried = reply.carried else {
            if let target, Int(target.value) <= previous.count,
                rows[Int(target.value) - 1] != previous[Int(target.value) - 1]
            {
                record(.unexpectedChange, "\(target) changed without a row in the reply")
            }
            return
        }
        let current = rows[Int(carried.id.value) - 1]
        if carried != current { record(.replyMismatch, "reply differs from the table") }
        let index = Int(carried.id.value) - 1
        let old = index < previous.count ? previous[index] : nil
        switch reply {
        case .updated, .deadLettered, .submitted(_, created: true):
            let expectedVersion = (old?.rowVersion ?? 0) + 1
            if current.rowVersion != expectedVersion || current.updatedAt != now {
                record(.writeBookkeeping, "write did not bump rowVersion/updatedAt")
            }
            if let attempt = Self.namedAttempt(command), let old, attempt != old.attempt {
                record(.staleWriteApplied, "a write naming stale attempt \(attempt) applied")
            }
        case .fenced:
            if let attempt = Self.namedAttempt(command), let old, attempt == old.attempt {
                record(.fencedWrongly, "current attempt fenced")
            }
            fallthrough
        default:
            if current != old { record(.unexpectedChange, "a refused command changed the row") }
        }
        if carried.status.rank < lastHandedOutRank[index] {
            record(.statusRankDecreased, "\(carried.id) status went back")
        }
        lastHandedOutRank[index] = carried.status.rank
    }

    /// Only listed rows change; each one that does goes accepted -> queued in one write, and the count says how
    /// many did.
    mutating func checkMarkQueued(_ ids: [JobID], _ reply: JobStoreReply, rows: [JobRecord]) {
        var moved = 0
        for (index, row) in rows.enumerated() where index < previous.count && row != previous[index] {
            let old = previous[index]
            var expected = old
            expected.state = .queued
            expected.rowVersion = old.rowVersion + 1
            expected.updatedAt = now
            if !ids.contains(row.id) {
                record(.unexpectedChange, "\(row.id) changed without being listed")
            } else if old.state != .accepted || row != expected {
                record(.writeBookkeeping, "\(row.id) did not move accepted -> queued in one write")
            }
            moved += 1
        }
        if rows.count != previous.count { record(.unexpectedChange, "markQueued created a row") }
        if reply != .markedQueued(count: moved) { record(.replyMismatch, "\(moved) rows moved") }
        for id in ids where rows.indices.contains(Int(id.value) - 1) && rows[Int(id.value) - 1].state == .accepted {
            record(.unexpectedChange, "listed \(id) stayed accepted")
        }
    }

    /// A read changes nothing and returns exactly the rows asked for that exist, in the order asked.
    mutating func checkInspect(_ ids: [JobID], _ reply: JobStoreReply, rows: [JobRecord]) {
        if rows != previous { record(.unexpectedChange, "inspect changed the table") }
        let expected = ids.filter { rows.indices.contains(Int($0.value) - 1) }.map { rows[Int($0.value) - 1] }
        guard reply == .records(expected) else { return record(.replyMismatch, "inspect answered other rows") }
        for row in expected {
            let index = Int(row.id.value) - 1
            if row.status.rank < lastHandedOutRank[index] {
                record(.statusRankDecreased, "\(row.id) status went back")
            }
            lastHandedOutRank[index] = row.status.rank
        }
    }

    mutating func checkRow(_ row: JobRecord, before: JobRecord?) {
        let index = Int(row.id.value) - 1
        if index == firstResult.count {
            if index != previous.count || row.id.value != UInt64(previous.count + 1) {
                record(.identifierOrder, "ids not handed out in order")
            }
            firstResult.append(nil)
            lastHandedOutRank.append(row.status.rank)
        }
        if (row.result != nil) != (row.state == .succeeded) { record(.resultState, "\(row.id)") }
        if let result = row.result {
            if result.job != row.id || result.attempt > row.attempt { record(.resultState, "bad result") }
            if let first = firstResult[index], first != result {
                record(.resultChanged, "\(row.id) result \(first) became \(result)")
            }
            firstResult[index] = firstResult[index] ?? result
        }
        if (row.leaseHolder != -1) != (row.state == .leased) { record(.leaseHolder, "\(row.id)") }
        guard let before else { return }
        if row.status.rank < before.status.rank { record(.statusRankDecreased, "\(row.id)") }
        if before.state.isTerminal && row.state != before.state { record(.terminalLeft, "\(row.id)") }
        if row.attempt < before.attempt { record(.attemptDecreased, "\(row.id)") }
        // A new lease while another worker's lease is still running would give the job two live holders.
        if row.attempt > before.attempt && before.state == .leased && before.leaseExpiresAt > now {
            record(.leaseOverlap, "\(row.id) leased to \(row.leaseHolder) while \(before.leaseHolder) held it")
        }
    }

    mutating func checkIdempotency(_ spec: JobSpec, _ reply: JobStoreReply) {
        guard spec.idempotencyKey != 0 else { return }
        let key = [UInt64(spec.tenant), spec.idempotencyKey]
        guard let (existing, body) = idempotencyKeys[key] else {
            if case .submitted(let record, created: true) = reply { idempotencyKeys[key] = (record.id, spec.bodyHash) }
            return
        }
        let expected: JobStoreReply =
            body == spec.bodyHash
            ? .submitted(store.job(existing)!, created: false) : .idempotencyConflict(existing: existing)
        if reply != expected { record(.idempotency, "expected \(expected)") }
    }

    static func namedAttempt(_ command: JobStoreCommand) -> Int? {
        switch command {
        case .renew(_, let attempt, _, _), .release(_, let attempt), .complete(_, let attempt, _),
            .retryLater(_, let attempt, _), .fail(_, let attempt, _):
            attempt
        case .submit, .markQueued, .lease, .cancel, .get, .inspect:
            nil
        }
    }

    static func target(of command: JobStoreCommand, reply: JobStoreReply) -> JobID? {
        switch command {
        case .submit: reply.carried?.id
        case .markQueued, .inspect: nil  // checked by checkMarkQueued and checkInspect
        case .lease(let id, _, _, _), .renew(let id, _, _, _), .release(let id, _),
            .complete(let id, _, _), .retryLater(let id, _, _), .fail(let id, _, _), .cancel(let id, _),
            .get(let id, _):
            id
        }
    }

    /// The kinds of violation seeds 1...200 produce under `configuration`, with the first few in full.
    static func survey(
        configuration: JobStoreModel.Configuration, steps: Int = 250
    ) -> (kinds: Set<JobStoreViolation.Kind>, examples: [JobStoreViolation]) {
        var kinds: Set<JobStoreViolation.Kind> = []
        var examples: [JobStoreViolation] = []
        for seed in UInt64(1)...200 {
            var run = JobStoreRun(seed: seed, configuration: configuration)
            run.run(steps: steps)
            kinds.formUnion(run.kindsSeen)
            examples += run.violations.prefix(10 - examples.count)
        }
        return (kinds, examples)
    }
}

@Suite struct JobStoreModelPropertyTests {
    static var smallTable: JobStoreModel.Configuration {
        var configuration = JobStoreModel.Configuration()
        configuration.jobsMax = 12
        return configuration
    }

    @Test func invariantsHoldForSeededRandomCommandSequences() {
        let survey = JobStoreRun.survey(configuration: Self.smallTable)
        for violation in survey.examples { Issue.record("\(violation)") }
        #expect(survey.kinds.isEmpty)
    }

    @Test func sameSeedGivesTheSameTable() {
        var first = JobStoreRun(seed: 77, configuration: Self.smallTable)
        var second = JobStoreRun(seed: 77, configuration: Self.smallTable)
        first.run(steps: 300)
        second.run(steps: 300)
        #expect(first.previous == second.previous && !first.previous.isEmpty)
    }

    @Test func ignoringFencingIsCaught() {
        var configuration = Self.smallTable
        configuration.ignoresFencing = true
        let survey = JobStoreRun.survey(configuration: configuration)
        let kinds = survey.kinds
        #expect(kinds.contains(.resultChanged))
        #expect(kinds.contains(.staleWriteApplied))
        #expect(!kinds.contains(.idempotency))
    }

    @Test func ignoringIdempotencyIsCaught() {
        var configuration = Self.smallTable
        configuration.ignoresIdempotency = true
        let survey = JobStoreRun.survey(configuration: configuration)
        #expect(survey.kinds == [.idempotency])
        #expect(survey.examples.first?.message.contains("reproduce with seed=") == true)
    }
}
