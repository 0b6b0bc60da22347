// The batch API on one reactor: `POST /v1/batch`, `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/result` and
// `POST /v1/jobs/{id}/cancel`. It checks the credential, then the body (each item as one `/v1/infer` input),
// writes the job's inputs to the object store, and only then hands the submit to this reactor's
// `JobFrontend`, whose 202 waits for the job row's commit: a 202 therefore means both the row and its inputs
// are on disk. The frontend decides everything else; this file only turns its actions into I/O and HTTP.

import PlatformCore
import PlatformWire

public final class BatchService: HTTPService, ReactorTimerTarget {
    /// What a request waiting for the frontend will do with its answer.
    enum Purpose {
        case submit, read, cancel, result
    }

    struct Waiting {
        var exchange: HTTPExchange
        var requestID: String
        var purpose: Purpose
    }

    let runtime: BatchRuntime
    let reactor: Reactor
    var frontend: JobFrontend
    /// A copy of the frontend's credential check, so a refused credential is answered before the body is read
    /// (docs/api.md: authentication comes before validation).
    let authenticator: Authenticator
    var waiting: [UInt64: Waiting] = [:]
    let inputs = SerialInputs<JobFrontend.Input>()
    var actions: [JobFrontend.Action] = []
    var timerTarget: UInt32 = 0
    var localIDs: UInt64 = 0

    public init(runtime: BatchRuntime, reactor: Reactor) {
        self.runtime = runtime
        self.reactor = reactor
        var configuration = JobFrontend.Configuration()
        configuration.keys = runtime.keys
        configuration.deployment = runtime.models.deployment
        configuration.partitionCount = BatchRuntime.partitionCount
        configuration.itemsMax = BatchJSON.itemsMax
        configuration.frontendIndex = reactor.index
        frontend = JobFrontend(configuration: configuration)
        authenticator = Authenticator(keys: runtime.keys)
        timerTarget = reactor.addTimerTarget(self)
    }

    // MARK: - Routing

    public func serve(_ request: HTTPRequest, exchange: HTTPExchange) {
        let requestID = requestID(for: request)
        let path = request.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.target
        let segments = path.split(separator: "/").map(String.init)
        let fail = { (kind: ErrorKind, message: String) in
            exchange.respond(HTTPAnswers.seedError(kind, message: message, requestID: requestID))
        }
        let isBatch = segments == ["v1", "batch"]
        let isJob = segments.count >= 3 && segments.count <= 4 && segments[0] == "v1" && segments[1] == "jobs"
        guard isBatch || isJob else { return fail(.notFound, "no endpoint \(request.method) \(path)") }
        let purpose: Purpose
        switch (request.method, isBatch, segments.count == 4 ? segments[3] : nil) {
        case ("POST", true, _): purpose = .submit
        case ("GET", false, nil): purpose = .read
        case ("GET", false, "result"?): purpose = .result
        case ("POST", false, "cancel"?): purpose = .cancel
        default:
            let known = isBatch || segments.count == 3 || segments[3] == "result" || segments[3] == "cancel"
            if known {
                return exchange.respond(
                    HTTPAnswers.json(
                        405, .object([("error", .string("method \(request.method) is not allowed on \(path)"))]),
                        requestID: requestID))
            }
            return fail(.notFound, "no endpoint \(request.method) \(path)")
        }
        let credential = GatewayService.credential(of: request)
        let tenant: Int
        switch authenticator.authorize(credential, scope: .batch, now: BatchClock.now()) {
        case .allowed(let index, _): tenant = index
        case .refused(let kind): return fail(kind, HTTPAnswers.message(for: kind))
        }
        guard purpose != .submit else {
            return submit(request, credential: credential, tenant: tenant, exchange, requestID)
        }
        // Job ids are positive decimal integers; anything else names no job.
        guard let number = UInt64(segments[2]), number >= 1 else {
            return fail(.notFound, "job \"\(segments[2])\" does not exist")
        }
        let id = runtime.nextRequestID()
        waiting[id.value] = Waiting(exchange: exchange, requestID: requestID, purpose: purpose)
        switch purpose {
        case .cancel: feed(.cancelJob(id, credential: credential, JobID(number)))
        case .read, .result, .submit: feed(.getJob(id, credential: credential, JobID(number)))
        }
    }

