// The values of the model registry: tensor schemas in KServe v2 terms, a model version's spec and
// its stored record, the lifecycle edges between `VersionState`s, and the validation rules with the
// exact field path each refusal names. Lengths count Unicode scalars (what PostgreSQL's varchar counts),
// never grapheme clusters, whose rules change with Unicode versions.

/// A tensor element type of the KServe v2 / Open Inference Protocol, by its wire name.
public enum TensorDatatype: UInt8, Sendable, Hashable, CaseIterable {
    case bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, fp16, fp32, fp64, bytes

    /// The datatype whose wire name is exactly `name` (upper case, e.g. "FP32"), or nil.
    public init?(name: String) {
        // Every wire name is ASCII and no other string is canonically equivalent to one, so comparing the UTF-8
        // bytes decides exactly what `==` on the names would, without a search over the cases.
        var name = name
        guard let found = name.withUTF8({ TensorDatatype.byWireName($0) }) else { return nil }
        self = found
    }

    /// The datatype whose wire name is exactly these bytes, by length then by bytes.
    static func byWireName(_ bytes: UnsafeBufferPointer<UInt8>) -> TensorDatatype? {
        func matches(_ expected: StaticString) -> Bool {
            expected.withUTF8Buffer { $0.elementsEqual(bytes) }
        }
        switch bytes.count {
        case 4:
            switch bytes[0] {
            case UInt8(ascii: "B"): return matches("BOOL") ? .bool : nil
            case UInt8(ascii: "I"): return matches("INT8") ? .int8 : nil
            case UInt8(ascii: "F"):
                if matches("FP16") { return .fp16 }
                if matches("FP32") { return .fp32 }
                if matches("FP64") { return .fp64 }
                return nil
            default: return nil
            }
        case 5:
            switch bytes[0] {
            case UInt8(ascii: "U"): return matches("UINT8") ? .uint8 : nil
            case UInt8(ascii: "I"):
                if matches("INT16") { return .int16 }
                if matches("INT32") { return .int32 }
                if matches("INT64") { return .int64 }
                return nil
            case UInt8(ascii: "B"): return matches("BYTES") ? .bytes : nil
            default: return nil
            }
        case 6:
            if matches("UINT16") { return .uint16 }
            if matches("UINT32") { return .uint32 }
            if matches("UINT64") { return .uint64 }
            return nil
        default: return nil
        }
    }

    /// The wire name, as the protocol spells it.
    public var name: String {
        switch self {
        case .bool: "BOOL"
        case .uint8: "UINT8"
        case .uint16: "UINT16"
        case .uint32: "UINT32"
        case .uint64: "UINT64"
        case .int8: "INT8"
        case .int16: "INT16"
        case .int32: "INT32"
        case .int64: "INT64"
        case .fp16: "FP16"
        case .fp32: "FP32"
        case .fp64: "FP64"
        case .bytes: "BYTES"
        }
    }

    /// Bytes per element, or nil for `BYTES`, whose elements are variable-length strings.
    public var byteSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16, .fp16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }
}

/// Why a value was refused: the path of the offending field (e.g. "inputs[1].shape[0]") and a sentence.
/// An empty path means the value as a whole.
public struct RegistryFieldError: Error, Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "\(field): \(reason)" }
}

/// One named input or output of a model: its element type and shape, -1 marking a variable dimension.
public struct TensorSchema: Sendable, Hashable {
    public var name: String
    public var datatype: TensorDatatype
    public var shape: [Int]

    /// Longest tensor name accepted.
    public static let nameLengthMax = 256
    /// Most dimensions a tensor may have.
    public static let dimensionsMax = 8

    public init(name: String, datatype: TensorDatatype, shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }

    /// Nil when `schema` is well formed; otherwise the first problem, its field prefixed by `path`
    /// (e.g. path "inputs[1]" gives "inputs[1].shape[0]").
    public static func validate(_ schema: TensorSchema, path: String = "") -> RegistryFieldError? {
        let prefix = path.isEmpty ? "" : path + "."
        if schema.name.isEmpty { return RegistryFieldError(field: prefix + "name", reason: "must not be empty") }
        if schema.name.unicodeScalars.count > nameLengthMax {
            return RegistryFieldError(field: prefix + "name", reason: "is longer than \(nameLengthMax) characters")
        }
        if schema.shape.count > dimensionsMax {
            let reason = "has \(schema.shape.count) dimensions; at most \(dimensionsMax) are allowed"
            return RegistryFieldError(field: prefix + "shape", reason: reason)
        }
        for (index, dimension) in schema.shape.enumerated() where dimension < -1 || dimension == 0 {
            let reason = "must be at least 1, or -1 for a variable dimension; got \(dimension)"
            return RegistryFieldError(field: prefix + "shape[\(index)]", reason: reason)
        }
        return nil
    }
}

