// The built-in reference backend: a KServe v2 REST server for `deploy/models/sample-classifier`, so the embedded
// mode needs no Triton. It speaks the same protocol, on its own port, as Triton does, and the orchestrator calls
// it through the same HTTP transport: the two are interchangeable behind the backend list. It also serves as
// the common upstream when the gateway is benchmarked against nginx.

import PlatformCore
import PlatformWire

public final class ReferenceBackendService: HTTPService {
    let classifier: SampleClassifier
    let modelName: String
    let version: Int
    var served: UInt64 = 0

    public init(classifier: SampleClassifier, modelName: String = SampleClassifier.modelName, version: Int = 1) {
        self.classifier = classifier
        self.modelName = modelName
        self.version = version
    }

    public func serve(_ request: HTTPRequest, exchange: HTTPExchange) {
        // The hot route, `POST /v2/models/{name}/infer` for the served model, without splitting the target.
        if request.method == "POST", let range = HTTPPath.kserveInferModelRange(request.target) {
            var target = request.target
            let named = target.withUTF8 { bytes in
                modelName.utf8.elementsEqual(UnsafeBufferPointer(rebasing: bytes[range]))
            }
            if named { return infer(request, exchange: exchange) }
        }
        let (path, segments) = HTTPPath.split(request.target)
        guard segments.first == "v2" else { return exchange.respond(Self.error(404, "no endpoint \(path)")) }
        let rest = Array(segments.dropFirst())
        switch (request.method, rest.count) {
        case ("GET", 2) where rest[0] == "health" && (rest[1] == "live" || rest[1] == "ready"):
            return exchange.respond(Self.json(200, .object([(String(rest[1]), .bool(true))])))
        default: break
        }
        guard rest.count >= 2, rest[0] == "models", rest[1] == modelName else {
            return exchange.respond(Self.error(404, "no model at \(path)"))
        }
        var tail = Array(rest.dropFirst(2))
        if tail.count >= 2 && tail[0] == "versions" {
            guard tail[1] == String(version) else {
                return exchange.respond(Self.error(404, "version \(tail[1]) of \(modelName) is not loaded"))
            }
            tail.removeFirst(2)
        }
        switch (request.method, tail.first) {
        case ("POST", "infer") where tail.count == 1: infer(request, exchange: exchange)
        case ("GET", "ready") where tail.count == 1:
            exchange.respond(Self.json(200, .object([("name", .string(modelName)), ("ready", .bool(true))])))
        case ("GET", nil):
            exchange.respond(Self.json(200, metadata))
        default:
            exchange.respond(Self.error(404, "no endpoint \(request.method) \(path)"))
        }
    }

    var metadata: JSONValue {
        func tensor(_ name: String, _ datatype: String, _ shape: [Int]) -> JSONValue {
            .object([
                ("name", .string(name)), ("datatype", .string(datatype)),
                ("shape", .array(shape.map { .number(Double($0), isInteger: true) })),
            ])
        }
        return .object([
            ("name", .string(modelName)), ("versions", .array([.string(String(version))])),
            ("platform", .string("aiplatform-reference")),
            (
                "inputs",
                .array([
                    tensor(SampleClassifier.inputName, SampleClassifier.inputDatatype, SampleClassifier.inputShape)
                ])
            ),
            (
                "outputs",
                .array([
                    tensor(SampleClassifier.scoresName, SampleClassifier.scoresDatatype, SampleClassifier.scoresShape),
                    tensor(SampleClassifier.labelName, SampleClassifier.labelDatatype, SampleClassifier.labelShape),
                ])
            ),
        ])
    }

