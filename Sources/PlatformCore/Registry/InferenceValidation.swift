// The gateway's check of an inference request against the model version it names, before anything
// reaches a backend: tensor names, datatypes, shapes, element counts and the request's size limits. The
// wire decoder hands over each tensor's data as a summary (kind, count, range, string bytes) rather than
// the elements, so this check stays cheap and the elements are touched once. Every refusal names the JSON
// path of the offending field and maps to HTTP 400.
//
// Zero-sized dimensions are refused: a schema's fixed dimensions are at least 1, and a variable one must be
// given as at least 1 too, since backends refuse empty batches (Triton: "batch-size must be >= 1") and a
// clean 400 at the gateway beats a backend error.

/// Why an inference request was refused (400): the JSON path of the offending field and a sentence.
public struct InferenceRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// E.g. "inputs[1].shape[2]"; empty for the body as a whole.
    public var field: String
    public var reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    /// The HTTP status every refusal maps to.
    public static let httpStatus = 400
    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}

/// A summary of one tensor's `data` elements, made by the decoder in one pass over them.
public struct TensorData: Sendable, Hashable {
    /// The JSON type every element has.
    public enum Kind: Sendable, Hashable {
        /// true / false.
        case booleans
        /// Numbers all written as integer literals.
        case integers
        /// Numbers, at least one written with a fraction or an exponent.
        case numbers
        /// Strings (the elements of BYTES tensors).
        case strings
    }

    public var kind: Kind
    /// Elements, in row-major order, whatever the nesting.
    public var count: Int
    /// The smallest and largest element of numeric data; 0 otherwise.
    public var minimum: Double
    public var maximum: Double
    /// UTF-8 bytes of all string elements; 0 otherwise.
    public var stringBytes: Int

    public init(kind: Kind, count: Int, minimum: Double = 0, maximum: Double = 0, stringBytes: Int = 0) {
        self.kind = kind
        self.count = count
        self.minimum = minimum
        self.maximum = maximum
        self.stringBytes = stringBytes
    }
}

/// One input tensor of an inference request.
public struct InferenceInputTensor: Sendable, Hashable {
    public var name: String
    public var datatype: TensorDatatype
    public var shape: [Int64]
    public var data: TensorData
    public init(name: String, datatype: TensorDatatype, shape: [Int64], data: TensorData) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
    }
}

