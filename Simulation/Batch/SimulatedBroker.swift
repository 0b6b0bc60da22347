// A simulated Kafka broker for the jobs topic: partitioned logs, one consumer group, committed
// offsets, fetches that wait for data, and rebalances. Delivery is at-least-once exactly as in
// Kafka: a new owner of a partition starts from the last committed offset, so everything after
// it is delivered again.

import PlatformCore

struct SimulatedBroker {
    /// Each partition's log of job ids; a record's offset is its index.
    var logs: [[JobID]]
    /// The group's committed offset per partition (the next offset to read).
    var committed: [Int64]
    /// The worker owning each partition, or -1 while unassigned.
    var owner: [Int]
    /// Where the owner's next fetch reads.
    var position: [Int64]
    /// A fetch waiting for data, per partition: (worker, max records).
    var parkedFetch: [(worker: Int, maxRecords: Int)?]
    /// Members of the group, in worker order.
    var members: [Bool]
    /// Partitions being revoked and not yet confirmed, per worker.
    var revoking: [[PartitionID]]
    var generation = 0

    init(partitions: Int, workers: Int) {
        logs = Array(repeating: [], count: partitions)
        committed = Array(repeating: 0, count: partitions)
        owner = Array(repeating: -1, count: partitions)
        position = Array(repeating: 0, count: partitions)
        parkedFetch = Array(repeating: nil, count: partitions)
        members = Array(repeating: false, count: workers)
        revoking = Array(repeating: [], count: workers)
    }

    var partitionCount: Int { logs.count }

    /// Appends a record; returns its offset.
    mutating func append(_ job: JobID, to partition: PartitionID) -> Int64 {
        logs[partition.value].append(job)
        return Int64(logs[partition.value].count - 1)
    }

    /// Records from `position` on, at most `maxRecords`, advancing the position; empty when
    /// nothing is there yet (the caller parks the fetch).
    mutating func read(_ partition: PartitionID, maxRecords: Int) -> [JobMessage] {
        let log = logs[partition.value]
        let start = Int(position[partition.value])
        guard start < log.count, maxRecords > 0 else { return [] }
        let end = min(log.count, start + maxRecords)
        position[partition.value] = Int64(end)
        return (start..<end).map { JobMessage(partition: partition, offset: Int64($0), job: log[$0]) }
    }

    /// Commits are accepted only from the partition's owner, and never move backwards.
    mutating func commit(_ partition: PartitionID, nextOffset: Int64, from worker: Int) -> Bool {
        guard owner[partition.value] == worker else { return false }
        if nextOffset > committed[partition.value] { committed[partition.value] = nextOffset }
        return true
    }

    /// Spreads partitions over live members round-robin; returns each member's new set.
    mutating func assign() -> [[PartitionID]] {
        generation += 1
        let live = members.indices.filter { members[$0] }
        var assignment = Array(repeating: [PartitionID](), count: members.count)
        for partition in 0..<partitionCount {
            parkedFetch[partition] = nil
            guard !live.isEmpty else {
                owner[partition] = -1
                continue
            }
            let worker = live[partition % live.count]
            owner[partition] = worker
            position[partition] = committed[partition]
            assignment[worker].append(PartitionID(partition))
        }
        return assignment
    }

    /// Takes every partition away from every member (the first half of a rebalance).
    mutating func revokeAll() -> [[PartitionID]] {
        var revoked = Array(repeating: [PartitionID](), count: members.count)
        for partition in 0..<partitionCount where owner[partition] >= 0 {
            revoked[owner[partition]].append(PartitionID(partition))
            owner[partition] = -1
            parkedFetch[partition] = nil
        }
        return revoked
    }

    /// Records not yet committed, over all partitions (the backlog as the broker sees it).
    var lag: Int64 {
        var total: Int64 = 0
        for partition in 0..<partitionCount { total += Int64(logs[partition].count) - committed[partition] }
        return total
    }
}

/// The job table of the simulated world: `JobStoreModel` plus outages, slowness and commits
/// whose outcome the client never learns.
struct SimulatedJobStore {
    var model: JobStoreModel
    var outage = false
    var unknownOutcome: Ratio = .zero
    var slowFactor: Int64 = 1
    var random: SeededRandom

    /// Why the database does not answer `command` under the current faults, or nil when it will (the
    /// caller then applies it). A command whose outcome is lost is applied here before it is refused.
    /// Kept apart from applying, so an answer is built once, in place, and never wrapped and copied again.
    mutating func refusal(_ command: JobStoreCommand, now: Instant) -> StoreFailure? {
        guard outage else { return nil }
        if random.chance(unknownOutcome) {
            _ = model.apply(command, now: now)
            return .outcomeUnknown
        }
        return .unavailable
    }
}

/// The object store of the simulated world: which result objects exist (and when each was written),
/// listing in key order, and write failures.
struct SimulatedObjectStore {
    /// Object key -> when it was written.
    var objects = IdentifierTable<Int64>(capacity: 1_024)
    /// Every key, ascending: job, then attempt.
    var ordered: [UInt64] = []
    var failure: Ratio = .zero
    var random: SeededRandom

    static func key(_ location: ResultLocation) -> UInt64 {
        location.job.value << 16 | UInt64(location.attempt & 0xFFFF)
    }

    static func location(_ key: UInt64) -> ResultLocation {
        ResultLocation(job: JobID(key >> 16), attempt: Int(key & 0xFFFF))
    }

    /// The position of the first key above `key` in `ordered`.
    func position(after key: UInt64) -> Int {
        var low = 0
        var high = ordered.count
        while low < high {
            let middle = (low + high) / 2
            if ordered[middle] <= key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    mutating func put(_ location: ResultLocation, bytes: Int, now: Int64) -> Bool {
        if random.chance(failure) { return false }
        let key = SimulatedObjectStore.key(location)
        if !objects.contains(key) {
            // Results arrive roughly in job order: the insertion point is almost always at the end.
            if let last = ordered.last, last > key {
                ordered.insert(key, at: position(after: key))
            } else {
                ordered.append(key)
            }
        }
        objects[key] = now
        return true
    }

    mutating func delete(_ location: ResultLocation) {
        let key = SimulatedObjectStore.key(location)
        guard objects.removeValue(forKey: key) != nil else { return }
        ordered.remove(at: position(after: key) - 1)
    }

    /// Up to `limit` objects after `after`, in key order, and whether the listing reached the end.
    func list(after: ResultLocation?, limit: Int) -> (locations: [ResultLocation], complete: Bool) {
        let start = after.map { position(after: SimulatedObjectStore.key($0)) } ?? 0
        let end = min(start + max(limit, 0), ordered.count)
        return (ordered[start..<end].map(SimulatedObjectStore.location), end == ordered.count)
    }

    func contains(_ location: ResultLocation) -> Bool { objects.contains(SimulatedObjectStore.key(location)) }
}
