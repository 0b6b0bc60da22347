// Recording for `serve --record DIR`: each reactor's host hands its recorder every machine input and the actions it
// produced; the recorder encodes them into an in-memory buffer on the reactor thread (appending bytes only: no
// system call, lock or allocation per input), and hands each full buffer to one background writer thread that
// write(2)s it to `DIR/reactor-<i>.trace`. Credentials never reach the file: a configured key's secret becomes
// its pseudonym (`key-<index>`), and anything else becomes `refused`, which no key is, so authentication decides
// the same on replay.

import Foundation
import PlatformCore
import PlatformWire

/// Records one reactor's inputs: its host hands it every input it handled, in order, with the `now` it was fed at
/// and the actions it produced, in one call per input (typed by machine, so nothing is wrapped on the hot path).
/// Called on the host's reactor thread only, so it never blocks or takes a lock per input.
public final class TraceRecorder {
    /// A buffer is handed to the writer once it holds this much; large enough that the hand-off (one lock) is rare.
    static let bufferBytes = 256 << 10

    let file: Int
    let writer: TraceWriter
    var encoder = TraceEncoder(capacity: TraceRecorder.bufferBytes + 4_096)
    public private(set) var digest = ActionDigest()
    /// The configured credentials, resolved like the gateway's table (a later key with the same credential wins),
    /// so the pseudonym written names the key the gateway will pick.
    let keys: TraceKeys

    init(file: Int, writer: TraceWriter, keys: [Gateway.APIKey]) {
        self.file = file
        self.writer = writer
        self.keys = TraceKeys(credentials: keys.map(\.credential))
    }

    /// The header of a reactor's trace: the configured keys under their pseudonyms, never their secrets.
    static func header(
        settings: ServeSettings, index: Int, keys: [Gateway.APIKey], backendCount: Int
    ) -> TraceHeader {
        let named = keys.enumerated().map { position, key in
            Gateway.APIKey(credential: TraceCredential.pseudonym(position), name: key.name, mayInfer: key.mayInfer)
        }
        return TraceHeader(
            reactorIndex: index, reactorCount: settings.threads, rateLimitPerMinute: settings.rateLimitPerMinute,
            rateLimitBurst: settings.rateLimitBurst, requestTimeout: settings.requestTimeout,
            backendCount: backendCount, keys: named)
    }

    /// Writes a gateway input before the gateway handles it, so the host can then hand the input over (moved, not
    /// copied); `finish(_:)` with the actions it produced closes the input.
    public func write(_ input: borrowing Gateway.Input, now: Instant) {
        // A request's credential is written as the pseudonym of the key it selects (or `refused`), never as itself.
        encoder.append(input, now: now, keys: keys)
    }

    /// Folds the actions of the gateway input `write(_:now:)` just wrote and closes it.
    public func finish(_ actions: [Gateway.Action]) {
        digest.fold(actions)
        finishInput()
    }

    public func record(_ input: Router.Input, now: Instant, acted actions: [Router.Action]) {
        encoder.append(input, now: now)
        digest.fold(actions)
        finishInput()
    }

    public func record(_ input: Orchestrator.Input, now: Instant, acted actions: [Orchestrator.Action]) {
        encoder.append(input, now: now)
        digest.fold(actions)
        finishInput()
    }

    @inline(__always)
    func finishInput() {
        if encoder.appendDigestCounting(digest.value) >= Self.bufferBytes { handOff() }
    }

    /// Swaps the full buffer for an empty one from the writer: two short lock holds per 256 KiB, none per input.
    func handOff() {
        let full = encoder.take(replacingWith: writer.spareBuffer())
        writer.submit(full, file: file)
    }

    /// Writes the end record and hands the rest to the writer; call once the reactor thread has stopped.
    func close() {
        encoder.appendEnd(inputs: digest.inputs, digest: digest.value)
        handOff()
    }
}

/// One thread writing every reactor's full buffers to their files, in the order each reactor handed them over.
final class TraceWriter: @unchecked Sendable {
    // @unchecked Sendable: the queue, spares and flags are read and written only with `condition` locked;
    // `bytesWritten` is written by the writer thread alone and read after `finish()` has seen it stop; the
    // descriptors are closed only after the thread has finished.
    let condition = NSCondition()
    var queue: [(file: Int, bytes: [UInt8])] = []
    var spares: [[UInt8]] = []
    var closing = false
    var finished = false
    var failure: String?
    var bytesWritten: [Int]
    let descriptors: [Int32]
    let paths: [String]
    /// Buffers waiting beyond this make the reactor wait: a trace with a gap could not be replayed.
    static let queuedMax = 64
    static let sparesMax = 8

    /// Creates `directory` if needed, removes traces of an earlier run, and opens one file per header.
    init(directory: String, headers: [TraceHeader]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where TraceReplayer.reactorIndex(ofFile: name) != nil {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        var descriptors: [Int32] = []
        var paths: [String] = []
        for header in headers {
            let path = directory + "/reactor-\(header.reactorIndex).trace"
            let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                for open in descriptors { close(open) }
                throw SettingsError("--record: cannot create \(path): \(String(cString: strerror(errno)))")
            }
            descriptors.append(descriptor)
            paths.append(path)
        }
        self.descriptors = descriptors
        self.paths = paths
        bytesWritten = Array(repeating: 0, count: headers.count)
        for (file, header) in headers.enumerated() {
            if let error = write(TraceEncoder.header(header), file: file) {
                for descriptor in descriptors { close(descriptor) }
                throw SettingsError("--record: \(error)")
            }
        }
    }

    func start() {
        NamedThread.start("trace-writer") { [self] in run() }
    }

    /// An empty buffer with capacity, recycled from the writer when one is free.
    func spareBuffer() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        return spares.popLast() ?? []
    }

    func submit(_ bytes: [UInt8], file: Int) {
        condition.lock()
        while queue.count >= Self.queuedMax && !finished { condition.wait() }
        queue.append((file, bytes))
        condition.broadcast()
        condition.unlock()
    }

    func run() {
        var batch: [(file: Int, bytes: [UInt8])] = []
        while true {
            condition.lock()
            while queue.isEmpty && !closing { condition.wait() }
            if queue.isEmpty {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            swap(&batch, &queue)
            condition.unlock()
            var firstError: String?
            for job in batch {
                if let error = write(job.bytes, file: job.file), firstError == nil { firstError = error }
            }
            condition.lock()
            if failure == nil { failure = firstError }
            // Popped rather than iterated, so each buffer is uniquely referenced and emptied without a copy.
            while var buffer = batch.popLast()?.bytes {
                guard spares.count < Self.sparesMax else { continue }
                buffer.removeAll(keepingCapacity: true)
                spares.append(buffer)
            }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Writes all of `bytes`, retrying partial writes and interruptions; returns an error message on failure.
    func write(_ bytes: [UInt8], file: Int) -> String? {
        let descriptor = descriptors[file]
        let error: String? = bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + done, raw.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    return "cannot write \(paths[file]): \(String(cString: strerror(errno)))"
                }
                done += written
            }
            return nil
        }
        if error == nil { bytesWritten[file] += bytes.count }
        return error
    }

    /// Waits until every submitted buffer is written, stops the thread and closes the files; returns the first
    /// write error, if any.
    func finish() -> String? {
        condition.lock()
        closing = true
        condition.broadcast()
        while !finished { condition.wait() }
        let failure = failure
        condition.unlock()
        for descriptor in descriptors { close(descriptor) }
        return failure
    }
}
