// The production shell end to end on loopback: `Platform` in embedded mode (reference backend, demo key) on
// ephemeral ports, driven over real sockets.

import Foundation
import Glibc
import PlatformCore
import PlatformWire
import Testing

@testable import PlatformProduction

/// The repository root, from this file's path.
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Starts an embedded platform on free ports; stopped by `stop()`.
func startEmbedded(_ configure: (inout ServeSettings) -> Void = { _ in }) throws -> Platform {
    var settings = ServeSettings()
    settings.host = "127.0.0.1"
    settings.gatewayPort = 0
    settings.referencePort = 0
    settings.metadataPort = 0
    settings.threads = 2
    settings.modelRepository = repositoryRoot + "/deploy/models"
    settings.rateLimitPerMinute = 100_000
    settings.rateLimitBurst = 10_000
    settings.requestTimeout = .seconds(5)
    // Each platform its own data directory: tests run in parallel, the embedded stores lock theirs, and stored
    // registry records and keys must never leak between tests.
    settings.dataDirectory = freshDataDirectory()
    configure(&settings)
    let platform = Platform(
        settings: settings, log: JSONLogger(minimumLevel: .error, sink: FileDescriptorLogSink(fileDescriptor: 2)))
    try platform.start()
    return platform
}

let seedBody = #"{"model": "sample-classifier", "version": 1, "input": {"features": [5.1, 3.5, 1.4, 0.2]}}"#
let demo = [("Authorization", "Bearer demo-token")]

