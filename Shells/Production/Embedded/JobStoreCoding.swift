// The job table's commands and rows as the embedded store writes them: commands as log entries (replayed on
// open), records as the columns of the `jobs` table (read by operators and checked against the replay).

import PlatformCore

extension JobStoreCommand {
    /// The command as a log entry. Only writes are ever logged, but every case has an encoding so the
    /// switch stays exhaustive and a new command cannot be forgotten here.
    var logEntry: [UInt8] {
        var writer = LogWriter()
        writer.byte(1)  // format version
        switch self {
        case .submit(let spec):
            writer.byte(1)
            writer.int(spec.tenant)
            writer.int(spec.model.value)
            writer.int(spec.version)
            writer.int(spec.itemCount)
            writer.uint64(spec.idempotencyKey)
            writer.uint64(spec.bodyHash)
        case .markQueued(let ids):
            writer.byte(2)
            writer.array(ids) { $0.uint64($1.value) }
        case .lease(let id, let worker, let leaseFor, let attemptsMax):
            writer.byte(3)
            writer.uint64(id.value)
            writer.int(worker)
            writer.int64(leaseFor.nanoseconds)
            writer.int(attemptsMax)
        case .renew(let id, let attempt, let leaseFor, let itemsDone):
            writer.byte(4)
            writer.uint64(id.value)
            writer.int(attempt)
            writer.int64(leaseFor.nanoseconds)
            writer.int(itemsDone)
        case .release(let id, let attempt):
            writer.byte(5)
            writer.uint64(id.value)
            writer.int(attempt)
        case .complete(let id, let attempt, let result):
            writer.byte(6)
            writer.uint64(id.value)
            writer.int(attempt)
            writer.int(result.attempt)
        case .retryLater(let id, let attempt, let notBefore):
            writer.byte(7)
            writer.uint64(id.value)
            writer.int(attempt)
            writer.int64(notBefore.nanoseconds)
        case .fail(let id, let attempt, let failure):
            writer.byte(8)
            writer.uint64(id.value)
            writer.int(attempt)
            writer.byte(failure.rawValue)
        case .cancel(let id, let tenant):
            writer.byte(9)
            writer.uint64(id.value)
            writer.int(tenant)
        case .get(let id, let tenant):
            writer.byte(10)
            writer.uint64(id.value)
            writer.int(tenant)
        case .inspect(let ids):
            writer.byte(11)
            writer.array(ids) { $0.uint64($1.value) }
        }
        return writer.bytes
    }

    /// Reads a log entry back. Values the core would reject with a precondition (a negative worker, a
    /// zero lease) are refused here, so a damaged log is an error, not a crash.
    init(logEntry: [UInt8]) throws {
        var reader = LogReader(logEntry)
        let version = try reader.byte()
        guard version == 1 else { throw LogReader.Failure(reason: "unknown format version \(version)") }
        let int32 = Int(Int32.min)...Int(Int32.max)
        let tag = try reader.byte()
        switch tag {
        case 1:
            let tenant = try reader.int(in: int32)
            let model = ModelID(try reader.int())
            let version = try reader.int(in: int32)
            let itemCount = try reader.int(in: 0...Int(Int32.max))
            let spec = JobSpec(
                tenant: tenant, model: model, version: version, itemCount: itemCount,
                idempotencyKey: try reader.uint64(), bodyHash: try reader.uint64())
            self = .submit(spec)
        case 2: self = .markQueued(try reader.array { JobID(try $0.uint64()) })
        case 3:
            let id = JobID(try reader.uint64())
            let worker = try reader.int(in: 0...Int(Int32.max))
            let leaseFor = try reader.duration()
            guard leaseFor > .zero else { throw LogReader.Failure(reason: "a lease of \(leaseFor)") }
            self = .lease(id, worker: worker, leaseFor: leaseFor, attemptsMax: try reader.int(in: 1...Int.max))
        case 4:
            let id = JobID(try reader.uint64())
            let attempt = try reader.int()
            let leaseFor = try reader.duration()
            guard leaseFor > .zero else { throw LogReader.Failure(reason: "a lease of \(leaseFor)") }
            self = .renew(id, attempt: attempt, leaseFor: leaseFor, itemsDone: try reader.int(in: 0...Int(Int32.max)))
        case 5: self = .release(JobID(try reader.uint64()), attempt: try reader.int())
        case 6:
            let id = JobID(try reader.uint64())
            let attempt = try reader.int()
            let resultAttempt = try reader.int()
            guard resultAttempt == attempt else { throw LogReader.Failure(reason: "a result under another attempt") }
            self = .complete(id, attempt: attempt, result: ResultLocation(job: id, attempt: resultAttempt))
        case 7:
            self = .retryLater(JobID(try reader.uint64()), attempt: try reader.int(), notBefore: try reader.instant())
        case 8: self = .fail(JobID(try reader.uint64()), attempt: try reader.int(), try reader.raw(JobFailure.self))
        case 9: self = .cancel(JobID(try reader.uint64()), tenant: try reader.int())
        case 10: self = .get(JobID(try reader.uint64()), tenant: try reader.int())
        case 11: self = .inspect(try reader.array { JobID(try $0.uint64()) })
        default: throw LogReader.Failure(reason: "unknown command tag \(tag)")
        }
        guard reader.isAtEnd else { throw LogReader.Failure(reason: "trailing bytes") }
    }
}