/// The tensors of an inference request body as the gateway checks them (KServe v2 / Open Inference Protocol).
public struct InferenceRequestBody: Sendable, Hashable {
    /// The client's request id, echoed in the response.
    public var id: String?
    public var inputs: [InferenceInputTensor]
    /// The outputs asked for by name; empty asks for all.
    public var outputs: [String]
    public init(id: String? = nil, inputs: [InferenceInputTensor], outputs: [String] = []) {
        self.id = id
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// Checks inference requests against a model version's schema, within limits.
public enum InferenceValidation {
    /// The most a single request may carry.
    public struct Limits: Sendable, Equatable {
        /// Input tensors per request.
        public var tensorsMax: Int = 64
        /// Dimensions per tensor.
        public var dimensionsMax: Int = TensorSchema.dimensionsMax
        /// Elements per request, over all tensors.
        public var elementsMax: Int = 1 << 22
        /// Bytes per request once decoded, over all tensors (BYTES elements count 4 bytes of length each).
        public var bytesMax: Int = 32 << 20
        /// Outputs asked for by name.
        public var outputsMax: Int = 64

        /// The default limits.
        public init() {}
    }

    /// Nil when `request` may go to a backend serving `spec`; otherwise the first problem, in field order.
    /// A spec declaring no inputs (registered without a schema) accepts any names, datatypes and shapes; the
    /// limits and the element counts still apply. Likewise for outputs.
    public static func validate(
        _ request: InferenceRequestBody, against spec: ModelVersionSpec, limits: Limits = Limits()
    ) -> InferenceRequestError? {
        if request.inputs.isEmpty { return InferenceRequestError(field: "inputs", reason: "must not be empty") }
        if request.inputs.count > limits.tensorsMax {
            let reason = "has \(request.inputs.count) tensors; at most \(limits.tensorsMax) are allowed"
            return InferenceRequestError(field: "inputs", reason: reason)
        }
        var elements = 0
        var bytes = 0
        for index in request.inputs.indices {
            let tensor = request.inputs[index]
            // Paths are built only for a refusal; interpolating them for every accepted tensor costs more than
            // checking it.
            func path() -> String { "inputs[\(index)]" }
            // The schema is looked up once, for both the name check and the rest.
            let schemaIndex = spec.inputs.firstIndex { sameBytes($0.name, tensor.name) }
            if let error = checkName(tensor, at: index, in: request.inputs, spec: spec, known: schemaIndex != nil) {
                return error
            }
            let schema = schemaIndex.map { spec.inputs[$0] }
            if let schema, tensor.datatype != schema.datatype {
                let reason = "is \(tensor.datatype.name); input \"\(schema.name)\" takes \(schema.datatype.name)"
                return InferenceRequestError(field: path() + ".datatype", reason: reason)
            }
            let count: Int
            switch checkShape(tensor.shape, schema: schema, path: path(), limits: limits) {
            case .success(let counted): count = counted
            case .failure(let error): return error
            }
            if let error = checkData(tensor, count: count, path: path()) { return error }
            elements += count
            if elements > limits.elementsMax {
                let reason = "hold more than \(limits.elementsMax) elements in all"
                return InferenceRequestError(field: "inputs", reason: reason)
            }
            // String bytes are clamped before adding: a summary built by hand could claim any amount.
            let stringBytes = min(max(tensor.data.stringBytes, 0), limits.bytesMax + 1)
            bytes += tensor.datatype.byteSize.map { $0 * count } ?? (stringBytes + 4 * count)
            if bytes > limits.bytesMax {
                return InferenceRequestError(field: "inputs", reason: "hold more than \(limits.bytesMax) bytes in all")
            }
        }
        // Every tensor got past `checkName`, so with a schema their names are distinct and all the schema's: as
        // many tensors as schema inputs then name every input, and the search below would find nothing.
        if request.inputs.count != spec.inputs.count {
            for schema in spec.inputs where !request.inputs.contains(where: { sameBytes($0.name, schema.name) }) {
                let reason = "lacks the input \"\(schema.name)\" that \(spec.name) version \(spec.version) takes"
                return InferenceRequestError(field: "inputs", reason: reason)
            }
        }
        return checkOutputs(request.outputs, spec: spec, limits: limits)
    }

    /// Whether two strings have the same UTF-8 bytes: names match byte for byte, not merely when Unicode calls
    /// them equivalent (as `==` would).
    @inline(__always)
    static func sameBytes(_ first: String, _ second: String) -> Bool {
        let firstBytes = first.utf8
        let secondBytes = second.utf8
        guard firstBytes.count == secondBytes.count else { return false }
        let compared = firstBytes.withContiguousStorageIfAvailable { firstBuffer in
            secondBytes.withContiguousStorageIfAvailable { secondBuffer in
                var index = 0
                while index < firstBuffer.count {
                    if firstBuffer[index] != secondBuffer[index] { return false }
                    index += 1
                }
                return true
            }
        }
        if let compared, let compared { return compared }
        return firstBytes.elementsEqual(secondBytes)
    }

    /// Nil when the tensor's name is not empty, not used before, and `known` to `spec` (or `spec` declares no
    /// inputs).
    static func checkName(
        _ tensor: InferenceInputTensor, at index: Int, in inputs: [InferenceInputTensor], spec: ModelVersionSpec,
        known: Bool
    ) -> InferenceRequestError? {
        func field() -> String { "inputs[\(index)].name" }
        if tensor.name.isEmpty { return InferenceRequestError(field: field(), reason: "must not be empty") }
        var earlier = 0
        while earlier < index {
            if sameBytes(inputs[earlier].name, tensor.name) {
                let reason = "duplicates the name \"\(tensor.name)\" of an earlier input"
                return InferenceRequestError(field: field(), reason: reason)
            }
            earlier += 1
        }
        if !spec.inputs.isEmpty && !known {
            let reason = "\(spec.name) version \(spec.version) has no input named \"\(tensor.name)\""
            return InferenceRequestError(field: field(), reason: reason)
        }
        return nil
    }

    /// The element count `shape` describes, or the first problem with it. The running product is checked
    /// against `elementsMax` at every step, so it never overflows.
    static func checkShape(
        _ shape: [Int64], schema: TensorSchema?, path: @autoclosure () -> String, limits: Limits
    ) -> Result<Int, InferenceRequestError> {
        if shape.count > limits.dimensionsMax {
            let reason = "has \(shape.count) dimensions; at most \(limits.dimensionsMax) are allowed"
            return .failure(InferenceRequestError(field: path() + ".shape", reason: reason))
        }
        if let schema, shape.count != schema.shape.count {
            let reason =
                "has \(shape.count) dimensions; input \"\(schema.name)\" has \(schema.shape.count) "
                + "(\(describe(schema.shape)))"
            return .failure(InferenceRequestError(field: path() + ".shape", reason: reason))
        }
        var count: Int64 = 1
        for axis in shape.indices {
            let dimension = shape[axis]
            func field() -> String { "\(path()).shape[\(axis)]" }
            if dimension < 1 {
                return .failure(InferenceRequestError(field: field(), reason: "must be at least 1; got \(dimension)"))
            }
            if let schema, schema.shape[axis] != -1, Int64(schema.shape[axis]) != dimension {
                let reason = "is \(dimension); input \"\(schema.name)\" has \(schema.shape[axis]) there"
                return .failure(InferenceRequestError(field: field(), reason: reason))
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow || product > Int64(limits.elementsMax) {
                let reason = "describes more than \(limits.elementsMax) elements"
                return .failure(InferenceRequestError(field: path() + ".shape", reason: reason))
            }
            count = product
        }
        return .success(Int(count))
    }

    /// Nil when the data holds `count` elements of a kind and range `tensor.datatype` takes.
    static func checkData(
        _ tensor: InferenceInputTensor, count: Int, path: @autoclosure () -> String
    ) -> InferenceRequestError? {
        func field() -> String { path() + ".data" }
        let data = tensor.data
        if data.count != count {
            let reason = "has \(data.count) elements; shape \(describe(tensor.shape)) needs \(count)"
            return InferenceRequestError(field: field(), reason: reason)
        }
        let datatype = tensor.datatype
        let accepted: Bool
        switch datatype {
        case .bool: accepted = data.kind == .booleans
        case .bytes: accepted = data.kind == .strings
        case .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64: accepted = data.kind == .integers
        case .fp16, .fp32, .fp64: accepted = data.kind == .integers || data.kind == .numbers
        }
        if !accepted {
            let reason = "holds \(describe(data.kind)); \(datatype.name) takes \(describe(expectedKindOf: datatype))"
            return InferenceRequestError(field: field(), reason: reason)
        }
        guard data.kind == .integers || data.kind == .numbers, let range = range(of: datatype) else { return nil }
        let inRange =
            data.minimum >= range.lowerBound && data.maximum <= range.upperBound
            && !(range.upperBoundIsOpen && data.maximum == range.upperBound)
        if !inRange {
            let reason =
                "holds values from \(describe(data.minimum)) to \(describe(data.maximum)), outside what "
                + "\(datatype.name) can represent"
            return InferenceRequestError(field: field(), reason: reason)
        }
        return nil
    }

    /// Nil when at most `outputsMax` distinct outputs are asked for, each known to `spec` when it declares any.
    static func checkOutputs(_ outputs: [String], spec: ModelVersionSpec, limits: Limits) -> InferenceRequestError? {
        if outputs.count > limits.outputsMax {
            let reason = "asks for \(outputs.count) outputs; at most \(limits.outputsMax) are allowed"
            return InferenceRequestError(field: "outputs", reason: reason)
        }
        for (index, name) in outputs.enumerated() {
            func field() -> String { "outputs[\(index)].name" }
            if outputs[..<index].contains(where: { sameBytes($0, name) }) {
                return InferenceRequestError(field: field(), reason: "asks for \"\(name)\" twice")
            }
            if !spec.outputs.isEmpty && !spec.outputs.contains(where: { sameBytes($0.name, name) }) {
                let reason = "\(spec.name) version \(spec.version) has no output named \"\(name)\""
                return InferenceRequestError(field: field(), reason: reason)
            }
        }
        return nil
    }

    /// The values a numeric datatype holds; `upperBoundIsOpen` when the bound itself (2^63, 2^64) is out.
    static func range(of datatype: TensorDatatype) -> (lowerBound: Double, upperBound: Double, upperBoundIsOpen: Bool)?
    {
        switch datatype {
        case .bool, .bytes: nil
        case .uint8: (0, 255, false)
        case .uint16: (0, 65_535, false)
        case .uint32: (0, 4_294_967_295, false)
        case .uint64: (0, 18_446_744_073_709_551_616, true)
        case .int8: (-128, 127, false)
        case .int16: (-32_768, 32_767, false)
        case .int32: (-2_147_483_648, 2_147_483_647, false)
        case .int64: (-9_223_372_036_854_775_808, 9_223_372_036_854_775_808, true)
        case .fp16: (-65_504, 65_504, false)
        case .fp32: (-Double(Float.greatestFiniteMagnitude), Double(Float.greatestFiniteMagnitude), false)
        case .fp64: (-Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude, false)
        }
    }

    static func describe<Dimension: BinaryInteger>(_ shape: [Dimension]) -> String {
        "[" + shape.map { String($0) }.joined(separator: ", ") + "]"
    }

    /// Integral values without a fraction, as they were most likely written.
    static func describe(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 9e15 ? String(Int64(value)) : "\(value)"
    }

    static func describe(_ kind: TensorData.Kind) -> String {
        switch kind {
        case .booleans: "booleans"
        case .integers: "integers"
        case .numbers: "numbers with fractions"
        case .strings: "strings"
        }
    }

    static func describe(expectedKindOf datatype: TensorDatatype) -> String {
        switch datatype {
        case .bool: "booleans"
        case .bytes: "strings"
        case .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64: "integers"
        case .fp16, .fp32, .fp64: "numbers"
        }
    }
}