    func requestID(for request: HTTPRequest) -> String {
        if let given = request.header("X-Request-ID"), let safe = RequestIDHeader.sanitized(given) { return safe }
        localIDs += 1
        return "batch\(reactor.index)-" + String(localIDs, radix: 16)
    }

    // MARK: - Submit

    func submit(
        _ request: HTTPRequest, credential: String, tenant: Int, _ exchange: HTTPExchange, _ requestID: String
    ) {
        let refuse = { (field: String?, message: String) in
            exchange.respond(HTTPAnswers.seedError(.badRequest, message: message, field: field, requestID: requestID))
        }
        let body: JSONValue
        do {
            body = try JSONValue.parse(request.body)
        } catch {
            return refuse(nil, "the body is not valid JSON: \(error)")
        }
        let submission: BatchSubmitBody
        do {
            submission = try BatchJSON.decodeSubmit(body)
        } catch {
            return refuse(error.field, error.reason)
        }
        guard let (modelID, model) = runtime.models.model(named: submission.model) else {
            return refuse("model", "model \"\(submission.model)\" does not exist")
        }
        guard let version = runtime.models.version(of: model, pinned: submission.version) else {
            let reason =
                submission.version == 0
                ? "model \"\(submission.model)\" has no version taking traffic"
                : "version \(submission.version) of model \"\(submission.model)\" does not exist"
            return refuse("version", reason)
        }
        if let problem = Self.validate(submission.items, against: version.spec) {
            return refuse(problem.field, problem.reason)
        }
        var idempotencyKey: UInt64 = 0
        if let key = request.header("Idempotency-Key") {
            guard !key.isEmpty, key.utf8.count <= 255 else {
                return refuse("Idempotency-Key", "must be 1 to 255 bytes")
            }
            idempotencyKey = BatchJSON.hash(Array(key.utf8))
        }
        let document = BatchJSON.inputDocument(
            model: submission.model, version: submission.version, items: submission.items)
        let bodyHash = BatchJSON.hash(document)
        let id = runtime.nextRequestID()
        let batch = BatchSubmission(
            request: id, credential: credential, model: modelID, version: submission.version,
            itemCount: submission.items.count, idempotencyKey: idempotencyKey, bodyHash: bodyHash)
        let service = OnReactor(self)
        let exchange = OnReactor(exchange)
        // The inputs go to disk first, named by their hash: the job row written next points at them, so no
        // acknowledged job can lack its inputs, and a retried submit rewrites the same object harmlessly.
        runtime.put(document, at: BatchJSON.inputKey(tenant: tenant, bodyHash: bodyHash), replyTo: reactor) { outcome in
            switch outcome {
            case .success:
                let entry = Waiting(exchange: exchange.value, requestID: requestID, purpose: .submit)
                service.value.waiting[id.value] = entry
                service.value.feed(.submit(batch))
            case .failure:
                exchange.value.respond(
                    HTTPAnswers.seedError(
                        .unavailable, message: "the job's inputs could not be stored", retryAfter: .seconds(1),
                        requestID: requestID))
            }
        }
    }

    /// Checks every item as one `/v1/infer` input against the version's schema; the first refusal names
    /// its field under `items[i]`.
    static func validate(_ items: [JSONValue], against spec: ModelVersionSpec) -> InferenceRequestError? {
        let datatype = { (name: String) in spec.inputs.first { $0.name == name }?.datatype }
        for (index, item) in items.enumerated() {
            do {
                let body = try BatchJSON.itemRequest(item, index: index, datatype: datatype)
                let decoded = try InferenceJSON.decodeRequest(body)
                if let problem = InferenceValidation.validate(decoded, against: spec) {
                    return BatchJSON.itemProblem(problem, index: index, inputNames: decoded.inputs.map(\.name))
                }
            } catch {
                let field =
                    error.field.hasPrefix("items[") ? error.field : BatchJSON.itemField(error.field, index: index)
                return InferenceRequestError(field: field, reason: error.reason)
            }
        }
        return nil
    }

