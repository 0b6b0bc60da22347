// The embedded job table: the core's `JobStoreModel` decides every answer, SQLite makes it durable. Each
// command that changes the table is appended to a log and the rows it touched are rewritten, in one
// transaction that commits before the answer is returned, so an acknowledged write survives a crash.
//
// Why a log: `JobStoreModel` keeps state its records do not show (failed attempts, the idempotency index)
// and offers no way to be rebuilt from rows, so the only faithful rebuild through its public API is to
// replay the writes it accepted, in order, at their original `now`. Reads and refused writes change nothing
// and are not logged. The `jobs` table holds every row as it stands (for operators, and to check the replay
// on open); it also keeps each job's failed-attempt count, so that once the core can restore itself from
// rows the log can be truncated without a format change.

import PlatformCore

/// A job-table command that could not be made durable. The model was rebuilt from disk, so the store stays
/// usable and agrees with what was committed.
public struct JobStoreWriteError: Error, Sendable, CustomStringConvertible {
    /// How the machines should treat it: `.unavailable` when nothing can have been committed, otherwise
    /// `.outcomeUnknown` (a failed COMMIT may still have reached the disk).
    public var failure: StoreFailure
    public var underlying: any Error

    public var description: String { "job store write failed (\(failure)): \(underlying)" }
}

/// Why the store could not be opened.
public enum EmbeddedStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Replaying the log gave another table than the rows say: the files were edited or damaged, or the
    /// store was opened with another configuration (e.g. a smaller `jobsMax`) than the one that wrote it.
    case diverged(table: String, detail: String)
    /// A row holds a value no record could have.
    case damagedRow(table: String, key: String)

    public var description: String {
        switch self {
        case .diverged(let table, let detail): "table \(table) does not match its log: \(detail)"
        case .damagedRow(let table, let key): "table \(table) has a damaged row \(key)"
        }
    }
}

/// The durable job table. Owned by one store thread; not thread-safe.
public final class EmbeddedJobStore {
    /// The table as the core sees it; always equal to the replay of the committed log.
    public private(set) var model: JobStoreModel
    private let database: SQLiteDatabase
    private let configuration: JobStoreModel.Configuration
    private let appendLog: SQLiteStatement
    private let upsertRow: SQLiteStatement
    /// Failed attempts per job (index = id - 1), counted the way the model counts them, for the `jobs` table.
    private var failedAttempts: [Int] = []
    /// Set when a failed write could not be followed by a rebuild: the model may disagree with the disk, so
    /// every later command is refused until the store is reopened.
    private var brokenBy: (any Error)?

