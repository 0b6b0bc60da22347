// The batch worker's shell on one reactor: it performs the `BatchWorker`'s actions against the embedded
// broker, the job table, the folder object store and the model backends, and feeds every answer back as the
// machine's input with the batch clock as `now`.
//
// The machine counts items but does not carry them, so the shell keeps each running job's inputs and
// outputs: it loads the inputs (named by the job's body hash) before handing the machine its lease, maps
// each call to the items it covers (the `.itemsCalled` observation that follows every `.call` says which
// job; calls of one attempt cover its items in order), keeps each call's outputs, and writes them as the
// result object when the machine asks for the put.

import PlatformCore
import PlatformWire

public final class BatchHost: BackendTransportDelegate, ReactorTimerTarget {
    /// A job holding a slot here, as far as the shell needs to know it.
    struct RunningJob {
        var spec: JobSpec
        var createdAt: Instant
        /// Each item's v2 body (`{"inputs": [...]}`), or nil when the inputs could not be read.
        var items: [JSONValue]?
        /// How a call fails when `items` is nil: a missing or damaged input object is permanent, a read
        /// error is worth another attempt.
        var inputFailure: RetryPolicy.Failure = .badRequest
        var attempt = 0
        var nextItem = 0
        var outputs: [JSONValue?] = []
    }

    /// The items a backend call carries.
    struct CallSpan {
        var job: JobID
        var attempt: Int
        var firstItem: Int
        var rows: [Int]
    }

    public let reactor: Reactor
    let runtime: BatchRuntime
    let transport: KServeHTTPTransport
    var worker: BatchWorker
    let shard: MetricsShard?
    let log: JSONLogger
    var jobs: [UInt64: RunningJob] = [:]
    var calls: [UInt64: CallSpan] = [:]
    /// Store requests that are lease commands: their grants wait for the job's inputs.
    var leaseRequests: Set<UInt64> = []
    let inputs = SerialInputs<BatchWorker.Input>()
    var actions: [BatchWorker.Action] = []
    var timerTarget: UInt32 = 0
    /// Called once the worker reports its graceful shutdown complete.
    var onShutdown: (@Sendable () -> Void)?

    init(
        runtime: BatchRuntime, reactor: Reactor, endpoints: [BackendEndpoint], shard: MetricsShard?,
        log: JSONLogger, drainDeadline: Duration
    ) {
        self.runtime = runtime
        self.reactor = reactor
        self.shard = shard
        self.log = log
        var configuration = BatchWorker.Configuration()
        configuration.deployment = runtime.models.deployment
        configuration.slots = 8
        configuration.prefetchMax = 16
        configuration.itemsPerCall = 8
        configuration.callsInFlightPerJob = 4
        configuration.itemTimeout = .seconds(5)
        configuration.drainDeadline = drainDeadline
        worker = BatchWorker(configuration: configuration)
        transport = KServeHTTPTransport(reactor: reactor, endpoints: endpoints)
        transport.delegate = self
        timerTarget = reactor.addTimerTarget(self)
    }

    /// Assigns every partition (reading restarts at the committed offsets) and lets the worker fetch.
    func start() {
        let host = OnReactor(self)
        runtime.broker.assignAll(replyTo: reactor) { partitions in host.value.feed(.partitionsAssigned(partitions)) }
    }

    // MARK: - Driving the worker

    /// Feeds one input; inputs arising while actions run (a refused connection answers at once) wait their
    /// turn behind it.
    func feed(_ input: BatchWorker.Input) {
        inputs.feed(input) { next in
            let now = BatchClock.now()
            worker.handle(next, now: now, into: &actions)
            var taken: [BatchWorker.Action] = []
            swap(&taken, &actions)
            var index = 0
            while index < taken.count {
                // A call is followed by the observation naming its job: the two are performed together.
                if case .call(let call) = taken[index], index + 1 < taken.count,
                    case .observe(.itemsCalled(let job, _, let items)) = taken[index + 1]
                {
                    send(call, job: job, items: items)
                } else {
                    perform(taken[index], now: now)
                }
                index += 1
            }
            shard?.batchQueueDepth(worker.recordsBuffered)
        }
    }

