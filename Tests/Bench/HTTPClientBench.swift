// Release-mode cost of the client's codecs, for docs/benchmarks.md: the response parser on a typical small Triton
// JSON answer (status line, four headers, a 200-byte Content-Length body), against the server's request parser on
// a request of the same size as the peer, measured in the same process right after; then the request writer and
// the KServe response decoder. Built by deploy/local/bench-http.sh with swiftc directly against PlatformWire.

import PlatformWire

/// Runs `body` `count` times and prints the wall-clock nanoseconds per run (the bench is a shell: it may read a
/// clock); returns them.
@discardableResult
private func measure(_ name: String, count: Int, _ body: () -> Int) -> Double {
    var check = 0
    let clock = ContinuousClock()
    let elapsed = clock.measure {
        for _ in 0..<count { check &+= body() }
    }
    let (seconds, attoseconds) = elapsed.components
    let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    let perRun = nanoseconds / Double(count)
    print("\(name): \(Int(perRun.rounded())) ns per run (\(count) runs, check \(check))")
    return perRun
}

@main
struct HTTPClientBench {
    static func main() throws {
        let arguments = CommandLine.arguments
        let count = arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000
        let body = String(repeating: "{\"k\":\"0123456789\"}", count: 10) + "01234567890123456789"
        let response = Array(
            ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n"
                + "Date: Sun, 29 Nov 2026 10:00:00 GMT\r\nServer: triton\r\n\r\n" + body).utf8)
        let request = Array(
            ("POST /v2/models/sample-classifier/infer HTTP/1.1\r\nHost: triton:8000\r\n"
                + "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n" + body).utf8)

        // One parser per connection, reused across responses, as a keep-alive pool does.
        var responses = HTTPResponseParser()
        let responseCost = measure("response parser, typical 200-byte JSON answer", count: count) {
            responses.expect(method: "POST")
            responses.feed(response)
            return (try? responses.next())??.body.count ?? -1
        }
        var requests = HTTPRequestParser()
        let requestCost = measure("peer: request parser, same-size request", count: count) {
            requests.feed(request)
            return (try? requests.next())??.body.count ?? -1
        }
        print("ratio response/request: \(Double(Int(responseCost / requestCost * 100)) / 100)")

        let writer = HTTPRequestWriter(host: "triton:8000", headers: [("Content-Type", "application/json")])
        let bodyBytes = Array(body.utf8)
        var out: [UInt8] = []
        measure("request writer, 200-byte body into a reused buffer", count: count) {
            out.removeAll(keepingCapacity: true)
            writer.append(method: "POST", target: "/v2/models/sample-classifier/infer", body: bodyBytes, to: &out)
            return out.count
        }

        let triton = Array(
            ("{\"model_name\":\"sample-classifier\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"scores\","
                + "\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[0.9731,0.0262,0.0007]},{\"name\":\"label\","
                + "\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"setosa\"]}]}").utf8)
        measure("KServe response decode, the sample-classifier body", count: count / 10) {
            guard case .inferred(let reply)? = try? KServeClient.decodeInferReply(triton) else { return -1 }
            return reply.outputs.count
        }
    }
}
