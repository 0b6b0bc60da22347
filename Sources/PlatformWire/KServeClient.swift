// The client side of the KServe v2 / Open Inference Protocol REST body, as the orchestrator speaks it to Triton:
// infer requests out, infer responses (or Triton's `{"error": "..."}`) in. Numbers are written so they read back
// as the same value: FP32 elements as the shortest text that names their Float (what `Float.description` gives),
// FP64 as the shortest for their Double, integers without a fraction. Decoding narrows FP32 elements to Float
// and keeps them as that Float's exact Double, so a decode then encode reproduces the text a backend sent for
// any float it printed shortest. Errors name the JSON path that was wrong, e.g. `outputs[1].data[4]`.

import PlatformCore

/// One named tensor in a request or response, elements flat in row-major order.
public struct KServeTensor: Sendable, Equatable {
    /// The elements; which case is allowed follows from the datatype.
    public enum Elements: Sendable, Equatable {
        /// For the FP and INT/UINT datatypes. FP32 and FP16 elements are kept at Float precision.
        case numbers([Double])
        /// For BYTES.
        case strings([String])
        /// For BOOL.
        case booleans([Bool])

        public var count: Int {
            switch self {
            case .numbers(let values): values.count
            case .strings(let values): values.count
            case .booleans(let values): values.count
            }
        }
    }

    public var name: String
    public var datatype: TensorDatatype
    public var shape: [Int]
    public var data: Elements

    public init(name: String, datatype: TensorDatatype, shape: [Int], data: Elements) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
    }
}

/// An infer request's body.
public struct KServeInferRequest: Sendable, Equatable {
    public var id: String?
    public var inputs: [KServeTensor]
    /// Outputs to return, by name; empty asks for all of them.
    public var outputs: [String]

    public init(id: String? = nil, inputs: [KServeTensor], outputs: [String] = []) {
        self.id = id
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// A successful infer response's body.
public struct KServeInferResponse: Sendable, Equatable {
    public var modelName: String
    public var modelVersion: String?
    public var id: String?
    public var outputs: [KServeTensor]

    public init(modelName: String, modelVersion: String? = nil, id: String? = nil, outputs: [KServeTensor]) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.id = id
        self.outputs = outputs
    }

    /// The first output named `name`.
    public func output(named name: String) -> KServeTensor? {
        outputs.first { $0.name == name }
    }
}

/// What a backend answered: outputs, or the message of its error body.
public enum KServeInferReply: Sendable, Equatable {
    case inferred(KServeInferResponse)
    /// Triton's `{"error": "..."}`, sent with a 4xx or 5xx status.
    case failed(message: String)
}

/// A body that could not be encoded or decoded: the JSON path at fault ("" for the whole body) and why.
public struct KServeCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path.isEmpty ? "body" : path): \(reason)" }
}

/// KServe v2 REST bodies for the client side.
public enum KServeClient {
    /// `/v2/models/{model}[/versions/{version}]/infer`, each name percent-encoded as a path segment.
    public static func inferTarget(model: String, version: String? = nil) -> String {
        var target = "/v2/models/" + percentEncoded(model)
        if let version { target += "/versions/" + percentEncoded(version) }
        return target + "/infer"
    }

    /// `{"id"?, "inputs": [...], "outputs"?: [{"name"}]}`. Refuses a tensor whose element count does not fill
    /// its shape, whose elements do not suit its datatype, or a number JSON or the datatype cannot hold.
    public static func encodeInferRequest(_ request: KServeInferRequest) throws(KServeCodecError) -> [UInt8] {
        var output = "{"
        if let id = request.id {
            output += "\"id\":"
            JSONValue.writeString(id, into: &output)
            output += ","
        }
        output += "\"inputs\":["
        for (index, tensor) in request.inputs.enumerated() {
            if index > 0 { output += "," }
            try writeTensor(tensor, path: "inputs[\(index)]", into: &output)
        }
        output += "]"
        if !request.outputs.isEmpty {
            output += ",\"outputs\":["
            for (index, name) in request.outputs.enumerated() {
                output += index > 0 ? ",{\"name\":" : "{\"name\":"
                JSONValue.writeString(name, into: &output)
                output += "}"
            }
            output += "]"
        }
        output += "}"
        return Array(output.utf8)
    }

