// The jobs topic as the batch machines use it in embedded mode: the frontends' publishes and the worker's
// fetches and commits, run on the store thread against the `EmbeddedQueue`. A fetch that finds nothing is
// parked, as a Kafka broker holds a fetch open, and answered after the next append to its partition, so an
// idle worker neither polls nor waits longer than the append takes.

import PlatformCore

/// The embedded broker: one consumer group, partitions shared by every worker of the process.
public final class BatchBroker: @unchecked Sendable {
    // @unchecked: `queue` and `parked` are touched only inside work submitted to `thread`, which runs one item
    // at a time on one thread.
    struct ParkedFetch {
        var partition: PartitionID
        var maxRecords: Int
        var mailbox: any Mailbox
        var deliver: @Sendable ([JobMessage]) -> Void
    }

    /// The consumer group the embedded workers commit under.
    public static let group = "batch-workers"
    let queue: EmbeddedQueue
    let thread: StoreThread
    var parked: [ParkedFetch] = []

    init(queue: EmbeddedQueue, thread: StoreThread) {
        self.queue = queue
        self.thread = thread
    }

    /// Appends durably; `done(true)` once on disk, `done(false)` when nothing was appended.
    func append(
        _ jobs: [JobID], to partition: PartitionID, replyTo mailbox: any Mailbox,
        done: @escaping @Sendable (Bool) -> Void
    ) {
        let accepted = thread.submit { [self] in
            let appended = (try? queue.append(jobs, to: partition)) != nil
            mailbox.post { done(appended) }
            if appended { answerParked(partition) }
        }
        if !accepted { mailbox.post { done(false) } }
    }

    /// Restarts every partition's reading at the group's committed offset, then runs `then` on `mailbox`.
    func assignAll(replyTo mailbox: any Mailbox, then: @escaping @Sendable ([PartitionID]) -> Void) {
        let partitions = (0..<queue.partitionCount).map(PartitionID.init)
        thread.submit { [self] in
            try? queue.assign(group: Self.group, partitions)
            mailbox.post { then(partitions) }
        }
    }

    /// The worker's fetch: answered at once with what is there, or parked until the partition grows. A fetch
    /// that fails is parked too (the next append retries it), rather than answered empty in a tight loop.
    func fetch(
        _ partition: PartitionID, maxRecords: Int, replyTo mailbox: any Mailbox,
        deliver: @escaping @Sendable ([JobMessage]) -> Void
    ) {
        let fetch = ParkedFetch(partition: partition, maxRecords: maxRecords, mailbox: mailbox, deliver: deliver)
        thread.submit { [self] in
            if !tryAnswer(fetch) { parked.append(fetch) }
        }
    }

    /// Commits the group's offset; nothing answers (a lost commit only means some records come again).
    func commit(_ partition: PartitionID, nextOffset: Int64) {
        thread.submit { [self] in
            _ = try? queue.commit(group: Self.group, partition, nextOffset: nextOffset)
        }
    }

    /// Answers parked fetches with empty lists, so a stopping worker is not left waiting.
    func releaseParked() {
        thread.submit { [self] in
            for fetch in parked { fetch.mailbox.post { [deliver = fetch.deliver] in deliver([]) } }
            parked.removeAll()
        }
    }

    private func answerParked(_ partition: PartitionID) {
        var still: [ParkedFetch] = []
        for fetch in parked {
            if fetch.partition != partition || !tryAnswer(fetch) { still.append(fetch) }
        }
        parked = still
    }

    /// True when the fetch found records and was answered.
    private func tryAnswer(_ fetch: ParkedFetch) -> Bool {
        guard
            let records = try? queue.fetch(group: Self.group, fetch.partition, maxRecords: fetch.maxRecords),
            !records.isEmpty
        else { return false }
        let deliver = fetch.deliver
        fetch.mailbox.post { deliver(records) }
        return true
    }
}
