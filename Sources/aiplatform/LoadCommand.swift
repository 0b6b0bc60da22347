// `aiplatform load`: an open-loop HTTP/1.1 load generator for loopback benchmarks. Requests are due at a fixed
// rate whatever the server does; each one's latency runs from the moment it was due, not from the moment a
// connection was free to send it, so a server that falls behind shows its queueing in the percentiles instead of
// slowing the generator down (the "coordinated omission" a closed-loop tool such as wrk suffers from).
//
// One thread, nonblocking sockets and epoll, waiting with nanosecond timeouts (epoll_pwait2); keep-alive
// connections taken in turn, at most one request in flight on each (no pipelining). Loopback targets only, and
// bounded in duration, rate and connections.

import CLinux
import Foundation
import Glibc
import PlatformWire

enum LoadCommand {
    static let usage = """
        usage: aiplatform load URL --rate R --duration S [--connections C] [--body FILE] [--header 'Name: value']...

          URL                 http://127.0.0.1:PORT/path (loopback only: 127.0.0.1, localhost or ::1)
          --rate R            requests per second, due at even intervals (1 to 1000000)
          --duration S        seconds of sending (1 to 600); answers are awaited up to 5 s more
          --connections C     keep-alive connections, one request in flight on each (default 16, at most 10000)
          --body FILE         POST this file's bytes (Content-Type: application/json unless a header sets it);
                              without it: GET
          --header 'N: V'     an extra request header; repeatable

        Prints the achieved rate, the statuses seen, and latency p50, p90, p99 and max in milliseconds, measured
        from the time each request was due. Exit status 0 when it ran (whatever the answers), 2 on bad input,
        1 when it could not connect at all.

        """

    struct Options {
        var port = 0
        var target = "/"
        var rate = 0
        var duration = 0
        var connections = 16
        var body: [UInt8]?
        var headers: [(name: String, value: String)] = []
    }

    static func main(_ arguments: [String]) -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage, terminator: "")
            return 0
        }
        let options: Options
        do {
            options = try parse(arguments)
        } catch {
            FileHandle.standardError.write(Data("aiplatform load: \(error)\n".utf8))
            return 2
        }
        signal(SIGPIPE, SIG_IGN)
        var generator = Generator(options: options)
        guard generator.connectAll() else {
            FileHandle.standardError.write(Data("aiplatform load: cannot connect to 127.0.0.1:\(options.port)\n".utf8))
            return 1
        }
        generator.run()
        print(generator.report(), terminator: "")
        return 0
    }

    static func parse(_ arguments: [String]) throws(LoadError) -> Options {
        var options = Options()
        var url: String?
        var bodyFile: String?
        var index = 0
        func value(_ flag: String) throws(LoadError) -> String {
            index += 1
            guard index < arguments.count else { throw LoadError("\(flag) needs a value") }
            return arguments[index]
        }
        func number(_ flag: String, _ range: ClosedRange<Int>) throws(LoadError) -> Int {
            let text = try value(flag)
            guard let number = Int(text), range.contains(number) else {
                throw LoadError(
                    "\(flag): \"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--rate": options.rate = try number(argument, 1...1_000_000)
            case "--duration": options.duration = try number(argument, 1...600)
            case "--connections": options.connections = try number(argument, 1...10_000)
            case "--body": bodyFile = try value(argument)
            case "--header":
                let text = try value(argument)
                let parts = text.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, !parts[0].contains(" "),
                    !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 })
                else { throw LoadError("--header: \"\(text)\" is not 'Name: value'") }
                let name = String(parts[0])
                let reserved = ["host", "content-length", "transfer-encoding", "connection"]
                guard !reserved.contains(name.lowercased()) else { throw LoadError("--header: \(name) is set by load") }
                options.headers.append((name, parts[1].trimmingCharacters(in: .whitespaces)))
            default:
                guard !argument.hasPrefix("-"), url == nil else { throw LoadError("unexpected argument \(argument)") }
                url = argument
            }
            index += 1
        }
        guard let url else { throw LoadError("a URL is required") }
        (options.port, options.target) = try parseURL(url)
        guard options.rate > 0 else { throw LoadError("--rate is required") }
        guard options.duration > 0 else { throw LoadError("--duration is required") }
        if let bodyFile {
            guard let data = FileManager.default.contents(atPath: bodyFile) else {
                throw LoadError("--body: cannot read \(bodyFile)")
            }
            options.body = Array(data)
            if !options.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
                options.headers.append(("Content-Type", "application/json"))
            }
        }
        return options
    }

    /// The port and target of a loopback http URL; anything else is refused.
    static func parseURL(_ url: String) throws(LoadError) -> (Int, String) {
        guard url.hasPrefix("http://") else { throw LoadError("\(url): only http:// URLs") }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let target = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
            (1...65_535).contains(port)
        else { throw LoadError("\(url): the URL needs an explicit port") }
        let host = authority[..<colon]
        guard ["127.0.0.1", "localhost", "[::1]"].contains(host) else {
            throw LoadError("\(url): loopback targets only (127.0.0.1, localhost, [::1])")
        }
        guard host != "[::1]" else { throw LoadError("\(url): IPv6 is not supported; use 127.0.0.1") }
        return (port, target)
    }
}