/// A key-value label on a model version. Specs keep labels sorted by key, so no dictionary order leaks.
public struct Label: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// What a client registers: one version of a named model, where it is served and what it takes and returns.
public struct ModelVersionSpec: Sendable, Hashable {
    /// `[a-z0-9][a-z0-9._-]{0,127}`; unique together with `version` across all tenants.
    public var name: String
    /// 1 or more.
    public var version: Int
    /// The serving framework, e.g. "onnxruntime"; non-empty.
    public var framework: String
    /// Where the version is served, in the client's order.
    public var endpoints: [String]
    public var inputs: [TensorSchema]
    public var outputs: [TensorSchema]
    /// Sorted by key (byte order) once stored; a spec built from a dictionary is sorted from the start.
    public var labels: [Label]

    /// Longest model name.
    public static let nameLengthMax = 128
    /// Longest framework name.
    public static let frameworkLengthMax = 64
    /// Most endpoints per version.
    public static let endpointsMax = 16
    /// Longest endpoint.
    public static let endpointLengthMax = 256
    /// Most inputs, and most outputs, per version.
    public static let tensorsMax = 64
    /// Most labels per version.
    public static let labelsMax = 64
    /// Longest label key.
    public static let labelKeyLengthMax = 63
    /// Longest label value.
    public static let labelValueLengthMax = 256

    public init(
        name: String, version: Int, framework: String, endpoints: [String], inputs: [TensorSchema] = [],
        outputs: [TensorSchema] = [], labels: [String: String] = [:]
    ) {
        self.name = name
        self.version = version
        self.framework = framework
        self.endpoints = endpoints
        self.inputs = inputs
        self.outputs = outputs
        self.labels = Self.sorted(labels.map { Label(key: $0.key, value: $0.value) })
    }

    /// `labels` ordered by key bytes: the one order labels are stored and compared in.
    public static func sorted(_ labels: [Label]) -> [Label] {
        labels.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// Nil when `spec` may be registered; otherwise the first problem, in field order.
    public static func validate(_ spec: ModelVersionSpec) -> RegistryFieldError? {
        if !isValidName(spec.name) {
            let reason = "must match [a-z0-9][a-z0-9._-]{0,127}"
            return RegistryFieldError(field: "name", reason: reason)
        }
        if spec.version < 1 {
            return RegistryFieldError(field: "version", reason: "must be at least 1; got \(spec.version)")
        }
        return validateFramework(spec.framework) ?? validateEndpoints(spec.endpoints)
            ?? validateTensors(spec.inputs, path: "inputs") ?? validateTensors(spec.outputs, path: "outputs")
            ?? validateLabels(spec.labels)
    }

    /// True when `name` matches `[a-z0-9][a-z0-9._-]{0,127}`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= nameLengthMax, isLowerAlphanumeric(first) else { return false }
        return bytes.allSatisfy {
            isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                || $0 == UInt8(ascii: "-")
        }
    }

    /// Nil when `framework` is 1...64 characters.
    public static func validateFramework(_ framework: String) -> RegistryFieldError? {
        if framework.isEmpty { return RegistryFieldError(field: "framework", reason: "must not be empty") }
        if framework.unicodeScalars.count > frameworkLengthMax {
            return RegistryFieldError(field: "framework", reason: "is longer than \(frameworkLengthMax) characters")
        }
        return nil
    }

    /// Nil when there are 1...16 endpoints, each 1...256 characters.
    public static func validateEndpoints(_ endpoints: [String]) -> RegistryFieldError? {
        if endpoints.isEmpty || endpoints.count > endpointsMax {
            let reason = "must list 1 to \(endpointsMax) endpoints; got \(endpoints.count)"
            return RegistryFieldError(field: "endpoints", reason: reason)
        }
        for (index, endpoint) in endpoints.enumerated() {
            if endpoint.isEmpty {
                return RegistryFieldError(field: "endpoints[\(index)]", reason: "must not be empty")
            }
            if endpoint.unicodeScalars.count > endpointLengthMax {
                let reason = "is longer than \(endpointLengthMax) characters"
                return RegistryFieldError(field: "endpoints[\(index)]", reason: reason)
            }
        }
        return nil
    }

