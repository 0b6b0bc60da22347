// The simulated broker's delivery guarantees: reads advance a position, commits only from the
// owner and never backwards, and a new owner after a rebalance starts from the committed offset
// (at-least-once redelivery of everything not committed).

import PlatformCore
import Testing

@testable import Simulation

@Suite struct SimulatedBrokerTests {
    func broker() -> SimulatedBroker {
        var broker = SimulatedBroker(partitions: 2, workers: 2)
        broker.members = [true, true]
        _ = broker.assign()
        for job in 1...5 { _ = broker.append(JobID(UInt64(job)), to: PartitionID(0)) }
        return broker
    }

    @Test func readsAdvanceAndCommitsAreOwnerOnlyAndMonotonic() {
        var broker = broker()
        #expect(broker.owner == [0, 1])
        let first = broker.read(PartitionID(0), maxRecords: 2).map(\.offset)
        let rest = broker.read(PartitionID(0), maxRecords: 10).map(\.offset)
        let none = broker.read(PartitionID(0), maxRecords: 10)
        #expect(first == [0, 1])
        #expect(rest == [2, 3, 4])
        #expect(none.isEmpty)
        let foreign = broker.commit(PartitionID(0), nextOffset: 3, from: 1)
        let own = broker.commit(PartitionID(0), nextOffset: 3, from: 0)
        let backwards = broker.commit(PartitionID(0), nextOffset: 1, from: 0)
        #expect(!foreign, "worker 1 does not own partition 0")
        #expect(own)
        #expect(backwards)
        #expect(broker.committed[0] == 3, "a commit never moves the offset back")
        #expect(broker.lag == 2)
    }

    @Test func newOwnerRereadsEverythingNotCommitted() {
        var broker = broker()
        _ = broker.read(PartitionID(0), maxRecords: 10)
        _ = broker.commit(PartitionID(0), nextOffset: 2, from: 0)
        broker.members = [false, true]
        let revoked = broker.revokeAll()
        #expect(revoked == [[PartitionID(0)], [PartitionID(1)]])
        let assignment = broker.assign()
        #expect(assignment == [[], [PartitionID(0), PartitionID(1)]])
        let redelivered = broker.read(PartitionID(0), maxRecords: 10)
        #expect(redelivered.map(\.offset) == [2, 3, 4])
        #expect(redelivered.map(\.job) == [JobID(3), JobID(4), JobID(5)])
    }

    @Test func noLiveMemberLeavesPartitionsUnowned() {
        var broker = broker()
        broker.members = [false, false]
        _ = broker.revokeAll()
        let assignment = broker.assign()
        #expect(assignment == [[], []])
        #expect(broker.owner == [-1, -1])
    }
}

/// The simulated object store lists result objects in key order (job, then attempt), whatever the order of
/// the writes, so the collector can walk it page by page.
@Suite struct SimulatedObjectStoreTests {
    func location(_ job: UInt64, _ attempt: Int) -> ResultLocation { ResultLocation(job: JobID(job), attempt: attempt) }

    func store(_ locations: [ResultLocation]) -> SimulatedObjectStore {
        var store = SimulatedObjectStore(random: SeededRandom(seed: 1))
        for (index, location) in locations.enumerated() {
            let stored = store.put(location, bytes: 10, now: Int64(index))
            #expect(stored)
        }
        return store
    }

    @Test func outOfOrderWritesListInKeyOrder() {
        let written = [location(5, 1), location(2, 2), location(9, 1), location(2, 1), location(5, 1), location(40, 3)]
        let objects = store(written)
        let listed = objects.list(after: nil, limit: 100)
        #expect(listed.locations == [location(2, 1), location(2, 2), location(5, 1), location(9, 1), location(40, 3)])
        #expect(listed.complete)
        #expect(objects.objects[SimulatedObjectStore.key(location(5, 1))] == 4, "a rewrite keeps one key, newest time")
        #expect(objects.contains(location(9, 1)) && !objects.contains(location(9, 2)))
    }

    @Test func listingAfterACursorPagesThroughEveryObjectOnce() {
        let objects = store((1...7).reversed().map { location(UInt64($0), 1) })
        var pages: [[ResultLocation]] = []
        var cursor: ResultLocation?
        while pages.count < 10 {
            let page = objects.list(after: cursor, limit: 3)
            pages.append(page.locations)
            cursor = page.locations.last
            if page.complete { break }
        }
        #expect(pages.map { $0.map(\.job.value) } == [[1, 2, 3], [4, 5, 6], [7]])
        let end = objects.list(after: location(7, 1), limit: 3)
        #expect(end.locations.isEmpty && end.complete)
        #expect(objects.list(after: location(3, 9), limit: 2).locations == [location(4, 1), location(5, 1)])
        #expect(objects.list(after: nil, limit: 0).locations.isEmpty)
    }

    @Test func deleteRemovesOneObjectAndIgnoresUnknownOnes() {
        var objects = store([location(3, 1), location(1, 1), location(2, 1), location(2, 2)])
        objects.delete(location(2, 1))
        objects.delete(location(2, 1))
        objects.delete(location(8, 1))
        #expect(objects.list(after: nil, limit: 10).locations == [location(1, 1), location(2, 2), location(3, 1)])
        #expect(!objects.contains(location(2, 1)))
        objects.delete(location(1, 1))
        objects.delete(location(3, 1))
        #expect(objects.list(after: nil, limit: 10).locations == [location(2, 2)])
        let rewritten = objects.put(location(2, 1), bytes: 1, now: 9)
        #expect(rewritten)
        #expect(objects.list(after: nil, limit: 10).locations == [location(2, 1), location(2, 2)])
    }

    @Test func failingWritesStoreNothing() {
        var objects = SimulatedObjectStore(random: SeededRandom(seed: 1))
        objects.failure = Ratio(partsPerMillion: 1_000_000)
        let stored = objects.put(location(1, 1), bytes: 1, now: 0)
        #expect(!stored)
        let listed = objects.list(after: nil, limit: 10)
        #expect(listed.locations.isEmpty && listed.complete)
    }
}