    /// `{"model_name", "model_version"?, "id"?, "outputs": [...]}`: what a backend sends, for simulated backends
    /// and round-trip checks.
    public static func encodeInferResponse(_ response: KServeInferResponse) throws(KServeCodecError) -> [UInt8] {
        var output = "{\"model_name\":"
        JSONValue.writeString(response.modelName, into: &output)
        if let version = response.modelVersion {
            output += ",\"model_version\":"
            JSONValue.writeString(version, into: &output)
        }
        if let id = response.id {
            output += ",\"id\":"
            JSONValue.writeString(id, into: &output)
        }
        output += ",\"outputs\":["
        for (index, tensor) in response.outputs.enumerated() {
            if index > 0 { output += "," }
            try writeTensor(tensor, path: "outputs[\(index)]", into: &output)
        }
        output += "]}"
        return Array(output.utf8)
    }

    /// Reads an infer response body, or Triton's error body. Members the protocol adds (`parameters`) are
    /// ignored; outputs sent as binary data (the `binary_data_size` extension) are refused, since this client
    /// never asks for them.
    public static func decodeInferReply(
        _ body: [UInt8], limits: JSONLimits = JSONLimits()
    ) throws(KServeCodecError) -> KServeInferReply {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body, limits: limits)
        } catch {
            throw KServeCodecError(path: "", reason: "is not JSON: \(error)")
        }
        do {
            return try decodeReply(value)
        } catch {
            throw KServeCodecError(path: error.field, reason: error.reason)
        }
    }

    static func decodeReply(_ body: JSONValue) throws(RegistryFieldError) -> KServeInferReply {
        _ = try JSONFields.object(body, path: "")
        // A body that carries an error is an error, whatever else it holds.
        if let error = body["error"] {
            guard case .string(let message) = error else {
                throw RegistryFieldError(field: "error", reason: "must be a string; got \(error.typeName)")
            }
            return .failed(message: message)
        }
        guard let modelName = try JSONFields.string(body["model_name"], path: "model_name") else {
            throw RegistryFieldError(field: "model_name", reason: "is required")
        }
        let modelVersion = try JSONFields.string(body["model_version"], path: "model_version")
        let id = try JSONFields.string(body["id"], path: "id")
        guard let elements = try JSONFields.array(body["outputs"], path: "outputs") else {
            throw RegistryFieldError(field: "outputs", reason: "is required")
        }
        var outputs: [KServeTensor] = []
        outputs.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            outputs.append(try decodeTensor(element, path: "outputs[\(index)]"))
        }
        return .inferred(
            KServeInferResponse(modelName: modelName, modelVersion: modelVersion, id: id, outputs: outputs))
    }

    static func decodeTensor(_ value: JSONValue, path: String) throws(RegistryFieldError) -> KServeTensor {
        _ = try JSONFields.object(value, path: path)
        guard let name = try JSONFields.string(value["name"], path: path + ".name") else {
            throw RegistryFieldError(field: path + ".name", reason: "is required")
        }
        let datatype = try JSONFields.datatype(value["datatype"], path: path + ".datatype")
        guard let shapeElements = try JSONFields.array(value["shape"], path: path + ".shape") else {
            throw RegistryFieldError(field: path + ".shape", reason: "is required")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeElements.count)
        for (axis, element) in shapeElements.enumerated() {
            let dimension = try JSONFields.integer(element, path: "\(path).shape[\(axis)]") ?? -1
            guard dimension >= 0 else {
                throw RegistryFieldError(field: "\(path).shape[\(axis)]", reason: "must be a non-negative integer")
            }
            shape.append(dimension)
        }
        if let parameters = value["parameters"], parameters != .null {
            let members = try JSONFields.object(parameters, path: path + ".parameters")
            if members.contains(where: { $0.0 == "binary_data_size" }) {
                throw RegistryFieldError(
                    field: path + ".parameters.binary_data_size", reason: "binary tensor data is not supported")
            }
        }
        guard let data = try JSONFields.array(value["data"], path: path + ".data") else {
            throw RegistryFieldError(field: path + ".data", reason: "is required")
        }
        let elementCount = try elementCount(of: shape, path: path + ".shape")
        var reader = ElementReader(datatype: datatype, capacity: min(data.count, elementCount))
        if data.contains(where: { if case .array = $0 { true } else { false } }) {
            try reader.readNested(data, shape: shape, axis: 0, path: path + ".data")
        } else {
            for (index, element) in data.enumerated() { try reader.read(element, path: "\(path).data[\(index)]") }
        }
        let elements = reader.elements
        guard elements.count == elementCount else {
            throw RegistryFieldError(
                field: path + ".data",
                reason: "has \(elements.count) elements; shape \(shape) holds \(elementCount)")
        }
        return KServeTensor(name: name, datatype: datatype, shape: shape, data: elements)
    }

    /// The product of the dimensions, refused if it overflows.
    static func elementCount(of shape: [Int], path: String) throws(RegistryFieldError) -> Int {
        var product = 1
        for dimension in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw RegistryFieldError(field: path, reason: "has too many elements") }
            product = next
        }
        return product
    }

    static func writeTensor(_ tensor: KServeTensor, path: String, into output: inout String) throws(KServeCodecError) {
        for (axis, dimension) in tensor.shape.enumerated() where dimension < 0 {
            throw KServeCodecError(path: "\(path).shape[\(axis)]", reason: "is \(dimension); must not be negative")
        }
        let elementCount: Int
        do {
            elementCount = try Self.elementCount(of: tensor.shape, path: path + ".shape")
        } catch {
            throw KServeCodecError(path: error.field, reason: error.reason)
        }
        guard tensor.data.count == elementCount else {
            throw KServeCodecError(
                path: path + ".data",
                reason: "has \(tensor.data.count) elements; shape \(tensor.shape) holds \(elementCount)")
        }
        output += "{\"name\":"
        JSONValue.writeString(tensor.name, into: &output)
        output += ",\"datatype\":\"" + tensor.datatype.name + "\",\"shape\":["
        for (axis, dimension) in tensor.shape.enumerated() {
            if axis > 0 { output += "," }
            output += String(dimension)
        }
        output += "],\"data\":["
        switch (tensor.data, tensor.datatype) {
        case (.strings(let values), .bytes):
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                JSONValue.writeString(value, into: &output)
            }
        case (.booleans(let values), .bool):
            for (index, value) in values.enumerated() {
                output += index > 0 ? (value ? ",true" : ",false") : "\(value)"
            }
        case (.numbers(let values), _) where tensor.datatype != .bytes && tensor.datatype != .bool:
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                guard let text = numberText(value, datatype: tensor.datatype) else {
                    let reason =
                        value.isFinite
                        ? "\(JSONValue.exact(value)) does not fit \(tensor.datatype.name)"
                        : "is \(value), which JSON cannot carry"
                    throw KServeCodecError(path: "\(path).data[\(index)]", reason: reason)
                }
                output += text
            }
        case (.numbers, _), (.strings, _), (.booleans, _):
            throw KServeCodecError(
                path: path + ".data",
                reason: "\(tensor.datatype.name) data must be \(expectedElements(tensor.datatype)); got "
                    + describe(tensor.data))
        }
        output += "]}"
    }

    /// The JSON text for one numeric element, or nil if `datatype` cannot hold it.
    static func numberText(_ value: Double, datatype: TensorDatatype) -> String? {
        guard value.isFinite else { return nil }
        switch datatype {
        case .fp32, .fp16:
            // Float's description is the shortest digits that read back as the same Float (and JSON-valid).
            let narrowed = Float(value)
            guard narrowed.isFinite, datatype == .fp32 || abs(narrowed) <= 65504 else { return nil }
            return narrowed.description
        case .fp64:
            return JSONValue.exact(value)
        case .bool, .bytes:
            return nil
        case .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64:
            guard value == value.rounded(), integerRange(datatype).contains(value) else { return nil }
            return String(Int64(value))
        }
    }

    /// The Float whose digits the JSON reader turned into the Double `value`. Narrowing the Double rounds a
    /// second time, which picks the wrong Float only when `value` lies exactly halfway between two Floats (one
    /// finite positive Float in four billion, 7.038531e-26, when written shortest); there the Float whose own
    /// shortest digits read back as `value` is the one that was written. A Float that narrowed correctly is kept,
    /// since its own digits read back as `value`.
    static func float(readAs value: Double) -> Float {
        let narrowed = Float(value)
        guard narrowed.isFinite, Double(narrowed) != value else { return narrowed }
        let neighbour = Double(narrowed) < value ? narrowed.nextUp : narrowed.nextDown
        // Two adjacent Floats and their midpoint are exact in Double, so the tie test is exact.
        guard neighbour.isFinite, (Double(narrowed) + Double(neighbour)) / 2 == value else { return narrowed }
        if Double(neighbour.description) == value && Double(narrowed.description) != value { return neighbour }
        return narrowed
    }

    /// The integers `datatype` holds that a JSON number carries exactly (below 9e15 in magnitude).
    static func integerRange(_ datatype: TensorDatatype) -> ClosedRange<Double> {
        let exact = JSONFields.integerMagnitudeLimit - 1
        switch datatype {
        case .int8: return -128...127
        case .int16: return -32768...32767
        case .int32: return -2_147_483_648...2_147_483_647
        case .uint8: return 0...255
        case .uint16: return 0...65535
        case .uint32: return 0...4_294_967_295
        case .uint64: return 0...exact
        case .int64, .fp16, .fp32, .fp64, .bool, .bytes: return -exact...exact
        }
    }

    static func expectedElements(_ datatype: TensorDatatype) -> String {
        switch datatype {
        case .bytes: "strings"
        case .bool: "booleans"
        case .fp16, .fp32, .fp64, .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64: "numbers"
        }
    }

    static func describe(_ elements: KServeTensor.Elements) -> String {
        switch elements {
        case .numbers: "numbers"
        case .strings: "strings"
        case .booleans: "booleans"
        }
    }

    /// Keeps RFC 3986 unreserved bytes, percent-encodes the rest, so a name cannot add path segments.
    static func percentEncoded(_ segment: String) -> String {
        var output = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return output
    }
}

