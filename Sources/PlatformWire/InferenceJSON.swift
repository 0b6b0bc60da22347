// Decoding of a KServe v2 / Open Inference Protocol REST inference body into the core's request values.
// Each tensor's `data` may be flat or nested to the tensor's rank in row-major order, as the protocol
// allows; nesting must match the shape level by level. The elements are walked once into a `TensorData`
// summary (kind, count, range), which is what the core's validation needs. Binary tensor data (the
// `binary_data_size` extension) is refused: the gateway takes JSON elements only.

import PlatformCore

/// KServe v2 inference bodies from JSON.
public enum InferenceJSON {
    static let bodyMembers = ["id", "inputs", "outputs", "parameters"]
    static let tensorMembers = ["name", "datatype", "shape", "data", "parameters"]
    static let outputMembers = ["name", "parameters"]

    /// Decodes `{"id"?, "inputs": [{"name", "datatype", "shape", "data", "parameters"?}], "outputs"?,
    /// "parameters"?}`. Shapes and counts are checked against the schema later, by `InferenceValidation`.
    public static func decodeRequest(_ body: JSONValue) throws(InferenceRequestError) -> InferenceRequestBody {
        do {
            return try decode(body)
        } catch {
            throw InferenceRequestError(field: error.field, reason: error.reason)
        }
    }

    static func decode(_ body: JSONValue) throws(RegistryFieldError) -> InferenceRequestBody {
        let members = try JSONFields.object(body, path: "")
        try JSONFields.refuseUnknown(members, allowed: bodyMembers, path: "")
        let id = try JSONFields.string(body["id"], path: "id")
        if let parameters = body["parameters"], parameters != .null {
            _ = try JSONFields.object(parameters, path: "parameters")
        }
        guard let inputElements = try JSONFields.array(body["inputs"], path: "inputs") else {
            throw RegistryFieldError(field: "inputs", reason: "is required")
        }
        var inputs: [InferenceInputTensor] = []
        for (index, element) in inputElements.enumerated() {
            inputs.append(try decodeTensor(element, path: "inputs[\(index)]"))
        }
        var outputs: [String] = []
        for (index, element) in (try JSONFields.array(body["outputs"], path: "outputs") ?? []).enumerated() {
            let path = "outputs[\(index)]"
            let outputMembers = try JSONFields.object(element, path: path)
            try JSONFields.refuseUnknown(outputMembers, allowed: Self.outputMembers, path: path)
            guard let name = try JSONFields.string(element["name"], path: path + ".name") else {
                throw RegistryFieldError(field: path + ".name", reason: "is required")
            }
            outputs.append(name)
        }
        return InferenceRequestBody(id: id, inputs: inputs, outputs: outputs)
    }

    static func decodeTensor(_ value: JSONValue, path: String) throws(RegistryFieldError) -> InferenceInputTensor {
        let members = try JSONFields.object(value, path: path)
        try JSONFields.refuseUnknown(members, allowed: tensorMembers, path: path)
        guard let name = try JSONFields.string(value["name"], path: path + ".name") else {
            throw RegistryFieldError(field: path + ".name", reason: "is required")
        }
        let datatype = try JSONFields.datatype(value["datatype"], path: path + ".datatype")
        guard let shapeElements = try JSONFields.array(value["shape"], path: path + ".shape") else {
            throw RegistryFieldError(field: path + ".shape", reason: "is required")
        }
        var shape: [Int64] = []
        for (axis, element) in shapeElements.enumerated() {
            shape.append(Int64(try JSONFields.integer(element, path: "\(path).shape[\(axis)]") ?? 0))
        }
        var binary = false
        if let parameters = value["parameters"], parameters != .null {
            binary = try JSONFields.object(parameters, path: path + ".parameters").contains {
                $0.0 == "binary_data_size"
            }
        }
        guard let data = try JSONFields.array(value["data"], path: path + ".data") else {
            let reason = binary ? "is required: binary tensor data is not supported" : "is required"
            throw RegistryFieldError(field: path + ".data", reason: reason)
        }
        var summary = DataSummary(datatype: datatype)
        let nested = data.contains { if case .array = $0 { true } else { false } }
        if nested {
            try summary.addNested(data, shape: shape, axis: 0, path: path + ".data")
        } else {
            for (index, element) in data.enumerated() { try summary.add(element, path: "\(path).data[\(index)]") }
        }
        return InferenceInputTensor(name: name, datatype: datatype, shape: shape, data: summary.data)
    }
}

