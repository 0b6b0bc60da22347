// The production shell against a real NVIDIA Triton Inference Server (deploy/local/triton.sh): inference goes
// gateway -> router -> orchestrator -> Triton and must agree with the built-in reference backend; Triton killed
// under load must give fast 503s with Retry-After (an open breaker, never a 504), and Triton restarted must bring
// the traffic back (the breaker's half-open probe).
//
// Runs when AIPLATFORM_TRITON=1 (`make test` sets it after installing Triton) or when CI is set; otherwise it is
// skipped. Once enabled, a Triton that cannot be started is a failure, not a skip.

import Foundation
import Glibc
import PlatformCore
import PlatformWire
import Synchronization
import Testing

@testable import PlatformProduction

private let tritonEnabled: Bool = {
    let environment = ProcessInfo.processInfo.environment
    return environment["AIPLATFORM_TRITON"] == "1" || !(environment["CI"] ?? "").isEmpty
}()

private let tritonKey = "triton-itest-secret"
private let tritonAuth = [("Authorization", "Bearer \(tritonKey)")]

@Suite(
    .serialized,
    .enabled(
        if: tritonEnabled,
        "set AIPLATFORM_TRITON=1 (after deploy/local/triton.sh install) to run against a real Triton; make test does"))
struct TritonIntegrationTests {
    /// Rows with a known label each, plus boundary rows where one ulp of difference would show in the scores.
    static let rows: [([Float], String?)] = [
        ([5.1, 3.5, 1.4, 0.2], "setosa"),
        ([6.0, 2.9, 4.5, 1.5], "versicolor"),
        ([6.3, 3.3, 6.0, 2.5], "virginica"),
        ([6.25571, 2.87003, 4.89353, 1.66925], nil),
        ([5.43179, 3.12674, 2.74302, 0.740461], nil),
    ]

    @Test func inferenceThroughTheGatewayMatchesTheReferenceBackend() throws {
        let triton = try TritonProcess.start()
        defer { triton.stop() }
        let platform = try startAgainstTriton(triton)
        defer { platform.stop(drain: .zero) }
        let reference = try startEmbedded()
        defer { reference.stop(drain: .zero) }
        let servedBefore = try triton.successCount()

        let client = try TestHTTPClient(port: platform.gatewayPort)
        let referenceClient = try TestHTTPClient(port: reference.gatewayPort)

        // The seed API, one row.
        client.request("POST", "/v1/infer", headers: tritonAuth, body: seedBody)
        let seed = try #require(try client.response(), "no answer from the gateway")
        #expect(seed.status == 200, "\(seed.text)")
        let seedJSON = try JSONValue.parse(seed.body)
        #expect(seedJSON["outputs"]?["label"] == .string("setosa"), "\(seed.text)")
        referenceClient.request("POST", "/v1/infer", headers: demo, body: seedBody)
        let referenceSeed = try #require(try referenceClient.response())
        #expect(referenceSeed.status == 200, "\(referenceSeed.text)")
        let seedScores = floats(seedJSON["outputs"]?["scores"])
        #expect(seedScores.count == 3, "\(seed.text)")
        #expect(seedScores == floats(try JSONValue.parse(referenceSeed.body)["outputs"]?["scores"]))

        // KServe v2, every row in one request, on both the versioned and the unversioned path.
        let data = Self.rows.map { row in "[" + row.0.map { "\($0)" }.joined(separator: ", ") + "]" }
        let body =
            #"{"id": "itest", "inputs": [{"name": "features", "datatype": "FP32", "shape": [\#(Self.rows.count), 4], "#
            + #""data": [\#(data.joined(separator: ", "))]}]}"#
        for path in ["/v2/models/sample-classifier/versions/1/infer", "/v2/models/sample-classifier/infer"] {
            client.request("POST", path, headers: tritonAuth, body: body)
            let answer = try #require(try client.response(), "no answer on \(path)")
            #expect(answer.status == 200, "\(path): \(answer.text)")
            referenceClient.request("POST", path, headers: demo, body: body)
            let referenceAnswer = try #require(try referenceClient.response())
            #expect(referenceAnswer.status == 200, "\(path): \(referenceAnswer.text)")
            let (labels, scores) = try kserveOutputs(answer.body)
            let (referenceLabels, referenceScores) = try kserveOutputs(referenceAnswer.body)
            #expect(labels.count == Self.rows.count, "\(answer.text)")
            for (label, row) in zip(labels, Self.rows) where row.1 != nil {
                #expect(label == row.1, "\(path): row \(row.0)")
            }
            #expect(labels == referenceLabels, "\(path)")
            #expect(scores.count == Self.rows.count * 3, "\(answer.text)")
            #expect(scores == referenceScores, "\(path): Triton \(scores) vs reference \(referenceScores)")
        }

        // The answers really came from Triton: its own counter of successful inferences moved by three.
        let servedAfter = try triton.successCount()
        #expect(servedAfter - servedBefore == 3, "Triton counted \(servedBefore) then \(servedAfter) inferences")
    }

