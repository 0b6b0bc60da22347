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