/// The running summary of one tensor's elements.
struct DataSummary {
    var kind: TensorData.Kind?
    let emptyKind: TensorData.Kind
    var count = 0
    var minimum = 0.0
    var maximum = 0.0
    var stringBytes = 0

    /// A summary for data of `datatype`; empty data takes the kind the datatype expects.
    init(datatype: TensorDatatype) {
        switch datatype {
        case .bool: emptyKind = .booleans
        case .bytes: emptyKind = .strings
        case .fp16, .fp32, .fp64: emptyKind = .numbers
        case .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64: emptyKind = .integers
        }
    }

    var data: TensorData {
        TensorData(
            kind: kind ?? emptyKind, count: count, minimum: minimum, maximum: maximum, stringBytes: stringBytes)
    }

    /// Walks `elements`, the level `axis` of nested data: its length must be `shape[axis]`, and its elements
    /// arrays down to the last axis, scalars there.
    mutating func addNested(
        _ elements: [JSONValue], shape: [Int64], axis: Int, path: String
    ) throws(RegistryFieldError) {
        guard axis < shape.count else {
            throw RegistryFieldError(field: path, reason: "is nested deeper than the shape's \(shape.count) dimensions")
        }
        if Int64(elements.count) != shape[axis] {
            let reason = "has \(elements.count) elements; shape[\(axis)] is \(shape[axis])"
            throw RegistryFieldError(field: path, reason: reason)
        }
        let last = axis == shape.count - 1
        for (index, element) in elements.enumerated() {
            func elementPath() -> String { "\(path)[\(index)]" }
            if last {
                try add(element, path: elementPath())
            } else if case .array(let inner) = element {
                try addNested(inner, shape: shape, axis: axis + 1, path: elementPath())
            } else {
                let reason = "must be an array: nested data follows the shape's \(shape.count) dimensions"
                throw RegistryFieldError(field: elementPath(), reason: reason)
            }
        }
    }

    /// Adds one scalar element; every element must have the kind of the first (integers widen to numbers).
    mutating func add(_ element: JSONValue, path: @autoclosure () -> String) throws(RegistryFieldError) {
        let elementKind: TensorData.Kind
        switch element {
        case .bool: elementKind = .booleans
        case .number(let value, let isInteger):
            elementKind = isInteger ? .integers : .numbers
            minimum = kind == nil ? value : min(minimum, value)
            maximum = kind == nil ? value : max(maximum, value)
        case .string(let text):
            elementKind = .strings
            stringBytes += text.utf8.count
        case .null, .array, .object:
            throw RegistryFieldError(
                field: path(), reason: "must be a boolean, a number or a string; got \(element.typeName)")
        }
        switch (kind, elementKind) {
        case (nil, _): kind = elementKind
        case (.integers?, .numbers): kind = .numbers
        case (.numbers?, .integers): break
        case (let earlier?, _) where earlier == elementKind: break
        case (let earlier?, _):
            let reason = "is \(Self.describe(elementKind)) but the first element is \(Self.describe(earlier))"
            throw RegistryFieldError(field: path(), reason: reason)
        }
        count += 1
    }

    static func describe(_ kind: TensorData.Kind) -> String {
        switch kind {
        case .booleans: "a boolean"
        case .integers, .numbers: "a number"
        case .strings: "a string"
        }
    }
}
