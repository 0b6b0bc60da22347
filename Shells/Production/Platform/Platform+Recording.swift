// `serve --record DIR`: gives every reactor's host a TraceRecorder writing `DIR/reactor-<i>.trace`, and on stop
// closes each trace with its end record once the reactors have stopped (so no reactor thread touches a recorder
// any more), waits for the writer, and logs what was written.

import PlatformCore
import PlatformWire

extension Platform {
    /// Opens the trace files and attaches the recorders; called by `start()` after the hosts exist and before any
    /// reactor thread runs.
    func startRecording(keys: [Gateway.APIKey]) throws {
        guard let directory = settings.recordDirectory else { return }
        let headers = hosts.indices.map {
            TraceRecorder.header(settings: settings, index: $0, keys: keys, backendCount: models.backendCount)
        }
        let writer = try TraceWriter(directory: directory, headers: headers)
        for (index, host) in hosts.enumerated() {
            host.recorder = TraceRecorder(file: index, writer: writer, keys: keys)
        }
        writer.start()
        recording = writer
        log.info(caller: "serve", "recording every machine input", fields: [("directory", .string(directory))])
    }

    /// Ends every trace and waits until it is on disk; called by `stop()` after the reactor threads have ended.
    func stopRecording() {
        guard let writer = recording else { return }
        recording = nil
        var inputs: UInt64 = 0
        for host in hosts {
            guard let recorder = host.recorder else { continue }
            recorder.close()
            inputs += recorder.digest.inputs
            host.recorder = nil
        }
        if let failure = writer.finish() {
            log.error(caller: "serve", "recording failed; the traces are incomplete: \(failure)")
            return
        }
        log.info(
            caller: "serve", "recording closed",
            fields: [
                ("inputs", .integer(Int64(inputs))),
                ("bytes", .integer(Int64(writer.bytesWritten.reduce(0, +)))),
            ])
    }
}
