// One accepted connection: bytes in through the request parser, requests out to the service, answers back in
// request order (pipelining), the connection closed when a request or an answer says so, when the peer goes, or
// when a phase outlasts its timeout (idle, header, body).

import CLinux
import Glibc
import PlatformCore
import PlatformWire

final class HTTPServerConnection: ReactorHandler {
    let fd: Int32
    let slot: Int
    /// unowned(unsafe): the server owns its connections and outlives them; a checked unowned reference is retained
    /// and released on every use.
    unowned(unsafe) let server: HTTPServer
    var parser: HTTPRequestParser
    /// Answered bytes not yet written, from `written` on.
    var output: [UInt8] = []
    var written = 0
    /// Sequence numbers: the next request's, and the next answer to write.
    var nextSequence: UInt64 = 0
    var sendSequence: UInt64 = 0
    /// Answers that came back before an earlier request's.
    var early: [(sequence: UInt64, bytes: [UInt8], close: Bool)] = []
    /// After the answer with this sequence is written, the connection closes.
    var closeAfter: UInt64 = .max
    var isOpen = true
    var reading = true
    var watchingWrites = false
    var phase = HTTPRequestParser.Phase.idle
    var phaseSince: Instant

    init(fd: Int32, slot: Int, server: HTTPServer, now: Instant) {
        self.fd = fd
        self.slot = slot
        self.server = server
        parser = HTTPRequestParser(limits: server.settings.limits)
        phaseSince = now
    }

    var inFlight: Int { Int(nextSequence - sendSequence) }

