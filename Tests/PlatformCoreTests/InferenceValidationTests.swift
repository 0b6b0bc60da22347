// The gateway's inference-request check, one refusal at a time: each test breaks one field of a valid
// request and expects the exact path that names it.

import PlatformCore
import Testing

/// resnet@1: images FP32 [-1, 3, 2, 2], mask BOOL [-1]; outputs logits and scores.
private let spec = ModelVersionSpec(
    name: "resnet", version: 1, framework: "onnxruntime", endpoints: ["triton-0:8001"],
    inputs: [
        TensorSchema(name: "images", datatype: .fp32, shape: [-1, 3, 2, 2]),
        TensorSchema(name: "mask", datatype: .bool, shape: [-1]),
    ],
    outputs: [
        TensorSchema(name: "logits", datatype: .fp32, shape: [-1, 10]),
        TensorSchema(name: "scores", datatype: .fp32, shape: [-1]),
    ])

private func images(batch: Int64 = 2) -> InferenceInputTensor {
    InferenceInputTensor(
        name: "images", datatype: .fp32, shape: [batch, 3, 2, 2],
        data: TensorData(kind: .numbers, count: Int(batch) * 12, minimum: -1, maximum: 1))
}

private func mask(batch: Int64 = 2) -> InferenceInputTensor {
    InferenceInputTensor(
        name: "mask", datatype: .bool, shape: [batch], data: TensorData(kind: .booleans, count: Int(batch)))
}

/// The field path and reason of `request`'s refusal, or nil when it passes.
private func refusal(
    _ request: InferenceRequestBody, against model: ModelVersionSpec = spec,
    limits: InferenceValidation.Limits = .init()
) -> InferenceRequestError? {
    InferenceValidation.validate(request, against: model, limits: limits)
}

/// A valid request changed by `change`.
private func request(_ change: (inout InferenceRequestBody) -> Void = { _ in }) -> InferenceRequestBody {
    var body = InferenceRequestBody(id: "r1", inputs: [images(), mask()], outputs: ["logits"])
    change(&body)
    return body
}

/// One broken field per case: the path and reason expected, and the change that breaks it.
private let refusalCases: [(String, String, @Sendable (inout InferenceRequestBody) -> Void)] = [
    ("inputs", "must not be empty", { $0.inputs = [] }),
    ("inputs[1].name", "must not be empty", { $0.inputs[1].name = "" }),
    ("inputs[1].name", "duplicates the name \"images\" of an earlier input", { $0.inputs[1] = images() }),
    ("inputs[0].name", "resnet version 1 has no input named \"pixels\"", { $0.inputs[0].name = "pixels" }),
    ("inputs", "lacks the input \"mask\" that resnet version 1 takes", { $0.inputs.removeLast() }),
    ("inputs[0].datatype", "is FP16; input \"images\" takes FP32", { $0.inputs[0].datatype = .fp16 }),
    (
        "inputs[0].shape", "has 3 dimensions; input \"images\" has 4 ([-1, 3, 2, 2])",
        { $0.inputs[0].shape = [2, 3, 4] }
    ),
    ("inputs[0].shape[2]", "is 3; input \"images\" has 2 there", { $0.inputs[0].shape = [2, 3, 3, 2] }),
    ("inputs[1].shape[0]", "must be at least 1; got 0", { $0.inputs[1] = mask(batch: 0) }),
    ("inputs[1].shape[0]", "must be at least 1; got -1", { $0.inputs[1].shape = [-1] }),
    ("inputs[0].data", "has 23 elements; shape [2, 3, 2, 2] needs 24", { $0.inputs[0].data.count = 23 }),
    ("inputs[1].data", "holds integers; BOOL takes booleans", { $0.inputs[1].data.kind = .integers }),
    ("outputs[0].name", "resnet version 1 has no output named \"probs\"", { $0.outputs = ["probs"] }),
    ("outputs[1].name", "asks for \"logits\" twice", { $0.outputs = ["logits", "logits"] }),
]

@Suite struct InferenceValidationTests {
    @Test func acceptsAValidRequest() {
        #expect(refusal(request()) == nil)
        #expect(refusal(request { $0.inputs.reverse() }) == nil)
        #expect(InferenceRequestError.httpStatus == 400)
    }

    @Test(arguments: refusalCases)
    func refusesWithTheFieldPath(field: String, reason: String, change: @Sendable (inout InferenceRequestBody) -> Void)
    {
        #expect(refusal(request(change)) == InferenceRequestError(field: field, reason: reason))
    }

