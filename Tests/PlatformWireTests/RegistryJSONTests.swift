// Registry and KServe v2 bodies from JSON: good bodies decode to the core values, bad ones are refused
// with the JSON path of the offending field, nested tensor data must follow the shape, and records encode
// to a fixed text.

import PlatformCore
import Testing

@testable import PlatformWire

private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

/// The refusal of a create body, or nil when it decodes.
private func createRefusal(_ text: String) throws -> RegistryFieldError? {
    let body = try json(text)
    do {
        _ = try RegistryJSON.decodeCreate(body)
        return nil
    } catch {
        return error
    }
}

/// The refusal of an inference body, or nil when it decodes.
private func inferenceRefusal(_ text: String) throws -> InferenceRequestError? {
    let body = try json(text)
    do {
        _ = try InferenceJSON.decodeRequest(body)
        return nil
    } catch {
        return error
    }
}

@Suite struct RegistryJSONTests {
    @Test func decodesTheSeedCreateBody() throws {
        let body = try RegistryJSON.decodeCreate(
            json(#"{"name": "resnet", "version": 2, "framework": "onnxruntime", "endpoint": "triton-0:8001"}"#))
        #expect(
            body.spec
                == ModelVersionSpec(name: "resnet", version: 2, framework: "onnxruntime", endpoints: ["triton-0:8001"]))
        #expect(body.state == nil)
    }

    @Test func decodesSchemasLabelsAndState() throws {
        let text = #"""
            {"name": "resnet", "version": 1, "framework": "onnxruntime", "endpoints": ["a:1", "b:1"],
             "inputs": [{"name": "images", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
             "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}],
             "labels": {"team": "vision", "owner": "ml"}, "state": "staging"}
            """#
        let body = try RegistryJSON.decodeCreate(json(text))
        #expect(body.spec.endpoints == ["a:1", "b:1"])
        #expect(body.spec.inputs == [TensorSchema(name: "images", datatype: .fp32, shape: [-1, 3, 224, 224])])
        #expect(body.spec.outputs == [TensorSchema(name: "logits", datatype: .fp32, shape: [-1, 1000])])
        #expect(body.spec.labels == [Label(key: "owner", value: "ml"), Label(key: "team", value: "vision")])
        #expect(body.state == .staging)
        #expect(ModelVersionSpec.validate(body.spec) == nil)
    }

    @Test(arguments: [
        (#"[]"#, "", "must be an object; got an array"),
        (#"{"version": 1, "framework": "f", "endpoint": "e"}"#, "name", "is required"),
        (#"{"name": "m", "framework": "f", "endpoint": "e"}"#, "version", "is required"),
        (
            #"{"name": "m", "version": "1", "framework": "f", "endpoint": "e"}"#, "version",
            "must be an integer; got a string"
        ),
        (
            #"{"name": "m", "version": 1.5, "framework": "f", "endpoint": "e"}"#, "version",
            "must be an integer; got a fraction or an exponent"
        ),
        (
            #"{"name": "m", "version": 1e30, "framework": "f", "endpoint": "e"}"#, "version",
            "must be an integer; got a fraction or an exponent"
        ),
        (
            #"{"name": "m", "version": 9000000000000000, "framework": "f", "endpoint": "e"}"#, "version",
            "is out of range; integers must be below 9e15 in magnitude"
        ),
        (#"{"name": "m", "version": 1, "endpoint": "e"}"#, "framework", "is required"),
        (#"{"name": "m", "version": 1, "framework": "f"}"#, "endpoint", "is required"),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "endpoints": ["e"]}"#, "endpoints",
            "give either endpoint or endpoints, not both"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoints": ["e", 3]}"#, "endpoints[1]",
            "must be a string; got a number"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "colour": 1}"#, "colour",
            "is not a known field"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "inputs": {}}"#, "inputs",
            "must be an array; got an object"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "inputs": [{"name": "x", "datatype": "FP128", "shape": [1]}]}"#,
            "inputs[0].datatype", "unknown datatype \"FP128\""
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "inputs": [{"name": "x", "datatype": "FP32"}]}"#,
            "inputs[0].shape", "is required"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "outputs": [{"name": "x", "datatype": "FP32", "shape": [1, "2"]}]}"#,
            "outputs[0].shape[1]", "must be an integer; got a string"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "outputs": [{"name": "x", "datatype": "FP32", "shape": [1], "dims": 1}]}"#,
            "outputs[0].dims", "is not a known field"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "labels": {"team": 7}}"#, "labels.team",
            "must be a string; got a number"
        ),
        (
            #"{"name": "m", "version": 1, "framework": "f", "endpoint": "e", "state": "live"}"#, "state",
            "unknown state \"live\"; expected one of registered, staging, canary, serving, deprecated, archived"
        ),
    ])
    func refusesBadCreateBodies(text: String, field: String, reason: String) throws {
        #expect(try createRefusal(text) == RegistryFieldError(field: field, reason: reason))
    }

    @Test func decodesUpdateBodies() throws {
        let update = try RegistryJSON.decodeUpdate(json(#"{"endpoint": "c:1", "labels": {"b": "2", "a": "1"}}"#))
        #expect(update.endpoints == ["c:1"] && update.framework == nil && update.state == nil)
        #expect(update.labels == [Label(key: "a", value: "1"), Label(key: "b", value: "2")])
        #expect(try RegistryJSON.decodeUpdate(json(#"{"state": "serving"}"#)).state == .serving)
        #expect(throws: RegistryFieldError(field: "", reason: "the update names no field to change")) {
            try RegistryJSON.decodeUpdate(json("{}"))
        }
        #expect(
            throws: RegistryFieldError(field: "inputs", reason: "cannot be changed; register a new version instead")
        ) {
            try RegistryJSON.decodeUpdate(json(#"{"inputs": []}"#))
        }
    }

    @Test func decodesTransitionBodies() throws {
        #expect(try RegistryJSON.decodeTransition(json(#"{"to": "staging"}"#)) == .staging)
        #expect(throws: RegistryFieldError(field: "to", reason: "is required")) {
            try RegistryJSON.decodeTransition(json("{}"))
        }
        var unknown: RegistryFieldError?
        let live = try json(#"{"to": "live"}"#)
        do { _ = try RegistryJSON.decodeTransition(live) } catch { unknown = error }
        #expect(unknown?.field == "to" && unknown?.reason.hasPrefix("unknown state \"live\"") == true)
        #expect(throws: RegistryFieldError.self) {
            try RegistryJSON.decodeTransition(json(#"{"to": "staging", "x": 1}"#))
        }
    }

    @Test func encodesARecord() throws {
        let spec = ModelVersionSpec(
            name: "resnet", version: 1, framework: "onnxruntime", endpoints: ["triton-0:8001"],
            inputs: [TensorSchema(name: "images", datatype: .fp32, shape: [-1, 3])], labels: ["team": "vision"])
        var record = ModelVersionRecord(spec: spec, tenant: 7, now: Instant(nanoseconds: 1_700_000_000_123_456_789))
        record.state = .serving
        let expected =
            #"{"name":"resnet","version":1,"framework":"onnxruntime","endpoint":"triton-0:8001","#
            + #""endpoints":["triton-0:8001"],"inputs":[{"name":"images","datatype":"FP32","shape":[-1,3]}],"#
            + #""outputs":[],"labels":{"team":"vision"},"state":"serving","resourceVersion":1,"#
            + #""createdAtMs":1700000000123,"updatedAtMs":1700000000123}"#
        #expect(RegistryJSON.encode(record).serialized() == expected)
        // What it writes reads back as the same spec.
        let again = try RegistryJSON.decodeCreate(
            json(
                #"{"name":"resnet","version":1,"framework":"onnxruntime","endpoints":["triton-0:8001"],"inputs":[{"name":"images","datatype":"FP32","shape":[-1,3]}],"labels":{"team":"vision"}}"#
            ))
        #expect(again.spec == spec)
    }

    @Test func decodesAFlatKServeRequest() throws {
        let text = #"""
            {"id": "42", "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2.5, -3, 4]},
                                    {"name": "t", "datatype": "BYTES", "shape": [2], "data": ["ab", "é"]}],
             "outputs": [{"name": "y"}], "parameters": {"priority": 1}}
            """#
        let body = try InferenceJSON.decodeRequest(json(text))
        #expect(body.id == "42" && body.outputs == ["y"])
        #expect(
            body.inputs[0]
                == InferenceInputTensor(
                    name: "x", datatype: .fp32, shape: [2, 2],
                    data: TensorData(kind: .numbers, count: 4, minimum: -3, maximum: 4)))
        #expect(body.inputs[1].data == TensorData(kind: .strings, count: 2, stringBytes: 4))
    }

    @Test func decodesNestedDataThatFollowsTheShape() throws {
        let text = #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2, 3], "data": [[1, 2, 3], [4, 5, 6]]}]}"#
        let tensor = try InferenceJSON.decodeRequest(json(text)).inputs[0]
        #expect(tensor.data == TensorData(kind: .integers, count: 6, minimum: 1, maximum: 6))
        let model = ModelVersionSpec(
            name: "m", version: 1, framework: "f", endpoints: ["e"],
            inputs: [TensorSchema(name: "x", datatype: .int32, shape: [-1, 3])])
        #expect(InferenceValidation.validate(InferenceRequestBody(inputs: [tensor]), against: model) == nil)
    }

    @Test(arguments: [
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2, 3], "data": [[1, 2, 3], [4, 5]]}]}"#,
            "inputs[0].data[1]", "has 2 elements; shape[1] is 3"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [3, 2], "data": [[1, 2], [3, 4]]}]}"#,
            "inputs[0].data", "has 2 elements; shape[0] is 3"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2, 2], "data": [[1, 2], 3]}]}"#,
            "inputs[0].data[1]", "must be an array: nested data follows the shape's 2 dimensions"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2], "data": [[1], [2]]}]}"#,
            "inputs[0].data[0]", "must be a boolean, a number or a string; got an array"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [], "data": [[1]]}]}"#,
            "inputs[0].data", "is nested deeper than the shape's 0 dimensions"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2], "data": [1, null]}]}"#,
            "inputs[0].data[1]", "must be a boolean, a number or a string; got null"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2], "data": [1, "2"]}]}"#,
            "inputs[0].data[1]", "is a string but the first element is a number"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "FP8", "shape": [1], "data": [1]}]}"#,
            "inputs[0].datatype", "unknown datatype \"FP8\""
        ),
        (#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}"#, "inputs[0].data", "is required"),
        (
            #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}]}"#,
            "inputs[0].data", "is required: binary tensor data is not supported"
        ),
        (#"{"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]}"#, "inputs[0].name", "is required"),
        (
            #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1.5], "data": [1]}]}"#,
            "inputs[0].shape[0]", "must be an integer; got a fraction or an exponent"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": 1}]}"#,
            "inputs[0].data", "must be an array; got a number"
        ),
        (
            #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "contents": 1}]}"#,
            "inputs[0].contents", "is not a known field"
        ),
        (#"{"id": 7, "inputs": []}"#, "id", "must be a string; got a number"),
        (#"{"model": "m"}"#, "model", "is not a known field"),
        (#"{"outputs": []}"#, "inputs", "is required"),
        (#"{"inputs": [], "outputs": [{"binary_data": true}]}"#, "outputs[0].binary_data", "is not a known field"),
        (#"{"inputs": [], "parameters": []}"#, "parameters", "must be an object; got an array"),
    ])
    func refusesBadInferenceBodies(text: String, field: String, reason: String) throws {
        #expect(try inferenceRefusal(text) == InferenceRequestError(field: field, reason: reason))
    }

    @Test func decodedDataFeedsValidation() throws {
        let text = #"{"inputs": [{"name": "x", "datatype": "UINT8", "shape": [2], "data": [1, 300]}]}"#
        let body = try InferenceJSON.decodeRequest(json(text))
        let model = ModelVersionSpec(
            name: "m", version: 1, framework: "f", endpoints: ["e"],
            inputs: [TensorSchema(name: "x", datatype: .uint8, shape: [-1])])
        #expect(
            InferenceValidation.validate(body, against: model)?.description
                == "inputs[0].data: holds values from 1 to 300, outside what UINT8 can represent")
    }
}

@Suite struct InferenceFastPathTests {
    /// Bodies of the common shape, with variations the fast path must either decode exactly as the reference
    /// path does or hand over (nil).
    @Test func fastPathAgreesWithTheReferencePath() throws {
        var random = SeededRandom(seed: 11)
        let datatypes = ["FP32", "INT64", "BYTES", "BOOL", "FP64", "UINT8", "FP99"]
        var decodedFast = 0
        for _ in 0..<5_000 {
            let datatype = datatypes[random.below(datatypes.count)]
            var elements: [String] = []
            for _ in 0..<random.below(6) {
                switch random.below(6) {
                case 0: elements.append("\"s\(random.below(9))\"")
                case 1: elements.append(random.below(2) == 0 ? "true" : "false")
                case 2: elements.append(String(Int(random.below(300)) - 150))
                case 3: elements.append("\(Double(random.below(10_000)) / 7)")
                case 4: elements.append("1e\(random.below(40))")
                default: elements.append(["null", "[1]", "\"a\\n\"", "{}"][random.below(4)])
                }
            }
            var members = [
                "\"name\": \"x\"", "\"datatype\": \"\(datatype)\"",
                "\"shape\": [\(random.below(3) == 0 ? "1.5" : "1"), \(elements.count)]",
                "\"data\": [\(elements.joined(separator: ", "))]",
            ]
            if random.below(8) == 0 { members.append("\"parameters\": {}") }
            if random.below(10) == 0 { members.append("\"name\": \"y\"") }
            for index in stride(from: members.count - 1, to: 0, by: -1) {
                members.swapAt(index, random.below(index + 1))
            }
            var body = "{\"inputs\": [{\(members.joined(separator: ","))}]"
            if random.below(3) == 0 { body += ", \"id\": \"r\(random.below(5))\"" }
            if random.below(4) == 0 { body += ", \"outputs\": [{\"name\": \"scores\"}]" }
            body += random.below(20) == 0 ? "} x" : " }"
            let bytes = Array(body.utf8)
            guard let fast = InferenceJSON.decodeRequestFast(bytes) else { continue }
            decodedFast += 1
            let reference = try InferenceJSON.decodeRequest(try JSONValue.parse(bytes))
            #expect(fast == reference, "\(body)")
        }
        // The fast path must actually take the common case, or the comparison proves nothing.
        #expect(decodedFast > 500, "the fast path decoded only \(decodedFast) bodies")
    }

    /// Equal as `==` has it and, for the Doubles, bit for bit (so -0.0 and 0.0 differ).
    static func identical(_ fast: InferenceRequestBody, _ reference: InferenceRequestBody) -> Bool {
        fast == reference
            && zip(fast.inputs, reference.inputs).allSatisfy {
                $0.data.minimum.bitPattern == $1.data.minimum.bitPattern
                    && $0.data.maximum.bitPattern == $1.data.maximum.bitPattern
            }
    }

    /// The reference decoding of `bytes`, or nil when it refuses them.
    static func reference(_ bytes: [UInt8]) -> InferenceRequestBody? {
        guard let value = try? JSONValue.parse(bytes) else { return nil }
        return try? InferenceJSON.decodeRequest(value)
    }

    /// The byte-level shortcuts (names and datatypes compared as packed words, strings skipped eight bytes at a
    /// time, numbers converted in place): random variations of every piece, each decoded exactly as the
    /// reference path decodes it wherever the fast path answers, bit for bit.
    @Test func byteLevelShortcutsAgreeWithTheReferencePath() throws {
        var random = SeededRandom(seed: 23)
        func pick(_ choices: [String]) -> String { choices[random.below(choices.count)] }
        let memberNames = [
            "name", "datatype", "shape", "data", "nam", "names", "Name", "datatypes", "datatyp", "dat", "shap",
            "n\\u0061me", "na\"me", "", "parameters",
        ]
        let datatypes =
            TensorDatatype.allCases.map(\.name) + [
                "fp32", "FP3", "FP322", "UINT", "UINT640", "BYTESX", "BOO", "F\\u0050\\u0033\\u0032", "FP32 ",
                "\\u00e9",
            ]
        let numbers = [
            "0", "-0", "-0.0", "0.0", "1", "-1", "5.1", "3.5", "1.4", "0.2", "1e5", "1E5", "1e+5", "1e-5", "-2.5e-3",
            "123456789012345", "1234567890123456", "12345678901234567890", "0.1234567890123456789", "1e22", "1e23",
            "1e-22", "1e-23", "9e15", "8999999999999999", "1e308", "1e309", "-1e309", "1e-400", "1e0001",
            "1e1000", "1e-1000", "0.00000000000000000000000000001e30", "1" + String(repeating: "0", count: 30),
            "01", "1.", ".5", "-", "1e", "1e+", "+1", "0x10", "1.5.5", "Infinity", "NaN", "4.", "2.e3",
            // A long fraction must not bring a huge exponent back into the exact range.
            "0." + String(repeating: "0", count: 1_009) + "1e10100",
            "0." + String(repeating: "0", count: 1_009) + "1e1010",
        ]
        let strings = [
            "\"s\"", "\"\"", "\"features\"", "\"exactly8\"", "\"a much longer name that spans words\"", "\"caf\u{e9}\"",
            "\"\u{1F600} and more text here\"", "\"tab\there\"", "\"esc\\\"aped\"", "\"back\\\\slash\"", "\"x\u{7F}\"",
        ]
        let spaces = ["", " ", "  ", "\n", "\t", "\r\n "]
        var decodedFast = 0
        for _ in 0..<20_000 {
            let kind = random.below(4)
            var elements: [String] = []
            for _ in 0..<random.below(5) {
                switch kind {
                case 0: elements.append(pick(numbers))
                case 1: elements.append(pick(strings))
                case 2: elements.append(random.below(2) == 0 ? "true" : pick(["false", "tru", "falsey", "null"]))
                default: elements.append(pick(numbers + strings + ["true"]))
                }
            }
            func gap() -> String { random.below(3) == 0 ? pick(spaces) : " " }
            var members = [
                "\"\(random.below(6) == 0 ? pick(memberNames) : "name")\":\(gap())\(random.below(4) == 0 ? pick(strings) : "\"x\"")",
                "\"datatype\":\(gap())\"\(pick(datatypes))\"",
                "\"shape\":\(gap())[\(random.below(4) == 0 ? pick(numbers) : "1"),\(gap())\(elements.count)]",
                "\"data\":\(gap())[\(elements.joined(separator: ",\(gap())"))\(gap())]",
            ]
            for index in stride(from: members.count - 1, to: 0, by: -1) {
                members.swapAt(index, random.below(index + 1))
            }
            var body = "{\(gap())\"inputs\":\(gap())[{\(gap())\(members.joined(separator: ",\(gap())"))\(gap())}]"
            if random.below(3) == 0 { body += ",\(gap())\"id\":\(gap())\(pick(strings))" }
            if random.below(4) == 0 { body += ", \"outputs\": [{\"name\":\(gap())\(pick(strings))}]" }
            if random.below(10) == 0 { body += ", \"\(pick(["id", "inputs", "outputs", "ids", "input"]))\": []" }
            body += "\(gap())}\(random.below(30) == 0 ? "x" : gap())"
            // Cut short now and then, so the scan meets the end of the body everywhere.
            var bytes = Array(body.utf8)
            if random.below(10) == 0 { bytes.removeLast(random.below(bytes.count)) }
            guard let fast = InferenceJSON.decodeRequestFast(bytes) else { continue }
            decodedFast += 1
            let reference = try #require(Self.reference(bytes), "\(body)")
            #expect(Self.identical(fast, reference), "\(body)")
        }
        #expect(decodedFast > 2_000, "the fast path decoded only \(decodedFast) bodies")
    }

    @Test func fastPathTakesTheCommonBodies() throws {
        let bodies = [
            #"{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}"#,
            #"{"id":"r1","inputs":[{"data":[1,2],"shape":[2],"datatype":"INT64","name":"x"}],"outputs":[{"name":"y"}]}"#,
            #"{"inputs": [{"name": "t", "datatype": "BYTES", "shape": [2], "data": ["héllo", "a somewhat longer text"]}]}"#,
            #"{"inputs": [{"name": "b", "datatype": "BOOL", "shape": [2], "data": [true, false]}, "#
                + #"{"name": "e", "datatype": "UINT16", "shape": [0], "data": []}]}"#,
            #"{"inputs": [{"name": "z", "datatype": "FP64", "shape": [3], "data": [-0.0, 0, -0]}]}"#,
            #"{"inputs": [{"name": "big", "datatype": "FP64", "shape": [2], "data": [1.7976931348623157e308, 1e-320]}]}"#,
        ]
        for body in bodies {
            let bytes = Array(body.utf8)
            let fast = try #require(InferenceJSON.decodeRequestFast(bytes), "\(body)")
            let reference = try #require(Self.reference(bytes), "\(body)")
            #expect(Self.identical(fast, reference), "\(body)")
        }
    }

    /// The constants the fast path writes out are the ones it would compute.
    @Test func writtenOutConstantsMatch() {
        #expect(FastScanner.idKey == FastScanner.key("id"))
        #expect(FastScanner.inputsKey == FastScanner.key("inputs"))
        #expect(FastScanner.outputsKey == FastScanner.key("outputs"))
        #expect(FastScanner.nameKey == FastScanner.key("name"))
        #expect(FastScanner.datatypeKey == FastScanner.key("datatype"))
        #expect(FastScanner.shapeKey == FastScanner.key("shape"))
        #expect(FastScanner.dataKey == FastScanner.key("data"))
        #expect(FastScanner.exactPowersOfTen.map(\.bitPattern) == JSONParser.exactPowersOfTen.map(\.bitPattern))
        for datatype in TensorDatatype.allCases {
            let body = #"{"inputs": [{"name": "x", "datatype": ""# + datatype.name + #"", "shape": [1], "data": [1]}]}"#
            #expect(InferenceJSON.decodeRequestFast(Array(body.utf8))?.inputs.first?.datatype == datatype)
        }
    }
}