    func ready(_ events: UInt32) {
        if events & UInt32(EPOLLOUT.rawValue) != 0 { flush() }
        guard isOpen else { return }
        // Hang-up and error are reported whether asked for or not: with reading paused they would wake the
        // reactor for ever, and the peer can take no answer anyway.
        if events & UInt32(EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && !reading { return shutDown() }
        if events & UInt32(EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            readAvailable()
        }
    }

    func readAvailable() {
        guard reading else { return }
        let buffer = server.readBuffer
        let count = recv(fd, buffer.baseAddress, buffer.count, 0)
        if count > 0 {
            parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            parseRequests()
        } else if count == 0 {
            peerClosed()
        } else if errno != EAGAIN && errno != EINTR {
            shutDown()
        }
    }

    /// Hands every complete request to the service, up to the pipeline limit.
    func parseRequests() {
        while isOpen && closeAfter == .max && inFlight < server.settings.pipelineDepthMax {
            let request: HTTPRequest?
            do {
                request = try parser.next()
            } catch {
                refuse(error)
                break
            }
            guard let request else { break }
            let sequence = nextSequence
            nextSequence += 1
            if !request.keepAlive { closeAfter = sequence }
            server.service.serve(
                request, exchange: HTTPExchange(connection: self, sequence: sequence, receivedAt: Reactor.now()))
        }
        notePhase()
        updateInterest()
    }

    /// A malformed request: its error answer goes after the answers already owed, then the connection closes.
    func refuse(_ error: HTTPParseError) {
        let sequence = nextSequence
        nextSequence += 1
        closeAfter = sequence
        respond(sequence, bytes: HTTPResponse.error(error).serialized(), close: true)
    }

    func notePhase() {
        let now = parser.phase
        if now != phase {
            phase = now
            phaseSince = Reactor.now()
        }
    }

    /// Reading stops while the pipeline is full or the connection is closing; writes are watched while bytes wait.
    func updateInterest() {
        guard isOpen else { return }
        let wantRead = closeAfter == .max && inFlight < server.settings.pipelineDepthMax
        let wantWrite = written < output.count
        guard wantRead != reading || wantWrite != watchingWrites else { return }
        reading = wantRead
        watchingWrites = wantWrite
        var events: UInt32 = 0
        if wantRead { events |= UInt32(EPOLLIN.rawValue | EPOLLRDHUP.rawValue) }
        if wantWrite { events |= UInt32(EPOLLOUT.rawValue) }
        server.reactor.modify(fd, events: events)
    }

    /// Answers request `sequence`. The usual case, the answer owed next on a connection with nothing waiting to
    /// be written, is written into the server's write buffer and sent from there: no bytes of its own are made
    /// unless the socket does not take them all at once.
    func respond(_ sequence: UInt64, response: HTTPResponse) {
        guard isOpen else { return }
        let count = response.serializedCount
        guard sequence == sendSequence, output.isEmpty, count <= server.writeBuffer.count else {
            return respond(sequence, bytes: response.serialized(), close: response.closeConnection)
        }
        if response.closeConnection && sequence < closeAfter { closeAfter = sequence }
        let buffer = server.writeBuffer
        _ = response.write(into: buffer)
        sendSequence += 1
        guard let sent = Socket.sendAvailable(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<count])) else {
            return shutDown()
        }
        if sent < count { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[sent..<count])) }
        answered()
    }

    func respond(_ sequence: UInt64, bytes: [UInt8], close: Bool) {
        guard isOpen else { return }
        if close && sequence < closeAfter { closeAfter = sequence }
        guard sequence == sendSequence else {
            early.append((sequence, bytes, close))
            return
        }
        append(bytes)
        answered()
    }

    /// After the answer owed next was queued or sent: the answers that came early and are now owed follow it, what
    /// waits is written, and requests held back by a full pipeline go on.
    func answered() {
        while !early.isEmpty, let index = early.firstIndex(where: { $0.sequence == sendSequence }) {
            let next = early.remove(at: index)
            append(next.bytes)
        }
        flush()
        // The pipeline has room again: requests already buffered may go on.
        if isOpen && closeAfter == .max && inFlight < server.settings.pipelineDepthMax && !parser.isIdle {
            parseRequests()
        }
    }

    func append(_ bytes: [UInt8]) {
        if output.isEmpty { output = bytes } else { output.append(contentsOf: bytes) }
        sendSequence += 1
    }

    func flush() {
        while written < output.count {
            let count = output.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress! + written, bytes.count - written, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                written += count
            } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
                break
            } else {
                return shutDown()
            }
        }
        if written == output.count {
            // Large buffers are let go, so ten thousand quiet connections hold little memory.
            if output.capacity > 16 << 10 { output = [] } else { output.removeAll(keepingCapacity: true) }
            written = 0
            if sendSequence > closeAfter { return shutDown() }
            if inFlight == 0 && phase == .idle { phaseSince = Reactor.now() }
        }
        updateInterest()
    }

    func peerClosed() {
        // A client that half-closes after its last request still gets the answers it is owed; nothing more is
        // read (the end of input would otherwise wake the reactor again and again).
        closeAfter = min(closeAfter, nextSequence == 0 ? 0 : nextSequence - 1)
        if inFlight == 0 && written == output.count { return shutDown() }
        updateInterest()
    }

    func checkTimeout(now: Instant) {
        guard isOpen, inFlight == 0 else { return }
        let settings = server.settings
        switch phase {
        case .idle:
            if now - phaseSince >= settings.idleTimeout { shutDown() }
        case .headers:
            if now - phaseSince >= settings.headerTimeout {
                refuse(
                    HTTPParseError(status: 408, message: "request head not complete within \(settings.headerTimeout)"))
            }
        case .body:
            if now - phaseSince >= settings.bodyTimeout {
                refuse(HTTPParseError(status: 408, message: "request body not complete within \(settings.bodyTimeout)"))
            }
        case .closed, .failed:
            if written == output.count && now - phaseSince >= settings.idleTimeout { shutDown() }
        }
    }

    func shutDown() {
        guard isOpen else { return }
        isOpen = false
        server.reactor.remove(fd)
        close(fd)
        output = []
        early = []
        server.closed(self)
    }
}
