// The embedded stand-in for the Kafka jobs topic: partitioned, append-only logs of job ids in SQLite, with
// committed offsets per consumer group. It keeps Kafka's (and the simulator's broker's) semantics where the
// machines depend on them: a record's offset is its position in its partition, offsets start at 0 and never
// repeat, an append is acknowledged only once durable, commits never move backwards, and a consumer that
// (re)starts reads again from its group's committed offset, so delivery is at-least-once.
//
// Partition ownership (the consumer-group protocol, rebalances) is not here: in embedded mode one process
// runs every worker, and the shell that assigns partitions to workers calls `assign`.

import PlatformCore

/// A queue call refused for a reason the caller can fix.
public enum EmbeddedQueueError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The partition is not in `0..<partitionCount`.
    case unknownPartition(PartitionID, partitionCount: Int)
    /// A fetch asked for a negative number of records.
    case invalidMaxRecords(Int)
    /// The queue was created with another partition count than it is opened with.
    case partitionCountChanged(stored: Int, requested: Int)
    /// A consumer group name is empty or longer than 128 bytes.
    case invalidGroup(String)
    /// The partition count is outside 1...4096.
    case invalidPartitionCount(Int)

    public var description: String {
        switch self {
        case .unknownPartition(let partition, let count):
            "\(partition) does not exist: the queue has partitions 0..<\(count)"
        case .invalidMaxRecords(let count): "maxRecords must be >= 0, got \(count)"
        case .partitionCountChanged(let stored, let requested):
            "the queue was created with \(stored) partitions and cannot be opened with \(requested)"
        case .invalidGroup(let group): "consumer group \"\(group)\" must be 1 to 128 bytes"
        case .invalidPartitionCount(let count): "a queue has 1 to 4096 partitions, not \(count)"
        }
    }
}

/// A durable, partitioned queue of job ids. Owned by one store thread; not thread-safe.
public final class EmbeddedQueue {
    public let partitionCount: Int
    private let database: SQLiteDatabase
    /// The next offset to append at, per partition (the log's end), read once on open.
    private var endOffsets: [Int64]
    /// Where each (group, partition)'s next fetch reads; starts at the committed offset.
    private var positions: [String: [Int64]] = [:]
    private let insertRecord: SQLiteStatement
    private let selectRecords: SQLiteStatement
    private let upsertCommit: SQLiteStatement
    private let selectCommit: SQLiteStatement

