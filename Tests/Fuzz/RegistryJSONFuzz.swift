// libFuzzer target for the registry and inference bodies (and the inference fast path, which must agree with the
// reference decoder wherever it answers): any JSON text must decode or be refused with a
// field path, never crash; a create body that decodes must survive the record encoder and read back as the
// same spec; an inference body that decodes must validate or be refused, and one that passes validation
// must hold exactly the elements its shapes describe. Built by deploy/local/fuzz.sh with swiftc against a
// fuzzer-instrumented PlatformCore.

import PlatformCore

/// A model with a schema, so validation walks the name, datatype and shape rules.
let fuzzModel = ModelVersionSpec(
    name: "m", version: 1, framework: "f", endpoints: ["e"],
    inputs: [
        TensorSchema(name: "x", datatype: .fp32, shape: [-1, 2]),
        TensorSchema(name: "t", datatype: .bytes, shape: [-1]),
        TensorSchema(name: "b", datatype: .bool, shape: [2, -1]),
        TensorSchema(name: "i", datatype: .int8, shape: [-1]),
    ],
    outputs: [TensorSchema(name: "y", datatype: .fp32, shape: [-1])])

/// A model without a schema: only counts and limits apply.
let fuzzOpenModel = ModelVersionSpec(name: "o", version: 1, framework: "f", endpoints: ["e"])

/// Members the record encoder writes that a create body does not take.
let recordOnlyMembers = ["endpoint", "state", "resourceVersion", "createdAtMs", "updatedAtMs"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Wherever the inference fast path answers, the reference path must accept the same body with the same result.
    if let fast = InferenceJSON.decodeRequestFast(bytes) {
        // Bit for bit: the ranges' Doubles must agree in sign too (-0.0 against 0.0).
        guard let value = try? JSONValue.parse(bytes), let reference = try? InferenceJSON.decodeRequest(value),
            reference == fast,
            zip(reference.inputs, fast.inputs).allSatisfy({
                $0.data.minimum.bitPattern == $1.data.minimum.bitPattern
                    && $0.data.maximum.bitPattern == $1.data.maximum.bitPattern
            })
        else { fatalError("the fast path decoded a body the reference path decodes differently") }
    }
    guard let value = try? JSONValue.parse(bytes) else { return 0 }
    fuzzRegistryBodies(value)
    fuzzInferenceBody(value)
    return 0
}

func fuzzRegistryBodies(_ value: JSONValue) {
    _ = try? RegistryJSON.decodeUpdate(value)
    guard let body = try? RegistryJSON.decodeCreate(value) else { return }
    _ = ModelVersionSpec.validate(body.spec)
    let record = ModelVersionRecord(spec: body.spec, tenant: 1, now: Instant(nanoseconds: 1_000_000))
    let text = RegistryJSON.encode(record).serialized()
    guard case .object(let members)? = try? JSONValue.parse(text) else {
        fatalError("encoded record unreadable: \(text)")
    }
    let createMembers = JSONValue.object(members.filter { !recordOnlyMembers.contains($0.0) })
    guard let again = try? RegistryJSON.decodeCreate(createMembers), again.spec == body.spec else {
        fatalError("record encoding changed the spec: \(text)")
    }
}

func fuzzInferenceBody(_ value: JSONValue) {
    guard let request = try? InferenceJSON.decodeRequest(value) else { return }
    for model in [fuzzModel, fuzzOpenModel] {
        guard let error = InferenceValidation.validate(request, against: model) else {
            for tensor in request.inputs {
                let product = tensor.shape.reduce(Int64(1)) { $0 * $1 }
                precondition(tensor.shape.allSatisfy { $0 >= 1 }, "accepted a shape with a dimension below 1")
                precondition(Int64(tensor.data.count) == product, "accepted data that does not fill its shape")
            }
            continue
        }
        precondition(!error.reason.isEmpty, "a refusal without a reason")
        precondition(
            error.field.isEmpty || error.field.utf8.first != UInt8(ascii: "."), "malformed path \(error.field)")
    }
}
