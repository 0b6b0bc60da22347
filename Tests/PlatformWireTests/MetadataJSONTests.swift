// The metadata API's query strings and key bodies: listings' parameters decode to a `RegistryQuery` (with
// percent escapes), bad parameters are refused by name, key bodies decode to scopes and limits, and keys and
// pages encode to a fixed text that never carries a secret beyond the one-time `credential`.

import PlatformCore
import Testing

@testable import PlatformWire

/// The refusal of a listing query, or nil when it decodes.
private func queryRefusal(_ text: Substring) -> RegistryFieldError? {
    do {
        _ = try RegistryListJSON.decodeQuery(text)
        return nil
    } catch {
        return error
    }
}

/// The refusal of a key-create body, or nil when it decodes.
private func createRefusal(_ text: String) throws -> RegistryFieldError? {
    let body = try JSONValue.parse(text)
    do {
        _ = try APIKeyJSON.decodeCreate(body)
        return nil
    } catch {
        return error
    }
}

/// The refusal of a rotate body, or nil when it decodes.
private func rotateRefusal(_ text: String) throws -> RegistryFieldError? {
    let body = try JSONValue.parse(text)
    do {
        _ = try APIKeyJSON.decodeRotate(body)
        return nil
    } catch {
        return error
    }
}

@Suite struct MetadataJSONTests {
    @Test func aListingQueryDecodesEveryParameter() throws {
        let query = try RegistryListJSON.decodeQuery(
            "namePrefix=sample&state=serving&label=team%3Dvision&after=sample-classifier@1&limit=1")
        #expect(query.namePrefix == "sample")
        #expect(query.state == .serving)
        #expect(query.label == Label(key: "team", value: "vision"))
        #expect(query.after == RegistryCursor(name: "sample-classifier", version: 1))
        #expect(query.limit == 1)
        // The `=` inside a label value may also be sent bare; the first `=` separates the parameter.
        #expect(try RegistryListJSON.decodeQuery("label=team=vision").label == Label(key: "team", value: "vision"))
        #expect(try RegistryListJSON.decodeQuery("label=note=a%20b").label == Label(key: "note", value: "a b"))
        #expect(try RegistryListJSON.decodeQuery("") == RegistryQuery())
    }

    @Test func badListingParametersAreRefusedByName() {
        #expect(queryRefusal("sort=name")?.field == "sort")
        #expect(queryRefusal("limit=ten")?.field == "limit")
        #expect(queryRefusal("label=team")?.field == "label")
        #expect(queryRefusal("state=live")?.field == "state")
        #expect(queryRefusal("after=noversion")?.field == "after")
        #expect(queryRefusal("after=@3")?.field == "after")
        #expect(queryRefusal("namePrefix=%zz")?.field == "namePrefix")
        #expect(queryRefusal("namePrefix=%ff")?.field == "namePrefix")
        #expect(queryRefusal("limit=1&limit=2")?.reason == "is given more than once")
    }

    @Test func cursorsSplitAtTheLastAt() {
        #expect(RegistryListJSON.decodeCursor("a@b@7") == RegistryCursor(name: "a@b", version: 7))
        #expect(RegistryListJSON.decodeCursor("a@0") == nil)
        #expect(RegistryListJSON.decodeCursor("a@x") == nil)
    }

    @Test func aPageEncodesItsCursor() {
        let spec = ModelVersionSpec(name: "m", version: 1, framework: "onnx", endpoints: ["e"])
        let record = ModelVersionRecord(spec: spec, tenant: 0, now: Instant(nanoseconds: 5_000_000))
        let page = RegistryListJSON.encodePage([record], next: record.cursor).serialized()
        #expect(page.hasSuffix(#"],"next":"m@1"}"#), "\(page)")
        #expect(RegistryListJSON.encodePage([], next: nil).serialized() == #"{"items":[],"next":null}"#)
    }

    @Test func aKeyBodyDecodesToScopesAndALimit() throws {
        let body = try JSONValue.parse(
            #"{"name": "nightly", "scopes": ["models:read", "batch"], "requestsPerMinute": 600}"#)
        let decoded = try APIKeyJSON.decodeCreate(body)
        #expect(decoded.name == "nightly")
        #expect(decoded.scopes == [.batch, .modelsRead])
        #expect(decoded.requestsPerMinute == 600)
        let plain = try APIKeyJSON.decodeCreate(try JSONValue.parse(#"{"name": "n", "scopes": ["infer"]}"#))
        #expect(plain.requestsPerMinute == nil)
    }

    @Test func badKeyBodiesNameTheField() throws {
        #expect(try createRefusal(#"{"scopes": ["infer"]}"#)?.field == "name")
        #expect(try createRefusal(#"{"name": "n"}"#)?.field == "scopes")
        #expect(try createRefusal(#"{"name": "n", "scopes": []}"#)?.field == "scopes")
        #expect(try createRefusal(#"{"name": "n", "scopes": ["root"]}"#)?.field == "scopes")
        #expect(try createRefusal(#"{"name": "n", "scopes": [1]}"#)?.field == "scopes")
        #expect(try createRefusal(#"{"name": "n", "scopes": ["infer"], "owner": "x"}"#)?.field == "owner")
        #expect(
            try createRefusal(#"{"name": "n", "scopes": ["infer"], "requestsPerMinute": 1.5}"#)?.field
                == "requestsPerMinute")
        #expect(try rotateRefusal(#"{}"#)?.field == "graceSeconds")
        #expect(try rotateRefusal(#"{"graceSeconds": -1}"#)?.field == "graceSeconds")
        #expect(try rotateRefusal(#"{"graceSeconds": 99999999999}"#)?.field == "graceSeconds")
        #expect(try rotateRefusal(#"{"graceSeconds": 600}"#) == nil)
    }

    @Test func aKeyEncodesWithoutItsSecret() {
        let view = APIKeyView(
            keyID: "k7f3q9x2m4p8", tenant: 0, name: "nightly-batch", scopes: [.modelsRead, .batch],
            createdAt: Instant(nanoseconds: 1_718_013_600_000_000_000), requestsPerMinute: 600)
        let text = APIKeyJSON.encode(view, tenant: "acme").serialized()
        let expected =
            #"{"keyID":"k7f3q9x2m4p8","tenant":"acme","name":"nightly-batch","scopes":["batch","models:read"],"#
            + #""createdAtMs":1718013600000,"expiresAtMs":null,"revokedAtMs":null,"rotatedTo":null,"#
            + #""requestsPerMinute":600}"#
        #expect(text == expected)
        let created = APIKeyJSON.encodeCreated(view, tenant: "acme", credential: "aip_k7f3q9x2m4p8_s").serialized()
        #expect(created.hasSuffix(#","credential":"aip_k7f3q9x2m4p8_s"}"#))
    }

    @Test func storeMessagesSplitIntoFieldAndReason() {
        let grace = APIKeyJSON.fieldError(fromStoreMessage: "grace: must not be negative")
        #expect(grace == RegistryFieldError(field: "graceSeconds", reason: "must not be negative"))
        let name = APIKeyJSON.fieldError(fromStoreMessage: "name: must be 1 to 128 bytes")
        #expect(name == RegistryFieldError(field: "name", reason: "must be 1 to 128 bytes"))
    }
}
