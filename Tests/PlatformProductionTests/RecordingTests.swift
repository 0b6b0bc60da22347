// `serve --record` and replay end to end: a real embedded platform records a few hundred mixed requests (served,
// refused, malformed, rate-limited, pipelined); replay must reproduce every reactor's action hash; a damaged trace
// must be reported (a divergence or an error naming the byte) rather than crash; and a trace replayed under another
// configuration (a different default deadline) must diverge, so the check can fail at all.

import Foundation
import Glibc
import PlatformCore
import PlatformWire
import Testing

@testable import PlatformProduction

@Suite(.serialized) struct RecordingTests {
    static let keys = [
        Gateway.APIKey(credential: "alpha-secret-1", name: "alpha"),
        Gateway.APIKey(credential: "beta-secret-22", name: "beta"),
    ]

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "aip-record-\(getpid())-\(UInt64.random(in: 0..<UInt64.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Records a run of mixed traffic into a new directory and returns it.
    static func recordRun() throws -> String {
        let directory = temporaryDirectory()
        let platform = try startEmbedded {
            $0.recordDirectory = directory
            $0.staticKeys = keys
            // Small enough that each key runs out within the run: 429s are part of what is recorded.
            $0.rateLimitPerMinute = 600
            $0.rateLimitBurst = 40
        }
        let kserve = #"{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}"#
        var statuses: [Int: Int] = [:]
        // Several connections, so the kernel spreads them over both reactors.
        for connection in 0..<6 {
            let client = try TestHTTPClient(port: platform.gatewayPort)
            for index in 0..<50 {
                let credential = ["alpha-secret-1", "beta-secret-22", "demo-token", "wrong-secret"][
                    (connection + index) % 4]
                let headers = [("Authorization", "Bearer \(credential)")]
                switch index % 5 {
                case 0: client.request("POST", "/v2/models/sample-classifier/infer", headers: headers, body: kserve)
                case 1: client.request("POST", "/v1/infer", headers: [], body: seedBody)
                case 2: client.request("POST", "/v1/infer", headers: headers, body: #"{"model": "sample-classifier"}"#)
                default: client.request("POST", "/v1/infer", headers: headers, body: seedBody)
                }
                let response = try #require(try client.response())
                statuses[response.status, default: 0] += 1
            }
            // A pipelined burst: several requests in one write.
            var batch = ""
            for _ in 0..<10 {
                batch += "POST /v1/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alpha-secret-1\r\n"
                batch += "Content-Length: \(seedBody.utf8.count)\r\n\r\n\(seedBody)"
                client.expect("POST")
            }
            client.send(batch)
            for _ in 0..<10 {
                let response = try #require(try client.response())
                statuses[response.status, default: 0] += 1
            }
        }
        platform.stop()
        #expect(statuses[200, default: 0] > 0, "\(statuses)")
        #expect(statuses[401, default: 0] > 0, "\(statuses)")
        #expect(statuses[400, default: 0] > 0, "\(statuses)")
        #expect(statuses[429, default: 0] > 0, "\(statuses)")
        return directory
    }

    @Test func aRecordedRunReplaysIdentically() throws {
        let directory = try Self.recordRun()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try TraceReplayer.traceFiles(directory)
        #expect(files.count == 2)
        var inputs = 0
        for file in files {
            let report = try TraceReplayer.replay(file: file)
            #expect(report.verdict == .identical, "\(report.summary)")
            #expect(report.recordedDigest == report.replayedDigest, "\(report.summary)")
            inputs += report.inputs
        }
        // About a thousand inputs on a quiet machine; how many requests the rate limit refuses (and so how many
        // inputs each brings) depends on how long the run takes, so the bound only asks for a substantial run.
        #expect(inputs > 600)
        // No secret reaches a trace: neither configured credential appears in any file.
        for file in files {
            let text = String(decoding: try #require(FileManager.default.contents(atPath: file)), as: UTF8.self)
            for key in Self.keys { #expect(!text.contains(key.credential)) }
            #expect(!text.contains("demo-token"))
            #expect(!text.contains("wrong-secret"))
        }
    }

    @Test func damagedTracesAreReportedNotCrashedOn() throws {
        let directory = try Self.recordRun()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try TraceReplayer.traceFiles(directory)[0]
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: file)))

        // A served request's credential turned into "refused": authentication now fails, so replay must diverge
        // exactly at that input.
        let (offset, position) = try #require(try Self.firstKeyCredential(bytes))
        var damaged = bytes
        damaged[offset] = 1
        let report = try TraceReplayer.replay(bytes: damaged, file: file)
        guard case .diverged(let input, let name, _, _) = report.verdict else {
            Issue.record("expected a divergence: \(report.summary)")
            return
        }
        #expect(input == position)
        #expect(name == "gateway request")

        // Bytes flipped anywhere: a report or an error naming the file and a byte, never a trap.
        var random = SeededRandom(seed: 7, stream: 1)
        for _ in 0..<40 {
            var flipped = bytes
            let at = Int(random.below(UInt64(bytes.count)))
            flipped[at] ^= UInt8(truncatingIfNeeded: random.below(255) + 1)
            do {
                _ = try TraceReplayer.replay(bytes: flipped, file: file)
            } catch {
                #expect(error.description.hasPrefix(file + ": byte "), "\(error)")
            }
        }
        // Cut in the middle of a record: an error naming the offset; cut between records: no end record.
        for cut in [bytes.count / 3, bytes.count / 2, bytes.count - 3] {
            do {
                let cutReport = try TraceReplayer.replay(bytes: Array(bytes[0..<cut]), file: file)
                #expect(cutReport.recordedDigest == nil)
            } catch {
                #expect(error.description.contains("truncated"), "\(error)")
            }
        }
    }

    @Test func anotherConfigurationDiverges() throws {
        let directory = try Self.recordRun()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var diverged = 0
        for file in try TraceReplayer.traceFiles(directory) {
            let bytes = [UInt8](try #require(FileManager.default.contents(atPath: file)))
            var decoder = TraceDecoder(bytes: bytes)
            var header = try decoder.header()
            // A longer default deadline: every admitted request gets another deadline timer and budget. (A
            // larger burst would change nothing here: with the shared limiter store, its answers are recorded
            // inputs, and the gateway's own bucket only decides when the store is unavailable.)
            header.requestTimeout = header.requestTimeout * 2
            let changed = TraceEncoder.header(header) + bytes[decoder.offset...]
            let report = try TraceReplayer.replay(bytes: changed, file: file)
            if case .diverged = report.verdict { diverged += 1 }
        }
        #expect(diverged > 0)
    }

    /// The offset of the credential field of the first request recorded with a key's pseudonym, and that input's
    /// position (from 1).
    static func firstKeyCredential(_ bytes: [UInt8]) throws -> (Int, Int)? {
        var decoder = TraceDecoder(bytes: bytes)
        _ = try decoder.header()
        var position = 0
        while let record = try decoder.next() {
            guard case .input(let input, _, _) = record else { continue }
            position += 1
            guard case .gateway(.request(let request)) = input, request.credential.hasPrefix("key-") else { continue }
            // Tag byte, `now` varint, request-id varint, then the credential's slot (one byte for a key).
            var offset = decoder.recordStart + 1
            for _ in 0..<2 {
                while bytes[offset] & 0x80 != 0 { offset += 1 }
                offset += 1
            }
            return (offset, position)
        }
        return nil
    }
}
