// Batch jobs end to end on loopback: an embedded platform with its own data directory takes a submit,
// its worker runs the items through the reference backend, and the job and its result are read back over
// HTTP, also after the platform was stopped and started again on the same directory.

import Foundation
import Glibc
import PlatformCore
import PlatformWire
import Testing

@testable import PlatformProduction

/// A fresh, empty data directory for one test.
func freshDataDirectory() -> String {
    let path = NSTemporaryDirectory() + "aip-batch-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let fiveItems = #"""
    {"model": "sample-classifier", "version": 1, "items": [
      {"features": [5.1, 3.5, 1.4, 0.2]}, {"features": [6.7, 3.0, 5.2, 2.3]}, {"features": [5.0, 3.4, 1.5, 0.2]},
      {"features": [6.3, 3.3, 6.0, 2.5]}, {"features": [4.9, 3.0, 1.4, 0.2]}]}
    """#

@Suite(.serialized) struct BatchServeTests {
    func send(
        _ client: TestHTTPClient, _ method: String, _ target: String, headers: [(String, String)] = demo,
        body: String? = nil
    ) throws -> (status: Int, json: JSONValue, text: String) {
        client.request(method, target, headers: headers, body: body)
        let response = try #require(try client.response())
        let json = (try? JSONValue.parse(response.body)) ?? .null
        return (response.status, json, response.text)
    }

    /// Polls the job until it reaches a terminal status or 10 s pass; returns the last answer.
    func waitForEnd(_ client: TestHTTPClient, _ id: String) throws -> JSONValue {
        let deadline = Reactor.now() + .seconds(10)
        var last = JSONValue.null
        while Reactor.now() < deadline {
            let answer = try send(client, "GET", "/v1/jobs/\(id)")
            #expect(answer.status == 200, "\(answer.text)")
            last = answer.json
            if case .string(let status)? = last["status"], status != "queued" && status != "running" { return last }
            usleep(20_000)
        }
        return last
    }

    func labels(_ client: TestHTTPClient, _ id: String) throws -> [String] {
        let answer = try send(client, "GET", "/v1/jobs/\(id)/result")
        #expect(answer.status == 200, "\(answer.text)")
        guard case .array(let items)? = answer.json["items"] else { return [] }
        return items.map { item in
            if case .string(let label)? = item["outputs"]?["label"] { return label }
            return "?"
        }
    }

    @Test func aJobRunsToSuccessWithTheRightLabels() throws {
        let directory = freshDataDirectory()
        let platform = try startEmbedded { $0.dataDirectory = directory }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let submitted = try send(client, "POST", "/v1/batch", body: fiveItems)
        #expect(submitted.status == 202, "\(submitted.text)")
        guard case .string(let id)? = submitted.json["id"] else {
            Issue.record("no id in \(submitted.text)")
            return
        }
        #expect(submitted.json["progress"]?["itemsTotal"] == .number(5, isInteger: true))
        let job = try waitForEnd(client, id)
        #expect(job["status"] == .string("succeeded"), "\(job)")
        #expect(job["progress"]?["itemsDone"] == .number(5, isInteger: true))
        #expect(job["result"]?["url"] == .string("/v1/jobs/\(id)/result"))
        #expect(try labels(client, id) == ["setosa", "virginica", "setosa", "virginica", "setosa"])
        // The result object is where the job row says.
        guard case .string(let location)? = job["result"]?["location"] else {
            Issue.record("no result location in \(job)")
            return
        }
        #expect(FileManager.default.fileExists(atPath: directory + "/objects/" + location))
    }

    @Test func anIdempotencyKeyGivesBackTheSameJob() throws {
        let platform = try startEmbedded { $0.dataDirectory = freshDataDirectory() }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let headers = demo + [("Idempotency-Key", "nightly-1")]
        let first = try send(client, "POST", "/v1/batch", headers: headers, body: fiveItems)
        let second = try send(client, "POST", "/v1/batch", headers: headers, body: fiveItems)
        #expect(first.status == 202 && second.status == 202, "\(first.text) \(second.text)")
        #expect(first.json["id"] != nil && first.json["id"] == second.json["id"])
        let other = #"{"model": "sample-classifier", "items": [{"features": [5.1, 3.5, 1.4, 0.2]}]}"#
        let conflicting = try send(client, "POST", "/v1/batch", headers: headers, body: other)
        #expect(conflicting.status == 409, "\(conflicting.text)")
        // Without a key, the same body is a new job.
        let fresh = try send(client, "POST", "/v1/batch", body: fiveItems)
        #expect(fresh.status == 202 && fresh.json["id"] != first.json["id"], "\(fresh.text)")
    }

    @Test func refusalsNameTheFieldAndUnknownJobsAreNotFound() throws {
        let platform = try startEmbedded { $0.dataDirectory = freshDataDirectory() }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let cases: [(String, String)] = [
            (#"{"items": [{"features": [1, 2, 3, 4]}]}"#, "model"),
            (#"{"model": "sample-classifier", "items": []}"#, "items"),
            (
                #"{"model": "sample-classifier", "items": [{"features": [1, 2, 3, 4]}, {"features": [1, 2]}]}"#,
                "items[1].features"
            ),
            (#"{"model": "sample-classifier", "items": [{"features": "x"}]}"#, "items[0].features"),
            (#"{"model": "nope", "items": [{"features": [1, 2, 3, 4]}]}"#, "model"),
            (#"{"model": "sample-classifier", "version": 9, "items": [{"features": [1, 2, 3, 4]}]}"#, "version"),
        ]
        for (body, field) in cases {
            let answer = try send(client, "POST", "/v1/batch", body: body)
            #expect(answer.status == 400, "\(body) -> \(answer.text)")
            #expect(answer.json["error"]?["field"] == .string(field), "\(body) -> \(answer.text)")
        }
        let notJSON = try send(client, "POST", "/v1/batch", body: "{")
        #expect(notJSON.status == 400)
        #expect(try send(client, "GET", "/v1/jobs/999999").status == 404)
        #expect(try send(client, "GET", "/v1/jobs/abc").status == 404)
        #expect(try send(client, "POST", "/v1/jobs/999999/cancel").status == 404)
        // Authentication comes first: a bad body with no credential is a 401.
        #expect(try send(client, "POST", "/v1/batch", headers: [], body: "{").status == 401)
        #expect(try send(client, "GET", "/v1/jobs/1", headers: [("Authorization", "Bearer wrong")]).status == 401)
    }

    @Test func aJobSurvivesARestart() throws {
        let directory = freshDataDirectory()
        var id = ""
        do {
            let platform = try startEmbedded { $0.dataDirectory = directory }
            let client = try TestHTTPClient(port: platform.gatewayPort)
            let submitted = try send(
                client, "POST", "/v1/batch", headers: demo + [("Idempotency-Key", "restart-1")], body: fiveItems)
            #expect(submitted.status == 202, "\(submitted.text)")
            if case .string(let given)? = submitted.json["id"] { id = given }
            platform.stop(drain: .zero)
        }
        #expect(!id.isEmpty)
        let platform = try startEmbedded { $0.dataDirectory = directory }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let job = try waitForEnd(client, id)
        #expect(job["status"] == .string("succeeded"), "\(job)")
        #expect(try labels(client, id) == ["setosa", "virginica", "setosa", "virginica", "setosa"])
        // The idempotency key is remembered across the restart too.
        let again = try send(
            client, "POST", "/v1/batch", headers: demo + [("Idempotency-Key", "restart-1")], body: fiveItems)
        #expect(again.json["id"] == .string(id), "\(again.text)")
        // A new job after the restart gets a new id.
        let next = try send(client, "POST", "/v1/batch", body: fiveItems)
        #expect(next.status == 202 && next.json["id"] != .string(id), "\(next.text)")
    }

    @Test func aCancelledJobStaysCancelledAndHasNoResult() throws {
        let platform = try startEmbedded { $0.dataDirectory = freshDataDirectory() }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let submitted = try send(client, "POST", "/v1/batch", body: fiveItems)
        guard case .string(let id)? = submitted.json["id"] else {
            Issue.record("no id in \(submitted.text)")
            return
        }
        let cancelled = try send(client, "POST", "/v1/jobs/\(id)/cancel")
        #expect(cancelled.status == 200, "\(cancelled.text)")
        let job = try waitForEnd(client, id)
        // The worker may have finished first; either way the job ends in exactly one terminal status.
        if job["status"] == .string("cancelled") {
            #expect(job["error"] == .string("cancelledByClient"))
            #expect(try send(client, "GET", "/v1/jobs/\(id)/result").status == 409)
        } else {
            #expect(job["status"] == .string("succeeded"), "\(job)")
        }
    }

    @Test func aHundredItemJobCompletes() throws {
        let platform = try startEmbedded { $0.dataDirectory = freshDataDirectory() }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.gatewayPort)
        let items = (0..<100).map { index in
            index % 2 == 0 ? #"{"features": [5.1, 3.5, 1.4, 0.2]}"# : #"{"features": [6.7, 3.0, 5.2, 2.3]}"#
        }
        let body = #"{"model": "sample-classifier", "items": ["# + items.joined(separator: ",") + "]}"
        let started = Reactor.now()
        let submitted = try send(client, "POST", "/v1/batch", body: body)
        guard case .string(let id)? = submitted.json["id"] else {
            Issue.record("no id in \(submitted.text)")
            return
        }
        let job = try waitForEnd(client, id)
        let elapsed = Reactor.now() - started
        #expect(job["status"] == .string("succeeded"), "\(job)")
        let found = try labels(client, id)
        #expect(found.count == 100)
        #expect(found.enumerated().allSatisfy { $1 == ($0 % 2 == 0 ? "setosa" : "virginica") })
        print("batch: 100 items succeeded in \(elapsed.nanoseconds / 1_000_000) ms (submit to observed success)")
    }
}
