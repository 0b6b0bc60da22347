// The orchestrator's calls to model servers over KServe v2 REST on HTTP/1.1: per backend a pool of keep-alive
// connections owned by one reactor, one request at a time on each (no pipelining, so a slow answer never holds
// up another), attempts queued while every connection is busy. The transport classifies how an attempt ended
// and reports it; whether to retry, where, and when to stop calling a backend is the core's decision.

import CLinux
import Glibc
import PlatformCore
import PlatformWire

/// Where a backend listens.
public struct BackendEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `http://host:port[/]`.
    public init?(parsing text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (1...65_535).contains(port), colon > rest.startIndex
        else { return nil }
        var host = String(rest[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        self.init(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }
}

/// Limits of the transport's pools.
public struct BackendPoolSettings: Sendable {
    /// Connections per backend on one reactor.
    public var connectionsMax: Int = 64
    /// Attempts waiting for a connection per backend; beyond it an attempt fails at once as overloaded.
    public var queuedMax: Int = 4_096
    /// An attempt still unanswered after this long is abandoned and its connection closed, whatever the core's
    /// own timers did (they normally abandon it much earlier through `abandon`).
    public var attemptLifetimeMax: Duration = .seconds(60)
    /// A connection idle this long is closed.
    public var idleTimeout: Duration = .seconds(30)
    public init() {}
}

public final class KServeHTTPTransport: BackendTransport, ReactorTimerTarget {
    /// Not retained: the delegate (the reactor's host) owns this transport and outlives it; a weak reference would
    /// be loaded through the runtime on every answer.
    public unowned(unsafe) var delegate: BackendTransportDelegate?
    let reactor: Reactor
    let endpoints: [BackendEndpoint]
    let settings: BackendPoolSettings
    var pools: [Pool]
    /// The connections carrying a call, each knowing its place here (`busyIndex`): added and removed in O(1) per
    /// attempt, searched only when the core gives a call up and swept once a second.
    var busy: [BackendConnection] = []
    var sweepTarget: UInt32 = 0
    /// One read buffer for every connection of the reactor: answers are parsed straight out of it.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    /// One write buffer likewise: a request is written into it and sent from it, and only what the socket did
    /// not take at once is copied into the connection's own output.
    let writeBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)

    struct Pool {
        var idle: [BackendConnection] = []
        var open = 0
        var waiting: [BackendAttempt] = []
        var waitingStart = 0
        var writer: HTTPRequestWriter
    }

    public init(reactor: Reactor, endpoints: [BackendEndpoint], settings: BackendPoolSettings = BackendPoolSettings()) {
        self.reactor = reactor
        self.endpoints = endpoints
        self.settings = settings
        pools = endpoints.map {
            Pool(writer: HTTPRequestWriter(host: $0.description, headers: [("Content-Type", "application/json")]))
        }
        sweepTarget = reactor.addTimerTarget(self)
        reactor.schedule(at: Reactor.now() + .seconds(1), target: sweepTarget, id: 0)
    }

    deinit {
        readBuffer.deallocate()
        writeBuffer.deallocate()
    }

    public func send(_ attempt: BackendAttempt) {
        let backend = attempt.backend.value
        guard backend >= 0, backend < pools.count else {
            return delegate?.attemptFinished(attempt.call, .failed(.badRequest, detail: "no backend \(backend)")) ?? ()
        }
        if let connection = pools[backend].idle.popLast() {
            return start(attempt, on: connection)
        }
        if pools[backend].open < settings.connectionsMax {
            let connection: BackendConnection
            do {
                connection = try BackendConnection(transport: self, backend: backend, endpoint: endpoints[backend])
            } catch {
                return delegate?.attemptFinished(attempt.call, .failed(.connectionFailed, detail: "\(error)")) ?? ()
            }
            pools[backend].open += 1
            return start(attempt, on: connection)
        }
        guard pools[backend].waiting.count - pools[backend].waitingStart < settings.queuedMax else {
            return delegate?.attemptFinished(
                attempt.call, .failed(.overloaded, detail: "every connection to \(endpoints[backend]) is busy"))
                ?? ()
        }
        pools[backend].waiting.append(attempt)
    }

    /// The core gave up on `call` (its attempt timed out): the connection carrying it is closed, since its answer
    /// is no longer wanted and a hung backend must not hold connections for ever.
    public func abandon(_ call: CallID) {
        guard let connection = busy.first(where: { $0.call == call }) else { return }
        connection.fail(.timeout, detail: "abandoned after the attempt timed out", reusable: false)
    }

    func start(_ attempt: BackendAttempt, on connection: BackendConnection) {
        connection.busyIndex = busy.count
        busy.append(connection)
        let line = inferLine(model: attempt.model, version: attempt.version)
        let writer = pools[connection.backend].writer
        let length = writer.length(line: line, bodyCount: attempt.body.count, field: nil, trace: attempt.trace)
        guard length <= writeBuffer.count else {
            // A body larger than the buffer: its own bytes, once.
            let extra = attempt.trace.map { [(name: "traceparent", value: $0.traceparent)] } ?? []
            let bytes = writer.serialized(method: "POST", target: line.target, body: attempt.body, extra: extra)
            return bytes.withUnsafeBytes { connection.begin(attempt.call, request: $0, now: Reactor.now()) }
        }
        let count = writer.write(line: line, body: attempt.body, field: nil, trace: attempt.trace, into: writeBuffer)
        connection.begin(
            attempt.call, request: UnsafeRawBufferPointer(rebasing: writeBuffer[0..<count]), now: Reactor.now())
    }

    /// Takes `connection` out of `busy`: the last one moves into its place.
    func release(_ connection: BackendConnection) {
        let index = connection.busyIndex
        guard index < busy.count, busy[index] === connection else { return }
        let last = busy.removeLast()
        if last !== connection {
            busy[index] = last
            last.busyIndex = index
        }
    }

    /// Request lines by model and version, checked and encoded once each.
    var lines: [String: [Int: HTTPRequestWriter.RequestLine]] = [:]

    /// The last line used, looked up without hashing: a gateway mostly calls one model version.
    var lastLine: (model: String, version: Int, line: HTTPRequestWriter.RequestLine)?

    func inferLine(model: String, version: Int) -> HTTPRequestWriter.RequestLine {
        if let last = lastLine, last.version == version, last.model == model { return last.line }
        let line: HTTPRequestWriter.RequestLine
        if let known = lines[model]?[version] {
            line = known
        } else {
            line = HTTPRequestWriter.RequestLine(
                method: "POST", target: KServeClient.inferTarget(model: model, version: String(version)))
            lines[model, default: [:]][version] = line
        }
        lastLine = (model, version, line)
        return line
    }

    /// A connection finished its attempt (either way); it goes back to the pool or away, and the next queued
    /// attempt takes a connection.
    func finished(_ connection: BackendConnection, call: CallID, result: BackendResult, reusable: Bool) {
        release(connection)
        let backend = connection.backend
        if reusable {
            connection.lastUsed = Reactor.now()
            pools[backend].idle.append(connection)
        } else {
            connection.close()
            pools[backend].open -= 1
        }
        delegate?.attemptFinished(call, result)
        drainQueue(backend)
    }

    func drainQueue(_ backend: Int) {
        while pools[backend].waitingStart < pools[backend].waiting.count {
            let hasIdle = !pools[backend].idle.isEmpty
            guard hasIdle || pools[backend].open < settings.connectionsMax else { return }
            let attempt = pools[backend].waiting[pools[backend].waitingStart]
            pools[backend].waitingStart += 1
            if pools[backend].waitingStart == pools[backend].waiting.count {
                pools[backend].waiting.removeAll(keepingCapacity: true)
                pools[backend].waitingStart = 0
            }
            send(attempt)
        }
    }

    /// An idle connection the backend closed (or that failed between attempts) leaves the pool.
    func dropIdle(_ connection: BackendConnection) {
        guard connection.isOpen else { return }
        connection.close()
        if let index = pools[connection.backend].idle.firstIndex(where: { $0 === connection }) {
            pools[connection.backend].idle.remove(at: index)
        }
        pools[connection.backend].open -= 1
    }

    /// Once a second: idle connections past their timeout close; attempts past the lifetime cap fail.
    public func timerFired(_ id: UInt64, now: Instant) {
        for backend in pools.indices {
            // Counted apart: changing `open` inside the removal would overlap two changes to `pools`.
            var closed = 0
            let idleTimeout = settings.idleTimeout
            pools[backend].idle.removeAll { connection in
                guard now - connection.lastUsed >= idleTimeout else { return false }
                connection.close()
                closed += 1
                return true
            }
            pools[backend].open -= closed
        }
        let stale = busy.filter { now - $0.startedAt >= settings.attemptLifetimeMax }
        for connection in stale {
            connection.fail(.timeout, detail: "no answer within \(settings.attemptLifetimeMax)", reusable: false)
        }
        reactor.schedule(at: now + .seconds(1), target: sweepTarget, id: 0)
    }
}

/// One keep-alive connection to a backend, carrying one attempt at a time.
final class BackendConnection: ReactorHandler {
    /// unowned(unsafe): the transport owns its connections (pools, busy list) and outlives them; a checked unowned
    /// reference is retained and released on every use.
    unowned(unsafe) let transport: KServeHTTPTransport
    let backend: Int
    let fd: Int32
    var connected = false
    /// Registered with EPOLLOUT until connected, to learn when the connect finished.
    var watchingWrites = true
    var parser = HTTPResponseParser()
    var output: [UInt8] = []
    var written = 0
    var call: CallID?
    /// Whether any byte of the current attempt's answer arrived (a keep-alive connection the backend closed
    /// before answering never delivered the request, so the attempt counts as not having reached it).
    var answered = false
    var reused = false
    var startedAt = Instant.zero
    var lastUsed = Instant.zero
    /// Where this connection sits in the transport's `busy` list while it carries a call.
    var busyIndex = 0
    var isOpen = true

    init(transport: KServeHTTPTransport, backend: Int, endpoint: BackendEndpoint) throws(SystemError) {
        self.transport = transport
        self.backend = backend
        fd = try Socket.connect(host: endpoint.host, port: endpoint.port)
        do {
            try transport.reactor.add(fd, events: UInt32(EPOLLOUT.rawValue | EPOLLIN.rawValue), handler: self)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Starts an attempt: sends what the socket takes of `request` at once (normally all of it) and keeps the rest
    /// (or all of it while still connecting) for `flush`; `request` is not used after the call returns.
    func begin(_ call: CallID, request: UnsafeRawBufferPointer, now: Instant) {
        self.call = call
        answered = false
        startedAt = now
        // Empty here: a connection goes back to its pool only once its request was wholly sent (see `complete`).
        output.removeAll(keepingCapacity: true)
        written = 0
        parser.expect(method: "POST")
        var sent = 0
        if connected {
            guard let count = Socket.sendAvailable(fd, request) else {
                return fail(.connectionFailed, detail: SystemError("send").description, reusable: false)
            }
            if count == request.count { return }
            sent = count
        }
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: request[sent...]))
        if connected { flush() }
    }

    func ready(_ events: UInt32) {
        guard isOpen else { return }
        if !connected {
            guard events & UInt32(EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 else { return }
            let code = Socket.pendingError(fd)
            guard code == 0 else {
                return fail(.connectionFailed, detail: SystemError("connect", code: code).description, reusable: false)
            }
            connected = true
        }
        if events & UInt32(EPOLLOUT.rawValue) != 0 { flush() }
        if events & UInt32(EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0 {
            readAvailable()
        }
    }

    func flush() {
        while written < output.count {
            let count = output.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress! + written, bytes.count - written, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                written += count
            } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
                watch(writes: true)
                return
            } else {
                return fail(.connectionFailed, detail: SystemError("send").description, reusable: false)
            }
        }
        output.removeAll(keepingCapacity: true)
        written = 0
        watch(writes: false)
    }

    /// Writability is watched only while bytes wait (and while connecting); the epoll set changes only when that
    /// flips, not once per request.
    func watch(writes: Bool) {
        guard writes != watchingWrites else { return }
        watchingWrites = writes
        let events = UInt32(EPOLLIN.rawValue | EPOLLRDHUP.rawValue) | (writes ? UInt32(EPOLLOUT.rawValue) : 0)
        transport.reactor.modify(fd, events: events)
    }

    func readAvailable() {
        let scratch = transport.readBuffer
        let count = recv(fd, scratch.baseAddress, scratch.count, 0)
        if count > 0 {
            answered = true
            parser.feed(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
        } else if count == 0 {
            parser.connectionClosed()
        } else if errno == EAGAIN || errno == EINTR {
            return
        } else {
            return fail(
                answered || !reused ? .serverError : .connectionFailed, detail: SystemError("recv").description,
                reusable: false)
        }
        let response: HTTPClientResponse?
        do {
            response = try parser.next()
        } catch {
            return fail(.serverError, detail: "malformed answer: \(error)", reusable: false)
        }
        if let response {
            complete(response)
        } else if count == 0 {
            // Closed without an answer (or between attempts).
            if call != nil {
                fail(
                    answered ? .serverError : .connectionFailed, detail: "the backend closed the connection",
                    reusable: false)
            } else {
                transport.dropIdle(self)
            }
        }
    }

    func complete(_ response: HTTPClientResponse) {
        guard let call else { return }
        self.call = nil
        reused = true
        let result: BackendResult
        switch response.status {
        case 200: result = .answered(response.body)
        case 429: result = .failed(.overloaded, detail: "backend answered 429")
        case 503: result = .failed(.unavailable, detail: "backend answered 503")
        case 400..<500: result = .failed(.badRequest, detail: "backend answered \(response.status)")
        default: result = .failed(.serverError, detail: "backend answered \(response.status)")
        }
        // An answer that came before the whole request was sent (a backend refusing early) leaves the stream
        // mid-request: that connection cannot carry another.
        transport.finished(self, call: call, result: result, reusable: response.keepAlive && output.isEmpty)
    }

    func fail(_ failure: RetryPolicy.Failure, detail: String, reusable: Bool) {
        guard let call else { return transport.dropIdle(self) }
        self.call = nil
        transport.finished(self, call: call, result: .failed(failure, detail: detail), reusable: reusable)
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        transport.reactor.remove(fd)
        Glibc.close(fd)
    }
}
