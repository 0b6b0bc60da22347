// `aiplatform load`, the open-loop generator the benchmarks rely on, run as a child process against an embedded
// platform on loopback: every due request is sent and answered and counted once, and bad arguments are refused
// by name.

import Foundation
import Testing

@testable import PlatformProduction

/// The binary under test: $AIPLATFORM_BIN (set by `make test`), else the release build; nil when neither exists.
private var loadBinary: String? {
    if let path = ProcessInfo.processInfo.environment["AIPLATFORM_BIN"],
        FileManager.default.isExecutableFile(atPath: path)
    {
        return path
    }
    let release = repositoryRoot + "/.build/release/aiplatform"
    return FileManager.default.isExecutableFile(atPath: release) ? release : nil
}

/// Runs `aiplatform load ARGUMENTS`; its exit status and both outputs.
private func runLoad(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let binary = try #require(loadBinary, "no release binary: run `make test` (it builds it first)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["load"] + arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outputData, as: UTF8.self),
        String(decoding: errorData, as: UTF8.self)
    )
}

@Suite(.serialized) struct LoadCommandTests {
    @Test func everyDueRequestIsSentAnsweredAndCountedOnce() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let url = "http://127.0.0.1:\(platform.gatewayPort)/health"
        let run = try runLoad([url, "--rate", "400", "--duration", "1", "--connections", "4"])
        #expect(run.status == 0, "\(run.error)")
        #expect(run.output.contains("(400 sent, 400 answered"), "\(run.output)")
        #expect(run.output.contains("statuses 200=400  errors 0  unanswered 0"), "\(run.output)")
        #expect(run.output.contains("latency ms  p50 "), "\(run.output)")
    }

    @Test func postsTheBodyWithTheGivenHeaders() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let body = FileManager.default.temporaryDirectory.appendingPathComponent("load-body-\(getpid()).json")
        try Data(
            #"{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}"#
                .utf8
        )
        .write(to: body)
        defer { try? FileManager.default.removeItem(at: body) }
        let url = "http://127.0.0.1:\(platform.gatewayPort)/v2/models/sample-classifier/infer"
        let authorized = try runLoad([
            url, "--rate", "200", "--duration", "1", "--connections", "8", "--body", body.path,
            "--header", "Authorization: Bearer demo-token",
        ])
        #expect(authorized.output.contains("statuses 200=200  errors 0  unanswered 0"), "\(authorized.output)")
        // Without the key every answer is the gateway's 401: the header really is what was sent.
        let anonymous = try runLoad([url, "--rate", "50", "--duration", "1", "--body", body.path])
        #expect(anonymous.output.contains("statuses 401=50  errors 0  unanswered 0"), "\(anonymous.output)")
    }

    @Test func badArgumentsAreRefusedByName() throws {
        let cases: [([String], String)] = [
            (["http://127.0.0.1:1/health", "--rate", "0", "--duration", "1"], "--rate"),
            (["http://127.0.0.1:1/health", "--rate", "10", "--duration", "601"], "--duration"),
            (["http://192.0.2.1:80/health", "--rate", "10", "--duration", "1"], "loopback"),
        ]
        for (arguments, named) in cases {
            let run = try runLoad(arguments)
            #expect(run.status == 2, "\(arguments): \(run.error)")
            #expect(run.error.contains(named), "\(arguments): \(run.error)")
        }
        let nobody = try runLoad(["http://127.0.0.1:1/health", "--rate", "10", "--duration", "1"])
        #expect(nobody.status == 1)
        #expect(nobody.error.contains("cannot connect"), "\(nobody.error)")
    }
}