    func infer(_ request: HTTPRequest, exchange: HTTPExchange) {
        // The common body (flat numbers, nothing unusual) is read without a JSON tree; anything else, and every
        // refusal with its message, takes the tree below, which gives the same rows wherever both answer.
        if let fast = InferenceJSON.decodeNumericRequestFast(request.body), let rows = Self.featureRows(fast) {
            let answer = Self.answer(
                modelName: modelName, version: version, id: fast.id, outputs: fast.outputs,
                results: classifier.classify(rows: rows))
            served += 1
            return exchange.respond(
                HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: answer))
        }
        let body: JSONValue
        do {
            body = try JSONValue.parse(request.body)
        } catch {
            return exchange.respond(Self.error(400, "the body is not valid JSON: \(error)"))
        }
        let rows: [[Float]]
        switch Self.featureRows(body) {
        case .success(let found): rows = found
        case .failure(let problem): return exchange.respond(Self.error(400, problem.message))
        }
        let results = classifier.classify(rows: rows)
        let id: String? = if case .string(let id)? = body["id"] { id } else { nil }
        let answer = Self.answer(
            modelName: modelName, version: version, id: id, outputs: Self.requestedOutputs(body), results: results)
        served += 1
        exchange.respond(
            HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: answer))
    }

    /// The KServe v2 answer for `results` (one per row), written straight into bytes: the text of the JSON object
    /// `{"model_name", "model_version", "id"?, "outputs": [scores?, label?]}` (every output when `outputs` is
    /// empty), as a `JSONValue` tree of it would serialize (a test holds the two equal).
    static func answer(
        modelName: String, version: Int, id: String?, outputs wanted: [String],
        results: [(label: String, scores: [Float])]
    ) -> [UInt8] {
        var json = JSONByteWriter(capacity: 160 + results.count * (SampleClassifier.classCount * 24 + 16))
        json.raw("{\"model_name\":")
        json.string(modelName)
        json.raw(",\"model_version\":")
        json.string(String(version))
        if let id {
            json.raw(",\"id\":")
            json.string(id)
        }
        json.raw(",\"outputs\":[")
        /// An output's name, datatype and the opening of its shape: `{"name":…,"datatype":…,"shape":[rows`.
        func head(_ name: String, _ datatype: String) {
            json.raw("{\"name\":")
            json.string(name)
            json.raw(",\"datatype\":")
            json.string(datatype)
            json.raw(",\"shape\":[")
            json.number(Double(results.count))
        }
        let scores = wanted.isEmpty || wanted.contains(SampleClassifier.scoresName)
        if scores {
            head(SampleClassifier.scoresName, SampleClassifier.scoresDatatype)
            json.raw(",")
            json.number(Double(SampleClassifier.classCount))
            json.raw("],\"data\":[")
            var first = true
            for result in results {
                for score in result.scores {
                    if !first { json.raw(",") }
                    first = false
                    json.number(Double(score))
                }
            }
            json.raw("]}")
        }
        if wanted.isEmpty || wanted.contains(SampleClassifier.labelName) {
            if scores { json.raw(",") }
            head(SampleClassifier.labelName, SampleClassifier.labelDatatype)
            json.raw("],\"data\":[")
            for (position, result) in results.enumerated() {
                if position > 0 { json.raw(",") }
                json.string(result.label)
            }
            json.raw("]}")
        }
        json.raw("]}")
        return json.bytes
    }

    struct Problem: Error { var message: String }

    /// The `features` rows of a body the fast path read, when `featureRows(_: JSONValue)` would accept it (and give
    /// the same rows); nil when it would refuse, so that the refusal and its message come from there.
    static func featureRows(_ request: InferenceJSON.NumericRequest) -> [[Float]]? {
        guard let tensor = request.inputs.first(where: { $0.name == SampleClassifier.inputName }),
            tensor.datatype == .fp32
        else { return nil }
        let width = SampleClassifier.featureCount
        let count = tensor.values.count
        guard count > 0, count % width == 0, tensor.shape.count == 2, tensor.shape[1] == Int64(width) else {
            return nil
        }
        let (elements, overflow) = tensor.shape[0].multipliedReportingOverflow(by: Int64(width))
        guard !overflow, elements == Int64(count) else { return nil }
        return stride(from: 0, to: count, by: width).map { start in
            (start..<start + width).map { Float(tensor.values[$0]) }
        }
    }

    /// The `features` input's rows: shape [n, 4], data flat or nested, numbers only.
    static func featureRows(_ body: JSONValue) -> Result<[[Float]], Problem> {
        guard case .array(let inputs)? = body["inputs"] else { return .failure(Problem(message: "inputs is required")) }
        guard let tensor = inputs.first(where: { $0["name"] == .string(SampleClassifier.inputName) }) else {
            return .failure(Problem(message: "input \"\(SampleClassifier.inputName)\" is required"))
        }
        guard tensor["datatype"] == .string(SampleClassifier.inputDatatype) else {
            return .failure(Problem(message: "input features must be \(SampleClassifier.inputDatatype)"))
        }
        var flat: [Float] = []
        func walk(_ value: JSONValue) -> Bool {
            switch value {
            case .number(let number, _):
                flat.append(Float(number))
                return true
            case .array(let elements): return elements.allSatisfy(walk)
            default: return false
            }
        }
        guard let data = tensor["data"], walk(data) else {
            return .failure(Problem(message: "input features: data must be numbers"))
        }
        let width = SampleClassifier.featureCount
        guard !flat.isEmpty, flat.count % width == 0 else {
            return .failure(Problem(message: "input features: \(flat.count) elements is not rows of \(width)"))
        }
        if case .array(let shape)? = tensor["shape"] {
            // Whole numbers only (`Int(exactly:)`: a huge or fractional one is no dimension, never a trap).
            let dimensions = shape.compactMap { value -> Int? in
                if case .number(let number, _) = value { Int(exactly: number) } else { nil }
            }
            guard dimensions.count == 2, dimensions[1] == width,
                dimensions[0].multipliedReportingOverflow(by: width) == (flat.count, false)
            else {
                return .failure(Problem(message: "input features: shape must be [\(flat.count / width), \(width)]"))
            }
        }
        return .success(stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<$0 + width]) })
    }

    static func requestedOutputs(_ body: JSONValue) -> [String] {
        guard case .array(let outputs)? = body["outputs"] else { return [] }
        return outputs.compactMap { if case .string(let name)? = $0["name"] { name } else { nil } }
    }

    static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")], body: value.serializedBytes())
    }

    static func error(_ status: Int, _ message: String) -> HTTPResponse {
        json(status, .object([("error", .string(message))]))
    }
}
