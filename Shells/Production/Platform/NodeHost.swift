// One reactor's share of the platform: a gateway, a router and an orchestrator, wired to each other directly
// (they live on the same thread, so a message between them is a queued input, not a socket write), to the
// clients' HTTP exchanges and to a backend transport. The host does what the machines' actions say and feeds
// every result back as an input with the reactor's clock as `now`, the way the simulator does with virtual time.

import PlatformCore
import PlatformWire

/// What the host needs to answer a client once the gateway has decided, kept by request id. A class: it is
/// looked up and updated several times per request, and a struct of this size would be copied each time.
public final class PendingInference {
    /// Which API the request came in on decides the shape of the answer.
    public enum API: Sendable { case seed, kserve }
    public var exchange: HTTPExchange
    public var api: API
    public var model: String
    /// The KServe v2 body the backend is sent.
    public var backendBody: [UInt8]
    /// The client's own id for the request (KServe `id`), echoed back.
    public var clientID: String?
    public var correlationID: String
    /// The request's span, sent downstream and echoed to the client as `traceparent`.
    public var trace: TraceContext?
    public var startedAt: Instant
    /// The backend's answer, once one succeeded.
    public var result: [UInt8]? = nil
    /// The credential presented (to name the tenant of a refusal).
    public var credential = ""
    public init(
        exchange: HTTPExchange, api: API, model: String, backendBody: [UInt8], clientID: String?,
        correlationID: String, trace: TraceContext?, startedAt: Instant
    ) {
        self.exchange = exchange
        self.api = api
        self.model = model
        self.backendBody = backendBody
        self.clientID = clientID
        self.correlationID = correlationID
        self.trace = trace
        self.startedAt = startedAt
    }
}

// Safe because a pending inference is made, read and dropped on its reactor's thread only; it is declared
// Sendable because the core's `IdentifierTable`, which the host keeps them in, asks that of its values.
extension PendingInference: @unchecked Sendable {}

/// Told when the gateway answers a request (the HTTP side turns it into a response).
public protocol NodeHostDelegate: AnyObject {
    func inferenceFinished(_ pending: PendingInference, _ response: InferenceResponse, now: Instant)
    /// A fact a machine reported, for metrics and logs.
    func observed(_ observation: Observation, now: Instant)
}

public final class NodeHost: BackendTransportDelegate {
    enum Work {
        case gateway(Gateway.Input)
        case router(Router.Input)
        case orchestrator(Orchestrator.Input)
    }

    /// A timer target per machine, so machine timer ids never need a tag.
    final class TimerRelay: ReactorTimerTarget {
        enum Machine { case gateway, router, orchestrator }
        // unowned(unsafe): the host owns its relays and outlives them, and a checked unowned reference would be
        // retained and released on every timer.
        unowned(unsafe) let host: NodeHost
        let machine: Machine
        init(host: NodeHost, machine: Machine) {
            self.host = host
            self.machine = machine
        }
        func timerFired(_ id: UInt64, now: Instant) { host.timerFired(TimerID(id), machine: machine, now: now) }
    }

    public let reactor: Reactor
    public let models: ServedModels
    public private(set) var gateway: Gateway
    public private(set) var router: Router
    public private(set) var orchestrator: Orchestrator
    let transport: BackendTransport
    /// Not retained: the delegate (the reactor's gateway service) owns this host and outlives it; a weak reference
    /// would be loaded through the runtime several times per request.
    public unowned(unsafe) var delegate: NodeHostDelegate?
    /// Inputs waiting to be handled, in order; machines never call each other re-entrantly.
    let inputs = SerialInputs<Work>()
    var gatewayActions: [Gateway.Action] = []
    var routerActions: [Router.Action] = []
    var orchestratorActions: [Orchestrator.Action] = []
    var gatewayTimers: UInt32 = 0
    var routerTimers: UInt32 = 0
    var orchestratorTimers: UInt32 = 0
    var relays: [TimerRelay] = []
    var pending = IdentifierTable<PendingInference>(capacity: 256)
    /// Which request each backend call in flight belongs to (learned from `callStarted`).
    var callRequests = IdentifierTable<UInt64>(capacity: 256)
    /// The limiter store shared by the gateways of every reactor (embedded mode).
    public var limiterStore: InProcessLimiterStore?
    /// Records every input with its `now` when recording is on. The concrete recorder, not a protocol: its calls,
    /// one per input, are then direct and inlined rather than dispatched through a witness table.
    public var recorder: TraceRecorder?

