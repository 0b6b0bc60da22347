// The consumer side of the batch worker: partitions, fetches under backpressure, the record buffer
// and offset commits. Only the contiguous prefix of finished records is committed, so a record whose
// job has no final outcome in the store is always redelivered to whoever owns the partition next.

extension BatchWorker {
    mutating func assign(_ assigned: [PartitionID], into actions: inout [Action]) {
        guard life == .running else { return }
        for id in assigned.sorted() where partitionIndex(id) == nil {
            partitions.append(PartitionState(id: id))
        }
        partitions.sort { $0.id < $1.id }
    }

    func partitionIndex(_ id: PartitionID) -> Int? { partitions.firstIndex { $0.id == id } }

    /// The slots-plus-prefetch room left for new records.
    var fetchRoom: Int {
        let trackedRoom = configuration.recordsTrackedMax - trackedCount - reservedCount
        if configuration.ignoresBackpressure {
            return min(trackedRoom, configuration.slots + configuration.prefetchMax)
        }
        let bound = configuration.slots + configuration.prefetchMax
        return min(trackedRoom, bound - jobsInProgress - bufferedCount - reservedCount)
    }

    /// True when the counts kept incrementally match the records (for tests).
    var countsAreConsistent: Bool {
        var buffered = 0
        for partition in partitions {
            for record in partition.records {
                if case .waiting = record.status { buffered += 1 }
            }
        }
        return buffered == bufferedCount && trackedCount == partitions.reduce(0) { $0 + $1.records.count }
            && reservedCount == partitions.reduce(0) { $0 + $1.fetchReserved }
    }

    mutating func setFetchReserved(_ index: Int, _ records: Int) {
        reservedCount += records - partitions[index].fetchReserved
        partitions[index].fetchReserved = records
    }

    /// Drops the partitions of a finished revocation with their records.
    mutating func forgetPartitions(revocation key: UInt64) {
        for partition in partitions where partition.revocation == key {
            reservedCount -= partition.fetchReserved
            trackedCount -= partition.records.count
            for record in partition.records {
                if case .waiting = record.status { bufferedCount -= 1 }
            }
        }
        partitions.removeAll { $0.revocation == key }
    }

    mutating func fetched(_ id: PartitionID, _ messages: [JobMessage], now: Instant, into actions: inout [Action]) {
        guard let index = partitionIndex(id) else { return }
        setFetchReserved(index, 0)
        guard partitions[index].revocation == 0, life == .running else { return }
        var lastOffset: Int64 = -1
        for message in messages where message.partition == id {
            guard message.offset > partitions[index].highestOffsetSeen, message.offset >= 0 else { continue }
            guard trackedCount < configuration.recordsTrackedMax else { break }
            partitions[index].highestOffsetSeen = message.offset
            partitions[index].records.append(TrackedRecord(message: message, status: .waiting(readyAt: now)))
            trackedCount += 1
            bufferedCount += 1
            lastOffset = message.offset
        }
        if configuration.commitsBeforeOutcome && lastOffset >= 0 && lastOffset + 1 > partitions[index].committed {
            partitions[index].committed = lastOffset + 1
            actions.append(.commitOffset(id, nextOffset: lastOffset + 1))
            actions.append(.observe(.offsetCommitted(id, lastOffset + 1)))
        }
    }

    /// Sends a fetch to every partition without one outstanding while there is room and the backends
    /// can take work; reports pausing and resuming. Fetches wait until `fetchRecordsMin` records fit,
    /// unless nothing is buffered, so records come in a few large fetches. (Fetches parked at the broker
    /// on quiet partitions hold room, so waiting for room while the buffer is empty could wait forever.)
    mutating func fetchMore(into actions: inout [Action]) {
        guard !partitions.isEmpty else { return }
        // Open breakers are rare: look for one before walking the runs.
        let blocked =
            !configuration.ignoresBackpressure && breakers.contains(where: { $0.phase == .open })
            && breakersBlockEveryRunningJob
        var roomLeft = fetchRoom
        let worthFetching = roomLeft >= configuration.fetchRecordsMin || bufferedCount == 0
        if !blocked && roomLeft > 0 && worthFetching {
            var idle = 0
            for partition in partitions where partition.fetchReserved == 0 && partition.revocation == 0 { idle += 1 }
            // The room is shared among the partitions so one partition's fetch cannot starve the others.
            let share = max(1, roomLeft / max(idle, 1))
            for index in partitions.indices where partitions[index].fetchReserved == 0 {
                guard partitions[index].revocation == 0 else { continue }
                let room = min(share, roomLeft)
                guard room > 0 else { break }
                setFetchReserved(index, room)
                roomLeft -= room
                actions.append(.fetch(partitions[index].id, maxRecords: room))
            }
        }
        // Paused means no fetch is outstanding and none may be sent: waiting on an answer is not a pause.
        let paused = blocked || (roomLeft <= 0 && reservedCount == 0)
        if paused != fetchingPaused {
            fetchingPaused = paused
            actions.append(.observe(.backpressure(paused: paused)))
        }
    }