    func perform(_ action: BatchWorker.Action, now: Instant) {
        let host = OnReactor(self)
        switch action {
        case .fetch(let partition, let maxRecords):
            runtime.broker.fetch(partition, maxRecords: maxRecords, replyTo: reactor) { records in
                host.value.feed(.recordsFetched(partition, records))
            }
        case .commitOffset(let partition, let nextOffset): runtime.broker.commit(partition, nextOffset: nextOffset)
        case .revocationDone: break  // one process owns every partition: nobody waits for them
        case .store(let id, let command):
            if case .lease = command { leaseRequests.insert(id.value) }
            runtime.jobs.send(id, command, now: now, replyTo: reactor) { id, answer in
                host.value.storeAnswered(id, answer)
            }
        case .putObject(let id, let location, _): putResult(id, location)
        case .call(let call):
            // Never without its observation (see `feed`); answered as a failure so the attempt ends cleanly.
            log.error(caller: "batch", "a backend call came without the job it belongs to")
            feed(.backendReplied(BackendReply(call: call.call, failure: .serverError)))
        case .setTimer(let timer, let at):
            reactor.schedule(at: BatchClock.reactorInstant(at), target: timerTarget, id: timer.value)
        case .observe(let observation): observed(observation, now: now)
        case .shutdownComplete:
            runtime.broker.releaseParked()
            onShutdown?()
        }
    }

    public func timerFired(_ id: UInt64, now: Instant) { feed(.timerFired(TimerID(id))) }

    /// Asks for a graceful drain; `done` runs (on this reactor) when the worker has finished.
    func shutdown(done: @escaping @Sendable () -> Void) {
        onShutdown = done
        feed(.shutdownRequested)
    }

    // MARK: - Store answers and inputs

    /// A granted lease waits for the job's inputs; every other answer goes straight to the worker.
    func storeAnswered(_ id: StoreRequestID, _ answer: JobStoreAnswer) {
        let wasLease = leaseRequests.remove(id.value) != nil
        guard case .replied(let reply) = answer else {
            if case .failed(let failure) = answer { feed(.storeFailed(id, failure)) }
            return
        }
        guard wasLease, let record = grantedLease(reply) else { return feed(.storeReplied(id, reply)) }
        if let job = jobs[record.id.value], job.items != nil, job.spec.bodyHash == record.spec.bodyHash {
            return feed(.storeReplied(id, reply))
        }
        let host = OnReactor(self)
        let key = BatchJSON.inputKey(tenant: record.spec.tenant, bodyHash: record.spec.bodyHash)
        runtime.get(key, replyTo: reactor) { outcome in
            host.value.inputsLoaded(record, outcome)
            host.value.feed(.storeReplied(id, reply))
        }
    }

    /// The record of a lease answer the worker will take as ours (see `BatchWorker.leaseAnswered`).
    func grantedLease(_ reply: JobStoreReply) -> JobRecord? {
        switch reply {
        case .updated(let record) where record.state == .leased: return record
        case .notApplicable(let record) where record.state == .leased && record.leaseHolder == 0: return record
        default: return nil
        }
    }

    func inputsLoaded(_ record: JobRecord, _ outcome: Result<[UInt8], ObjectStoreError>) {
        var job = RunningJob(spec: record.spec, createdAt: record.createdAt)
        switch outcome {
        case .success(let bytes) where BatchJSON.hash(bytes) != record.spec.bodyHash:
            // Another body with the same hash overwrote the object: running it would answer the wrong items.
            log.error(
                caller: "batch", "job \(record.id.value): its stored inputs are not the ones it was submitted with")
        case .success(let bytes):
            do {
                let items = try BatchJSON.decodeInputDocument(bytes)
                job.items = try itemBodies(items, spec: record.spec)
            } catch {
                log.error(caller: "batch", "job \(record.id.value): stored inputs are unusable: \(error)")
            }
            if job.items?.count != record.spec.itemCount {
                log.error(caller: "batch", "job \(record.id.value): stored inputs do not match its item count")
                job.items = nil
            }
        case .failure(.notFound(let key)):
            log.error(caller: "batch", "job \(record.id.value): its inputs \(key) are missing")
        case .failure(let error):
            job.inputFailure = .unavailable
            log.warn(caller: "batch", "job \(record.id.value): its inputs could not be read: \(error)")
        }
        jobs[record.id.value] = job
    }

