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
        var scores: [JSONValue] = []
        scores.reserveCapacity(rows.count * SampleClassifier.classCount)
        for result in results {
            for score in result.scores { scores.append(.number(Double(score), isInteger: false)) }
        }
        var outputs: [JSONValue] = []
        let wanted = Self.requestedOutputs(body)
        if wanted.isEmpty || wanted.contains(SampleClassifier.scoresName) {
            outputs.append(
                .object([
                    ("name", .string(SampleClassifier.scoresName)),
                    ("datatype", .string(SampleClassifier.scoresDatatype)),
                    (
                        "shape",
                        .array([
                            .number(Double(rows.count), isInteger: true),
                            .number(Double(SampleClassifier.classCount), isInteger: true),
                        ])
                    ),
                    ("data", .array(scores)),
                ]))
        }
        if wanted.isEmpty || wanted.contains(SampleClassifier.labelName) {
            outputs.append(
                .object([
                    ("name", .string(SampleClassifier.labelName)),
                    ("datatype", .string(SampleClassifier.labelDatatype)),
                    ("shape", .array([.number(Double(rows.count), isInteger: true)])),
                    ("data", .array(results.map { .string($0.label) })),
                ]))
        }
        var answer: [(String, JSONValue)] = [
            ("model_name", .string(modelName)), ("model_version", .string(String(version))),
        ]
        if case .string(let id)? = body["id"] { answer.append(("id", .string(id))) }
        answer.append(("outputs", .array(outputs)))
        served += 1
        exchange.respond(Self.json(200, .object(answer)))
    }

    struct Problem: Error { var message: String }

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
            let dimensions = shape.compactMap { value -> Int? in
                if case .number(let number, _) = value { Int(number) } else { nil }
            }
            guard dimensions.count == 2, dimensions[1] == width, dimensions[0] * width == flat.count else {
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