@Suite(.serialized) struct ServeTests {
    @Test func seedInferenceAnswersWithARealInference() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        client.request("POST", "/v1/infer", headers: demo + [("X-Request-ID", "abc-1")], body: seedBody)
        let response = try #require(try client.response())
        #expect(response.status == 200, "\(response.text)")
        #expect(response.header("X-Request-ID") == "abc-1")
        let body = try JSONValue.parse(response.body)
        #expect(body["outputs"]?["label"] == .string("setosa"))
        #expect(body["version"] == .number(1, isInteger: true))
        guard case .array(let scores)? = body["outputs"]?["scores"] else {
            Issue.record("no scores in \(response.text)")
            return
        }
        #expect(scores.count == 3)
    }

    @Test func kserveInferencePassesTheBackendAnswerThrough() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let body = #"""
            {"id": "r7", "inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 4],
             "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}]}
            """#
        client.request("POST", "/v2/models/sample-classifier/versions/1/infer", headers: demo, body: body)
        let response = try #require(try client.response())
        #expect(response.status == 200, "\(response.text)")
        let json = try JSONValue.parse(response.body)
        #expect(json["id"] == .string("r7"))
        #expect(json["model_name"] == .string("sample-classifier"))
        guard case .array(let outputs)? = json["outputs"] else {
            Issue.record("no outputs in \(response.text)")
            return
        }
        let labels = outputs.first { $0["name"] == .string("label") }?["data"]
        #expect(labels == .array([.string("setosa"), .string("virginica")]))
    }

    /// A reactor remembers the last Authorization field and its credential: a different field right after must be
    /// judged on its own, whichever order valid and invalid ones come in on one connection (one reactor).
    @Test func eachRequestIsJudgedOnItsOwnAuthorization() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let wrong = [("Authorization", "Bearer demo-tokem")]
        let cases: [([(String, String)], Int)] = [
            (demo, 200), (wrong, 401), (demo, 200), ([], 401), (demo, 200), (demo, 200), (wrong, 401),
        ]
        for (position, (headers, status)) in cases.enumerated() {
            client.request("POST", "/v1/infer", headers: headers, body: seedBody)
            let response = try #require(try client.response())
            #expect(response.status == status, "request \(position): \(response.text)")
        }
    }

    @Test func refusalsNameWhatWasWrong() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)

        client.request("POST", "/v1/infer", body: seedBody)
        #expect(try client.response()?.status == 401)

        client.request("POST", "/v1/infer", headers: demo, body: "{\"model\": ")
        let malformed = try #require(try client.response())
        #expect(malformed.status == 400)
        #expect(malformed.text.contains("not valid JSON"))

        let wrongShape = #"{"model": "sample-classifier", "input": {"features": [1, 2, 3]}}"#
        client.request("POST", "/v1/infer", headers: demo, body: wrongShape)
        let shape = try #require(try client.response())
        #expect(shape.status == 400)
        #expect(shape.text.contains("\"field\""), "\(shape.text)")

        client.request("POST", "/v2/models/nope/infer", headers: demo, body: #"{"inputs": []}"#)
        let unknown = try #require(try client.response())
        #expect(unknown.status == 400)

        client.request("GET", "/v2/models/nope", headers: demo)
        #expect(try client.response()?.status == 404)

        client.request("GET", "/health")
        #expect(try client.response()?.text == #"{"status":"ok"}"#)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        var batch = ""
        for index in 0..<8 {
            let body = seedBody
            let target = index % 2 == 0 ? "/v1/infer" : "/health"
            let method = index % 2 == 0 ? "POST" : "GET"
            batch += "\(method) \(target) HTTP/1.1\r\nHost: x\r\nX-Request-ID: p\(index)\r\n"
            batch += "Authorization: Bearer demo-token\r\n"
            if method == "POST" {
                batch += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            } else {
                batch += "\r\n"
            }
            client.expect(method)
        }
        client.send(batch)
        for index in 0..<8 {
            let response = try #require(try client.response())
            #expect(response.status == 200)
            #expect(response.header("X-Request-ID") == "p\(index)")
        }
    }

    @Test func aSlowRequestHeadIsAnswered408() throws {
        let platform = try startEmbedded { $0.http.headerTimeout = .milliseconds(300) }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        client.expect()
        client.send("GET /health HTTP/1.1\r\nHost: x\r\n")
        let response = try #require(try client.response())
        #expect(response.status == 408)
        #expect(client.closedByServer())
    }

    @Test func anOversizedHeaderIsAnswered431() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        client.expect()
        client.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")
        #expect(try client.response()?.status == 431)
    }

    @Test func aDeadBackendGivesFast503sWithRetryAfter() throws {
        // A backend port nobody listens on: connections are refused, the breaker opens, answers stay fast.
        let platform = try startEmbedded {
            $0.backends = [BackendEndpoint(host: "127.0.0.1", port: 1)]
            $0.staticKeys = [Gateway.APIKey(credential: "test-secret-1", name: "t")]
        }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let key = [("Authorization", "Bearer test-secret-1")]
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<50 {
            client.request("POST", "/v1/infer", headers: key, body: seedBody)
            let response = try #require(try client.response())
            statuses.append(response.status)
            retryAfter = response.header("Retry-After") ?? retryAfter
        }
        // 503, not 504: each answer came from the breaker or the refused connection, not from the deadline.
        #expect(statuses.allSatisfy { $0 == 503 }, "\(statuses)")
        #expect(retryAfter != nil)
    }
}

@Suite(.serialized) struct ServeMetricsTests {
    /// `/metrics` of a serving platform, after real traffic (200s, a 401, a 400), in the seed's names, passes
    /// Prometheus's own checker.
    @Test(.enabled(if: Promtool.runs, "promtool is not installed: run deploy/local/install-test-tools.sh as root"))
    func metricsOfARunningPlatformPassPromtool() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        for _ in 0..<5 {
            client.request("POST", "/v1/infer", headers: demo, body: seedBody)
            _ = try client.response()
        }
        client.request("POST", "/v1/infer", body: seedBody)
        _ = try client.response()
        client.request("POST", "/v2/models/sample-classifier/infer", headers: demo, body: #"{"inputs": 3}"#)
        _ = try client.response()
        client.request("GET", "/metrics")
        let response = try #require(try client.response())
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        let text = response.text
        #expect(
            text.contains(#"inference_requests_total{model="sample-classifier",version="1",status="200"} 5"#), "\(text)"
        )
        #expect(text.contains("inference_request_duration_seconds_bucket"))
        let (status, output) = try Promtool.check(response.body)
        #expect(status == 0, "promtool: \(output)")
    }
}

@Suite(.serialized) struct BackendPoolTests {
    /// Idle backend connections are closed by the transport's sweep and the pool keeps serving; the open-connection
    /// gauge counts the client's connection.
    @Test func idleBackendConnectionsCloseAndThePoolGoesOn() throws {
        let platform = try startEmbedded { $0.backendPool.idleTimeout = .milliseconds(500) }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        client.request("POST", "/v1/infer", headers: demo, body: seedBody)
        #expect(try client.response()?.status == 200)
        // Past the idle timeout and a sweep (once a second).
        usleep(2_200_000)
        client.request("POST", "/v1/infer", headers: demo, body: seedBody)
        #expect(try client.response()?.status == 200)
        client.request("GET", "/metrics")
        let metrics = try #require(try client.response()).text
        #expect(metrics.contains("http_connections_open 1"), "\(metrics)")
    }
}