    /// Each item's v2 body, through the same rewriting the submit validated it with.
    func itemBodies(_ items: [JSONValue], spec: JobSpec) throws(InferenceRequestError) -> [JSONValue] {
        let schema = runtime.models.models[spec.model.value].versions.first { $0.spec.version == spec.version }
        let datatype = { (name: String) in schema?.spec.inputs.first { $0.name == name }?.datatype }
        var bodies: [JSONValue] = []
        bodies.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            bodies.append(try BatchJSON.itemRequest(item, index: index, datatype: datatype))
        }
        return bodies
    }

    // MARK: - Backend calls

    /// Sends the next `items` items of `job`'s current attempt in one KServe v2 call.
    func send(_ call: BackendCall, job id: JobID, items count: Int) {
        guard var job = jobs[id.value], let items = job.items, job.nextItem + count <= items.count else {
            let failure = jobs[id.value]?.inputFailure ?? .badRequest
            feed(.backendReplied(BackendReply(call: call.call, failure: failure)))
            return
        }
        let first = job.nextItem
        job.nextItem += count
        jobs[id.value] = job
        let chunk: BatchChunk
        do {
            chunk = try BatchJSON.chunkRequest(Array(items[first..<first + count]))
        } catch {
            log.error(caller: "batch", "job \(id.value): items \(first)..<\(first + count) cannot be sent: \(error)")
            feed(.backendReplied(BackendReply(call: call.call, failure: .badRequest)))
            return
        }
        calls[call.call.value] = CallSpan(job: id, attempt: job.attempt, firstItem: first, rows: chunk.rows)
        let model = runtime.models.models[call.model.value].name
        transport.send(
            BackendAttempt(
                call: call.call, backend: call.backend, model: model, version: call.version,
                body: Array(chunk.body.serialized().utf8), trace: nil))
    }

    public func attemptFinished(_ call: CallID, _ result: BackendResult) {
        guard let span = calls.removeValue(forKey: call.value) else { return }
        switch result {
        case .answered(let body):
            let outputs: [JSONValue]
            do {
                outputs = try BatchJSON.splitOutputs(try JSONValue.parse(body), rows: span.rows)
            } catch {
                log.warn(caller: "batch", "job \(span.job.value): a backend answer could not be read: \(error)")
                return feed(.backendReplied(BackendReply(call: call, failure: .serverError)))
            }
            // A late answer to an earlier attempt's call is the worker's to ignore; its outputs are not kept.
            if var job = jobs[span.job.value], job.attempt == span.attempt {
                for (offset, output) in outputs.enumerated() where span.firstItem + offset < job.outputs.count {
                    job.outputs[span.firstItem + offset] = output
                }
                jobs[span.job.value] = job
            }
            feed(.backendReplied(BackendReply(call: call, failure: nil)))
        case .failed(let failure, _):
            feed(.backendReplied(BackendReply(call: call, failure: failure)))
        }
    }

    // MARK: - Results and observations

    func putResult(_ id: PutID, _ location: ResultLocation) {
        let host = OnReactor(self)
        guard let job = jobs[location.job.value] else {
            // The run that asked is gone from the shell's view; a failed put makes the worker try again later.
            return feed(.objectPutReplied(id, succeeded: false))
        }
        let model = runtime.models.models[job.spec.model.value].name
        let bytes = BatchJSON.resultDocument(
            job: location.job, model: model, version: job.spec.version, attempt: location.attempt,
            outputs: job.outputs)
        runtime.put(bytes, at: location.key, replyTo: reactor) { outcome in
            if case .failure(let error) = outcome {
                host.value.log.warn(caller: "batch", "result \(location.key) could not be written: \(error)")
            }
            let succeeded = if case .success = outcome { true } else { false }
            host.value.feed(.objectPutReplied(id, succeeded: succeeded))
        }
    }

    func observed(_ observation: BatchObservation, now: Instant) {
        switch observation {
        case .jobStarted(let id, let attempt):
            guard var job = jobs[id.value] else { return }
            job.attempt = attempt
            job.nextItem = 0
            job.outputs = Array(repeating: nil, count: job.spec.itemCount)
            jobs[id.value] = job
        case .jobFinished(let id, _, let state):
            if state.isTerminal, let job = jobs[id.value] {
                shard?.batchJobFinished(seconds: Double((now - job.createdAt).nanoseconds) / 1e9)
            }
            jobs[id.value] = nil
        case .drained(let inFlight):
            log.info(caller: "batch", "batch worker drained", fields: [("jobs_released", .integer(Int64(inFlight)))])
        case .itemsCalled, .fenced, .backpressure, .offsetCommitted: break
        }
    }
}

@available(*, unavailable) extension BatchHost: Sendable {}