    @Test func tritonKilledUnderLoadGivesFast503sAndTrafficRecoversAfterRestart() throws {
        let triton = try TritonProcess.start()
        defer { triton.stop() }
        let platform = try startAgainstTriton(triton)
        defer { platform.stop(drain: .zero) }
        let breakerLine = "backend_breaker_state{backend=\"127.0.0.1:\(triton.httpPort)\"}"

        let load = LoadThread(port: platform.gatewayPort)
        load.start()
        defer { load.finish() }

        // Warm: traffic flows.
        try #require(
            waitUntil(seconds: 20) { load.samples(from: 0).contains { $0.status == 200 } },
            "no 200 before the kill: \(summary(load.samples(from: 0)))")

        // Kill Triton without warning.
        let killedAt = load.count
        let killClock = ContinuousClock.now
        try triton.kill()

        // Fast failure: within a bounded number of requests, a run of 503s with Retry-After (the breaker is open).
        let openRun = 20
        let opened = waitUntil(seconds: 20) { firstRun(of: openRun, in: load.samples(from: killedAt)) != nil }
        let afterKill = load.samples(from: killedAt)
        try #require(opened, "no run of \(openRun) 503s with Retry-After after the kill: \(summary(afterKill))")
        let openIndex = try #require(firstRun(of: openRun, in: afterKill))
        #expect(openIndex <= 200, "the breaker took \(openIndex) requests to open: \(summary(afterKill))")
        var breakerState: String?
        _ = waitUntil(seconds: 5) {
            breakerState = metricValue(port: platform.gatewayPort, line: breakerLine)
            return breakerState == "2"
        }
        #expect(breakerState == "2", "\(breakerLine) is \(breakerState ?? "missing") while the backend is down")
        let openedAfter = ContinuousClock.now - killClock

        // Restart Triton on the same ports; traffic must come back through a half-open probe.
        let restartedAt = load.count
        let restartClock = ContinuousClock.now
        try triton.restart()
        let readyClock = ContinuousClock.now
        let recovered = waitUntil(seconds: 40) {
            load.samples(from: restartedAt).contains { $0.status == 200 }
        }
        let recoveredClock = ContinuousClock.now
        let afterRestart = load.samples(from: restartedAt)
        #expect(recovered, "no 200 within 40 s of Triton's restart: \(summary(afterRestart))")
        // Not one lucky probe: the traffic that follows is answered again.
        let sustained = waitUntil(seconds: 10) {
            let recent = load.samples(from: restartedAt).suffix(20)
            return recent.count == 20 && recent.allSatisfy { $0.status == 200 }
        }
        #expect(sustained, "no run of 20 answers 200 after recovery: \(summary(load.samples(from: restartedAt)))")
        var closedState: String?
        let closed = waitUntil(seconds: 10) {
            closedState = metricValue(port: platform.gatewayPort, line: breakerLine)
            return closedState == "0"
        }
        #expect(closed, "\(breakerLine) is \(closedState ?? "missing") after recovery")

        load.finish()
        let all = load.samples(from: 0)
        let timeouts = all.filter { $0.status == 504 }.count
        #expect(timeouts == 0, "\(timeouts) answers were 504 (a timeout, not a fast failure): \(summary(all))")
        #expect(!all.contains { $0.status == 0 }, "the gateway dropped a connection: \(summary(all))")
        let firstRejection = afterKill.firstIndex { $0.status == 503 && $0.retryAfter } ?? -1
        print(
            "triton-itest: \(all.count) requests; after the kill: first 503 with Retry-After at request",
            "\(firstRejection + 1), a run of \(openRun) from request \(openIndex + 1), breaker metric open",
            "\(seconds(openedAfter)) s after the kill; Triton restarted in \(seconds(readyClock - restartClock)) s,",
            "first 200 \(seconds(recoveredClock - readyClock)) s after it was ready",
            "(\(seconds(recoveredClock - killClock)) s after the kill); statuses \(summary(all))")
    }

    /// A platform with Triton as its only backend and a static key (no demo key: not embedded).
    func startAgainstTriton(_ triton: TritonProcess) throws -> Platform {
        try startEmbedded {
            $0.backends = [BackendEndpoint(host: "127.0.0.1", port: triton.httpPort)]
            $0.staticKeys = [Gateway.APIKey(credential: tritonKey, name: "itest")]
            $0.requestTimeout = .seconds(2)
        }
    }
}