    public init(
        reactor: Reactor, models: ServedModels, gateway: Gateway.Configuration, router: Router.Configuration,
        orchestrator: Orchestrator.Configuration, transport: BackendTransport
    ) {
        self.reactor = reactor
        self.models = models
        self.gateway = Gateway(configuration: gateway)
        self.router = Router(configuration: router)
        self.orchestrator = Orchestrator(configuration: orchestrator)
        self.transport = transport
        transport.delegate = self
        let relays = [
            TimerRelay(host: self, machine: .gateway), TimerRelay(host: self, machine: .router),
            TimerRelay(host: self, machine: .orchestrator),
        ]
        self.relays = relays
        gatewayTimers = reactor.addTimerTarget(relays[0])
        routerTimers = reactor.addTimerTarget(relays[1])
        orchestratorTimers = reactor.addTimerTarget(relays[2])
    }

    /// Requests the gateway holds (forwarded, not yet answered).
    public var inFlight: Int { pending.count }

    /// Hands a parsed client request to the gateway; the answer comes back through the delegate.
    public func submit(_ request: consuming InferenceRequest, _ context: PendingInference) {
        request.id = gateway.nextRequestID()
        pending[request.id.value] = context
        deliver(.gateway(.request(consume request)))
    }

    /// Stored API keys changed (created, revoked, rotated): the gateway machine's replica takes them.
    public func apiKeysChanged(_ entries: [APIKeyEntry]) { deliver(.gateway(.apiKeysChanged(entries))) }

    /// A fresh request id (for answers the shell gives before the gateway sees a request).
    public func nextRequestID() -> RequestID { gateway.nextRequestID() }

    /// A timer its machine calls dead (its request answered, its attempt over: most of them, as every request
    /// arms a deadline per machine) is dropped here rather than fed: the machine would do nothing with it, and a
    /// recording need not hold it, so replay feeds the same live inputs and gets the same actions.
    func timerFired(_ timer: TimerID, machine: TimerRelay.Machine, now: Instant) {
        switch machine {
        case .gateway:
            if gateway.timerIsLive(timer, now: now) {
                deliver(.gateway(.timerFired(timer)))
            }
        case .router:
            if router.timerIsLive(timer, now: now) {
                deliver(.router(.timerFired(timer)))
            }
        case .orchestrator:
            if orchestrator.timerIsLive(timer, now: now) {
                deliver(.orchestrator(.timerFired(timer)))
            }
        }
    }

    /// Runs `work` and every input it leads to (queued behind it) at one reading of the clock: a cascade through
    /// gateway, router and orchestrator takes microseconds, and one `now` for all of it saves a clock read per input.
    func deliver(_ work: consuming Work) {
        if inputs.isDraining { return inputs.enqueue(consume work) }
        let now = Reactor.now()
        inputs.feed(consume work) { (next: consuming Work) in run(consume next, now: now) }
    }

    func run(_ work: consuming Work, now: Instant) {
        // Consumed: each input's payload is moved out of the work item rather than copied and the copy destroyed.
        switch consume work {
        case .gateway(let input):
            // The recorder writes the input before the gateway takes it, so it is handed over (the request in it
            // moved, not copied) whether or not the run is recorded; the actions join the digest after.
            recorder?.write(input, now: now)
            gateway.handle(consume input, now: now, into: &gatewayActions)
            recorder?.finish(gatewayActions)
            performGateway(now: now)
        case .router(let input):
            router.handle(input, now: now, into: &routerActions)
            recorder?.record(input, now: now, acted: routerActions)
            performRouter(now: now)
        case .orchestrator(let input):
            orchestrator.handle(input, now: now, into: &orchestratorActions)
            recorder?.record(input, now: now, acted: orchestratorActions)
            performOrchestrator(now: now)
        }
    }

