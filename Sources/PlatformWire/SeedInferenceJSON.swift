// The seed API's inference bodies (`POST /v1/infer`): `{"model", "version"?, "input": {name: numbers}}` in,
// `{"id", "model", "version", "outputs": {name: value}}` out. The gateway turns the request into a KServe v2
// body, so one validation and one backend protocol serve both APIs, and turns the backend's v2 answer back.

import PlatformCore

/// A seed inference request, its inputs already rewritten as KServe v2 tensors.
public struct SeedInferenceRequest: Sendable, Equatable {
    public var model: String
    /// 0 when the client pinned no version.
    public var version: Int
    /// `{"inputs": [...]}` in KServe v2 form: each named input becomes a tensor of shape [rows, columns].
    public var body: JSONValue
}

public enum SeedInferenceJSON {
    static let requestMembers = ["model", "version", "input"]

    /// Decodes a seed request. `datatype` names the datatype a model input takes (from its schema); inputs it
    /// does not know are sent as FP32. A flat array is one row; an array of equally long arrays is a batch.
    public static func decodeRequest(
        _ body: JSONValue, datatype: (String) -> TensorDatatype?
    ) throws(InferenceRequestError) -> SeedInferenceRequest {
        do throws(RegistryFieldError) {
            let members = try JSONFields.object(body, path: "")
            try JSONFields.refuseUnknown(members, allowed: requestMembers, path: "")
            guard let model = try JSONFields.string(body["model"], path: "model") else {
                throw RegistryFieldError(field: "model", reason: "is required")
            }
            let version = try JSONFields.integer(body["version"], path: "version") ?? 0
            if body["version"] != nil && version < 1 {
                throw RegistryFieldError(field: "version", reason: "must be at least 1")
            }
            guard let input = body["input"] else { throw RegistryFieldError(field: "input", reason: "is required") }
            let named = try JSONFields.object(input, path: "input")
            if named.isEmpty { throw RegistryFieldError(field: "input", reason: "must name at least one input") }
            var tensors: [JSONValue] = []
            for (name, value) in named {
                let path = "input." + name
                guard case .array(let elements) = value else {
                    throw RegistryFieldError(field: path, reason: "must be an array of numbers, not \(value.typeName)")
                }
                let shape = try shapeOf(elements, path: path)
                let type = datatype(name) ?? .fp32
                tensors.append(
                    .object([
                        ("name", .string(name)), ("datatype", .string(type.name)),
                        ("shape", .array(shape.map { .number(Double($0), isInteger: true) })), ("data", value),
                    ]))
            }
            return SeedInferenceRequest(model: model, version: version, body: .object([("inputs", .array(tensors))]))
        } catch {
            throw InferenceRequestError(field: error.field, reason: error.reason)
        }
    }

    /// [1, n] for a flat array, [rows, n] for rows of n; the elements themselves are checked by the v2 decoder.
    static func shapeOf(_ elements: [JSONValue], path: String) throws(RegistryFieldError) -> [Int] {
        guard let first = elements.first else { throw RegistryFieldError(field: path, reason: "must not be empty") }
        guard case .array(let row) = first else { return [1, elements.count] }
        for (index, element) in elements.enumerated() {
            guard case .array(let other) = element, other.count == row.count else {
                let reason = "must be a row of \(row.count) numbers like the first"
                throw RegistryFieldError(field: "\(path)[\(index)]", reason: reason)
            }
        }
        return [elements.count, row.count]
    }

    /// The seed answer from a backend's KServe v2 response: each output by name; a single element as a scalar,
    /// one row as a flat array, several rows as an array of rows.
    public static func encodeResponse(id: String, model: String, version: Int, backendResponse: JSONValue) -> JSONValue
    {
        var outputs: [(String, JSONValue)] = []
        if case .array(let tensors)? = backendResponse["outputs"] {
            for tensor in tensors {
                guard case .string(let name)? = tensor["name"], case .array(let data)? = tensor["data"] else {
                    continue
                }
                var shape: [Int] = []
                if case .array(let dimensions)? = tensor["shape"] {
                    for case .number(let value, _) in dimensions { shape.append(Int(value)) }
                }
                outputs.append((name, reshape(data, shape: shape)))
            }
        }
        return .object([
            ("id", .string(id)), ("model", .string(model)), ("version", .number(Double(version), isInteger: true)),
            ("outputs", .object(outputs)),
        ])
    }

    static func reshape(_ data: [JSONValue], shape: [Int]) -> JSONValue {
        if data.count == 1 { return data[0] }
        let rows = shape.count >= 2 ? shape[0] : 1
        guard rows > 1, data.count % rows == 0 else { return .array(data) }
        let width = data.count / rows
        return .array((0..<rows).map { .array(Array(data[$0 * width..<($0 + 1) * width])) })
    }
}