// MARK: - Triton, started and stopped through deploy/local/triton.sh

/// One Triton on free loopback ports, with its pid file in a private state directory.
final class TritonProcess {
    let httpPort: Int
    let grpcPort: Int
    let metricsPort: Int
    let stateDirectory: String

    private init(httpPort: Int, grpcPort: Int, metricsPort: Int, stateDirectory: String) {
        self.httpPort = httpPort
        self.grpcPort = grpcPort
        self.metricsPort = metricsPort
        self.stateDirectory = stateDirectory
    }

    static func start() throws -> TritonProcess {
        let ports = try freePorts(3)
        var template = Array("/tmp/aiplatform-triton-XXXXXX".utf8CString)
        guard let directory = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestClientError(message: "mkdtemp failed: errno \(errno)")
        }
        let triton = TritonProcess(
            httpPort: ports[0], grpcPort: ports[1], metricsPort: ports[2], stateDirectory: String(cString: directory))
        do {
            try triton.launch()
        } catch {
            triton.stop()
            throw error
        }
        return triton
    }

    private func launch() throws {
        let (status, output) = script(
            "start", "--http-port", "\(httpPort)", "--grpc-port", "\(grpcPort)", "--metrics-port", "\(metricsPort)")
        guard status == 0 else {
            throw TestClientError(message: "deploy/local/triton.sh start failed (\(status)):\n\(output)")
        }
    }

    /// SIGKILL to tritonserver and its Python backend stubs: no drain, no goodbye.
    func kill() throws {
        let pidText = try String(contentsOfFile: "\(stateDirectory)/triton-\(httpPort).pid", encoding: .utf8)
        guard let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestClientError(message: "no pid in the pid file: \(pidText)")
        }
        let children = childProcesses(of: pid)
        Glibc.kill(pid, SIGKILL)
        for child in children { Glibc.kill(child, SIGKILL) }
        var status: Int32 = 0
        for _ in 0..<100 where Glibc.kill(pid, 0) == 0 {
            _ = waitpid(pid, &status, WNOHANG)
            usleep(20_000)
        }
    }

    /// Starts Triton again on the same ports (the stale pid file is replaced by triton.sh).
    func restart() throws { try launch() }

    /// Stops Triton if it runs and removes the state directory; safe to call in every path.
    func stop() {
        _ = script("stop")
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    /// Triton's own count of successful inferences of the sample model (its Prometheus endpoint).
    func successCount() throws -> Int {
        let client = try TestHTTPClient(port: metricsPort)
        client.request("GET", "/metrics")
        let response = try #require(try client.response())
        for line in response.text.split(separator: "\n") where line.hasPrefix("nv_inference_request_success{") {
            if line.contains("model=\"sample-classifier\""), let value = line.split(separator: " ").last {
                return Int(Double(value) ?? -1)
            }
        }
        throw TestClientError(message: "no nv_inference_request_success for sample-classifier in Triton's metrics")
    }

    /// Runs deploy/local/triton.sh with this Triton's state directory; its exit status and output.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: tritonserver, left running in the background,
    /// inherits the descriptors Process uses to notice the child's exit and to read its output, so waiting on
    /// them would last as long as Triton. The shell closes every descriptor above 2 before running the script, so
    /// Triton holds none of the test's sockets either.
    private func script(_ arguments: String...) -> (Int32, String) {
        let outputPath = "\(stateDirectory)/triton-sh.out"
        let closeAndRun =
            #"for fd in /proc/$$/fd/*; do fd=${fd##*/}; "#
            + #"if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done 2>/dev/null; "#
            + #"exec /bin/bash "$0" "$@""#
        let argv = ["/bin/bash", "-c", closeAndRun, repositoryRoot + "/deploy/local/triton.sh"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TRITON_STATE"] = stateDirectory
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = envp.map { strdup($0) } + [nil]
        defer { for pointer in cArguments + cEnvironment { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, cArguments, cEnvironment)
        guard spawned == 0 else { return (-1, "cannot run triton.sh: posix_spawn error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // Exited normally: the low seven bits are zero and the exit code sits in the next byte.
        return (status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F), text)
    }
}

/// Pids whose parent is `pid` (from /proc).
private func childProcesses(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
        guard let child = Int32(entry),
            let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state, then the parent's pid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
    }
}

/// `count` loopback ports nobody listens on, found by binding port 0 (all held open at once so they differ).
func freePorts(_ count: Int) throws -> [Int] {
    var sockets: [Int32] = []
    defer { for fd in sockets { close(fd) } }
    var ports: [Int] = []
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        sockets.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestClientError(message: "cannot bind a loopback port: errno \(errno)") }
        ports.append(Int(UInt16(bigEndian: address.sin_port)))
    }
    return ports
}

