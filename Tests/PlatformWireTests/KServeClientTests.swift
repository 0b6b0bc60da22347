// The orchestrator's KServe v2 REST bodies: requests are checked byte for byte, a Triton-shaped response and its
// error body decode into values, FP32 elements survive a write and a read exactly, and every refusal names the
// JSON path that was wrong.

import PlatformCore
import Testing

@testable import PlatformWire

private func decode(_ text: String) throws(KServeCodecError) -> KServeInferReply {
    try KServeClient.decodeInferReply(Array(text.utf8))
}

private func decodeError(_ text: String) -> KServeCodecError? {
    do {
        _ = try decode(text)
        return nil
    } catch {
        return error
    }
}

/// A response body with one output of `datatype` holding `data` (JSON text) in shape `shape`.
private func oneOutput(_ datatype: String, _ shape: String, _ data: String) -> String {
    "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"datatype\":\"\(datatype)\","
        + "\"shape\":\(shape),\"data\":\(data)}]}"
}

private let tritonBody =
    "{\"model_name\":\"sample-classifier\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"scores\",\"datatype\":"
    + "\"FP32\",\"shape\":[1,3],\"data\":[0.9731,0.0262,0.0007]},{\"name\":\"label\",\"datatype\":\"BYTES\","
    + "\"shape\":[1],\"data\":[\"setosa\"]}]}"