    /// True when some job is running and every backend of every running job's version has an open breaker:
    /// more records would only wait.
    var breakersBlockEveryRunningJob: Bool {
        guard breakers.contains(where: { $0.phase == .open }) else { return false }
        var sawBackend = false
        for key in runOrder {
            guard let run = runs[key], let spec = run.spec, run.phase == .calling else { continue }
            for backend in backends(for: spec) {
                sawBackend = true
                if breakers[backend.value].phase != .open { return false }
            }
        }
        return sawBackend
    }

    /// Starts buffered records that are ready while slots are free, one per partition per round so
    /// no partition starves the others.
    mutating func startRecords(now: Instant, into actions: inout [Action]) {
        guard bufferedCount > 0 else { return }
        var startedOne = true
        while startedOne {
            startedOne = false
            for index in partitions.indices where partitions[index].revocation == 0 {
                guard configuration.ignoresBackpressure || jobsInProgress < configuration.slots else { return }
                guard let position = readyRecord(in: index, now: now) else { continue }
                partitions[index].records[position].status = .active
                bufferedCount -= 1
                startRun(partitions[index].records[position].message, now: now, into: &actions)
                startedOne = true
            }
        }
    }

    /// The first record of a partition that may be leased now and whose job is not already running here.
    func readyRecord(in index: Int, now: Instant) -> Int? {
        for (position, record) in partitions[index].records.enumerated() {
            guard case .waiting(let readyAt) = record.status, readyAt <= now else { continue }
            if activeJobs.contains(record.message.job.value) { continue }
            return position
        }
        return nil
    }

    /// Sets the status of a record still tracked; a record of a partition no longer ours is forgotten.
    mutating func setRecordStatus(
        _ message: JobMessage, _ status: RecordStatus, now: Instant, into actions: inout [Action]
    ) {
        guard let index = partitionIndex(message.partition) else { return }
        guard let position = partitions[index].records.firstIndex(where: { $0.message.offset == message.offset })
        else { return }
        if case .waiting = partitions[index].records[position].status { bufferedCount -= 1 }
        partitions[index].records[position].status = status
        switch status {
        case .waiting(let readyAt):
            bufferedCount += 1
            if readyAt > now { setTimer(0, .wake, at: readyAt, into: &actions) }
        case .durable: commitPending = true
        case .active: break
        }
    }

    /// Where a record stands after the store showed its job as `record`: finished for good, or to be
    /// leased again once the other holder's lease or the retry backoff is over.
    func recordStatus(after record: JobRecord, now: Instant) -> RecordStatus {
        let floor = configuration.storeRetryDelay
        switch record.state {
        case .succeeded, .failed, .cancelled, .deadLettered:
            return .durable
        case .leased:
            let remaining = min(max(record.leaseExpiresAt - record.updatedAt, floor), configuration.leaseDuration)
            return .waiting(readyAt: now + remaining)
        case .accepted, .queued:
            let remaining = min(max(record.notBefore - record.updatedAt, floor), configuration.retryBackoffMax)
            return .waiting(readyAt: now + max(remaining, floor))
        }
    }

    /// Commits, per partition, the contiguous prefix of finished records, when it advances.
    mutating func commitDurablePrefixes(into actions: inout [Action]) {
        guard commitPending else { return }
        commitPending = false
        for index in partitions.indices {
            var next: Int64 = -1
            var durableCount = 0
            for record in partitions[index].records {
                guard record.status == .durable else { break }
                durableCount += 1
                next = record.message.offset + 1
            }
            guard durableCount > 0 else { continue }
            partitions[index].records.removeFirst(durableCount)
            trackedCount -= durableCount
            if next > partitions[index].committed {
                partitions[index].committed = next
                actions.append(.commitOffset(partitions[index].id, nextOffset: next))
                actions.append(.observe(.offsetCommitted(partitions[index].id, next)))
            }
        }
    }
}
