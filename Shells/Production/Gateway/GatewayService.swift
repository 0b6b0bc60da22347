// The gateway's HTTP face on one reactor: the seed API (`POST /v1/infer`, `GET /health`), the KServe v2 / Open
// Inference Protocol endpoints and `/metrics`. It parses and validates bodies (the codecs and validation are
// pure), turns each inference into the gateway machine's input, and turns the machine's answer into HTTP. It
// decides nothing the core decides: who may call, how fast, where a request goes and when it gives up.

import PlatformCore
import PlatformCrypto
import PlatformWire

/// Telemetry and logging the service reports to (one per reactor).
public protocol GatewayTelemetry: AnyObject {
    /// An inference got its answer (any status), `version` 0 when none was chosen.
    func inferenceAnswered(model: String, version: Int, status: Int, duration: Duration, correlationID: String)
    /// A request of `tenant` was refused for its rate limit.
    func rateLimited(tenant: String)
    /// A fact a machine reported.
    func observed(_ observation: Observation)
    /// The body `/metrics` serves.
    func exposition() -> [UInt8]
}

public final class GatewayService: HTTPService, NodeHostDelegate {
    public let host: NodeHost
    let models: ServedModels
    /// A copy of the gateway's credential check for the reads that never reach the gateway machine (metadata).
    var authenticator: Authenticator
    let keyNames: [String]
    public var telemetry: GatewayTelemetry?
    let reactorIndex: Int
    var localIDs: UInt64 = 0
    /// The prefix of the ids this service makes (`gw<reactor>-`), as bytes written into each id.
    let localIDPrefixBytes: [UInt8]
    /// Span and trace ids: a fast generator seeded once from the system's random source (ids need to be
    /// unique, not secret).
    var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max))
    /// The last Authorization field seen and the credential it carries (see `credential(of:)`).
    var lastAuthorization = ""
    var lastCredential = ""
    /// Services for further path prefixes on the gateway's port (e.g. `/v1/batch` and `/v1/jobs`).
    public var mounted: [(prefix: String, service: HTTPService)] = []

    public init(host: NodeHost, keys: [Gateway.APIKey], telemetry: GatewayTelemetry?) {
        self.host = host
        authenticator = Authenticator(keys: keys)
        keyNames = keys.map(\.name)
        self.models = host.models
        self.telemetry = telemetry
        reactorIndex = host.reactor.index
        localIDPrefixBytes = Array("gw\(host.reactor.index)-".utf8)
        host.delegate = self
    }

    /// Stored API keys changed: this copy takes them as the gateway machine's does, so the two agree.
    public func apiKeysChanged(_ entries: [APIKeyEntry]) { authenticator.apiKeysChanged(entries) }

    // MARK: - Routing

    public func serve(_ request: HTTPRequest, exchange: HTTPExchange) {
        let fields = GatewayFields(request)
        let requestID = requestID(given: fields.requestID)
        // The hot route, `POST /v2/models/{name}/infer`, without splitting the target into segments.
        if request.method == "POST", let range = HTTPPath.kserveInferModelRange(request.target) {
            // The served model is found from the target's bytes: its own name is used from then on, and a String
            // is made of the target's segment only when no model has that name (for the refusal).
            var target = request.target
            let served = target.withUTF8 { models.model(namedUTF8: UnsafeBufferPointer(rebasing: $0[range])) }
            let name = served?.model.name ?? String(HTTPPath.kserveInferModel(request.target) ?? "")
            return inferKServe(
                request, fields: fields, model: name, served: served, pinned: 0, exchange: exchange,
                requestID: requestID)
        }
        let (path, segments) = HTTPPath.split(request.target)
        switch (request.method, segments.first) {
        case ("POST", "v1") where segments.count == 2 && segments[1] == "infer":
            inferSeed(request, fields: fields, exchange: exchange, requestID: requestID)
        case ("GET", "health") where segments.count == 1:
            exchange.respond(HTTPAnswers.json(200, .object([("status", .string("ok"))]), requestID: requestID))
        case ("GET", "metrics") where segments.count == 1:
            let body = telemetry?.exposition() ?? []
            exchange.respond(
                HTTPResponse(
                    status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: body))
        case (_, "v2"):
            kserve(
                request, fields: fields, segments: Array(segments.dropFirst()), exchange: exchange, requestID: requestID
            )
        default:
            if let mount = mounted.first(where: { path.hasPrefix($0.prefix) }) {
                return mount.service.serve(request, exchange: exchange)
            }
            let known = ["/v1/infer", "/health", "/metrics"].contains(path) || path.hasPrefix("/v2/")
            if known {
                exchange.respond(
                    HTTPAnswers.json(
                        405, .object([("error", .string("method \(request.method) is not allowed on \(path)"))]),
                        requestID: requestID))
            } else {
                exchange.respond(
                    HTTPAnswers.seedError(
                        .notFound, message: "no endpoint \(request.method) \(path)", requestID: requestID))
            }
        }
    }

    /// The client's X-Request-ID when it is safe to echo and log; otherwise one made here.
    func requestID(given: String?) -> String {
        if let given, let safe = RequestIDHeader.sanitized(given) { return safe }
        localIDs += 1
        return Self.hexID(prefix: localIDPrefixBytes, localIDs)
    }

    /// `prefix` and `value` in lower-case hex, the text `prefix + String(value, radix: 16)` gives, written in one
    /// pass (short enough to be a small string: no allocation).
    static func hexID(prefix: [UInt8], _ value: UInt64) -> String {
        let digits = max(1, (64 - value.leadingZeroBitCount + 3) / 4)
        return String(unsafeUninitializedCapacity: prefix.count + digits) { buffer in
            for index in prefix.indices { buffer[index] = prefix[index] }
            var rest = value
            var position = prefix.count + digits
            while position > prefix.count {
                position -= 1
                let digit = UInt8(truncatingIfNeeded: rest & 0xF)
                buffer[position] = digit < 10 ? 0x30 + digit : 0x57 + digit
                rest >>= 4
            }
            return prefix.count + digits
        }
    }

    /// The credential of `Authorization: Bearer …` (scheme compared without case) or `X-API-Key`, else "".
    static func credential(of request: HTTPRequest) -> String { GatewayFields(request).credential }

    /// The request's credential, as `GatewayFields.credential` gives it. A client sends the same Authorization
    /// field on every request, so the last one seen on this reactor and its credential are kept: the same field
    /// again gives the same string without cutting a new one out of it. The comparison takes the same time
    /// wherever the two differ, so it tells a caller nothing about the field it is compared with.
    func credential(of fields: GatewayFields) -> String {
        guard let authorization = fields.authorization else { return fields.credential }
        if ConstantTime.equal(authorization, lastAuthorization) { return lastCredential }
        let credential = fields.credential
        lastAuthorization = authorization
        lastCredential = credential
        return credential
    }

    // MARK: - KServe v2

    func kserve(
        _ request: HTTPRequest, fields: GatewayFields, segments: [Substring], exchange: HTTPExchange, requestID: String
    ) {
        let error = { (kind: ErrorKind, message: String) in
            exchange.respond(HTTPAnswers.kserveError(kind, message: message, requestID: requestID))
        }
        switch (request.method, segments.count) {
        case ("GET", 2) where segments[0] == "health" && segments[1] == "live":
            return exchange.respond(HTTPAnswers.json(200, .object([("live", .bool(true))]), requestID: requestID))
        case ("GET", 2) where segments[0] == "health" && segments[1] == "ready":
            let ready = models.models.contains { $0.versions.contains { $0.state.takesTraffic } }
            return exchange.respond(
                HTTPAnswers.json(ready ? 200 : 400, .object([("ready", .bool(ready))]), requestID: requestID))
        case ("GET", 0), ("GET", 1):
            // `GET /v2` is the server metadata.
            if segments.isEmpty {
                return exchange.respond(
                    HTTPAnswers.json(
                        200,
                        .object([
                            ("name", .string("aiplatform")), ("version", .string("1")),
                            ("extensions", .array([])),
                        ]), requestID: requestID))
            }
        default: break
        }
        guard segments.count >= 2, segments[0] == "models" else {
            return error(.notFound, "no endpoint \(request.method) /v2/\(segments.joined(separator: "/"))")
        }
        // models/{name}[/versions/{v}][/ready|/infer]
        let name = String(segments[1])
        var rest = Array(segments.dropFirst(2))
        var pinned = 0
        if rest.count >= 2 && rest[0] == "versions" {
            guard let number = Int(rest[1]), number >= 1 else {
                return error(.notFound, "version \"\(rest[1])\" of model \"\(name)\" does not exist")
            }
            pinned = number
            rest.removeFirst(2)
        }
        let credential = credential(of: fields)
        switch (request.method, rest.first, rest.count) {
        case ("POST", "infer", 1):
            inferKServe(request, fields: fields, model: name, pinned: pinned, exchange: exchange, requestID: requestID)
        case ("GET", nil, 0), ("GET", "ready", 1):
            if let refusal = refuseRead(credential) { return error(refusal, HTTPAnswers.message(for: refusal)) }
            guard let (_, model) = models.model(named: name) else {
                return error(.notFound, "model \"\(name)\" does not exist")
            }
            if pinned != 0 && !model.versions.contains(where: { $0.spec.version == pinned }) {
                return error(.notFound, "version \(pinned) of model \"\(name)\" does not exist")
            }
            if rest.first == "ready" {
                let ready =
                    pinned == 0
                    ? model.versions.contains { $0.state.takesTraffic }
                    : model.versions.contains { $0.spec.version == pinned && $0.state.takesTraffic }
                return exchange.respond(
                    HTTPAnswers.json(
                        ready ? 200 : 400, .object([("name", .string(name)), ("ready", .bool(ready))]),
                        requestID: requestID))
            }
            exchange.respond(HTTPAnswers.json(200, metadata(model, pinned: pinned), requestID: requestID))
        default:
            error(.notFound, "no endpoint \(request.method) /v2/\(segments.joined(separator: "/"))")
        }
    }

    /// Authentication comes before validation (docs/api.md): a request without a valid credential learns nothing
    /// about what its body got wrong. The gateway machine checks again; this copy only orders the answers.
    func refuseCredential(_ credential: String) -> ErrorKind? {
        // Remembering: a client sends the same credential request after request, and the static keys' answer to
        // it does not change until the keys do (which forgets it).
        let answer = authenticator.authorizeRemembering(credential, scope: .infer, now: Reactor.now())
        if case .refused(let kind) = answer {
            return kind
        }
        return nil
    }

    func refuseRead(_ credential: String) -> ErrorKind? {
        let now = Reactor.now()
        if case .allowed = authenticator.authorize(credential, scope: .infer, now: now) { return nil }
        switch authenticator.authorize(credential, scope: .modelsRead, now: now) {
        case .allowed: return nil
        case .refused(let kind): return kind
        }
    }

    func metadata(_ model: ServedModels.Model, pinned: Int) -> JSONValue {
        let live = model.versions.filter { $0.state.takesTraffic }
        let shown = models.version(of: model, pinned: pinned)
        func tensors(_ list: [TensorSchema]) -> JSONValue {
            .array(
                list.map {
                    .object([
                        ("name", .string($0.name)), ("datatype", .string($0.datatype.name)),
                        ("shape", .array($0.shape.map { .number(Double($0), isInteger: true) })),
                    ])
                })
        }
        return .object([
            ("name", .string(model.name)), ("versions", .array(live.map { .string(String($0.spec.version)) })),
            ("platform", .string(shown?.spec.framework ?? "")), ("inputs", tensors(shown?.spec.inputs ?? [])),
            ("outputs", tensors(shown?.spec.outputs ?? [])),
        ])
    }

    // MARK: - Inference

    /// `served` is the model when the caller already looked it up (the hot route); otherwise `name` is.
    func inferKServe(
        _ request: HTTPRequest, fields: GatewayFields, model name: String,
        served: (id: ModelID, model: ServedModels.Model)? = nil, pinned: Int, exchange: HTTPExchange,
        requestID: String
    ) {
        let refuse = { (kind: ErrorKind, message: String) in
            exchange.respond(HTTPAnswers.kserveError(kind, message: message, requestID: requestID))
        }
        let credential = credential(of: fields)
        if let refusal = refuseCredential(credential) { return refuse(refusal, HTTPAnswers.message(for: refusal)) }
        let decoded: InferenceRequestBody
        if let fast = InferenceJSON.decodeRequestFast(request.body) {
            decoded = fast
        } else {
            // Anything but the common shape, and every refusal, goes through the reference decoder.
            let body: JSONValue
            do {
                body = try JSONValue.parse(request.body)
            } catch {
                return refuse(.badRequest, "the body is not valid JSON: \(error)")
            }
            do {
                decoded = try InferenceJSON.decodeRequest(body)
            } catch {
                return refuse(.badRequest, error.description)
            }
        }
        guard let (modelID, model) = served ?? models.model(named: name) else {
            return refuse(.badRequest, "model \"\(name)\" does not exist")
        }
        guard let version = models.versionIndex(of: model, pinned: pinned) else {
            return refuse(
                .badRequest,
                pinned == 0
                    ? "model \"\(name)\" has no version taking traffic"
                    : "version \(pinned) of model \"\(name)\" does not exist")
        }
        if let problem = InferenceValidation.validate(decoded, against: model.versions[version].spec) {
            return refuse(.badRequest, problem.description)
        }
        // The served model's own name, not the copy parsed from the path: later comparisons with it (the transport's
        // and the metrics' last-model memos) then find the same storage and stop at once.
        submit(
            request, fields: fields, credential: credential, api: .kserve, model: modelID, name: model.name,
            pinned: pinned,
            inputs: decoded,
            backendBody: request.body, clientID: decoded.id, exchange: exchange, requestID: requestID)
    }

    func inferSeed(_ request: HTTPRequest, fields: GatewayFields, exchange: HTTPExchange, requestID: String) {
        let refuse = { (field: String?, message: String) in
            exchange.respond(HTTPAnswers.seedError(.badRequest, message: message, field: field, requestID: requestID))
        }
        let credential = credential(of: fields)
        if let refusal = refuseCredential(credential) {
            return exchange.respond(
                HTTPAnswers.seedError(refusal, message: HTTPAnswers.message(for: refusal), requestID: requestID))
        }
        let body: JSONValue
        do {
            body = try JSONValue.parse(request.body)
        } catch {
            return refuse(nil, "the body is not valid JSON: \(error)")
        }
        let seed: SeedInferenceRequest
        do {
            let models = self.models
            seed = try SeedInferenceJSON.decodeRequest(body) { input in
                guard case .object(let members) = body, let name = members.first(where: { $0.0 == "model" }),
                    case .string(let modelName) = name.1, let (_, model) = models.model(named: modelName),
                    let version = models.version(of: model, pinned: 0)
                else { return nil }
                return version.spec.inputs.first { $0.name == input }?.datatype
            }
        } catch {
            return refuse(error.field, error.reason)
        }
        guard let (modelID, model) = models.model(named: seed.model) else {
            return refuse("model", "model \"\(seed.model)\" does not exist")
        }
        guard let version = models.version(of: model, pinned: seed.version) else {
            return refuse("version", "version \(seed.version) of model \"\(seed.model)\" does not exist")
        }
        let decoded: InferenceRequestBody
        do {
            decoded = try InferenceJSON.decodeRequest(seed.body)
        } catch {
            return refuse(Self.seedField(error.field), error.reason)
        }
        if let problem = InferenceValidation.validate(decoded, against: version.spec) {
            return refuse(Self.seedField(problem.field), problem.reason)
        }
        submit(
            request, fields: fields, credential: credential, api: .seed, model: modelID, name: seed.model,
            pinned: seed.version,
            inputs: decoded,
            backendBody: seed.body.serializedBytes(), clientID: nil, exchange: exchange, requestID: requestID)
    }

    /// A v2 path in the rewritten body (`inputs[0].data[3]`) named as the client wrote it (`input.features[3]`).
    static func seedField(_ field: String) -> String {
        field.hasPrefix("inputs") ? "input" : field
    }

    func submit(
        _ request: HTTPRequest, fields: GatewayFields, credential: String, api: PendingInference.API, model: ModelID,
        name: String,
        pinned: Int,
        inputs: InferenceRequestBody, backendBody: [UInt8], clientID: String?, exchange: HTTPExchange,
        requestID: String
    ) {
        var timeout = Duration.zero
        if let text = fields.timeoutMs {
            guard let milliseconds = Int64(text), milliseconds > 0 else {
                let message = "X-Request-Timeout-Ms must be a positive whole number of milliseconds, not \"\(text)\""
                let response =
                    api == .seed
                    ? HTTPAnswers.seedError(.badRequest, message: message, requestID: requestID)
                    : HTTPAnswers.kserveError(.badRequest, message: message, requestID: requestID)
                return exchange.respond(response)
            }
            timeout = .milliseconds(min(milliseconds, 3_600_000))
        }
        let elements = inputs.inputs.reduce(0) { $0 + $1.data.count }
        let sticky = fields.stickyKey.map(Self.stickyHash) ?? 0
        let inference = InferenceRequest(
            id: RequestID(0), credential: credential, model: model, version: pinned,
            stickyKey: sticky, inputElements: elements, timeout: timeout)
        let context = PendingInference(
            exchange: exchange, api: api, model: name, backendBody: backendBody, clientID: clientID,
            correlationID: requestID, trace: span(parent: fields.traceparent),
            startedAt: exchange.receivedAt)
        context.credential = inference.credential
        host.submit(inference, context)
    }

    /// The request's span: a child of the client's valid `traceparent`, or the root of a new trace.
    func span(parent header: String?) -> TraceContext {
        let spanID = random.next() | 1
        if let header, let parent = TraceContext(traceparent: header) {
            return TraceContext(
                traceIDHigh: parent.traceIDHigh, traceIDLow: parent.traceIDLow, parentID: spanID, flags: parent.flags)
        }
        return TraceContext(traceIDHigh: random.next(), traceIDLow: random.next() | 1, parentID: spanID, flags: 1)
    }

    /// FNV-1a over the key's bytes: stable across processes, unlike `Hasher`.
    static func stickyHash(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash | 1
    }

    // MARK: - Answers

    public func inferenceFinished(_ pending: PendingInference, _ response: InferenceResponse, now: Instant) {
        let requestID = pending.correlationID
        var status = 200
        var version = 0
        let answer: HTTPResponse
        switch response.outcome {
        case .ok(_, let served):
            version = served
            let body = pending.result ?? []
            switch pending.api {
            case .kserve:
                answer = HTTPAnswers.json(200, bytes: body, requestID: requestID, trace: pending.trace)
            case .seed:
                let parsed = (try? JSONValue.parse(body)) ?? .object([])
                let seed = SeedInferenceJSON.encodeResponse(
                    id: requestID, model: pending.model, version: served, backendResponse: parsed)
                answer = HTTPAnswers.json(200, seed, requestID: requestID, extra: traceHeader(pending))
            }
        case .failed(let kind, let retryAfter):
            status = kind.httpStatus
            if kind == .rateLimited { telemetry?.rateLimited(tenant: tenant(of: pending.credential)) }
            switch pending.api {
            case .kserve:
                answer = HTTPAnswers.kserveError(
                    kind, message: HTTPAnswers.message(for: kind), retryAfter: retryAfter, requestID: requestID)
            case .seed:
                answer = HTTPAnswers.seedError(
                    kind, message: HTTPAnswers.message(for: kind), retryAfter: retryAfter, requestID: requestID)
            }
        }
        pending.exchange.respond(answer)
        telemetry?.inferenceAnswered(
            model: pending.model, version: version, status: status, duration: now - pending.startedAt,
            correlationID: requestID)
    }

    func traceHeader(_ pending: PendingInference) -> [(name: String, value: String)] {
        guard let trace = pending.trace else { return [] }
        return [("traceparent", trace.traceparent)]
    }

    public func observed(_ observation: Observation, now: Instant) { telemetry?.observed(observation) }

    /// The tenant a credential speaks for (for the rate-limited series), or "unknown".
    func tenant(of credential: String) -> String {
        if case .allowed(let index, _) = authenticator.authorize(credential, scope: .infer, now: Reactor.now()),
            index < keyNames.count
        {
            return keyNames[index]
        }
        return "unknown"
    }
}
