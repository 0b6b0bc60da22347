// The metadata role's HTTP face on one reactor (port 8083): the model registry and the API-key admin
// endpoints of docs/api.md. It authenticates first (a request without a valid credential learns nothing about
// its body), decodes with the pure codecs, hands the command to the shared store thread and turns the store's
// reply into HTTP when it is posted back. The registry's and the key store's rules live in the core; this file
// only routes, checks scopes through the same `Authenticator` the gateway uses, and shapes answers.

import PlatformCore
import PlatformWire

public final class MetadataService: HTTPService {
    let reactor: Reactor
    let stores: MetadataStores
    /// The credential check, with this reactor's replica of the key store.
    var authenticator: Authenticator
    /// Tenant names by index: a stored key's or a record's tenant is an index into the configured keys.
    let tenantNames: [String]
    let log: JSONLogger?
    var localIDs: UInt64 = 0

    init(reactor: Reactor, stores: MetadataStores, keys: [Gateway.APIKey], log: JSONLogger?) {
        self.reactor = reactor
        self.stores = stores
        authenticator = Authenticator(keys: keys, sources: Platform.storedKeyCredentials())
        tenantNames = keys.map(\.name)
        self.log = log
    }

    /// Stored keys changed: this reactor's replica takes them (already on the reactor's clock).
    func apiKeysChanged(_ entries: [APIKeyEntry]) { authenticator.apiKeysChanged(entries) }

    /// One request being answered: where the answer goes and the id it echoes.
    struct Call {
        var exchange: HTTPExchange
        var requestID: String

        func respond(_ response: HTTPResponse) { exchange.respond(response) }

        func error(
            _ status: Int, _ code: String, _ message: String, field: String? = nil, retryAfterSeconds: Int? = nil
        ) {
            exchange.respond(
                MetadataService.errorResponse(
                    status, code, message, field: field, retryAfterSeconds: retryAfterSeconds, requestID: requestID))
        }

        func json(_ status: Int, _ value: JSONValue, extra: [(name: String, value: String)] = []) {
            exchange.respond(HTTPAnswers.json(status, value, requestID: requestID, extra: extra))
        }
    }

    /// `{"error": {"code", "message", "field"?}}`, the seed API's error shape, with codes the gateway lacks
    /// (`preconditionFailed`, `methodNotAllowed`, `notImplemented`).
    static func errorResponse(
        _ status: Int, _ code: String, _ message: String, field: String?, retryAfterSeconds: Int?, requestID: String
    ) -> HTTPResponse {
        var error: [(String, JSONValue)] = [("code", .string(code)), ("message", .string(message))]
        if let field, !field.isEmpty { error.append(("field", .string(field))) }
        let extra = retryAfterSeconds.map { [(name: "Retry-After", value: String($0))] } ?? []
        return HTTPAnswers.json(status, .object([("error", .object(error))]), requestID: requestID, extra: extra)
    }

    // MARK: - Routing

    public func serve(_ request: HTTPRequest, exchange: HTTPExchange) {
        let call = Call(exchange: exchange, requestID: requestID(for: request))
        let parts = request.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        let query = parts.count == 2 ? parts[1] : ""
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch segments.count {
        case 1 where segments[0] == "health":
            guard request.method == "GET" else { return methodNotAllowed(request, path, call) }
            call.json(200, .object([("status", .string("ok"))]))
        case 2... where segments[0] == "v1" && segments[1] == "models":
            models(request, Array(segments.dropFirst(2)), query: query, path: path, call)
        case 3... where segments[0] == "v1" && segments[1] == "admin" && segments[2] == "keys":
            keys(request, Array(segments.dropFirst(3)), path: path, call)
        default:
            call.error(404, "notFound", "no endpoint \(request.method) \(path)")
        }
    }

    /// `/v1/models…` past the prefix: `[]`, `[name, "versions", v]`, `[name, "versions", v, "transition"]`.
    func models(_ request: HTTPRequest, _ rest: [String], query: Substring, path: String, _ call: Call) {
        switch (request.method, rest.count) {
        case ("GET", 0): list(request, query: query, call)
        case ("POST", 0): create(request, call)
        case (_, 0): methodNotAllowed(request, path, call)
        case (_, 2...) where rest[1] == "canary":
            call.error(501, "notImplemented", "canary rollouts are not served by the metadata port yet")
        case (let method, 3) where rest[1] == "versions":
            guard let version = Self.version(rest[2], call) else { return }
            switch method {
            case "GET": read(request, name: rest[0], version: version, call)
            case "PATCH": update(request, name: rest[0], version: version, call)
            case "DELETE": delete(request, name: rest[0], version: version, call)
            default: methodNotAllowed(request, path, call)
            }
        case (let method, 4) where rest[1] == "versions" && rest[3] == "transition":
            guard method == "POST" else { return methodNotAllowed(request, path, call) }
            guard let version = Self.version(rest[2], call) else { return }
            transition(request, name: rest[0], version: version, call)
        default:
            call.error(404, "notFound", "no endpoint \(request.method) \(path)")
        }
    }

