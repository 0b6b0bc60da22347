// Wiring the batch path into `aiplatform serve`: the job table, queue and object folder under the data
// directory, a batch service mounted on every reactor's gateway port, and the one batch worker on reactor 0.
// The data directory is locked for the life of the platform: the job table lives in memory as well as on
// disk, so two platforms sharing one directory would hand out the same job ids. A platform that cannot take
// the lock serves everything but the batch API, which then answers 503.

import Foundation
import PlatformCore
import PlatformWire
import Synchronization

/// The batch pieces of one running platform.
final class BatchWiring: @unchecked Sendable {
    // @unchecked: `services` and `host` are set on the starting thread before any reactor thread runs and only
    // read afterwards (each one used on its own reactor); `runtime` is thread-safe.
    let runtime: BatchRuntime
    let lockDescriptor: Int32
    var host: BatchHost?
    var services: [BatchService] = []
    /// How long the worker lets running jobs finish on shutdown before releasing their leases.
    static let drainDeadline = Duration.seconds(5)

    init(runtime: BatchRuntime, lockDescriptor: Int32) {
        self.runtime = runtime
        self.lockDescriptor = lockDescriptor
    }
}

/// Set by the reactor when the worker's drain is over; read by the stopping thread.
final class DrainFlag: Sendable {
    let done = Atomic<Bool>(false)
}

/// Answers the batch API with 503 when the platform runs without its batch stores.
final class BatchUnavailableService: HTTPService {
    let reason: String
    init(reason: String) { self.reason = reason }
    func serve(_ request: HTTPRequest, exchange: HTTPExchange) {
        exchange.respond(
            HTTPAnswers.seedError(
                .unavailable, message: "batch jobs are not available: \(reason)", retryAfter: .seconds(60),
                requestID: request.header("X-Request-ID").flatMap(RequestIDHeader.sanitized) ?? "batch"))
    }
}

extension Platform {
    /// Opens the batch stores under `settings.dataDirectory`, or logs why batch jobs are off.
    func openBatch(keys: [Gateway.APIKey]) -> BatchWiring? {
        let directory = settings.dataDirectory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            log.error(caller: "batch", "cannot create the data directory \(directory): \(error)")
            return nil
        }
        let descriptor = open(directory + "/batch.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            if descriptor >= 0 { close(descriptor) }
            log.error(caller: "batch", "the data directory \(directory) is in use by another platform: batch is off")
            return nil
        }
        do {
            let runtime = try BatchRuntime(directory: directory, models: models, keys: keys)
            return BatchWiring(runtime: runtime, lockDescriptor: descriptor)
        } catch {
            close(descriptor)
            log.error(caller: "batch", "cannot open the batch stores in \(directory): \(error)")
            return nil
        }
    }

    /// Mounts the batch API on one reactor's gateway service; reactor 0 also gets the worker.
    func mountBatch(
        on gateway: GatewayService, reactor: Reactor, telemetry: ReactorTelemetry, endpoints: [BackendEndpoint]
    ) {
        let service: HTTPService
        if let wiring = batchWiring {
            let batch = BatchService(runtime: wiring.runtime, reactor: reactor)
            wiring.services.append(batch)
            service = batch
            if reactor.index == 0 {
                let host = BatchHost(
                    runtime: wiring.runtime, reactor: reactor, endpoints: endpoints, shard: telemetry.shard, log: log,
                    drainDeadline: BatchWiring.drainDeadline)
                wiring.host = host
                host.start()
            }
        } else {
            service = BatchUnavailableService(reason: "the data directory could not be opened (see the log)")
        }
        gateway.mounted.append((prefix: "/v1/batch", service: service))
        gateway.mounted.append((prefix: "/v1/jobs/", service: service))
    }

    /// Lets the worker finish (or release) its running jobs; returns once it has, or after a bound.
    func drainBatch() {
        guard let wiring = batchWiring, let host = wiring.host, let reactor = reactors.first else { return }
        let finished = DrainFlag()
        let target = OnReactor(host)
        reactor.post { target.value.shutdown { finished.done.store(true, ordering: .releasing) } }
        let deadline = Reactor.now() + BatchWiring.drainDeadline + .seconds(2)
        while !finished.done.load(ordering: .acquiring) && Reactor.now() < deadline { usleep(2_000) }
    }

    /// Stops the store thread (after its queued work) and releases the data directory.
    func closeBatch() {
        guard let wiring = batchWiring else { return }
        wiring.runtime.close()
        close(wiring.lockDescriptor)
    }
}