    /// Opens (or creates) the job table in `database` and rebuilds the model from its log.
    public init(database: SQLiteDatabase, configuration: JobStoreModel.Configuration = .init()) throws {
        self.database = database
        self.configuration = configuration
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS job_log (
                sequence INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, command BLOB NOT NULL);
            \(JobRow.createTable);
            """)
        appendLog = try database.prepare("INSERT INTO job_log (at_ns, command) VALUES (?, ?)")
        upsertRow = try database.prepare(JobRow.upsert)
        model = JobStoreModel(configuration: configuration)
        try rebuild()
    }

    /// Applies one command; see `apply(_:now:)` for a batch.
    public func apply(_ command: JobStoreCommand, now: Instant) throws -> JobStoreReply {
        try apply([command], now: now)[0]
    }

    /// Applies `commands` in order, all at `now`; see `apply(_:)`.
    public func apply(_ commands: [JobStoreCommand], now: Instant) throws -> [JobStoreReply] {
        try apply(commands.map { ($0, now) })
    }

    /// Applies each command at its own `now`, in order, and makes every change durable in one transaction
    /// (one fsync for all of them: the store thread passes whatever queued up while the previous commit was
    /// syncing). Returns the answers only after the commit; on a throw nothing of the batch is answered.
    public func apply(_ batch: [(command: JobStoreCommand, now: Instant)]) throws -> [JobStoreReply] {
        if let brokenBy { throw JobStoreWriteError(failure: .unavailable, underlying: brokenBy) }
        var replies: [JobStoreReply] = []
        replies.reserveCapacity(batch.count)
        var logged: [(command: JobStoreCommand, now: Instant, touched: [JobID])] = []
        for (command, now) in batch {
            let reply = model.apply(command, now: now)
            replies.append(reply)
            let touched = Self.touchedJobs(command, reply)
            if !touched.isEmpty {
                countFailedAttempt(command, reply)
                logged.append((command, now, touched))
            }
        }
        guard !logged.isEmpty else { return replies }
        var committing = false
        do {
            try database.transaction {
                for entry in logged {
                    try appendLog.run([.integer(entry.now.nanoseconds), .blob(entry.command.logEntry)])
                    for id in entry.touched { try writeRow(id) }
                }
                committing = true
            }
        } catch {
            // The model is ahead of the disk now. Copying it before every command would cost a copy of the
            // whole table, so the rare failure pays instead: rebuild from what was committed.
            model = JobStoreModel(configuration: configuration)
            failedAttempts = []
            do {
                try rebuild()
            } catch let rebuildError {
                brokenBy = rebuildError
            }
            throw JobStoreWriteError(failure: committing ? .outcomeUnknown : .unavailable, underlying: error)
        }
        return replies
    }

    /// Jobs still accepted, oldest first: what a dispatcher republishes after a restart.
    public func acceptedJobs(limit: Int) -> [JobID] { model.acceptedJobs(limit: limit) }

    /// Entries in the log: grows with every applied write (see the file comment on compaction).
    public func logLength() throws -> Int {
        let statement = try database.prepare("SELECT count(*) FROM job_log")
        return try statement.rows { Int($0.int64(0)) }.first ?? 0
    }

    // MARK: - Rebuilding

    /// Replays the log into the (empty) model, then checks every replayed row against the `jobs` table.
    private func rebuild() throws {
        let entries = try database.prepare("SELECT sequence, at_ns, command FROM job_log ORDER BY sequence")
        try entries.bind([])
        while try entries.step() {
            let sequence = entries.int64(0)
            let command: JobStoreCommand
            do {
                command = try JobStoreCommand(logEntry: entries.blob(2))
            } catch let failure as LogReader.Failure {
                throw LogDecodingError(table: "job_log", sequence: sequence, reason: failure.reason)
            }
            // The one precondition a well-formed entry can still break depends on the table: a damaged
            // progress count must be an error here, not a trap inside the core.
            if case .renew(let id, _, _, let itemsDone) = command, let job = model.job(id),
                itemsDone > job.spec.itemCount
            {
                let reason = "renew reports \(itemsDone) items of \(job.spec.itemCount)"
                throw LogDecodingError(table: "job_log", sequence: sequence, reason: reason)
            }
            let reply = model.apply(command, now: Instant(nanoseconds: entries.int64(1)))
            guard !Self.touchedJobs(command, reply).isEmpty else {
                throw EmbeddedStoreError.diverged(
                    table: "jobs", detail: "log entry \(sequence) (\(command)) no longer applies: \(reply)")
            }
            countFailedAttempt(command, reply)
        }
        try checkRows()
    }

    private func checkRows() throws {
        let rows = try database.prepare("SELECT \(JobRow.columns) FROM jobs ORDER BY id")
        var expected: UInt64 = 1
        try rows.bind([])
        while try rows.step() {
            guard let record = JobRow.record(rows) else {
                throw EmbeddedStoreError.damagedRow(table: "jobs", key: "id \(rows.int64(0))")
            }
            guard record.id.value == expected, let replayed = model.job(record.id), replayed == record else {
                let detail =
                    "row \(record.id) differs from the replayed \(model.job(record.id).map { "\($0)" } ?? "nothing")"
                throw EmbeddedStoreError.diverged(table: "jobs", detail: detail)
            }
            expected += 1
        }
        guard expected - 1 == UInt64(model.jobCount) else {
            let detail = "\(expected - 1) rows, \(model.jobCount) jobs replayed"
            throw EmbeddedStoreError.diverged(table: "jobs", detail: detail)
        }
    }

    // MARK: - Bookkeeping

    /// The jobs a command changed, judged by its answer: empty for reads and refusals (nothing to persist).
    static func touchedJobs(_ command: JobStoreCommand, _ reply: JobStoreReply) -> [JobID] {
        switch reply {
        case .submitted(let record, let created): return created ? [record.id] : []
        case .updated(let record), .deadLettered(let record): return [record.id]
        case .markedQueued(let count):
            guard count > 0, case .markQueued(let ids) = command else { return [] }
            // Rewriting an unchanged row is harmless; a job named twice is written twice, also harmless.
            return ids
        case .idempotencyConflict, .notApplicable, .fenced, .record, .notFound, .full, .records: return []
        }
    }

    /// Mirrors the model's private count: only an applied `retryLater` is a failed attempt.
    private func countFailedAttempt(_ command: JobStoreCommand, _ reply: JobStoreReply) {
        while failedAttempts.count < model.jobCount { failedAttempts.append(0) }
        if case .retryLater(let id, _, _) = command, case .updated = reply { failedAttempts[Int(id.value) - 1] += 1 }
    }

    private func writeRow(_ id: JobID) throws {
        // markQueued may name ids that do not exist; they have no row to write.
        guard let record = model.job(id) else { return }
        try upsertRow.run(JobRow.values(record, failedAttempts: failedAttempts[Int(id.value) - 1]))
    }
}

@available(*, unavailable) extension EmbeddedJobStore: Sendable {}