    /// `/v1/admin/keys…` past the prefix: `[]`, `[keyID, "revoke"]`, `[keyID, "rotate"]`.
    func keys(_ request: HTTPRequest, _ rest: [String], path: String, _ call: Call) {
        switch (request.method, rest.count) {
        case ("GET", 0): listKeys(request, call)
        case ("POST", 0): createKey(request, call)
        case (_, 0): methodNotAllowed(request, path, call)
        case ("POST", 2) where rest[1] == "revoke": revokeKey(request, keyID: rest[0], call)
        case ("POST", 2) where rest[1] == "rotate": rotateKey(request, keyID: rest[0], call)
        case (_, 2) where rest[1] == "revoke" || rest[1] == "rotate": methodNotAllowed(request, path, call)
        default: call.error(404, "notFound", "no endpoint \(request.method) \(path)")
        }
    }

    func methodNotAllowed(_ request: HTTPRequest, _ path: String, _ call: Call) {
        call.error(405, "methodNotAllowed", "method \(request.method) is not allowed on \(path)")
    }

    /// The client's X-Request-ID when it is safe to echo and log; otherwise one made here.
    func requestID(for request: HTTPRequest) -> String {
        if let given = request.header("X-Request-ID"), let safe = RequestIDHeader.sanitized(given) { return safe }
        localIDs += 1
        return "md\(reactor.index)-" + String(localIDs, radix: 16)
    }

    /// A version number from the path; nil (after answering 400) when it is not an integer of 1 or more.
    static func version(_ text: String, _ call: Call) -> Int? {
        guard let version = Int(text), version >= 1 else {
            call.error(400, "badRequest", "must be an integer of 1 or more; got \"\(text)\"", field: "version")
            return nil
        }
        return version
    }

    // MARK: - Credentials and bodies

    /// The caller's tenant when its credential is valid and carries `scope`; nil after answering 401 or 403.
    func tenant(_ request: HTTPRequest, scope: Scopes, _ call: Call) -> Int? {
        let credential = GatewayService.credential(of: request)
        switch authenticator.authorize(credential, scope: scope, now: Reactor.now()) {
        case .allowed(let tenant, _): return tenant
        case .refused(let kind):
            if kind == .forbidden {
                let needed = scope.names.joined(separator: ", ")
                call.error(403, "forbidden", "the credential lacks the scope \(needed)")
            } else {
                call.error(401, "unauthorized", "unauthorized")
            }
            return nil
        }
    }

    /// The body as JSON; nil (after answering 400 with the line and column) when it is not.
    static func body(_ request: HTTPRequest, _ call: Call) -> JSONValue? {
        do {
            return try JSONValue.parse(request.body)
        } catch {
            call.error(400, "badRequest", "the body is not valid JSON: \(error)")
            return nil
        }
    }

    /// `If-Match: 3` or the entity-tag form `If-Match: "3"`; nil for none. Throws the 400 for anything else.
    static func ifMatch(_ request: HTTPRequest) throws(RegistryFieldError) -> Int? {
        guard var text = request.header("If-Match") else { return nil }
        if text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") {
            text = String(text.dropFirst().dropLast())
        }
        guard let version = Int(text), version >= 1 else {
            let reason = "must be a resourceVersion, an integer of 1 or more; got \"\(text)\""
            throw RegistryFieldError(field: "If-Match", reason: reason)
        }
        return version
    }

    func tenantName(_ tenant: Int) -> String {
        tenant >= 0 && tenant < tenantNames.count ? tenantNames[tenant] : "tenant-\(tenant)"
    }

    /// Posts `work` to the registry and answers with what it returned; `ifMatch` words a 412.
    func runRegistry(
        _ call: Call, ifMatch: Int?, subject: String,
        _ work: @escaping @Sendable (EmbeddedRegistryStore, Instant) throws -> RegistryReply
    ) {
        let confined = ReactorConfined(call)
        stores.registry(now: WallClock.now(), replyTo: reactor, work) { answer in
            let call = confined.value
            switch answer {
            case .replied(let reply): Self.answer(reply, ifMatch: ifMatch, subject: subject, call)
            case .failed(let reason): call.error(503, "unavailable", reason, retryAfterSeconds: 1)
            }
        }
    }

    /// A registry reply as HTTP (docs/api.md: codes, bodies and statuses).
    static func answer(_ reply: RegistryReply, ifMatch: Int?, subject: String, _ call: Call) {
        switch reply {
        case .created(let record): call.json(201, RegistryJSON.encode(record))
        case .record(let record), .updated(let record): call.json(200, RegistryJSON.encode(record))
        case .page(let records, let next): call.json(200, RegistryListJSON.encodePage(records, next: next))
        case .deleted: call.respond(HTTPResponse(status: 204, headers: [("X-Request-ID", call.requestID)]))
        case .notFound: call.error(404, "notFound", "\(subject) does not exist")
        case .conflict(let reason), .illegalTransition(let reason): call.error(409, "conflict", reason)
        case .preconditionFailed(let current):
            let message = "resourceVersion is \(current), not \(ifMatch.map(String.init) ?? "the one given")"
            call.error(412, "preconditionFailed", message)
        case .invalid(let field, let reason): call.error(400, "badRequest", reason, field: field)
        case .full:
            call.error(503, "unavailable", "the registry holds its maximum number of versions", retryAfterSeconds: 60)
        }
    }
}

@available(*, unavailable) extension MetadataService: Sendable {}
