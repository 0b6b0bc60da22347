// An HTTP/1.1 server on one reactor: a listening socket (SO_REUSEPORT, one per reactor, so the kernel spreads
// connections) and its connections. Requests go to a service, which may answer at once or later (after the
// machines have decided); the connection puts the answers back in request order.

import CLinux
import Glibc
import PlatformCore
import PlatformWire

/// What a server hands requests to.
public protocol HTTPService: AnyObject {
    /// Handles one request; the answer goes to `exchange.respond` now or later, exactly once.
    func serve(_ request: HTTPRequest, exchange: HTTPExchange)
}

/// One request's place in its connection's answer order.
public struct HTTPExchange {
    let connection: HTTPServerConnection
    let sequence: UInt64
    /// When the request's head was complete (the reactor's clock).
    public let receivedAt: Instant

    /// Sends the answer (in order behind earlier requests' answers). Ignored if the connection is gone.
    public func respond(_ response: HTTPResponse) {
        connection.respond(sequence, response: response)
    }

    /// Sends an answer already serialized.
    public func respond(serialized bytes: [UInt8], close: Bool) {
        connection.respond(sequence, bytes: bytes, close: close)
    }
}

/// Timeouts and limits of a server's connections.
public struct HTTPServerSettings: Sendable {
    public var limits = HTTPLimits()
    /// A keep-alive connection with nothing to do is closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// A request's head must be complete this long after its first byte (slow-header attacks), else 408.
    public var headerTimeout: Duration = .seconds(10)
    /// A request's body must be complete this long after its head, else 408.
    public var bodyTimeout: Duration = .seconds(30)
    /// Requests one connection may have waiting for answers; it is not read further until some are answered.
    public var pipelineDepthMax: Int = 32
    /// Connections this server holds at once; more are accepted and closed at once.
    public var connectionsMax: Int = 20_000
    public init() {}
}

/// The listener and the connections of one reactor.
public final class HTTPServer: ReactorHandler, ReactorTimerTarget {
    public let reactor: Reactor
    public let settings: HTTPServerSettings
    let service: HTTPService
    let listener: Int32
    public let port: Int
    var connections: [HTTPServerConnection?] = []
    var freeSlots: [Int] = []
    public private(set) var openConnections = 0
    /// Where the open-connection gauge is kept, if anywhere.
    public var metrics: MetricsShard?
    var sweepTarget: UInt32 = 0
    /// One read buffer shared by the reactor's connections: a read's bytes go straight into the parser.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    /// One write buffer likewise: an answer owed next on an idle connection is written into it and sent from it.
    let writeBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)

    public init(
        reactor: Reactor, host: String, port: Int, settings: HTTPServerSettings = HTTPServerSettings(),
        service: HTTPService
    ) throws(SystemError) {
        self.reactor = reactor
        self.settings = settings
        self.service = service
        listener = try Socket.listen(host: host, port: port, reusePort: true)
        self.port = Socket.localPort(listener)
        try reactor.add(listener, events: UInt32(EPOLLIN.rawValue), handler: self)
        sweepTarget = reactor.addTimerTarget(self)
        reactor.schedule(at: Reactor.now() + .milliseconds(500), target: sweepTarget, id: 0)
    }

    deinit {
        readBuffer.deallocate()
        writeBuffer.deallocate()
    }

    /// Stops accepting; open connections stay until they close.
    public func closeListener() {
        reactor.remove(listener)
        close(listener)
    }

    public func ready(_ events: UInt32) {
        // A bounded number per round, so one busy listener cannot starve the reactor's connections.
        for _ in 0..<64 {
            guard let fd = Socket.accept(listener) else { return }
            guard openConnections < settings.connectionsMax else {
                close(fd)
                continue
            }
            let slot = freeSlots.popLast() ?? connections.count
            if slot == connections.count { connections.append(nil) }
            let connection = HTTPServerConnection(fd: fd, slot: slot, server: self, now: Reactor.now())
            do {
                try reactor.add(fd, events: UInt32(EPOLLIN.rawValue | EPOLLRDHUP.rawValue), handler: connection)
            } catch {
                close(fd)
                freeSlots.append(slot)
                continue
            }
            connections[slot] = connection
            openConnections += 1
            metrics?.httpConnectionOpened()
        }
    }

    func closed(_ connection: HTTPServerConnection) {
        connections[connection.slot] = nil
        freeSlots.append(connection.slot)
        openConnections -= 1
        metrics?.httpConnectionClosed()
    }

    /// Twice a second: connections past their phase's timeout are answered 408 or closed.
    public func timerFired(_ id: UInt64, now: Instant) {
        for case let connection? in connections { connection.checkTimeout(now: now) }
        reactor.schedule(at: now + .milliseconds(500), target: sweepTarget, id: 0)
    }
}