    // MARK: - Driving the frontend

    /// Feeds one input; inputs arriving while actions run (a synchronous answer) wait their turn, so the
    /// machine never sees a second input in the middle of the first.
    func feed(_ input: JobFrontend.Input) {
        inputs.feed(input) { next in
            frontend.handle(next, now: BatchClock.now(), into: &actions)
            var taken: [JobFrontend.Action] = []
            swap(&taken, &actions)
            for action in taken { perform(action) }
        }
    }

    func perform(_ action: JobFrontend.Action) {
        let service = OnReactor(self)
        switch action {
        case .respond(let request, let outcome):
            guard let entry = waiting.removeValue(forKey: request.value) else { return }
            answer(entry, outcome)
        case .store(let id, let command):
            runtime.jobs.send(id, command, now: BatchClock.now(), replyTo: reactor) { id, answer in
                switch answer {
                case .replied(let reply): service.value.feed(.storeReplied(id, reply))
                case .failed(let failure): service.value.feed(.storeFailed(id, failure))
                }
            }
        case .publish(let batch, let partition, let jobs):
            runtime.broker.append(jobs, to: partition, replyTo: reactor) { succeeded in
                service.value.feed(.published(batch: batch, succeeded: succeeded))
            }
        case .setTimer(let timer, let at):
            reactor.schedule(at: BatchClock.reactorInstant(at), target: timerTarget, id: timer.value)
        }
    }

    public func timerFired(_ id: UInt64, now: Instant) { feed(.timerFired(TimerID(id))) }

    // MARK: - Answers

    func answer(_ entry: Waiting, _ outcome: BatchOutcome) {
        switch outcome {
        case .job(let record):
            let json = BatchJSON.encodeJob(record, modelName: modelName(record.spec.model))
            switch entry.purpose {
            case .submit:
                entry.exchange.respond(
                    HTTPAnswers.json(
                        202, json, requestID: entry.requestID, extra: [("Location", "/v1/jobs/\(record.id.value)")]))
            case .read, .cancel: entry.exchange.respond(HTTPAnswers.json(200, json, requestID: entry.requestID))
            case .result: serveResult(record, entry)
            }
        case .failed(let kind, let retryAfter):
            entry.exchange.respond(
                HTTPAnswers.seedError(
                    kind, message: message(kind, entry.purpose), retryAfter: retryAfter, requestID: entry.requestID))
        }
    }

    /// The result object of a succeeded job; any other status is a 409 saying which it is.
    func serveResult(_ record: JobRecord, _ entry: Waiting) {
        guard record.state == .succeeded, let location = record.result else {
            let status = BatchJSON.statusName(record.status)
            return entry.exchange.respond(
                HTTPAnswers.seedError(
                    .conflict, message: "job \(record.id.value) has no result: its status is \(status)",
                    requestID: entry.requestID))
        }
        let entry = OnReactor(entry)
        runtime.get(location.key, replyTo: reactor) { outcome in
            switch outcome {
            case .success(let bytes):
                entry.value.exchange.respond(HTTPAnswers.json(200, bytes: bytes, requestID: entry.value.requestID))
            case .failure(let error):
                entry.value.exchange.respond(
                    HTTPAnswers.seedError(
                        .unavailable, message: "the result could not be read: \(error)", retryAfter: .seconds(1),
                        requestID: entry.value.requestID))
            }
        }
    }

    func message(_ kind: ErrorKind, _ purpose: Purpose) -> String {
        switch (kind, purpose) {
        case (.conflict, .submit): "the Idempotency-Key was used before with a different body"
        case (.notFound, _): "no such job"
        case (.unavailable, _): "the job table cannot take the request now"
        default: HTTPAnswers.message(for: kind)
        }
    }

    func modelName(_ model: ModelID) -> String {
        let models = runtime.models.models
        return model.value >= 0 && model.value < models.count ? models[model.value].name : "unknown"
    }
}

@available(*, unavailable) extension BatchService: Sendable {}