/// Collects one tensor's elements as the datatype asks, naming the element's path when one does not fit.
private struct ElementReader {
    let datatype: TensorDatatype
    var numbers: [Double] = []
    var strings: [String] = []
    var booleans: [Bool] = []

    init(datatype: TensorDatatype, capacity: Int) {
        self.datatype = datatype
        switch datatype {
        case .bytes: strings.reserveCapacity(capacity)
        case .bool: booleans.reserveCapacity(capacity)
        case .fp16, .fp32, .fp64, .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64:
            numbers.reserveCapacity(capacity)
        }
    }

    var elements: KServeTensor.Elements {
        switch datatype {
        case .bytes: .strings(strings)
        case .bool: .booleans(booleans)
        case .fp16, .fp32, .fp64, .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64: .numbers(numbers)
        }
    }

    /// Walks data nested to the shape's rank, as the protocol allows: level `axis` must hold `shape[axis]`
    /// elements, arrays above the last axis and scalars on it.
    mutating func readNested(
        _ elements: [JSONValue], shape: [Int], axis: Int, path: String
    ) throws(RegistryFieldError) {
        guard axis < shape.count else {
            throw RegistryFieldError(field: path, reason: "is nested deeper than the shape's \(shape.count) dimensions")
        }
        guard elements.count == shape[axis] else {
            throw RegistryFieldError(
                field: path, reason: "has \(elements.count) elements; shape[\(axis)] is \(shape[axis])")
        }
        let last = axis == shape.count - 1
        for (index, element) in elements.enumerated() {
            if last {
                try read(element, path: "\(path)[\(index)]")
            } else if case .array(let inner) = element {
                try readNested(inner, shape: shape, axis: axis + 1, path: "\(path)[\(index)]")
            } else {
                throw RegistryFieldError(
                    field: "\(path)[\(index)]", reason: "must be an array: nested data follows the shape")
            }
        }
    }

