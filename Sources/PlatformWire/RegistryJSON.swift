// JSON for the model registry API and the KServe v2 inference body: strict decoding of request bodies
// into core values, each refusal naming the JSON path of the offending field (`inputs[0].datatype`), and
// deterministic encoding of records for responses. Decoding checks structure and types only; the rules on
// values (name syntax, lifecycle, shapes against the schema) stay in the core, which is the one place
// they are written. Unknown members are refused, so a misspelt field fails loudly instead of being dropped.

import PlatformCore

/// A decoded `POST /v1/models` body: the version to register and, optionally, the state to move it to.
public struct RegistryCreateBody: Sendable, Hashable {
    public var spec: ModelVersionSpec
    /// The seed API lets a client register straight into a state; nil keeps `registered`.
    public var state: VersionState?
}

/// A decoded update body: the fields to replace (nil keeps one) and, optionally, a lifecycle move.
public struct RegistryUpdateBody: Sendable, Hashable {
    public var framework: String?
    public var endpoints: [String]?
    /// Sorted by key.
    public var labels: [Label]?
    public var state: VersionState?
}

/// Registry bodies to and from JSON.
public enum RegistryJSON {
    static let createMembers = [
        "name", "version", "framework", "endpoint", "endpoints", "inputs", "outputs", "labels", "state",
    ]
    static let updateMembers = ["framework", "endpoint", "endpoints", "labels", "state"]
    static let immutableMembers = ["name", "version", "inputs", "outputs"]

    /// Decodes a create body: `{"name", "version", "framework", "endpoint" | "endpoints", "inputs"?,
    /// "outputs"?, "labels"?, "state"?}`. The spec is not validated here: the registry does that.
    public static func decodeCreate(_ body: JSONValue) throws(RegistryFieldError) -> RegistryCreateBody {
        let members = try JSONFields.object(body, path: "")
        try JSONFields.refuseUnknown(members, allowed: createMembers, path: "")
        guard let name = try JSONFields.string(body["name"], path: "name") else { throw missing("name") }
        guard let version = try JSONFields.integer(body["version"], path: "version") else { throw missing("version") }
        guard let framework = try JSONFields.string(body["framework"], path: "framework") else {
            throw missing("framework")
        }
        guard let endpoints = try decodeEndpoints(body) else { throw missing("endpoint") }
        var spec = ModelVersionSpec(name: name, version: version, framework: framework, endpoints: endpoints)
        spec.inputs = try decodeTensors(body["inputs"], path: "inputs")
        spec.outputs = try decodeTensors(body["outputs"], path: "outputs")
        spec.labels = try decodeLabels(body["labels"]) ?? []
        return RegistryCreateBody(spec: spec, state: try decodeState(body["state"]))
    }

    /// Decodes an update body: any of `"framework"`, `"endpoint" | "endpoints"`, `"labels"`, `"state"`, at least
    /// one. The fields that address or define a version (name, version, inputs, outputs) cannot change.
    public static func decodeUpdate(_ body: JSONValue) throws(RegistryFieldError) -> RegistryUpdateBody {
        let members = try JSONFields.object(body, path: "")
        for (member, _) in members where immutableMembers.contains(member) {
            throw RegistryFieldError(field: member, reason: "cannot be changed; register a new version instead")
        }
        try JSONFields.refuseUnknown(members, allowed: updateMembers, path: "")
        let update = RegistryUpdateBody(
            framework: try JSONFields.string(body["framework"], path: "framework"),
            endpoints: try decodeEndpoints(body), labels: try decodeLabels(body["labels"]),
            state: try decodeState(body["state"]))
        if update.framework == nil && update.endpoints == nil && update.labels == nil && update.state == nil {
            throw RegistryFieldError(field: "", reason: "the update names no field to change")
        }
        return update
    }