    /// Opens (or creates) the queue with `partitionCount` partitions; the count is fixed at creation, as
    /// job-to-partition placement depends on it.
    public init(database: SQLiteDatabase, partitionCount: Int) throws {
        guard partitionCount >= 1 && partitionCount <= 1 << 12 else {
            throw EmbeddedQueueError.invalidPartitionCount(partitionCount)
        }
        self.database = database
        self.partitionCount = partitionCount
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS queue_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS queue_records (
                partition INTEGER NOT NULL, offset INTEGER NOT NULL, job INTEGER NOT NULL,
                PRIMARY KEY (partition, offset)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS queue_commits (
                consumer_group TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
                PRIMARY KEY (consumer_group, partition)) WITHOUT ROWID;
            """)
        let stored = try database.prepare("SELECT value FROM queue_meta WHERE key = 'partitions'").rows { $0.int64(0) }
        if let stored = stored.first {
            guard stored == Int64(partitionCount) else {
                throw EmbeddedQueueError.partitionCountChanged(stored: Int(stored), requested: partitionCount)
            }
        } else {
            try database.prepare("INSERT INTO queue_meta (key, value) VALUES ('partitions', ?)")
                .run([.integer(Int64(partitionCount))])
        }
        insertRecord = try database.prepare("INSERT INTO queue_records (partition, offset, job) VALUES (?, ?, ?)")
        selectRecords = try database.prepare(
            "SELECT offset, job FROM queue_records WHERE partition = ? AND offset >= ? ORDER BY offset LIMIT ?")
        upsertCommit = try database.prepare(
            """
            INSERT INTO queue_commits (consumer_group, partition, next_offset) VALUES (?, ?, ?)
            ON CONFLICT (consumer_group, partition) DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)
            """)
        selectCommit = try database.prepare(
            "SELECT next_offset FROM queue_commits WHERE consumer_group = ? AND partition = ?")
        let ends = try database.prepare(
            "SELECT partition, max(offset) + 1 FROM queue_records GROUP BY partition ORDER BY partition")
        endOffsets = Array(repeating: 0, count: partitionCount)
        for (partition, end) in try ends.rows([], { (Int($0.int64(0)), $0.int64(1)) })
        where partition >= 0 && partition < partitionCount {
            endOffsets[partition] = end
        }
        // Records below every group's commit may have been trimmed; the end must still never go back.
        let trimmedEnds = try database.prepare("SELECT key, value FROM queue_meta WHERE key LIKE 'end:%'")
        for (key, value) in try trimmedEnds.rows([], { ($0.string(0), $0.int64(1)) }) {
            if let partition = Int(key.dropFirst(4)), partition >= 0 && partition < partitionCount {
                endOffsets[partition] = max(endOffsets[partition], value)
            }
        }
    }

    /// Appends `jobs` to `partition` durably, in order, and returns the offset of each. All or nothing: on
    /// a throw none of them is on the queue (the frontend's `.published(succeeded: false)`).
    @discardableResult
    public func append(_ jobs: [JobID], to partition: PartitionID) throws -> [Int64] {
        try check(partition)
        let start = endOffsets[partition.value]
        try database.transaction {
            for (index, job) in jobs.enumerated() {
                try insertRecord.run([
                    .integer(Int64(partition.value)), .integer(start + Int64(index)),
                    .integer(Int64(bitPattern: job.value)),
                ])
            }
        }
        endOffsets[partition.value] = start + Int64(jobs.count)
        return (0..<jobs.count).map { start + Int64($0) }
    }

    /// Up to `maxRecords` records of `partition` from `offset` on, in offset order. Empty when nothing is
    /// there yet: the shell parks the fetch and answers it after the next append to the partition.
    public func read(_ partition: PartitionID, from offset: Int64, maxRecords: Int) throws -> [JobMessage] {
        try check(partition)
        guard maxRecords >= 0 else { throw EmbeddedQueueError.invalidMaxRecords(maxRecords) }
        guard maxRecords > 0, offset < endOffsets[partition.value] else { return [] }
        return try selectRecords.rows([
            .integer(Int64(partition.value)), .integer(max(offset, 0)), .integer(Int64(maxRecords)),
        ]) { JobMessage(partition: partition, offset: $0.int64(0), job: JobID(UInt64(bitPattern: $0.int64(1)))) }
    }

    /// The offset the next append to `partition` gets.
    public func endOffset(_ partition: PartitionID) throws -> Int64 {
        try check(partition)
        return endOffsets[partition.value]
    }

    // MARK: - Consumer groups

    /// `group`'s committed offset on `partition`: the next offset to read; 0 when it never committed.
    public func committedOffset(group: String, _ partition: PartitionID) throws -> Int64 {
        try check(partition)
        try check(group: group)
        return try selectCommit.rows([.text(group), .integer(Int64(partition.value))]) { $0.int64(0) }.first ?? 0
    }

    /// Records that `group` consumed everything before `nextOffset` on `partition`, durably. A commit below
    /// the current one is ignored (a late commit never rewinds the group); returns the committed offset.
    @discardableResult
    public func commit(group: String, _ partition: PartitionID, nextOffset: Int64) throws -> Int64 {
        try check(partition)
        try check(group: group)
        // Committing past the end would skip records appended later.
        let bounded = min(max(nextOffset, 0), endOffsets[partition.value])
        try upsertCommit.run([.text(group), .integer(Int64(partition.value)), .integer(bounded)])
        return try committedOffset(group: group, partition)
    }

    /// Hands `partitions` to a consumer of `group`: each one's reading position restarts at the committed
    /// offset, so everything after it is delivered again (the restart and rebalance case).
    public func assign(group: String, _ partitions: [PartitionID]) throws {
        try check(group: group)
        var groupPositions = positions[group] ?? Array(repeating: 0, count: partitionCount)
        for partition in partitions {
            groupPositions[partition.value] = try committedOffset(group: group, partition)
        }
        positions[group] = groupPositions
    }

    /// The Kafka-style fetch: up to `maxRecords` from `group`'s position on `partition`, advancing it.
    public func fetch(group: String, _ partition: PartitionID, maxRecords: Int) throws -> [JobMessage] {
        try check(partition)
        try check(group: group)
        if positions[group] == nil { try assign(group: group, []) }
        let records = try read(partition, from: positions[group]![partition.value], maxRecords: maxRecords)
        if let last = records.last { positions[group]![partition.value] = last.offset + 1 }
        return records
    }

    /// Deletes records every group has committed past, keeping each partition's end offset so offsets never
    /// repeat. Returns how many records went.
    @discardableResult
    public func trimConsumed() throws -> Int {
        var removed = 0
        try database.transaction {
            for partition in 0..<partitionCount {
                let floor =
                    try database.prepare(
                        "SELECT min(next_offset), count(*) FROM queue_commits WHERE partition = ?"
                    ).rows([.integer(Int64(partition))]) { $0.int64(1) == 0 ? nil : $0.int64(0) }.first ?? nil
                guard let floor, floor > 0 else { continue }
                try database.prepare("INSERT OR REPLACE INTO queue_meta (key, value) VALUES (?, ?)")
                    .run([.text("end:\(partition)"), .integer(endOffsets[partition])])
                try database.prepare("DELETE FROM queue_records WHERE partition = ? AND offset < ?")
                    .run([.integer(Int64(partition)), .integer(floor)])
                removed += database.changes
            }
        }
        return removed
    }

    private func check(_ partition: PartitionID) throws {
        guard partition.value >= 0 && partition.value < partitionCount else {
            throw EmbeddedQueueError.unknownPartition(partition, partitionCount: partitionCount)
        }
    }

    private func check(group: String) throws {
        guard !group.isEmpty && group.utf8.count <= 128 else { throw EmbeddedQueueError.invalidGroup(group) }
    }
}

@available(*, unavailable) extension EmbeddedQueue: Sendable {}