    func performGateway(now: Instant) {
        var answeredLimits = false
        for action in gatewayActions {
            switch action {
            case .forward(let route): deliver(.router(.route(route, fromGateway: 0)))
            case .respond(let response):
                guard let context = pending.removeValue(forKey: response.id.value) else { continue }
                delegate?.inferenceFinished(context, response, now: now)
            case .checkLimit(let check):
                // Without a store, "unavailable" lets the gateway's outage policy decide.
                let decision = limiterStore?.take(check, now: now) ?? .unavailable
                deliver(.gateway(.limiterAnswered(LimitAnswer(id: check.id, decision: decision))))
                answeredLimits = true
            case .setTimer(let timer, let at):
                // The in-process store's answer is already queued ahead of any timer, so the limiter timeout it
                // guards against would find nothing waiting: it is not set at all (the machine's actions, and so
                // a recording's digest, are unchanged).
                if answeredLimits && timer.value & Gateway.limiterTimerBit != 0 { continue }
                reactor.schedule(at: at, target: gatewayTimers, id: timer.value)
            case .observe(let observation): delegate?.observed(observation, now: now)
            }
        }
        gatewayActions.removeAll(keepingCapacity: true)
    }

    func performRouter(now: Instant) {
        for action in routerActions {
            switch action {
            case .execute(let request, _): deliver(.orchestrator(.execute(request)))
            case .reply(let reply, _): deliver(.gateway(.routerReplied(reply)))
            case .setTimer(let timer, let at): reactor.schedule(at: at, target: routerTimers, id: timer.value)
            case .observe(let observation): delegate?.observed(observation, now: now)
            }
        }
        routerActions.removeAll(keepingCapacity: true)
    }

    func performOrchestrator(now: Instant) {
        // Actions are taken out first: sending may complete at once (a refused connection) and feed an input.
        var actions: [Orchestrator.Action] = []
        swap(&actions, &orchestratorActions)
        defer {
            actions.removeAll(keepingCapacity: true)
            swap(&actions, &orchestratorActions)
        }
        for action in actions {
            switch action {
            case .call(let call):
                guard let requestID = callRequests[call.call.value], let context = pending[requestID] else {
                    deliver(
                        .orchestrator(.backendReplied(BackendReply(call: call.call, failure: .connectionFailed))))
                    continue
                }
                transport.send(
                    BackendAttempt(
                        call: call.call, backend: call.backend, model: context.model, version: call.version,
                        body: context.backendBody, trace: context.trace))
            case .reply(let reply): deliver(.router(.orchestratorReplied(reply)))
            case .setTimer(let timer, let at):
                reactor.schedule(at: at, target: orchestratorTimers, id: timer.value)
            case .observe(let observation):
                switch observation {
                case .callStarted(let request, let call, _, _): callRequests[call.value] = request.value
                case .callFinished(let call, _, let succeeded, _) where !succeeded: transport.abandon(call)
                default: break
                }
                delegate?.observed(observation, now: now)
            }
        }
    }

    public func attemptFinished(_ call: CallID, _ result: BackendResult) {
        let requestID = callRequests.removeValue(forKey: call.value)
        switch result {
        case .answered(let body):
            if let requestID { pending[requestID]?.result = body }
            deliver(.orchestrator(.backendReplied(BackendReply(call: call, failure: nil))))
        case .failed(let failure, _):
            deliver(.orchestrator(.backendReplied(BackendReply(call: call, failure: failure))))
        }
    }
}