    /// One scalar element; `path` is built only when the element is refused.
    mutating func read(_ element: JSONValue, path: @autoclosure () -> String) throws(RegistryFieldError) {
        switch datatype {
        case .bytes:
            guard case .string(let text) = element else { throw refusal(element, "a string", path()) }
            strings.append(text)
        case .bool:
            guard case .bool(let value) = element else { throw refusal(element, "a boolean", path()) }
            booleans.append(value)
        case .fp16, .fp32:
            guard case .number(let value, _) = element else { throw refusal(element, "a number", path()) }
            let narrowed = KServeClient.float(readAs: value)
            guard narrowed.isFinite, datatype == .fp32 || abs(narrowed) <= 65504 else {
                throw RegistryFieldError(field: path(), reason: "is out of the \(datatype.name) range")
            }
            numbers.append(Double(narrowed))
        case .fp64:
            guard case .number(let value, _) = element else { throw refusal(element, "a number", path()) }
            numbers.append(value)
        case .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64:
            guard case .number(let value, true) = element else {
                throw refusal(element, "an integer", path())
            }
            let range = KServeClient.integerRange(datatype)
            guard range.contains(value) else {
                let bounds = "\(Int64(range.lowerBound))...\(Int64(range.upperBound))"
                throw RegistryFieldError(field: path(), reason: "is outside \(datatype.name)'s range \(bounds)")
            }
            numbers.append(value)
        }
    }

    private func refusal(_ element: JSONValue, _ expected: String, _ path: String) -> RegistryFieldError {
        let got: String
        if case .number(_, false) = element, expected == "an integer" {
            got = "a fraction or an exponent"
        } else {
            got = element.typeName
        }
        return RegistryFieldError(field: path, reason: "must be \(expected) for \(datatype.name); got \(got)")
    }
}
