// The batch API's codec: submit bodies with the field each refusal names, the stored documents, stacking
// items into one backend call and cutting the answer back per item, and the job as the API shows it.

import PlatformCore
import Testing

@testable import PlatformWire

@Suite struct BatchJSONTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    func refusal(_ text: String, itemsMax: Int = 10_000) throws -> InferenceRequestError? {
        let body = try parse(text)
        do {
            _ = try BatchJSON.decodeSubmit(body, itemsMax: itemsMax)
            return nil
        } catch {
            return error
        }
    }

    @Test func decodesASubmit() throws {
        let body = try BatchJSON.decodeSubmit(
            try parse(#"{"model": "m", "version": 2, "items": [{"features": [1, 2]}, {"features": [3, 4]}]}"#))
        #expect(body.model == "m")
        #expect(body.version == 2)
        #expect(body.items.count == 2)
        let unpinned = try BatchJSON.decodeSubmit(try parse(#"{"model": "m", "items": [{"x": [1]}]}"#))
        #expect(unpinned.version == 0)
    }

    @Test func refusalsNameTheField() throws {
        #expect(try refusal(#"{"items": [{"x": [1]}]}"#)?.field == "model")
        #expect(try refusal(#"{"model": "m"}"#)?.field == "items")
        #expect(try refusal(#"{"model": "m", "items": []}"#)?.field == "items")
        #expect(try refusal(#"{"model": "m", "items": [{"x": [1]}, {"x": [1]}]}"#, itemsMax: 1)?.field == "items")
        #expect(try refusal(#"{"model": "m", "items": [{"x": [1]}, 7]}"#)?.field == "items[1]")
        #expect(try refusal(#"{"model": "m", "version": 0, "items": [{"x": [1]}]}"#)?.field == "version")
        #expect(try refusal(#"{"model": "m", "version": 1.5, "items": [{"x": [1]}]}"#)?.field == "version")
        #expect(try refusal(#"{"model": "m", "items": [{"x": [1]}], "extra": 1}"#)?.field == "extra")
        #expect(try refusal("[1]")?.field == "")
    }

    @Test func itemRefusalsPointIntoTheItem() throws {
        let fp32 = { (_: String) in TensorDatatype.fp32 }
        #expect(throws: InferenceRequestError.self) {
            _ = try BatchJSON.itemRequest(try parse(#"{"features": "no"}"#), index: 3, datatype: fp32)
        }
        let notNumbers = try parse(#"{"features": "no"}"#)
        do {
            _ = try BatchJSON.itemRequest(notNumbers, index: 3, datatype: fp32)
        } catch {
            #expect(error.field == "items[3].features")
        }
        let empty = try parse(#"{}"#)
        do {
            _ = try BatchJSON.itemRequest(empty, index: 0, datatype: fp32)
        } catch {
            #expect(error.field == "items[0]")
        }
        #expect(BatchJSON.itemField("inputs[0].shape[1]", index: 2) == "items[2]")
        let shape = InferenceRequestError(field: "inputs[0].shape[1]", reason: "is 2; input has 4 there")
        let named = BatchJSON.itemProblem(shape, index: 2, inputNames: ["features"])
        #expect(named == InferenceRequestError(field: "items[2].features", reason: "shape[1] is 2; input has 4 there"))
        let whole = InferenceRequestError(field: "inputs", reason: "lacks input \"features\"")
        #expect(BatchJSON.itemProblem(whole, index: 1, inputNames: []).field == "items[1]")
        #expect(BatchJSON.itemField("input.features[3]", index: 2) == "items[2].features[3]")
    }

    @Test func inputDocumentsRoundTripAndHashStably() throws {
        let items = [try parse(#"{"features": [5.1, 3.5, 1.4, 0.2]}"#)]
        let document = BatchJSON.inputDocument(model: "m", version: 1, items: items)
        #expect(try BatchJSON.decodeInputDocument(document) == items)
        // The same submit written with other spacing gives the same bytes, hence the same hash and key.
        let again = BatchJSON.inputDocument(
            model: "m", version: 1, items: [try parse(#"{ "features":[5.1,3.5,1.4,0.2] }"#)])
        #expect(BatchJSON.hash(document) == BatchJSON.hash(again))
        #expect(
            BatchJSON.hash(document) != BatchJSON.hash(BatchJSON.inputDocument(model: "m", version: 2, items: items)))
        #expect(BatchJSON.hash([]) == 0xcbf2_9ce4_8422_2325)
        #expect(BatchJSON.inputKey(tenant: 3, bodyHash: 0xAB) == "inputs/3/00000000000000ab.json")
        #expect(throws: InferenceRequestError.self) { _ = try BatchJSON.decodeInputDocument(Array("{".utf8)) }
    }

    @Test func stacksItemsAndCutsTheAnswerBack() throws {
        let fp32 = { (_: String) in TensorDatatype.fp32 }
        let bodies = try [
            #"{"features": [1, 2]}"#, #"{"features": [[3, 4], [5, 6]]}"#, #"{"features": [7, 8]}"#,
        ].enumerated().map { try BatchJSON.itemRequest(try parse($1), index: $0, datatype: fp32) }
        let chunk = try BatchJSON.chunkRequest(bodies)
        #expect(chunk.rows == [1, 2, 1])
        let tensor = try #require(
            { () -> JSONValue? in
                if case .array(let inputs)? = chunk.body["inputs"] { return inputs.first }
                return nil
            }())
        #expect(tensor["shape"] == .array([.number(4, isInteger: true), .number(2, isInteger: true)]))
        #expect(tensor["data"] == (try parse("[[1, 2], [3, 4], [5, 6], [7, 8]]")))
        let answer = try parse(
            #"""
            {"model_name": "m", "outputs": [
              {"name": "label", "datatype": "BYTES", "shape": [4], "data": ["a", "b", "c", "d"]},
              {"name": "scores", "datatype": "FP32", "shape": [4, 2], "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}
            """#)
        let outputs = try BatchJSON.splitOutputs(answer, rows: chunk.rows)
        #expect(outputs.count == 3)
        #expect(outputs[0] == (try parse(#"{"label": "a", "scores": [1, 2]}"#)))
        #expect(outputs[1] == (try parse(#"{"label": ["b", "c"], "scores": [[3, 4], [5, 6]]}"#)))
        #expect(outputs[2] == (try parse(#"{"label": "d", "scores": [7, 8]}"#)))
        // An answer whose rows do not match the chunk is refused, not misassigned.
        #expect(throws: InferenceRequestError.self) { _ = try BatchJSON.splitOutputs(answer, rows: [1, 1, 1]) }
        #expect(throws: InferenceRequestError.self) { _ = try BatchJSON.splitOutputs(.object([]), rows: [1]) }
    }

    @Test func resultDocumentListsItemsInOrder() throws {
        let bytes = BatchJSON.resultDocument(
            job: JobID(9), model: "m", version: 1, attempt: 2, outputs: [.object([("label", .string("x"))]), nil])
        let document = try JSONValue.parse(bytes)
        #expect(document["id"] == .string("9"))
        #expect(document["attempt"] == .number(2, isInteger: true))
        guard case .array(let items)? = document["items"] else {
            Issue.record("no items")
            return
        }
        #expect(items.count == 2)
        #expect(items[0]["outputs"]?["label"] == .string("x"))
        #expect(items[1]["error"] != nil)
    }

    @Test func encodesAJobAsTheAPIShowsIt() throws {
        let spec = JobSpec(
            tenant: 0, model: ModelID(0), version: 1, itemCount: 2, idempotencyKey: 5, bodyHash: 6)
        var record = JobRecord(id: JobID(1042), spec: spec, now: Instant(nanoseconds: 1_718_013_600_000_000_000))
        var json = BatchJSON.encodeJob(record, modelName: "sample-classifier")
        #expect(json["id"] == .string("1042"))
        #expect(json["status"] == .string("queued"))
        #expect(json["state"] == .string("accepted"))
        #expect(json["createdAtMs"] == .number(1_718_013_600_000, isInteger: true))
        #expect(json["progress"]?["itemsTotal"] == .number(2, isInteger: true))
        #expect(json["result"] == .null)
        #expect(json["error"] == .null)
        record.state = .succeeded
        record.attempt = 1
        record.result = ResultLocation(job: record.id, attempt: 1)
        json = BatchJSON.encodeJob(record, modelName: "sample-classifier")
        #expect(json["status"] == .string("succeeded"))
        #expect(json["result"]?["location"] == .string("results/1042/1"))
        #expect(json["result"]?["url"] == .string("/v1/jobs/1042/result"))
        record.state = .cancelled
        record.failure = .cancelledByClient
        #expect(BatchJSON.encodeJob(record, modelName: "m")["error"] == .string("cancelledByClient"))
    }
}