@Suite struct KServeClientTests {
    @Test func encodesAnInferRequestExactly() throws {
        let request = KServeInferRequest(
            id: "req-7",
            inputs: [
                KServeTensor(
                    name: "features", datatype: .fp32, shape: [1, 4], data: .numbers([5.1, 3.5, 1.4, 0.2])),
                KServeTensor(name: "note", datatype: .bytes, shape: [1], data: .strings(["a \"quoted\"\n"])),
                KServeTensor(name: "mask", datatype: .bool, shape: [2], data: .booleans([true, false])),
                KServeTensor(name: "ids", datatype: .int64, shape: [2], data: .numbers([-3, 40000000000])),
                KServeTensor(name: "w", datatype: .fp64, shape: [1], data: .numbers([0.1])),
            ],
            outputs: ["scores", "label"])
        let text = String(decoding: try KServeClient.encodeInferRequest(request), as: UTF8.self)
        #expect(
            text
                == "{\"id\":\"req-7\",\"inputs\":["
                + "{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[5.1,3.5,1.4,0.2]},"
                + "{\"name\":\"note\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a \\\"quoted\\\"\\n\"]},"
                + "{\"name\":\"mask\",\"datatype\":\"BOOL\",\"shape\":[2],\"data\":[true,false]},"
                + "{\"name\":\"ids\",\"datatype\":\"INT64\",\"shape\":[2],\"data\":[-3,40000000000]},"
                + "{\"name\":\"w\",\"datatype\":\"FP64\",\"shape\":[1],\"data\":[0.1]}],"
                + "\"outputs\":[{\"name\":\"scores\"},{\"name\":\"label\"}]}")
        // What the gateway's own decoder reads back is the same request.
        let decoded = try InferenceJSON.decodeRequest(try JSONValue.parse(text))
        #expect(decoded.inputs.map(\.name) == ["features", "note", "mask", "ids", "w"])
        #expect(decoded.outputs == ["scores", "label"])
        let minimal = KServeInferRequest(inputs: [])
        #expect(String(decoding: try KServeClient.encodeInferRequest(minimal), as: UTF8.self) == "{\"inputs\":[]}")
    }

    @Test func decodesATritonResponse() throws {
        guard case .inferred(let response) = try decode(tritonBody) else {
            Issue.record("expected outputs")
            return
        }
        #expect(response.modelName == "sample-classifier")
        #expect(response.modelVersion == "1")
        #expect(response.id == nil)
        #expect(response.outputs.map(\.name) == ["scores", "label"])
        let scores = try #require(response.output(named: "scores"))
        #expect(scores.datatype == .fp32)
        #expect(scores.shape == [1, 3])
        #expect(scores.data == .numbers([Double(Float(0.9731)), Double(Float(0.0262)), Double(Float(0.0007))]))
        #expect(response.output(named: "label")?.data == .strings(["setosa"]))
        // Written again, the body is byte for byte what Triton sent.
        #expect(String(decoding: try KServeClient.encodeInferResponse(response), as: UTF8.self) == tritonBody)
    }

    @Test func decodesTritonsErrorBody() throws {
        #expect(
            try decode("{\"error\":\"Request for unknown model: 'x' is not found\"}")
                == .failed(message: "Request for unknown model: 'x' is not found"))
        #expect(
            decodeError("{\"error\":42}") == KServeCodecError(path: "error", reason: "must be a string; got a number"))
    }

    @Test func fp32ElementsRoundTripExactly() throws {
        // Awkward floats: subnormals, the extremes, values whose shortest text is long, and negative zero.
        // 7.038531e-26 is the one positive Float whose shortest digits, read as a Double and narrowed, round to
        // its neighbour: the decoder must still give it back.
        let tie = Float(bitPattern: 363_742_205)
        #expect(Float(Double(tie.description)!) != tie)
        #expect(KServeClient.float(readAs: Double(tie.description)!) == tie)
        var values: [Float] = [
            tie, -tie,
            .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
            -0.0, 1, 0.1, 1.0 / 3.0, 16_777_216, 3.4028235e38, Float(bitPattern: 0x007F_FFFF),
            Float(bitPattern: 0x006C_E3EE), 0.9731,
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while values.count < 5000 {
            // A fixed-seed xorshift walk over bit patterns, so the test sees the same floats on every run.
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: state))
            if value.isFinite { values.append(value) }
        }
        let tensor = KServeTensor(
            name: "x", datatype: .fp32, shape: [values.count], data: .numbers(values.map { Double($0) }))
        let response = KServeInferResponse(modelName: "m", outputs: [tensor])
        let bytes = try KServeClient.encodeInferResponse(response)
        guard case .inferred(let decoded) = try KServeClient.decodeInferReply(bytes),
            case .numbers(let numbers) = decoded.outputs.first?.data
        else {
            Issue.record("expected numbers")
            return
        }
        #expect(numbers.count == values.count)
        for (value, number) in zip(values, numbers) {
            #expect(Float(number).bitPattern == value.bitPattern, "\(value) came back as \(number)")
        }
        #expect(try KServeClient.encodeInferResponse(decoded) == bytes)
        // An FP32 element given as a Double is written as the Float it becomes, not as the Double's digits.
        let narrowed = KServeTensor(name: "x", datatype: .fp32, shape: [1], data: .numbers([0.1]))
        let text = String(
            decoding: try KServeClient.encodeInferRequest(KServeInferRequest(inputs: [narrowed])), as: UTF8.self)
        #expect(text.hasSuffix("\"data\":[0.1]}]}"))
    }

    @Test func acceptsDataNestedToTheShape() throws {
        guard case .inferred(let response) = try decode(oneOutput("INT32", "[2,2]", "[[1,2],[3,4]]")) else {
            Issue.record("expected outputs")
            return
        }
        #expect(response.outputs.first?.data == .numbers([1, 2, 3, 4]))
    }

    @Test(arguments: [
        ("x", "", "is not JSON: line 1, column 1: unexpected character 'x', expected a value"),
        ("[]", "", "must be an object; got an array"),
        ("{\"outputs\":[]}", "model_name", "is required"),
        ("{\"model_name\":1,\"outputs\":[]}", "model_name", "must be a string; got a number"),
        (
            "{\"model_name\":\"m\",\"model_version\":1,\"outputs\":[]}", "model_version",
            "must be a string; got a number"
        ),
        ("{\"model_name\":\"m\"}", "outputs", "is required"),
        ("{\"model_name\":\"m\",\"outputs\":{}}", "outputs", "must be an array; got an object"),
        ("{\"model_name\":\"m\",\"outputs\":[1]}", "outputs[0]", "must be an object; got a number"),
        ("{\"model_name\":\"m\",\"outputs\":[{}]}", "outputs[0].name", "is required"),
    ])
    func refusesMalformedBodies(_ text: String, _ path: String, _ reason: String) {
        #expect(decodeError(text) == KServeCodecError(path: path, reason: reason), "\(text)")
    }

    @Test(arguments: [
        (oneOutput("FP99", "[1]", "[1]"), "outputs[0].datatype", "unknown datatype \"FP99\""),
        (oneOutput("FP32", "[-1]", "[]"), "outputs[0].shape[0]", "must be a non-negative integer"),
        (oneOutput("FP32", "[1.5]", "[1]"), "outputs[0].shape[0]", "must be an integer; got a fraction or an exponent"),
        (oneOutput("FP32", "[1,3]", "[1,2]"), "outputs[0].data", "has 2 elements; shape [1, 3] holds 3"),
        (oneOutput("FP32", "[3]", "[1,\"2\",3]"), "outputs[0].data[1]", "must be a number for FP32; got a string"),
        (oneOutput("FP32", "[1]", "[1e39]"), "outputs[0].data[0]", "is out of the FP32 range"),
        (oneOutput("FP16", "[1]", "[70000]"), "outputs[0].data[0]", "is out of the FP16 range"),
        (oneOutput("INT8", "[2]", "[1,128]"), "outputs[0].data[1]", "is outside INT8's range -128...127"),
        (oneOutput("UINT8", "[1]", "[-1]"), "outputs[0].data[0]", "is outside UINT8's range 0...255"),
        (
            oneOutput("INT32", "[1]", "[1.0]"), "outputs[0].data[0]",
            "must be an integer for INT32; got a fraction or an exponent"
        ),
        (oneOutput("BYTES", "[1]", "[1]"), "outputs[0].data[0]", "must be a string for BYTES; got a number"),
        (oneOutput("BOOL", "[1]", "[1]"), "outputs[0].data[0]", "must be a boolean for BOOL; got a number"),
        (oneOutput("INT32", "[2,2]", "[[1,2],[3]]"), "outputs[0].data[1]", "has 1 elements; shape[1] is 2"),
        (
            oneOutput("INT32", "[2,1]", "[[1],2]"), "outputs[0].data[1]",
            "must be an array: nested data follows the shape"
        ),
        (oneOutput("INT32", "[1]", "[[1]]"), "outputs[0].data[0]", "must be an integer for INT32; got an array"),
        (oneOutput("INT32", "[9000000000,9000000000,9000000000]", "[]"), "outputs[0].shape", "has too many elements"),
        (
            "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1],"
                + "\"parameters\":{\"binary_data_size\":4}}]}",
            "outputs[0].parameters.binary_data_size", "binary tensor data is not supported"
        ),
    ])
    func refusesMalformedOutputs(_ text: String, _ path: String, _ reason: String) {
        #expect(decodeError(text) == KServeCodecError(path: path, reason: reason), "\(text)")
    }

    @Test func encodingRefusalsNameTheInput() {
        func refusal(_ tensor: KServeTensor) -> KServeCodecError? {
            do {
                _ = try KServeClient.encodeInferRequest(KServeInferRequest(inputs: [tensor, tensor]))
                return nil
            } catch {
                return error
            }
        }
        #expect(
            refusal(KServeTensor(name: "x", datatype: .fp32, shape: [1, 3], data: .numbers([1, 2])))
                == KServeCodecError(path: "inputs[0].data", reason: "has 2 elements; shape [1, 3] holds 3"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .fp32, shape: [-1], data: .numbers([])))
                == KServeCodecError(path: "inputs[0].shape[0]", reason: "is -1; must not be negative"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .fp32, shape: [2], data: .numbers([1, .nan])))
                == KServeCodecError(path: "inputs[0].data[1]", reason: "is nan, which JSON cannot carry"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .fp32, shape: [1], data: .numbers([1e39])))
                == KServeCodecError(path: "inputs[0].data[0]", reason: "1e+39 does not fit FP32"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .uint8, shape: [1], data: .numbers([256])))
                == KServeCodecError(path: "inputs[0].data[0]", reason: "256 does not fit UINT8"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .int32, shape: [1], data: .numbers([0.5])))
                == KServeCodecError(path: "inputs[0].data[0]", reason: "0.5 does not fit INT32"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .bytes, shape: [1], data: .numbers([1])))
                == KServeCodecError(path: "inputs[0].data", reason: "BYTES data must be strings; got numbers"))
        #expect(
            refusal(KServeTensor(name: "x", datatype: .fp32, shape: [1], data: .strings(["a"])))
                == KServeCodecError(path: "inputs[0].data", reason: "FP32 data must be numbers; got strings"))
    }

    @Test func inferTargetsEncodeTheirSegments() {
        #expect(KServeClient.inferTarget(model: "sample-classifier") == "/v2/models/sample-classifier/infer")
        #expect(KServeClient.inferTarget(model: "a/b c", version: "2") == "/v2/models/a%2Fb%20c/versions/2/infer")
        #expect(KServeClient.inferTarget(model: "é") == "/v2/models/%C3%A9/infer")
    }
}
