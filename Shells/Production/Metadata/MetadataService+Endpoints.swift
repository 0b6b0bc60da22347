// The endpoints of the metadata port, one function each: credential and scope first, then the body and the
// headers, then one piece of work for the store thread. Work that is two registry commands (a create that
// also moves the version, a PATCH that also changes `state`) runs as one item on the store thread, so no
// other command can come between them; the values are checked before the first command, so the second never
// refuses after the first applied.

import PlatformCore
import PlatformWire

extension MetadataService {
    // MARK: - Registry

    func list(_ request: HTTPRequest, query text: Substring, _ call: Call) {
        guard let tenant = tenant(request, scope: .modelsRead, call) else { return }
        let query: RegistryQuery
        do {
            query = try RegistryListJSON.decodeQuery(text)
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        runRegistry(call, ifMatch: nil, subject: "the listing") { store, now in
            try store.apply(.list(query, tenant: tenant), now: now)
        }
    }

    func create(_ request: HTTPRequest, _ call: Call) {
        guard let tenant = tenant(request, scope: .modelsWrite, call), let body = Self.body(request, call) else {
            return
        }
        let decoded: RegistryCreateBody
        do {
            decoded = try RegistryJSON.decodeCreate(body)
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        // Registering straight into a state is one edge from `registered`, so only those edges are offered.
        let target = decoded.state
        if let target, target != .registered && !VersionState.registered.allowsTransition(to: target) {
            let reason = "a new version may only be registered into registered, staging or archived"
            return call.error(400, "badRequest", reason, field: "state")
        }
        let spec = decoded.spec
        let subject = "\(spec.name) version \(spec.version)"
        runRegistry(call, ifMatch: nil, subject: subject) { store, now in
            let created = try store.apply(.create(spec, tenant: tenant), now: now)
            guard case .created(let record) = created, let target, target != .registered else { return created }
            let moved = try store.apply(
                .transition(
                    name: spec.name, version: spec.version, to: target, tenant: tenant,
                    ifMatch: record.resourceVersion), now: now)
            guard case .updated(let record) = moved else { return moved }
            return .created(record)
        }
    }

    func read(_ request: HTTPRequest, name: String, version: Int, _ call: Call) {
        guard let tenant = tenant(request, scope: .modelsRead, call) else { return }
        runRegistry(call, ifMatch: nil, subject: "\(name) version \(version)") { store, now in
            try store.apply(.get(name: name, version: version, tenant: tenant), now: now)
        }
    }

    func update(_ request: HTTPRequest, name: String, version: Int, _ call: Call) {
        guard let tenant = tenant(request, scope: .modelsWrite, call), let body = Self.body(request, call) else {
            return
        }
        let change: RegistryUpdateBody
        let ifMatch: Int?
        do throws(RegistryFieldError) {
            change = try RegistryJSON.decodeUpdate(body)
            ifMatch = try Self.ifMatch(request)
            if let problem = Self.validate(change) { throw problem }
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        let replacesFields = change.framework != nil || change.endpoints != nil || change.labels != nil
        runRegistry(call, ifMatch: ifMatch, subject: "\(name) version \(version)") { store, now in
            var expected = ifMatch
            if let target = change.state {
                // The move goes first: it is the part that can be refused (409), and then nothing changed.
                let moved = try store.apply(
                    .transition(name: name, version: version, to: target, tenant: tenant, ifMatch: expected), now: now)
                guard case .updated(let record) = moved, replacesFields else { return moved }
                expected = record.resourceVersion
            }
            return try store.apply(
                .update(
                    name: name, version: version, tenant: tenant, ifMatch: expected, framework: change.framework,
                    endpoints: change.endpoints, labels: change.labels), now: now)
        }
    }

    /// The core's checks of the values an update replaces, run before anything is applied.
    static func validate(_ change: RegistryUpdateBody) -> RegistryFieldError? {
        if let framework = change.framework, let error = ModelVersionSpec.validateFramework(framework) { return error }
        if let endpoints = change.endpoints, let error = ModelVersionSpec.validateEndpoints(endpoints) { return error }
        if let labels = change.labels, let error = ModelVersionSpec.validateLabels(labels) { return error }
        return nil
    }

    func transition(_ request: HTTPRequest, name: String, version: Int, _ call: Call) {
        guard let tenant = tenant(request, scope: .modelsWrite, call), let body = Self.body(request, call) else {
            return
        }
        let target: VersionState
        let ifMatch: Int?
        do {
            target = try RegistryJSON.decodeTransition(body)
            ifMatch = try Self.ifMatch(request)
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        runRegistry(call, ifMatch: ifMatch, subject: "\(name) version \(version)") { store, now in
            try store.apply(
                .transition(name: name, version: version, to: target, tenant: tenant, ifMatch: ifMatch), now: now)
        }
    }

    func delete(_ request: HTTPRequest, name: String, version: Int, _ call: Call) {
        guard let tenant = tenant(request, scope: .modelsWrite, call) else { return }
        let ifMatch: Int?
        do {
            ifMatch = try Self.ifMatch(request)
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        runRegistry(call, ifMatch: ifMatch, subject: "\(name) version \(version)") { store, now in
            try store.apply(.delete(name: name, version: version, tenant: tenant, ifMatch: ifMatch), now: now)
        }
    }

    // MARK: - API keys

    func listKeys(_ request: HTTPRequest, _ call: Call) {
        guard let tenant = tenant(request, scope: .admin, call) else { return }
        runKeys(.list(tenant: tenant), subject: "", call)
    }

    func createKey(_ request: HTTPRequest, _ call: Call) {
        guard let tenant = tenant(request, scope: .admin, call), let body = Self.body(request, call) else { return }
        let decoded: APIKeyCreateBody
        do {
            decoded = try APIKeyJSON.decodeCreate(body)
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        let command = KeyRequest.create(
            tenant: tenant, name: decoded.name, scopes: decoded.scopes, requestsPerMinute: decoded.requestsPerMinute)
        runKeys(command, subject: "", call)
    }

    func revokeKey(_ request: HTTPRequest, keyID: String, _ call: Call) {
        guard let tenant = tenant(request, scope: .admin, call) else { return }
        runKeys(.revoke(keyID: keyID, tenant: tenant), subject: keyID, call)
    }

    func rotateKey(_ request: HTTPRequest, keyID: String, _ call: Call) {
        guard let tenant = tenant(request, scope: .admin, call), let body = Self.body(request, call) else { return }
        let graceSeconds: Int64
        do {
            graceSeconds = try APIKeyJSON.decodeRotate(body)
        } catch {
            return call.error(400, "badRequest", error.reason, field: error.field)
        }
        runKeys(.rotate(keyID: keyID, tenant: tenant, grace: .seconds(graceSeconds)), subject: keyID, call)
    }

    /// Posts a key request to the store; a change reaches every reactor's replicas before the answer is sent.
    func runKeys(_ request: KeyRequest, subject: String, _ call: Call) {
        let confined = ReactorConfined((call, self))
        stores.keys(request, now: WallClock.now(), replyTo: reactor) { answer in
            let (call, service) = confined.value
            switch answer {
            case .replied(let reply): service.answer(reply, subject: subject, call)
            case .failed(let reason): call.error(503, "unavailable", reason, retryAfterSeconds: 1)
            }
        }
    }

    /// A key-store reply as HTTP. Answers that carry a credential are marked not to be cached anywhere.
    func answer(_ reply: APIKeyReply, subject: String, _ call: Call) {
        let secret = [(name: "Cache-Control", value: "no-store")]
        switch reply {
        case .created(let view, let credential):
            audit("api key created", view)
            let body = APIKeyJSON.encodeCreated(view, tenant: tenantName(view.tenant), credential: credential)
            call.json(201, body, extra: secret)
        case .listed(let views):
            let tenant = views.first.map { tenantName($0.tenant) } ?? ""
            call.json(200, APIKeyJSON.encodeList(views, tenant: tenant))
        case .revoked(let view):
            audit("api key revoked", view)
            call.json(200, APIKeyJSON.encode(view, tenant: tenantName(view.tenant)))
        case .rotated(let old, let new, let credential):
            audit("api key rotated", old, ("rotated_to", .string(new.keyID)))
            let body = APIKeyJSON.encodeRotated(
                old: old, new: new, tenant: tenantName(old.tenant), credential: credential)
            call.json(200, body, extra: secret)
        case .notFound: call.error(404, "notFound", "key \(subject) does not exist")
        case .conflict:
            call.error(503, "unavailable", "no free key id was drawn; try again", retryAfterSeconds: 1)
        case .invalid(let message):
            let problem = APIKeyJSON.fieldError(fromStoreMessage: message)
            call.error(400, "badRequest", problem.reason, field: problem.field)
        case .full:
            call.error(409, "conflict", "the tenant already holds its maximum of keys that are not revoked")
        }
    }

    /// One log line per key change: the key id and tenant, never the secret.
    func audit(_ message: String, _ view: APIKeyView, _ extra: (String, LogValue)...) {
        let fields: [(String, LogValue)] = [
            ("key_id", .string(view.keyID)), ("tenant", .string(tenantName(view.tenant))),
        ]
        log?.info(caller: "metadata", message, fields: fields + extra)
    }
}