struct LoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The open-loop engine: a schedule of due times, a queue of requests due but not yet sent, and the connections.
struct Generator {
    struct Connection {
        var fd: Int32 = -1
        var parser = HTTPResponseParser()
        /// When the request in flight was due (nanoseconds on the monotonic clock); nil when idle.
        var due: UInt64?
        /// Bytes of the request in flight not yet written (loopback sends of small requests rarely split).
        var unsent: ArraySlice<UInt8> = []
        /// Whether the connection is watched for room to write (a send was cut short).
        var awaitsRoom = false
    }

    let options: Options
    typealias Options = LoadCommand.Options
    let request: [UInt8]
    var connections: [Connection]
    /// Due times of requests waiting for an idle connection, oldest first.
    var backlog: [UInt64] = []
    var backlogStart = 0
    var latencies: [UInt64] = []
    var statuses: [Int: Int] = [:]
    var errors = 0
    var reconnects = 0
    var unanswered = 0
    var startedAt: UInt64 = 0
    var finishedAt: UInt64 = 0
    var sent = 0
    var epoll: Int32 = -1
    /// The connection each open descriptor belongs to (-1: none), for epoll's answers.
    var connectionOfFD: [Int] = []

    init(options: Options) {
        self.options = options
        let writer = HTTPRequestWriter(host: "127.0.0.1:\(options.port)", headers: options.headers)
        request = writer.serialized(
            method: options.body == nil ? "GET" : "POST", target: options.target, body: options.body ?? [])
        connections = Array(repeating: Connection(), count: options.connections)
        latencies.reserveCapacity(min(options.rate * options.duration, 1_000_000))
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Opens every connection; false when not even one could connect.
    mutating func connectAll() -> Bool {
        var any = false
        for index in connections.indices {
            connections[index].fd = Self.connect(port: options.port)
            any = any || connections[index].fd >= 0
        }
        return any
    }

    static func connect(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return -1
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    mutating func run() {
        let interval = 1_000_000_000 / UInt64(options.rate)
        let remainder = 1_000_000_000 % UInt64(options.rate)
        startedAt = Self.now()
        let sendUntil = startedAt + UInt64(options.duration) * 1_000_000_000
        let giveUpAt = sendUntil + 5_000_000_000
        var scheduled = 0
        var nextDue = startedAt
        // Each connection is registered once; epoll_pwait2's nanosecond timeout wakes the loop when the next
        // request falls due, so a request costs its send, its receive and the waits, nothing per connection.
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        defer { close(epoll) }
        for index in connections.indices where connections[index].fd >= 0 { register(index) }
        let capacity = connections.count + 1
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        // Where the search for an idle connection starts: requests go round the connections, as from many clients,
        // instead of always to the first idle ones (which would put all of a light load on a few connections and
        // so on whichever of the server's threads those few happened to land on).
        var cursor = 0
        while true {
            let now = Self.now()
            // Every request due by now joins the backlog, even when no connection is free to take it.
            while nextDue <= now && nextDue < sendUntil {
                backlog.append(nextDue)
                scheduled += 1
                // Spread the remainder so `rate` requests fall due in each second exactly.
                nextDue =
                    startedAt + UInt64(scheduled) * interval + UInt64(scheduled) * remainder / UInt64(options.rate)
            }
            var searched = 0
            while backlogStart < backlog.count && searched < connections.count {
                let index = cursor
                cursor = cursor + 1 == connections.count ? 0 : cursor + 1
                searched += 1
                guard connections[index].due == nil else { continue }
                if connections[index].fd < 0 {
                    connections[index].fd = Self.connect(port: options.port)
                    reconnects += 1
                    if connections[index].fd < 0 { continue }
                    register(index)
                }
                connections[index].due = backlog[backlogStart]
                backlogStart += 1
                connections[index].unsent = request[...]
                connections[index].parser.expect(method: options.body == nil ? "GET" : "POST")
                sent += 1
                searched = 0
                write(index)
            }
            if backlogStart > 4_096 && backlogStart * 2 > backlog.count {
                backlog.removeFirst(backlogStart)
                backlogStart = 0
            }
            if now >= sendUntil && inFlight == 0 && backlogStart >= backlog.count { break }
            if now >= giveUpAt { break }
            // Sleep until the next request is due or an answer arrives.
            // (Once the last request is due, until the end of sending or the last answer, whichever comes first.)
            let wake = nextDue < sendUntil ? nextDue : now < sendUntil ? sendUntil : min(giveUpAt, now + 50_000_000)
            let waitFrom = Self.now()
            let count = clinux_epoll_wait_ns(
                epoll, events, Int32(capacity), Int64(wake > waitFrom ? wake - waitFrom : 0))
            guard count > 0 else { continue }
            for slot in 0..<Int(count) {
                let fd = clinux_event_fd(events, Int32(slot))
                guard fd >= 0, Int(fd) < connectionOfFD.count else { continue }
                let index = connectionOfFD[Int(fd)]
                // A connection closed earlier in this batch may have left an event behind.
                guard index >= 0, connections[index].fd == fd else { continue }
                let bits = clinux_event_bits(events, Int32(slot))
                if bits & EPOLLOUT.rawValue != 0 { write(index) }
                // A failed write already closed the connection and counted the error.
                guard connections[index].fd == fd else { continue }
                if bits & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { read(index, &buffer) }
            }
        }
        finishedAt = Self.now()
        unanswered = inFlight + (backlog.count - backlogStart)
        for connection in connections where connection.fd >= 0 { close(connection.fd) }
    }

    /// Requests sent and not yet answered or failed.
    var inFlight: Int {
        var count = 0
        for index in connections.indices where connections[index].due != nil { count += 1 }
        return count
    }

    /// Watches a freshly opened connection for answers (and for room to write, only while a write is pending).
    mutating func register(_ index: Int) {
        let fd = Int(connections[index].fd)
        if fd >= connectionOfFD.count {
            connectionOfFD += [Int](repeating: -1, count: fd + 1 - connectionOfFD.count)
        }
        connectionOfFD[fd] = index
        _ = clinux_epoll_add(epoll, EPOLL_CTL_ADD, Int32(fd), EPOLLIN.rawValue)
    }

    mutating func write(_ index: Int) {
        let fd = connections[index].fd
        while !connections[index].unsent.isEmpty {
            let written = connections[index].unsent.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            if written > 0 {
                connections[index].unsent = connections[index].unsent.dropFirst(written)
                if connections[index].unsent.isEmpty && connections[index].awaitsRoom {
                    connections[index].awaitsRoom = false
                    _ = clinux_epoll_add(epoll, EPOLL_CTL_MOD, fd, EPOLLIN.rawValue)
                }
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if !connections[index].awaitsRoom {
                    connections[index].awaitsRoom = true
                    _ = clinux_epoll_add(epoll, EPOLL_CTL_MOD, fd, EPOLLIN.rawValue | EPOLLOUT.rawValue)
                }
                return
            } else {
                fail(index)
                return
            }
        }
    }

    mutating func read(_ index: Int, _ buffer: inout [UInt8]) {
        let fd = connections[index].fd
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.withUnsafeBytes { bytes in
                    connections[index].parser.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
                }
            } else if count == 0 {
                connections[index].parser.connectionClosed()
            } else if errno != EAGAIN && errno != EWOULDBLOCK {
                fail(index)
                return
            }
            do {
                if let response = try connections[index].parser.next(), let due = connections[index].due {
                    latencies.append(Self.now() - due)
                    statuses[response.status, default: 0] += 1
                    connections[index].due = nil
                    if !response.keepAlive {
                        close(fd)
                        connections[index] = Connection()
                    }
                    return
                }
            } catch {
                fail(index)
                return
            }
            if count <= 0 {
                if count == 0 { fail(index) }
                return
            }
        }
    }

