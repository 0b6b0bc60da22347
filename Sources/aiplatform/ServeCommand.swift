// `aiplatform serve`: the production shell on real sockets. Embedded defaults need nothing installed: the
// built-in reference backend serves the sample model and `demo-token` is accepted (announced in the log).

import Foundation
import PlatformProduction

enum ServeCommand {
    static let usage = """
        usage: aiplatform serve [options]

          --port N              gateway port (PORT, default 8080)
          --host ADDRESS        address to bind (HOST, default 0.0.0.0)
          --threads N           reactor threads (SERVE_THREADS, default one per core)
          --backend URL         a KServe v2 REST model server, e.g. http://127.0.0.1:8000; repeatable
                                (TRITON_URL, comma-separated). Without one: embedded mode, with the
                                built-in reference backend on --reference-port (default 8090)
          --model-repository D  model repository (MODEL_REPOSITORY, default deploy/models)
          --rate-limit N        requests per minute per key (RATE_LIMIT_PER_MINUTE, default 100)
          --burst N             burst per key (RATE_LIMIT_BURST, default 20)
          --timeout-ms N        default inference deadline (REQUEST_TIMEOUT_MS, default 1000)
          --api-key NAME:SECRET a static key (API_KEYS, comma-separated); repeatable
          --no-demo-key         refuse demo-token even in embedded mode
          --log-level LEVEL     debug, info, warn, error (LOG_LEVEL, default info)
          --record DIR          record every machine input to DIR for `aiplatform replay`

        """

    static func main(_ arguments: [String]) -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage, terminator: "")
            return 0
        }
        let settings: ServeSettings
        do {
            settings = try ServeSettings.parse(arguments: arguments, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("aiplatform serve: \(error)\n".utf8))
            return 2
        }
        let sink = BackgroundLogSink(fileDescriptor: 1)
        let log: JSONLogger
        do {
            log = JSONLogger(minimumLevel: try LogLevel(parsing: settings.logLevel), sink: sink)
        } catch {
            FileHandle.standardError.write(Data("aiplatform serve: \(error)\n".utf8))
            return 2
        }
        // The reactors inherit this mask: only the main thread takes SIGINT and SIGTERM (in sigwait), and a
        // peer closing a socket mid-write never kills the process.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let platform = Platform(settings: settings, log: log)
        do {
            try platform.start()
        } catch {
            log.error(caller: "serve", "cannot start: \(error)")
            sink.flush()
            FileHandle.standardError.write(Data("aiplatform serve: \(error)\n".utf8))
            return 1
        }
        platform.announce()
        var received: Int32 = 0
        sigwait(&signals, &received)
        log.info(caller: "serve", "signal \(received): draining requests in flight, then stopping")
        platform.stop()
        log.info(caller: "serve", "stopped")
        sink.flush()
        return 0
    }
}