    /// A record as the API returns it. Times are milliseconds of the metadata node's clock (integers that a
    /// JSON number holds exactly); `endpoint` repeats the first endpoint for clients of the seed API.
    public static func encode(_ record: ModelVersionRecord) -> JSONValue {
        let spec = record.spec
        return .object([
            ("name", .string(spec.name)),
            ("version", integer(spec.version)),
            ("framework", .string(spec.framework)),
            ("endpoint", spec.endpoints.first.map { .string($0) } ?? .null),
            ("endpoints", .array(spec.endpoints.map { .string($0) })),
            ("inputs", .array(spec.inputs.map(encode))),
            ("outputs", .array(spec.outputs.map(encode))),
            ("labels", .object(ModelVersionSpec.sorted(spec.labels).map { ($0.key, .string($0.value)) })),
            ("state", .string(record.state.name)),
            ("resourceVersion", integer(record.resourceVersion)),
            ("createdAtMs", .number(Double(record.createdAt.nanoseconds / 1_000_000), isInteger: true)),
            ("updatedAtMs", .number(Double(record.updatedAt.nanoseconds / 1_000_000), isInteger: true)),
        ])
    }

    /// A tensor schema as `{"name", "datatype", "shape"}`.
    public static func encode(_ schema: TensorSchema) -> JSONValue {
        .object([
            ("name", .string(schema.name)),
            ("datatype", .string(schema.datatype.name)),
            ("shape", .array(schema.shape.map(integer))),
        ])
    }

    static func integer(_ value: Int) -> JSONValue { .number(Double(value), isInteger: true) }

    static func missing(_ field: String) -> RegistryFieldError {
        RegistryFieldError(field: field, reason: "is required")
    }

    /// `"endpoint": "…"` (the seed API) or `"endpoints": [...]`, not both; nil when neither is present.
    static func decodeEndpoints(_ body: JSONValue) throws(RegistryFieldError) -> [String]? {
        let single = try JSONFields.string(body["endpoint"], path: "endpoint")
        let list = try JSONFields.array(body["endpoints"], path: "endpoints")
        if single != nil && list != nil {
            throw RegistryFieldError(field: "endpoints", reason: "give either endpoint or endpoints, not both")
        }
        if let single { return [single] }
        guard let list else { return nil }
        var endpoints: [String] = []
        for (index, element) in list.enumerated() {
            endpoints.append(try JSONFields.string(element, path: "endpoints[\(index)]") ?? "")
        }
        return endpoints
    }

    static func decodeTensors(_ value: JSONValue?, path: String) throws(RegistryFieldError) -> [TensorSchema] {
        guard let elements = try JSONFields.array(value, path: path) else { return [] }
        if elements.count > ModelVersionSpec.tensorsMax {
            let reason = "has \(elements.count) tensors; at most \(ModelVersionSpec.tensorsMax) are allowed"
            throw RegistryFieldError(field: path, reason: reason)
        }
        var tensors: [TensorSchema] = []
        for (index, element) in elements.enumerated() {
            tensors.append(try decodeTensor(element, path: "\(path)[\(index)]"))
        }
        return tensors
    }

    static func decodeTensor(_ value: JSONValue, path: String) throws(RegistryFieldError) -> TensorSchema {
        let members = try JSONFields.object(value, path: path)
        try JSONFields.refuseUnknown(members, allowed: ["name", "datatype", "shape"], path: path)
        guard let name = try JSONFields.string(value["name"], path: path + ".name") else {
            throw missing(path + ".name")
        }
        let datatype = try JSONFields.datatype(value["datatype"], path: path + ".datatype")
        guard let shapeElements = try JSONFields.array(value["shape"], path: path + ".shape") else {
            throw missing(path + ".shape")
        }
        if shapeElements.count > TensorSchema.dimensionsMax {
            let reason = "has \(shapeElements.count) dimensions; at most \(TensorSchema.dimensionsMax) are allowed"
            throw RegistryFieldError(field: path + ".shape", reason: reason)
        }
        var shape: [Int] = []
        for (axis, element) in shapeElements.enumerated() {
            shape.append(try JSONFields.integer(element, path: "\(path).shape[\(axis)]") ?? 0)
        }
        return TensorSchema(name: name, datatype: datatype, shape: shape)
    }

    /// `{"key": "value", ...}` into labels sorted by key; the parser already refused duplicate keys.
    static func decodeLabels(_ value: JSONValue?) throws(RegistryFieldError) -> [Label]? {
        guard let value, value != .null else { return nil }
        let members = try JSONFields.object(value, path: "labels")
        if members.count > ModelVersionSpec.labelsMax {
            let reason = "has \(members.count) labels; at most \(ModelVersionSpec.labelsMax) are allowed"
            throw RegistryFieldError(field: "labels", reason: reason)
        }
        var labels: [Label] = []
        for (key, member) in members {
            guard case .string(let text) = member else {
                throw RegistryFieldError(field: "labels.\(key)", reason: "must be a string; got \(member.typeName)")
            }
            labels.append(Label(key: key, value: text))
        }
        return ModelVersionSpec.sorted(labels)
    }