    @Test func checksIntegerAndFloatRanges() {
        let counts = TensorSchema(name: "counts", datatype: .uint8, shape: [-1])
        let model = ModelVersionSpec(name: "m", version: 1, framework: "f", endpoints: ["e"], inputs: [counts])
        func tensor(_ datatype: TensorDatatype, _ kind: TensorData.Kind, _ low: Double, _ high: Double)
            -> InferenceRequestBody
        {
            let data = TensorData(kind: kind, count: 2, minimum: low, maximum: high)
            return InferenceRequestBody(inputs: [
                InferenceInputTensor(name: "counts", datatype: datatype, shape: [2], data: data)
            ])
        }
        let open = ModelVersionSpec(name: "m", version: 1, framework: "f", endpoints: ["e"])
        #expect(refusal(tensor(.uint8, .integers, 0, 255), against: model) == nil)
        #expect(
            refusal(tensor(.uint8, .integers, 0, 300), against: model)
                == InferenceRequestError(
                    field: "inputs[0].data", reason: "holds values from 0 to 300, outside what UINT8 can represent"))
        #expect(refusal(tensor(.uint8, .integers, -1, 0), against: model)?.field == "inputs[0].data")
        #expect(
            refusal(tensor(.uint8, .numbers, 0, 1.5), against: model)?.reason
                == "holds numbers with fractions; UINT8 takes integers")
        #expect(refusal(tensor(.int64, .integers, -9_223_372_036_854_775_808, 0), against: open) == nil)
        #expect(refusal(tensor(.int64, .integers, 0, 9_223_372_036_854_775_808), against: open) != nil)
        #expect(refusal(tensor(.fp16, .integers, 0, 65_504), against: open) == nil)
        #expect(refusal(tensor(.fp16, .numbers, 0, 65_505), against: open) != nil)
        #expect(refusal(tensor(.fp32, .numbers, -1e39, 0), against: open) != nil)
        #expect(
            refusal(tensor(.bytes, .integers, 0, 1), against: open)?.reason == "holds integers; BYTES takes strings")
    }

    @Test func aVersionWithoutASchemaTakesAnyNamesButStillCountsElements() {
        let open = ModelVersionSpec(name: "m", version: 1, framework: "f", endpoints: ["e"])
        let anything = InferenceInputTensor(
            name: "x", datatype: .bytes, shape: [2, 2], data: TensorData(kind: .strings, count: 4, stringBytes: 10))
        #expect(refusal(InferenceRequestBody(inputs: [anything], outputs: ["whatever"]), against: open) == nil)
        var short = anything
        short.data.count = 3
        #expect(refusal(InferenceRequestBody(inputs: [short]), against: open)?.field == "inputs[0].data")
    }

    @Test func enforcesTheRequestLimits() {
        var limits = InferenceValidation.Limits()
        limits.tensorsMax = 1
        #expect(
            refusal(request(), limits: limits)
                == InferenceRequestError(field: "inputs", reason: "has 2 tensors; at most 1 are allowed"))
        limits = .init()
        limits.dimensionsMax = 3
        #expect(refusal(request(), limits: limits)?.field == "inputs[0].shape")
        limits = .init()
        limits.elementsMax = 25
        #expect(
            refusal(request(), limits: limits)
                == InferenceRequestError(field: "inputs", reason: "hold more than 25 elements in all"))
        limits.elementsMax = 20
        #expect(
            refusal(request(), limits: limits)
                == InferenceRequestError(field: "inputs[0].shape", reason: "describes more than 20 elements"))
        limits = .init()
        limits.bytesMax = 97  // 24 FP32 elements are 96 bytes; the two BOOL elements push past the limit
        #expect(
            refusal(request(), limits: limits)
                == InferenceRequestError(field: "inputs", reason: "hold more than 97 bytes in all"))
        limits = .init()
        limits.outputsMax = 0
        #expect(refusal(request(), limits: limits)?.field == "outputs")
    }

    @Test func hugeShapesNeverOverflow() {
        let huge = InferenceInputTensor(
            name: "images", datatype: .fp32, shape: [Int64.max, Int64.max, 2, 2],
            data: TensorData(kind: .numbers, count: 1))
        #expect(refusal(request { $0.inputs[0] = huge })?.field == "inputs[0].shape")
    }

    @Test func bytesCountStringsWithTheirLengthPrefixes() {
        let open = ModelVersionSpec(name: "m", version: 1, framework: "f", endpoints: ["e"])
        let text = InferenceInputTensor(
            name: "text", datatype: .bytes, shape: [2], data: TensorData(kind: .strings, count: 2, stringBytes: 10))
        var limits = InferenceValidation.Limits()
        limits.bytesMax = 18
        #expect(refusal(InferenceRequestBody(inputs: [text]), against: open, limits: limits) == nil)
        limits.bytesMax = 17
        #expect(refusal(InferenceRequestBody(inputs: [text]), against: open, limits: limits)?.field == "inputs")
        var absurd = text
        absurd.data.stringBytes = Int.max
        #expect(refusal(InferenceRequestBody(inputs: [absurd]), against: open)?.field == "inputs")
    }

    @Test func datatypesAreFoundByTheirExactWireName() {
        for datatype in TensorDatatype.allCases {
            #expect(TensorDatatype(name: datatype.name) == datatype)
            #expect(TensorDatatype(name: datatype.name.lowercased()) == nil)
            #expect(TensorDatatype(name: datatype.name + " ") == nil)
            #expect(TensorDatatype(name: String(datatype.name.dropLast())) == nil)
        }
        for name in ["", "FP", "FP8", "FP33", "INT", "UINT", "UINT7", "BOOLS", "BYTE", "Fp32", "ＦＰ32", "INT\u{0}8"] {
            #expect(TensorDatatype(name: name) == nil, "\(name)")
        }
    }
}
