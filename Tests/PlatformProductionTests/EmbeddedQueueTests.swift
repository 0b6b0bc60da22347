import PlatformCore
import Testing

@testable import PlatformProduction

@Suite struct EmbeddedQueueTests {
    private static let group = "batch-workers"

    @Test func appendFetchCommitAndRedeliverAfterReopen() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("queue.sqlite")
        let zero = PartitionID(0)
        do {
            let queue = try EmbeddedQueue(database: try SQLiteDatabase(path: path), partitionCount: 2)
            #expect(try queue.append([JobID(1), JobID(2), JobID(3)], to: zero) == [0, 1, 2])
            #expect(try queue.append([JobID(4)], to: PartitionID(1)) == [0])
            try queue.assign(group: Self.group, [zero, PartitionID(1)])
            let first = try queue.fetch(group: Self.group, zero, maxRecords: 2)
            #expect(first.map(\.job) == [JobID(1), JobID(2)])
            #expect(first.map(\.offset) == [0, 1])
            #expect(try queue.fetch(group: Self.group, zero, maxRecords: 10).map(\.job) == [JobID(3)])
            #expect(try queue.fetch(group: Self.group, zero, maxRecords: 10).isEmpty)
            // Only the first record was processed when the process stopped.
            #expect(try queue.commit(group: Self.group, zero, nextOffset: 1) == 1)
            // A late, lower commit does not rewind the group.
            #expect(try queue.commit(group: Self.group, zero, nextOffset: 0) == 1)
        }
        let queue = try EmbeddedQueue(database: try SQLiteDatabase(path: path), partitionCount: 2)
        try queue.assign(group: Self.group, [zero])
        // Everything after the committed offset comes again: at-least-once, as with Kafka.
        #expect(try queue.fetch(group: Self.group, zero, maxRecords: 10).map(\.job) == [JobID(2), JobID(3)])
        // New appends continue the offsets; they never reuse one.
        #expect(try queue.append([JobID(5)], to: zero) == [3])
        #expect(try queue.committedOffset(group: "other", zero) == 0)
    }

    @Test func trimmingKeepsOffsetsGrowing() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("queue.sqlite")
        let zero = PartitionID(0)
        do {
            let queue = try EmbeddedQueue(database: try SQLiteDatabase(path: path), partitionCount: 1)
            try queue.append([JobID(1), JobID(2)], to: zero)
            try queue.commit(group: Self.group, zero, nextOffset: 2)
            #expect(try queue.trimConsumed() == 2)
            #expect(try queue.read(zero, from: 0, maxRecords: 10).isEmpty)
        }
        let queue = try EmbeddedQueue(database: try SQLiteDatabase(path: path), partitionCount: 1)
        #expect(try queue.endOffset(zero) == 2)
        #expect(try queue.append([JobID(3)], to: zero) == [2])
        #expect(try queue.read(zero, from: 0, maxRecords: 10).map(\.offset) == [2])
    }

    @Test func badArgumentsAreClearErrors() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("queue.sqlite")
        let queue = try EmbeddedQueue(database: try SQLiteDatabase(path: path), partitionCount: 2)
        let unknown = #expect(throws: EmbeddedQueueError.self) { try queue.append([JobID(1)], to: PartitionID(2)) }
        #expect(unknown?.description.contains("partition#2 does not exist") == true)
        #expect(throws: EmbeddedQueueError.invalidMaxRecords(-1)) {
            try queue.read(PartitionID(0), from: 0, maxRecords: -1)
        }
        #expect(throws: EmbeddedQueueError.invalidGroup("")) {
            try queue.commit(group: "", PartitionID(0), nextOffset: 0)
        }
        #expect(throws: EmbeddedQueueError.partitionCountChanged(stored: 2, requested: 3)) {
            try EmbeddedQueue(database: try SQLiteDatabase(path: path), partitionCount: 3)
        }
    }
}