    static func decodeState(_ value: JSONValue?, path: String = "state") throws(RegistryFieldError) -> VersionState? {
        guard let name = try JSONFields.string(value, path: path) else { return nil }
        guard let state = VersionState.allCases.first(where: { $0.name == name }) else {
            let known = VersionState.allCases.map(\.name).joined(separator: ", ")
            throw RegistryFieldError(field: path, reason: "unknown state \"\(name)\"; expected one of \(known)")
        }
        return state
    }

    /// The body of `POST …/transition`: `{"to": "<state>"}`, nothing else.
    public static func decodeTransition(_ body: JSONValue) throws(RegistryFieldError) -> VersionState {
        let members = try JSONFields.object(body, path: "")
        try JSONFields.refuseUnknown(members, allowed: ["to"], path: "")
        guard let state = try decodeState(body["to"], path: "to") else { throw missing("to") }
        return state
    }
}

/// Typed reads of JSON members that name the field's path when the type is wrong.
enum JSONFields {
    /// The members of an object.
    static func object(_ value: JSONValue, path: @autoclosure () -> String) throws(RegistryFieldError) -> [(
        String, JSONValue
    )] {
        guard case .object(let members) = value else {
            throw RegistryFieldError(field: path(), reason: "must be an object; got \(value.typeName)")
        }
        return members
    }

    /// Paths are autoclosures: they are built (interpolated) only for an error, not for every field decoded.

    /// Refuses the first member not in `allowed`.
    static func refuseUnknown(
        _ members: [(String, JSONValue)], allowed: [String], path: @autoclosure () -> String
    ) throws(RegistryFieldError) {
        for (name, _) in members where !allowed.contains(name) {
            throw RegistryFieldError(field: join(path(), name), reason: "is not a known field")
        }
    }

    static func join(_ path: String, _ member: String) -> String { path.isEmpty ? member : path + "." + member }

    /// A string, or nil when the member is absent or null.
    static func string(_ value: JSONValue?, path: @autoclosure () -> String) throws(RegistryFieldError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw RegistryFieldError(field: path(), reason: "must be a string; got \(other.typeName)")
        }
    }

    /// An array, or nil when the member is absent or null.
    static func array(_ value: JSONValue?, path: @autoclosure () -> String) throws(RegistryFieldError) -> [JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .array(let elements)?: return elements
        case let other?: throw RegistryFieldError(field: path(), reason: "must be an array; got \(other.typeName)")
        }
    }

    /// Integers of this magnitude or more are refused: a JSON number holds integers exactly only up to 2^53,
    /// and the writer prints integral values as integers only below 9e15, so anything larger would not read
    /// back as the integer it was.
    static let integerMagnitudeLimit = 9e15

    /// An integer written as an integer literal of magnitude below `integerMagnitudeLimit`, or nil when
    /// absent or null.
    static func integer(_ value: JSONValue?, path: @autoclosure () -> String) throws(RegistryFieldError) -> Int? {
        switch value {
        case nil, .null?: return nil
        case .number(let number, true)?:
            guard abs(number) < integerMagnitudeLimit else {
                throw RegistryFieldError(
                    field: path(), reason: "is out of range; integers must be below 9e15 in magnitude")
            }
            return Int(number)
        case .number?:
            throw RegistryFieldError(field: path(), reason: "must be an integer; got a fraction or an exponent")
        case let other?: throw RegistryFieldError(field: path(), reason: "must be an integer; got \(other.typeName)")
        }
    }

    /// A KServe v2 datatype by its wire name; required.
    static func datatype(_ value: JSONValue?, path: @autoclosure () -> String) throws(RegistryFieldError)
        -> TensorDatatype
    {
        guard let name = try string(value, path: path()) else {
            throw RegistryFieldError(field: path(), reason: "is required")
        }
        guard let datatype = TensorDatatype(name: name) else {
            throw RegistryFieldError(field: path(), reason: "unknown datatype \"\(name)\"")
        }
        return datatype
    }
}
