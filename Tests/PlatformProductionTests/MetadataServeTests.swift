// The metadata port end to end on loopback: the registry's endpoints, the API-key admin endpoints and their
// effect on the gateway, refusals that name the field, and state that survives a restart on the same data
// directory. Each test runs an embedded `Platform` on ephemeral ports with its own temporary data directory.

import Foundation
import PlatformCore
import PlatformWire
import Testing

@testable import PlatformProduction

/// One answer, parsed: status, JSON body (nil when empty or not JSON) and the raw text for failure messages.
struct MetadataAnswer {
    var status: Int
    var json: JSONValue?
    var text: String
    var headers: [(name: String, value: String)]

    var errorField: String? {
        if case .string(let field)? = json?["error"]?["field"] { return field }
        return nil
    }
    var errorMessage: String {
        if case .string(let message)? = json?["error"]?["message"] { return message }
        return ""
    }
    func string(_ name: String) -> String? {
        if case .string(let value)? = json?[name] { return value }
        return nil
    }
    func integer(_ name: String) -> Int? {
        if case .number(let value, true)? = json?[name] { return Int(value) }
        return nil
    }
}

extension TestHTTPClient {
    /// Sends one request and reads its answer.
    func call(
        _ method: String, _ target: String, credential: String? = Platform.demoToken,
        headers: [(String, String)] = [], body: String? = nil
    ) throws -> MetadataAnswer {
        var all = headers
        if let credential { all.append(("Authorization", "Bearer \(credential)")) }
        request(method, target, headers: all, body: body)
        let response = try #require(try response(), "no answer to \(method) \(target)")
        let json = response.body.isEmpty ? nil : try? JSONValue.parse(response.body)
        return MetadataAnswer(status: response.status, json: json, text: response.text, headers: response.headers)
    }
}