/// The `jobs` table's columns, in the order of `JobRow.columns`.
enum JobRow {
    static let columns =
        "id, tenant, model, version, item_count, idempotency_key, body_hash, state, attempt, lease_holder, "
        + "lease_expires_at_ns, not_before_ns, items_done, result_attempt, failure, row_version, created_at_ns, "
        + "updated_at_ns, failed_attempts"

    static let createTable = """
        CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, model INTEGER NOT NULL, version INTEGER NOT NULL,
            item_count INTEGER NOT NULL, idempotency_key INTEGER NOT NULL, body_hash INTEGER NOT NULL,
            state TEXT NOT NULL, attempt INTEGER NOT NULL, lease_holder INTEGER NOT NULL,
            lease_expires_at_ns INTEGER NOT NULL, not_before_ns INTEGER NOT NULL, items_done INTEGER NOT NULL,
            result_attempt INTEGER, failure INTEGER, row_version INTEGER NOT NULL, created_at_ns INTEGER NOT NULL,
            updated_at_ns INTEGER NOT NULL, failed_attempts INTEGER NOT NULL)
        """

    static let upsert =
        "INSERT OR REPLACE INTO jobs (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    /// The values of `record`'s row. Unsigned 64-bit hashes are stored by bit pattern (SQLite has no unsigned).
    static func values(_ record: JobRecord, failedAttempts: Int) -> [SQLiteValue] {
        [
            .integer(Int64(bitPattern: record.id.value)), .integer(Int64(record.spec.tenant)),
            .integer(Int64(record.spec.model.value)), .integer(Int64(record.spec.version)),
            .integer(Int64(record.spec.itemCount)), .integer(Int64(bitPattern: record.spec.idempotencyKey)),
            .integer(Int64(bitPattern: record.spec.bodyHash)), .text(record.state.name),
            .integer(Int64(record.attempt)), .integer(Int64(record.leaseHolder)),
            .integer(record.leaseExpiresAt.nanoseconds), .integer(record.notBefore.nanoseconds),
            .integer(Int64(record.itemsDone)), record.result.map { .integer(Int64($0.attempt)) } ?? .null,
            record.failure.map { .integer(Int64($0.rawValue)) } ?? .null, .integer(Int64(record.rowVersion)),
            .integer(record.createdAt.nanoseconds), .integer(record.updatedAt.nanoseconds),
            .integer(Int64(failedAttempts)),
        ]
    }

    /// The record in the current row of a `SELECT \(columns)`, or nil when a column holds a value no record
    /// could have (the caller reports the row as damaged).
    static func record(_ row: SQLiteStatement) -> JobRecord? {
        guard let state = JobState.allCases.first(where: { $0.name == row.string(7) }),
            let tenant = Int32(exactly: row.int64(1)), let version = Int32(exactly: row.int64(3)),
            let failure = row.isNull(14) ? .some(nil) : UInt8(exactly: row.int64(14)).flatMap(JobFailure.init),
            let attempt = Int32(exactly: row.int64(8)), let resultAttempt = Int32(exactly: row.int64(13)),
            let leaseHolder = Int32(exactly: row.int64(9)), let itemsDone = Int32(exactly: row.int64(12)),
            let rowVersion = Int32(exactly: row.int64(15))
        else { return nil }
        let id = JobID(UInt64(bitPattern: row.int64(0)))
        let spec = JobSpec(
            tenant: Int(tenant), model: ModelID(Int(row.int64(2))), version: Int(version),
            itemCount: Int(row.int64(4)), idempotencyKey: UInt64(bitPattern: row.int64(5)),
            bodyHash: UInt64(bitPattern: row.int64(6)))
        var record = JobRecord(id: id, spec: spec, now: Instant(nanoseconds: row.int64(16)))
        record.state = state
        record.attempt = Int(attempt)
        record.leaseHolder = Int(leaseHolder)
        record.leaseExpiresAt = Instant(nanoseconds: row.int64(10))
        record.notBefore = Instant(nanoseconds: row.int64(11))
        record.itemsDone = Int(itemsDone)
        record.result =
            row.isNull(13) || resultAttempt == .min ? nil : ResultLocation(job: id, attempt: Int(resultAttempt))
        record.failure = failure
        record.rowVersion = Int(rowVersion)
        record.updatedAt = Instant(nanoseconds: row.int64(17))
        return record
    }
}