    /// The connection broke: its request counts as an error and the connection is opened again when needed.
    mutating func fail(_ index: Int) {
        if connections[index].due != nil { errors += 1 }
        if connections[index].fd >= 0 { close(connections[index].fd) }
        connections[index] = Connection()
    }

    func report() -> String {
        let elapsed = Double(finishedAt - startedAt) / 1e9
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let rank = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
            return String(format: "%.3f", Double(sorted[max(0, rank)]) / 1e6)
        }
        let statusText = statuses.keys.sorted().map { "\($0)=\(statuses[$0]!)" }.joined(separator: " ")
        var lines: [String] = []
        lines.append(
            "target 127.0.0.1:\(options.port)\(options.target)  rate \(options.rate)/s  "
                + "duration \(options.duration) s  "
                + "connections \(options.connections)")
        lines.append(
            String(
                format: "achieved %.1f answers/s (%d sent, %d answered in %.2f s)", Double(sorted.count) / elapsed,
                sent,
                sorted.count, elapsed))
        lines.append("statuses \(statusText.isEmpty ? "-" : statusText)  errors \(errors)  unanswered \(unanswered)")
        lines.append(
            "latency ms  p50 \(percentile(50))  p90 \(percentile(90))  p99 \(percentile(99))  max \(percentile(100))")
        return lines.joined(separator: "\n") + "\n"
    }
}