let classifierVersion = #"""
    {"name": "sample-classifier", "version": 2, "framework": "onnxruntime", "endpoint": "triton-a:8001",
     "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
     "outputs": [{"name": "scores", "datatype": "FP32", "shape": [-1, 3]}],
     "labels": {"team": "vision"}}
    """#

@Suite(.serialized) struct MetadataServeTests {
    @Test func aVersionIsRegisteredReadListedUpdatedMovedAndDeleted() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        #expect(platform.metadataPort != 0)
        let client = try TestHTTPClient(port: platform.metadataPort)

        let created = try client.call("POST", "/v1/models", body: classifierVersion)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.string("state") == "registered")
        #expect(created.integer("resourceVersion") == 1)
        #expect(
            created.json?["inputs"]
                == .array([
                    .object([
                        ("name", .string("features")), ("datatype", .string("FP32")),
                        ("shape", .array([.number(-1, isInteger: true), .number(4, isInteger: true)])),
                    ])
                ]))
        #expect(created.json?["endpoints"] == .array([.string("triton-a:8001")]))

        let read = try client.call("GET", "/v1/models/sample-classifier/versions/2")
        #expect(read.status == 200, "\(read.text)")
        #expect(read.json == created.json)

        let third = classifierVersion.replacingOccurrences(of: "\"version\": 2", with: "\"version\": 3")
        #expect(try client.call("POST", "/v1/models", body: third).status == 201)
        let duplicate = try client.call("POST", "/v1/models", body: third)
        #expect(duplicate.status == 409, "\(duplicate.text)")

        let firstPage = try client.call("GET", "/v1/models?namePrefix=sample&label=team%3Dvision&limit=1")
        #expect(firstPage.status == 200, "\(firstPage.text)")
        #expect(firstPage.string("next") == "sample-classifier@2")
        let secondPage = try client.call("GET", "/v1/models?label=team=vision&limit=1&after=sample-classifier@2")
        #expect(secondPage.json?["next"] == .null, "\(secondPage.text)")
        guard case .array(let items)? = secondPage.json?["items"] else {
            Issue.record("no items in \(secondPage.text)")
            return
        }
        #expect(items.count == 1)
        #expect(items.first?["version"] == .number(3, isInteger: true))

        let stale = try client.call(
            "PATCH", "/v1/models/sample-classifier/versions/2", headers: [("If-Match", "5")],
            body: #"{"endpoints": ["triton-a:8001", "triton-b:8001"]}"#)
        #expect(stale.status == 412, "\(stale.text)")
        #expect(stale.errorMessage == "resourceVersion is 1, not 5")

        let patched = try client.call(
            "PATCH", "/v1/models/sample-classifier/versions/2", headers: [("If-Match", "1")],
            body: #"{"endpoints": ["triton-a:8001", "triton-b:8001"]}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched.integer("resourceVersion") == 2)
        #expect(patched.json?["endpoints"] == .array([.string("triton-a:8001"), .string("triton-b:8001")]))

        let illegal = try client.call(
            "POST", "/v1/models/sample-classifier/versions/2/transition", body: #"{"to": "serving"}"#)
        #expect(illegal.status == 409, "\(illegal.text)")
        #expect(illegal.errorMessage == "sample-classifier version 2 cannot move from registered to serving")

        let staged = try client.call(
            "POST", "/v1/models/sample-classifier/versions/2/transition", headers: [("If-Match", "2")],
            body: #"{"to": "staging"}"#)
        #expect(staged.status == 200, "\(staged.text)")
        #expect(staged.string("state") == "staging")
        #expect(staged.integer("resourceVersion") == 3)

        let deleted = try client.call("DELETE", "/v1/models/sample-classifier/versions/2")
        #expect(deleted.status == 204, "\(deleted.text)")
        #expect(deleted.text.isEmpty)
        #expect(try client.call("GET", "/v1/models/sample-classifier/versions/2").status == 404)
    }

    @Test func badInputIsRefusedNamingWhereItWentWrong() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.metadataPort)

        #expect(try client.call("GET", "/v1/models", credential: nil).status == 401)
        #expect(try client.call("POST", "/v1/models", credential: "wrong", body: "{").status == 401)

        let malformed = try client.call("POST", "/v1/models", body: "{\n  \"name\": \"x\",\n  \"version\": 1,,\n}")
        #expect(malformed.status == 400)
        #expect(malformed.errorMessage.contains("line 3, column"), "\(malformed.text)")

        let unknown = try client.call(
            "POST", "/v1/models",
            body: #"{"name": "m", "version": 1, "framework": "onnx", "endpoint": "e", "colour": "blue"}"#)
        #expect(unknown.status == 400)
        #expect(unknown.errorField == "colour", "\(unknown.text)")

        let shape = try client.call(
            "POST", "/v1/models",
            body: #"{"name": "m", "version": 1, "framework": "onnx", "endpoint": "e", "#
                + #""inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 0]}]}"#)
        #expect(shape.status == 400)
        #expect(shape.errorField == "inputs[0].shape[1]", "\(shape.text)")

        let limit = try client.call("GET", "/v1/models?limit=501")
        #expect(limit.status == 400)
        #expect(limit.errorField == "limit", "\(limit.text)")

        let parameter = try client.call("GET", "/v1/models?sort=name")
        #expect(parameter.errorField == "sort", "\(parameter.text)")

        let immutable = try client.call("PATCH", "/v1/models/m/versions/1", body: #"{"inputs": []}"#)
        #expect(immutable.status == 400)
        #expect(immutable.errorField == "inputs", "\(immutable.text)")

        let scope = try client.call("POST", "/v1/admin/keys", body: #"{"name": "k", "scopes": ["infer", "root"]}"#)
        #expect(scope.status == 400)
        #expect(scope.errorField == "scopes", "\(scope.text)")

        let grace = try client.call("POST", "/v1/admin/keys/abcdefgh1234/rotate", body: #"{"graceSeconds": -1}"#)
        #expect(grace.status == 400)
        #expect(grace.errorField == "graceSeconds", "\(grace.text)")
    }

    @Test func aKeyCreatedWithItsOwnLimitIsHeldToIt() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let metadata = try TestHTTPClient(port: platform.metadataPort)
        let created = try metadata.call(
            "POST", "/v1/admin/keys", body: #"{"name": "trickle", "scopes": ["infer"], "requestsPerMinute": 1}"#)
        #expect(created.status == 201, "\(created.text)")
        let credential = try #require(created.string("credential"))

        // One a minute: the first call goes, the next (on another connection, so possibly another reactor) is
        // refused with the time until the key's token is back.
        var statuses: [Int] = []
        var retryAfter: [String] = []
        for _ in 0..<2 {
            let gateway = try TestHTTPClient(port: platform.gatewayPort)
            gateway.request("POST", "/v1/infer", headers: [("Authorization", "Bearer \(credential)")], body: seedBody)
            let response = try #require(try gateway.response())
            statuses.append(response.status)
            retryAfter += response.headers.filter { $0.name.lowercased() == "retry-after" }.map(\.value)
        }
        #expect(statuses == [200, 429])
        #expect(retryAfter.count == 1 && (Int(retryAfter[0]) ?? 0) >= 59, "\(retryAfter)")

        // The tenant's bucket is untouched: its other credentials still infer.
        let gateway = try TestHTTPClient(port: platform.gatewayPort)
        gateway.request("POST", "/v1/infer", headers: demo, body: seedBody)
        let response = try #require(try gateway.response())
        #expect(response.status == 200, "\(response.text)")
    }

    @Test func aCreatedKeyInfersAtOnceAndStopsWhenRevoked() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let metadata = try TestHTTPClient(port: platform.metadataPort)

        let created = try metadata.call(
            "POST", "/v1/admin/keys", body: #"{"name": "ci", "scopes": ["admin", "infer"], "requestsPerMinute": 600}"#)
        #expect(created.status == 201, "\(created.text)")
        let credential = try #require(created.string("credential"))
        let keyID = try #require(created.string("keyID"))
        #expect(credential.hasPrefix("aip_\(keyID)_"))
        #expect(created.string("tenant") == "demo")
        #expect(created.json?["scopes"] == .array([.string("infer"), .string("admin")]))
        #expect(created.headers.contains { $0.name == "Cache-Control" && $0.value == "no-store" })

        // The secret is shown once: the listing never carries it.
        let listed = try metadata.call("GET", "/v1/admin/keys", credential: credential)
        #expect(listed.status == 200, "\(listed.text)")
        #expect(listed.text.contains(keyID))
        #expect(!listed.text.contains("credential"))
        #expect(!listed.text.contains(String(credential.dropFirst(5 + keyID.count))))

        // Every reactor's gateway knows the key before the create was answered: try several connections.
        for _ in 0..<4 {
            let gateway = try TestHTTPClient(port: platform.gatewayPort)
            gateway.request("POST", "/v1/infer", headers: [("Authorization", "Bearer \(credential)")], body: seedBody)
            let response = try #require(try gateway.response())
            #expect(response.status == 200, "\(response.text)")
        }

        // The key has no models:write scope.
        let forbidden = try metadata.call("POST", "/v1/models", credential: credential, body: classifierVersion)
        #expect(forbidden.status == 403, "\(forbidden.text)")

        let revoked = try metadata.call("POST", "/v1/admin/keys/\(keyID)/revoke")
        #expect(revoked.status == 200, "\(revoked.text)")
        #expect(revoked.integer("revokedAtMs") != nil)
        for _ in 0..<4 {
            let gateway = try TestHTTPClient(port: platform.gatewayPort)
            gateway.request("POST", "/v1/infer", headers: [("Authorization", "Bearer \(credential)")], body: seedBody)
            #expect(try gateway.response()?.status == 401)
        }
        #expect(try metadata.call("GET", "/v1/admin/keys", credential: credential).status == 401)
        #expect(try metadata.call("POST", "/v1/admin/keys/zzzzzzzz9999/revoke").status == 404)
    }

    @Test func aRotatedKeyHandsOverToItsSuccessor() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let metadata = try TestHTTPClient(port: platform.metadataPort)
        let created = try metadata.call("POST", "/v1/admin/keys", body: #"{"name": "svc", "scopes": ["infer"]}"#)
        let keyID = try #require(created.string("keyID"))
        let rotated = try metadata.call("POST", "/v1/admin/keys/\(keyID)/rotate", body: #"{"graceSeconds": 0}"#)
        #expect(rotated.status == 200, "\(rotated.text)")
        let fresh = try #require(rotated.string("credential"))
        #expect(rotated.json?["old"]?["rotatedTo"] == rotated.json?["new"]?["keyID"])
        let gateway = try TestHTTPClient(port: platform.gatewayPort)
        gateway.request("POST", "/v1/infer", headers: [("Authorization", "Bearer \(fresh)")], body: seedBody)
        #expect(try gateway.response()?.status == 200)
        let old = try #require(created.string("credential"))
        gateway.request("POST", "/v1/infer", headers: [("Authorization", "Bearer \(old)")], body: seedBody)
        #expect(try gateway.response()?.status == 401)
        let again = try metadata.call("POST", "/v1/admin/keys/\(keyID)/rotate", body: #"{"graceSeconds": 0}"#)
        #expect(again.status == 400)
        #expect(again.errorField == "keyID", "\(again.text)")
    }

    @Test func tenantsSeeOnlyTheirOwnRecordsAndKeys() throws {
        let platform = try startEmbedded {
            $0.staticKeys = [Gateway.APIKey(credential: "acme-secret", name: "acme")]
        }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.metadataPort)
        #expect(try client.call("POST", "/v1/models", credential: "acme-secret", body: classifierVersion).status == 201)
        let other = try client.call("GET", "/v1/models/sample-classifier/versions/2")
        #expect(other.status == 404, "\(other.text)")
        let taken = try client.call(
            "POST", "/v1/models",
            body: classifierVersion.replacingOccurrences(of: "\"version\": 2", with: "\"version\": 9"))
        #expect(taken.status == 409, "\(taken.text)")
        #expect(taken.errorMessage == "the model name \"sample-classifier\" is in use")
        let listing = try client.call("GET", "/v1/models")
        #expect(listing.text == #"{"items":[],"next":null}"#)

        let key = try client.call(
            "POST", "/v1/admin/keys", credential: "acme-secret", body: #"{"name": "a", "scopes": ["admin"]}"#)
        #expect(key.string("tenant") == "acme")
        let keyID = try #require(key.string("keyID"))
        #expect(try client.call("POST", "/v1/admin/keys/\(keyID)/revoke").status == 404)
        #expect(try client.call("GET", "/v1/admin/keys").text == #"{"items":[]}"#)
    }

    @Test func unknownPathsAndMethodsAreRefused() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.metadataPort)
        #expect(try client.call("GET", "/health", credential: nil).status == 200)
        #expect(try client.call("GET", "/v1/nothing").status == 404)
        #expect(try client.call("PUT", "/v1/models").status == 405)
        #expect(try client.call("GET", "/v1/admin/keys/abcdefgh1234/revoke").status == 405)
        let version = try client.call("GET", "/v1/models/m/versions/zero")
        #expect(version.status == 400)
        #expect(version.errorField == "version")
        let ifMatch = try client.call(
            "DELETE", "/v1/models/m/versions/1", headers: [("If-Match", "soon")])
        #expect(ifMatch.errorField == "If-Match", "\(ifMatch.text)")
        #expect(try client.call("GET", "/v1/models/m/canary").status == 501)
    }

    @Test func aVersionMayBeRegisteredIntoStaging() throws {
        let platform = try startEmbedded()
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.metadataPort)
        let body = #"{"name": "m", "version": 1, "framework": "onnx", "endpoint": "e", "state": "staging"}"#
        let staged = try client.call("POST", "/v1/models", body: body)
        #expect(staged.status == 201, "\(staged.text)")
        #expect(staged.string("state") == "staging")
        #expect(staged.integer("resourceVersion") == 2)
        let serving = try client.call(
            "POST", "/v1/models", body: body.replacingOccurrences(of: "staging", with: "serving"))
        #expect(serving.errorField == "state", "\(serving.text)")
        // A PATCH that moves the version and changes a member: the move first, then the member.
        let patched = try client.call(
            "PATCH", "/v1/models/m/versions/1", headers: [("If-Match", "2")],
            body: #"{"state": "serving", "labels": {"stage": "live"}}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched.string("state") == "serving")
        #expect(patched.integer("resourceVersion") == 4)
        let refused = try client.call(
            "PATCH", "/v1/models/m/versions/1", body: #"{"state": "staging", "framework": "other"}"#)
        #expect(refused.status == 409, "\(refused.text)")
        #expect(try client.call("GET", "/v1/models/m/versions/1").string("framework") == "onnx")
    }

    @Test func recordsAndKeysSurviveARestart() throws {
        let directory = freshDataDirectory()
        var credential = ""
        do {
            let platform = try startEmbedded { $0.dataDirectory = directory }
            defer { platform.stop(drain: .zero) }
            let client = try TestHTTPClient(port: platform.metadataPort)
            #expect(try client.call("POST", "/v1/models", body: classifierVersion).status == 201)
            let moved = try client.call(
                "POST", "/v1/models/sample-classifier/versions/2/transition", body: #"{"to": "staging"}"#)
            #expect(moved.status == 200)
            let key = try client.call("POST", "/v1/admin/keys", body: #"{"name": "kept", "scopes": ["infer"]}"#)
            credential = try #require(key.string("credential"))
        }
        let platform = try startEmbedded { $0.dataDirectory = directory }
        defer { platform.stop(drain: .zero) }
        let client = try TestHTTPClient(port: platform.metadataPort)
        let read = try client.call("GET", "/v1/models/sample-classifier/versions/2")
        #expect(read.status == 200, "\(read.text)")
        #expect(read.string("state") == "staging")
        #expect(read.integer("resourceVersion") == 2)
        let gateway = try TestHTTPClient(port: platform.gatewayPort)
        gateway.request("POST", "/v1/infer", headers: [("Authorization", "Bearer \(credential)")], body: seedBody)
        #expect(try gateway.response()?.status == 200)
    }
}
