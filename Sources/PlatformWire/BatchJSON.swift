// The batch API's bodies: `POST /v1/batch` in, the job as `GET /v1/jobs/{id}` shows it out, and the two
// documents the batch path keeps in the object store (a job's inputs and its result). A batch item is the
// seed API's `input` object, so one item is checked exactly as one `/v1/infer` would be. Items travel to a
// backend several at a time: their rows are stacked into one KServe v2 tensor per input, and the answer's
// rows are cut back into one outputs object per item, shaped like a `/v1/infer` answer's `outputs`.

import PlatformCore

/// A decoded `POST /v1/batch` body.
public struct BatchSubmitBody: Sendable, Equatable {
    public var model: String
    /// 0 when the client pinned no version.
    public var version: Int
    /// Each item's `input` object, as sent.
    public var items: [JSONValue]
    public init(model: String, version: Int, items: [JSONValue]) {
        self.model = model
        self.version = version
        self.items = items
    }
}

/// Several items' inputs stacked for one backend call, and how many rows each item contributed.
public struct BatchChunk: Sendable, Equatable {
    /// The KServe v2 request body.
    public var body: JSONValue
    /// Rows per item, in item order: the answer's rows are cut back along these.
    public var rows: [Int]
}

public enum BatchJSON {
    static let submitMembers = ["model", "version", "items"]
    /// The documented ceiling of items in one job.
    public static let itemsMax = 10_000

    /// Decodes `{"model", "version"?, "items": [input, ...]}`. Items are only checked to be objects here;
    /// `itemRequest` checks each one's tensors.
    public static func decodeSubmit(
        _ body: JSONValue, itemsMax: Int = itemsMax
    ) throws(InferenceRequestError) -> BatchSubmitBody {
        do throws(RegistryFieldError) {
            let members = try JSONFields.object(body, path: "")
            try JSONFields.refuseUnknown(members, allowed: submitMembers, path: "")
            guard let model = try JSONFields.string(body["model"], path: "model") else {
                throw RegistryFieldError(field: "model", reason: "is required")
            }
            let version = try JSONFields.integer(body["version"], path: "version") ?? 0
            if body["version"] != nil && body["version"] != .null && version < 1 {
                throw RegistryFieldError(field: "version", reason: "must be at least 1")
            }
            guard let items = try JSONFields.array(body["items"], path: "items") else {
                throw RegistryFieldError(field: "items", reason: "is required")
            }
            guard items.count >= 1 && items.count <= itemsMax else {
                throw RegistryFieldError(field: "items", reason: "must hold 1 to \(itemsMax) items; got \(items.count)")
            }
            for (index, item) in items.enumerated() {
                _ = try JSONFields.object(item, path: "items[\(index)]")
            }
            return BatchSubmitBody(model: model, version: version, items: items)
        } catch {
            throw InferenceRequestError(field: error.field, reason: error.reason)
        }
    }

    /// One item as a KServe v2 body (`{"inputs": [...]}`), through the seed API's own rewriting; a refusal
    /// names the field under `items[index]`.
    public static func itemRequest(
        _ item: JSONValue, index: Int, datatype: (String) -> TensorDatatype?
    ) throws(InferenceRequestError) -> JSONValue {
        // The seed decoder wants a whole request; the model name is a placeholder it does not look at.
        let wrapped = JSONValue.object([("model", .string("-")), ("input", item)])
        do {
            return try SeedInferenceJSON.decodeRequest(wrapped, datatype: datatype).body
        } catch {
            throw InferenceRequestError(field: itemField(error.field, index: index), reason: error.reason)
        }
    }

    /// A path in an item's seed or v2 form (`input.features[2]`, `inputs[0].shape`) as the client wrote it
    /// in the batch body (`items[3].features[2]`, `items[3]`).
    public static func itemField(_ field: String, index: Int) -> String {
        let prefix = "items[\(index)]"
        if field.hasPrefix("input.") { return prefix + "." + field.dropFirst("input.".count) }
        return prefix
    }

    /// A refusal of an item's v2 form (`inputs[0].shape[1]`: "is 2; ...") told in the client's terms: the
    /// input by name under the item (`items[3].features`), the rest of the path leading the reason.
    public static func itemProblem(
        _ problem: InferenceRequestError, index: Int, inputNames: [String]
    ) -> InferenceRequestError {
        let field = problem.field
        guard field.hasPrefix("inputs["), let close = field.firstIndex(of: "]"),
            let position = Int(field[field.index(field.startIndex, offsetBy: 7)..<close]),
            position >= 0, position < inputNames.count
        else { return InferenceRequestError(field: itemField(field, index: index), reason: problem.reason) }
        var rest = field[field.index(after: close)...]
        if rest.hasPrefix(".") { rest = rest.dropFirst() }
        let reason = rest.isEmpty ? problem.reason : "\(rest) \(problem.reason)"
        return InferenceRequestError(field: "items[\(index)].\(inputNames[position])", reason: reason)
    }

