// A blocking HTTP/1.1 client for tests: raw bytes over a loopback socket, with a receive timeout, so a test can
// send exactly what it means (split requests, pipelining, garbage) and read what came back.

import Glibc
import PlatformWire

final class TestHTTPClient {
    let fd: Int32
    var parser = HTTPResponseParser()

    init(port: Int, timeoutMilliseconds: Int = 5_000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1_000, tv_usec: (timeoutMilliseconds % 1_000) * 1_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw TestClientError(message: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, 0) }
            guard count > 0 else { return }
            offset += count
        }
    }

    /// A request with a JSON body and the given headers.
    func request(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil
    ) {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body {
            text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "\r\n"
        }
        parser.expect(method: method)
        send(text)
    }

    /// Expects one more response (for requests sent raw with `send`).
    func expect(_ method: String = "GET") { parser.expect(method: method) }

    /// The next response, or nil when the connection closed or the receive timed out first.
    func response() throws -> HTTPClientResponse? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let response = try parser.next() { return response }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                parser.feed(buffer[0..<count])
            } else if count == 0 {
                parser.connectionClosed()
                return try parser.next()
            } else {
                return nil
            }
        }
    }

    /// True when the server closed the connection (a read returns end of file within the timeout).
    func closedByServer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }
}

struct TestClientError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension HTTPClientResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
}