    /// Nil when there are at most 64 tensors, each valid, with names unique within the list.
    public static func validateTensors(_ tensors: [TensorSchema], path: String) -> RegistryFieldError? {
        if tensors.count > tensorsMax {
            let reason = "has \(tensors.count) tensors; at most \(tensorsMax) are allowed"
            return RegistryFieldError(field: path, reason: reason)
        }
        var seen: Set<String> = []  // membership only: its order never reaches an output
        for (index, tensor) in tensors.enumerated() {
            if let error = TensorSchema.validate(tensor, path: "\(path)[\(index)]") { return error }
            if !seen.insert(tensor.name).inserted {
                let reason = "duplicates the name \"\(tensor.name)\" of an earlier tensor"
                return RegistryFieldError(field: "\(path)[\(index)].name", reason: reason)
            }
        }
        return nil
    }

    /// Nil when there are at most 64 labels with distinct keys matching `[a-z0-9._/-]{1,63}` and values of at
    /// most 256 characters. Paths index `labels` in the order given.
    public static func validateLabels(_ labels: [Label]) -> RegistryFieldError? {
        if labels.count > labelsMax {
            let reason = "has \(labels.count) labels; at most \(labelsMax) are allowed"
            return RegistryFieldError(field: "labels", reason: reason)
        }
        var seen: Set<String> = []  // membership only: its order never reaches an output
        for (index, label) in labels.enumerated() {
            if !isValidLabelKey(label.key) {
                let reason = "must match [a-z0-9._/-]{1,\(labelKeyLengthMax)}"
                return RegistryFieldError(field: "labels[\(index)].key", reason: reason)
            }
            if !seen.insert(label.key).inserted {
                let reason = "duplicates the key \"\(label.key)\" of an earlier label"
                return RegistryFieldError(field: "labels[\(index)].key", reason: reason)
            }
            if label.value.unicodeScalars.count > labelValueLengthMax {
                let reason = "is longer than \(labelValueLengthMax) characters"
                return RegistryFieldError(field: "labels[\(index)].value", reason: reason)
            }
        }
        return nil
    }

    /// True when `key` matches `[a-z0-9._/-]{1,63}`.
    public static func isValidLabelKey(_ key: String) -> Bool {
        let bytes = key.utf8
        guard !bytes.isEmpty && bytes.count <= labelKeyLengthMax else { return false }
        return bytes.allSatisfy {
            isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "/")
                || $0 == UInt8(ascii: "-")
        }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}

/// One row of the registry: a spec, where it stands in its lifecycle, and who owns it.
public struct ModelVersionRecord: Sendable, Hashable {
    public var spec: ModelVersionSpec
    public var state: VersionState
    /// The owning tenant: only it can see or change the record.
    public var tenant: Int
    public var createdAt: Instant
    public var updatedAt: Instant
    /// 1 at creation, +1 on every applied write: the value clients send in `If-Match`.
    public var resourceVersion: Int

    /// A freshly registered record.
    public init(spec: ModelVersionSpec, tenant: Int, now: Instant) {
        self.spec = spec
        state = .registered
        self.tenant = tenant
        createdAt = now
        updatedAt = now
        resourceVersion = 1
    }

    /// The record's place in the registry's order, and the cursor that resumes a listing after it.
    public var cursor: RegistryCursor { RegistryCursor(name: spec.name, version: spec.version) }
}

/// A position in the registry's order: (name by bytes, version) ascending. Listings resume after it.
public struct RegistryCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var name: String
    public var version: Int
    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }

    /// Byte order on names, then numeric order on versions (what `COLLATE "C"` gives in SQL).
    public static func < (lhs: RegistryCursor, rhs: RegistryCursor) -> Bool {
        if lhs.name.utf8.elementsEqual(rhs.name.utf8) { return lhs.version < rhs.version }
        return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
    }

    /// Byte equality on names, consistent with `<` (the standard library's `==` on strings is looser).
    public static func == (lhs: RegistryCursor, rhs: RegistryCursor) -> Bool {
        lhs.version == rhs.version && lhs.name.utf8.elementsEqual(rhs.name.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in name.utf8 { hasher.combine(byte) }
        hasher.combine(version)
    }

    public var description: String { "\(name)@\(version)" }
}

extension VersionState {
    /// True when the registry lets a version move from this state to `next` in one transition.
    ///
    /// registered -> staging | archived; staging -> canary | serving | archived; canary -> serving, or back
    /// to staging (rollback); serving -> deprecated; deprecated -> serving | archived. Archived is final.
    public func allowsTransition(to next: VersionState) -> Bool {
        switch self {
        case .registered: next == .staging || next == .archived
        case .staging: next == .canary || next == .serving || next == .archived
        case .canary: next == .serving || next == .staging
        case .serving: next == .deprecated
        case .deprecated: next == .serving || next == .archived
        case .archived: false
        }
    }

    /// False for the states a version cannot be deleted in: those that take traffic.
    public var allowsDeletion: Bool { !takesTraffic }
}