    // MARK: - Stored documents

    /// The stored inputs of a job: `{"model", "version", "items"}` in a fixed member order, so the same
    /// submit always gives the same bytes and the same hash.
    public static func inputDocument(model: String, version: Int, items: [JSONValue]) -> [UInt8] {
        let document = JSONValue.object([
            ("model", .string(model)), ("version", integer(version)), ("items", .array(items)),
        ])
        return Array(document.serialized().utf8)
    }

    /// The items of a stored input document.
    public static func decodeInputDocument(_ bytes: [UInt8]) throws(InferenceRequestError) -> [JSONValue] {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw InferenceRequestError(field: "", reason: "the stored inputs are not JSON: \(error)")
        }
        guard case .array(let items)? = document["items"] else {
            throw InferenceRequestError(field: "items", reason: "the stored inputs have no items array")
        }
        return items
    }

    /// FNV-1a over the bytes, never 0 (0 means "no hash" to the job table). Stable across processes.
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
        return value == 0 ? 1 : value
    }

    /// The object key of a tenant's inputs with this body hash: named by content, so they can be written
    /// before the job row exists (the row then points at them through its tenant and `bodyHash`). The
    /// tenant is part of the name so that no tenant can overwrite another's inputs with a colliding body.
    public static func inputKey(tenant: Int, bodyHash: UInt64) -> String {
        let digits = String(bodyHash, radix: 16)
        return "inputs/\(tenant)/" + String(repeating: "0", count: 16 - digits.count) + digits + ".json"
    }

    /// A job's result document: one entry per item, in item order.
    public static func resultDocument(
        job: JobID, model: String, version: Int, attempt: Int, outputs: [JSONValue?]
    ) -> [UInt8] {
        let items = outputs.enumerated().map { index, value in
            JSONValue.object([
                ("index", integer(index)),
                value.map { ("outputs", $0) } ?? ("error", .string("no output was recorded for this item")),
            ])
        }
        let document = JSONValue.object([
            ("id", .string(String(job.value))), ("model", .string(model)), ("version", integer(version)),
            ("attempt", integer(attempt)), ("items", .array(items)),
        ])
        return Array(document.serialized().utf8)
    }

    // MARK: - Backend calls

    /// Stacks the items' v2 bodies (from `itemRequest`) into one: per input, the rows of every item in
    /// order, shape `[total rows, columns]`. Every item must name the same inputs with the same row width,
    /// which validation against the version's schema already ensures.
    public static func chunkRequest(_ itemBodies: [JSONValue]) throws(InferenceRequestError) -> BatchChunk {
        guard case .array(let firstInputs)? = itemBodies.first?["inputs"] else {
            throw InferenceRequestError(field: "inputs", reason: "a chunk needs at least one item with inputs")
        }
        var tensors: [JSONValue] = []
        var rowsPerItem: [Int] = []
        for (position, first) in firstInputs.enumerated() {
            guard case .string(let name)? = first["name"] else {
                throw InferenceRequestError(field: "inputs[\(position)].name", reason: "is required")
            }
            var rows: [JSONValue] = []
            var width = 0
            for (index, body) in itemBodies.enumerated() {
                guard case .array(let inputs)? = body["inputs"],
                    let tensor = inputs.first(where: { $0["name"] == .string(name) })
                else {
                    throw InferenceRequestError(field: "items[\(index)]", reason: "has no input \"\(name)\"")
                }
                let itemRows = try tensorRows(tensor, index: index)
                if position == 0 { rowsPerItem.append(itemRows.rows.count) }
                width = itemRows.width
                rows.append(contentsOf: itemRows.rows.map { .array($0) })
            }
            tensors.append(
                .object([
                    ("name", .string(name)), ("datatype", first["datatype"] ?? .string("FP32")),
                    ("shape", .array([integer(rows.count), integer(width)])), ("data", .array(rows)),
                ]))
        }
        return BatchChunk(body: .object([("inputs", .array(tensors))]), rows: rowsPerItem)
    }

    /// The rows of one seed-made tensor: shape `[rows, width]`, data flat (one row) or nested.
    static func tensorRows(_ tensor: JSONValue, index: Int) throws(InferenceRequestError) -> (
        rows: [[JSONValue]], width: Int
    ) {
        guard case .array(let shape)? = tensor["shape"], shape.count == 2, case .number(let width, _) = shape[1],
            case .array(let data)? = tensor["data"]
        else { throw InferenceRequestError(field: "items[\(index)]", reason: "is not a [rows, columns] tensor") }
        if case .array = data.first {
            var rows: [[JSONValue]] = []
            for case .array(let row) in data { rows.append(row) }
            return (rows, Int(width))
        }
        return ([data], Int(width))
    }

    /// Cuts a backend's KServe v2 answer to a chunk back into one outputs object per item (`rows` from the
    /// chunk). Each output's first dimension must be the chunk's total rows.
    public static func splitOutputs(_ response: JSONValue, rows: [Int]) throws(InferenceRequestError) -> [JSONValue] {
        guard case .array(let tensors)? = response["outputs"] else {
            throw InferenceRequestError(field: "outputs", reason: "the backend's answer has no outputs")
        }
        let total = rows.reduce(0, +)
        var perItem: [[(String, JSONValue)]] = Array(repeating: [], count: rows.count)
        for (position, tensor) in tensors.enumerated() {
            guard case .string(let name)? = tensor["name"], case .array(let nested)? = tensor["data"] else {
                throw InferenceRequestError(field: "outputs[\(position)]", reason: "has no name or data")
            }
            let data = flatten(nested)
            guard total > 0, data.count % total == 0 else {
                let reason = "has \(data.count) elements, not a whole number per row of \(total) rows"
                throw InferenceRequestError(field: "outputs[\(position)].data", reason: reason)
            }
            let width = data.count / total
            var start = 0
            for (item, count) in rows.enumerated() {
                let slice = Array(data[start * width..<(start + count) * width])
                perItem[item].append((name, shaped(slice, rows: count, width: width)))
                start += count
            }
        }
        return perItem.map { JSONValue.object($0) }
    }

    /// As `/v1/infer` shows outputs: one element as a scalar, one row (or one element per row) as a flat
    /// array, several rows as rows.
    static func shaped(_ data: [JSONValue], rows: Int, width: Int) -> JSONValue {
        if data.count == 1 { return data[0] }
        guard rows > 1, width > 1 else { return .array(data) }
        return .array((0..<rows).map { .array(Array(data[$0 * width..<($0 + 1) * width])) })
    }

    static func flatten(_ values: [JSONValue]) -> [JSONValue] {
        var flat: [JSONValue] = []
        for value in values {
            if case .array(let inner) = value { flat.append(contentsOf: flatten(inner)) } else { flat.append(value) }
        }
        return flat
    }

    // MARK: - Jobs

    /// The job as the API shows it (docs/api.md, `GET /v1/jobs/{id}`). `createdAt` and `updatedAt` are read
    /// as nanoseconds since the Unix epoch, which is the clock the production shell gives the batch machines.
    public static func encodeJob(_ record: JobRecord, modelName: String) -> JSONValue {
        let id = String(record.id.value)
        let result: JSONValue =
            record.result.map {
                .object([("location", .string($0.key)), ("url", .string("/v1/jobs/\(id)/result"))])
            } ?? .null
        return .object([
            ("id", .string(id)), ("statusUrl", .string("/v1/jobs/\(id)")), ("model", .string(modelName)),
            ("version", integer(record.spec.version)), ("status", .string(statusName(record.status))),
            ("state", .string(record.state.name)), ("attempt", integer(record.attempt)),
            (
                "progress",
                .object([("itemsDone", integer(record.itemsDone)), ("itemsTotal", integer(record.spec.itemCount))])
            ),
            ("createdAtMs", integer(Int(record.createdAt.nanoseconds / 1_000_000))),
            ("updatedAtMs", integer(Int(record.updatedAt.nanoseconds / 1_000_000))),
            ("result", result), ("error", record.failure.map { .string(failureName($0)) } ?? .null),
        ])
    }

    /// The API's name of a job status.
    public static func statusName(_ status: JobStatus) -> String {
        switch status {
        case .queued: "queued"
        case .running: "running"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .deadLettered: "deadLettered"
        }
    }

    /// The API's name of a job failure.
    public static func failureName(_ failure: JobFailure) -> String {
        switch failure {
        case .rejectedByBackend: "rejectedByBackend"
        case .attemptsExhausted: "attemptsExhausted"
        case .cancelledByClient: "cancelledByClient"
        }
    }

    static func integer(_ value: Int) -> JSONValue { .number(Double(value), isInteger: true) }
}