// MARK: - Continuous load from a client thread

/// One answer the load thread saw: status 0 means no answer (connection closed or receive timeout).
struct LoadSample: Sendable {
    var status: Int
    var retryAfter: Bool
}

/// Sends `POST /v1/infer` one after another on a keep-alive connection (reconnecting when it closes), a couple of
/// milliseconds apart, until `finish()` or a cap on the count.
final class LoadThread: Sendable {
    let port: Int
    private let samplesStore = Mutex<[LoadSample]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    static let requestsMax = 40_000

    init(port: Int) { self.port = port }

    var count: Int { samplesStore.withLock { $0.count } }

    func samples(from index: Int) -> [LoadSample] {
        samplesStore.withLock { Array($0[min(index, $0.count)...]) }
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.store(true, ordering: .releasing)
        }
        thread.name = "triton-itest-load"
        thread.start()
    }

    /// Stops the thread and waits for it (bounded by its receive timeout).
    func finish() {
        stopping.store(true, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { usleep(1_000) }
    }

    private func run() {
        var client: TestHTTPClient?
        var sent = 0
        while !stopping.load(ordering: .relaxed) && sent < Self.requestsMax {
            sent += 1
            if client == nil { client = try? TestHTTPClient(port: port) }
            guard let connection = client else {
                record(LoadSample(status: 0, retryAfter: false))
                usleep(10_000)
                continue
            }
            connection.request("POST", "/v1/infer", headers: tritonAuth, body: seedBody)
            if let response = try? connection.response() {
                record(LoadSample(status: response.status, retryAfter: response.header("Retry-After") != nil))
                if !response.keepAlive { client = nil }
            } else {
                record(LoadSample(status: 0, retryAfter: false))
                client = nil
            }
            usleep(2_000)
        }
    }

    private func record(_ sample: LoadSample) { samplesStore.withLock { $0.append(sample) } }
}

// MARK: - Helpers

/// The index where the first run of `length` consecutive 503s with Retry-After starts, if any.
private func firstRun(of length: Int, in samples: [LoadSample]) -> Int? {
    var start = 0
    var run = 0
    for (index, sample) in samples.enumerated() {
        if sample.status == 503 && sample.retryAfter {
            if run == 0 { start = index }
            run += 1
            if run == length { return start }
        } else {
            run = 0
        }
    }
    return nil
}

/// Counts per status, e.g. "200×812 503×95".
private func summary(_ samples: [LoadSample]) -> String {
    var counts: [Int: Int] = [:]
    for sample in samples { counts[sample.status, default: 0] += 1 }
    return counts.keys.sorted().map { "\($0)×\(counts[$0]!)" }.joined(separator: " ")
}

/// Polls `condition` every 50 ms for at most `seconds`; true as soon as it holds.
private func waitUntil(seconds: Int, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// The value of the exposition line starting with `line` (name and labels) in the gateway's `/metrics`.
private func metricValue(port: Int, line: String) -> String? {
    guard let client = try? TestHTTPClient(port: port) else { return nil }
    client.request("GET", "/metrics")
    guard let response = try? client.response(), response.status == 200 else { return nil }
    for candidate in response.text.split(separator: "\n") where candidate.hasPrefix(line + " ") {
        return String(candidate.dropFirst(line.count + 1))
    }
    return nil
}

/// Every number in a (possibly nested) JSON array, as Float.
private func floats(_ value: JSONValue?) -> [Float] {
    switch value {
    case .number(let number, _)?: return [Float(number)]
    case .array(let items)?: return items.flatMap { floats($0) }
    default: return []
    }
}

/// The `label` strings and the `scores` floats of a KServe v2 answer.
private func kserveOutputs(_ body: [UInt8]) throws -> ([String], [Float]) {
    let json = try JSONValue.parse(body)
    guard case .array(let outputs)? = json["outputs"] else {
        throw TestClientError(message: "no outputs in \(String(decoding: body, as: UTF8.self))")
    }
    var labels: [String] = []
    var scores: [Float] = []
    for output in outputs {
        if output["name"] == .string("label"), case .array(let items)? = output["data"] {
            labels = items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        }
        if output["name"] == .string("scores") { scores = floats(output["data"]) }
    }
    return (labels, scores)
}

private func seconds(_ duration: Swift.Duration) -> String {
    let (whole, attoseconds) = duration.components
    return String(format: "%.2f", Double(whole) + Double(attoseconds) / 1e18)
}
