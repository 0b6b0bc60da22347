// Thin wrappers over the BSD socket calls the shell makes: IPv4 TCP listeners (SO_REUSEPORT, so each reactor has
// its own accept queue and the kernel spreads connections over them) and non-blocking client connections.

import CLinux
import Glibc

enum Socket {
    /// Parses a dotted IPv4 address and a port into a socket address.
    static func address(host: String, port: Int) throws(SystemError) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let parsed = host.withCString { inet_pton(AF_INET, $0, &address.sin_addr) }
        guard parsed == 1 else { throw SystemError("inet_pton(\(host))", code: EINVAL) }
        return address
    }

    /// A non-blocking listening socket on host:port; with `reusePort`, several may listen on the same port.
    static func listen(host: String, port: Int, reusePort: Bool, backlog: Int32 = 4096) throws(SystemError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var address = try Self.address(host: host, port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let error = SystemError("bind \(host):\(port)")
            close(fd)
            throw error
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = SystemError("listen \(host):\(port)")
            close(fd)
            throw error
        }
        return fd
    }

    /// The port a socket is bound to (for listeners asked for port 0).
    static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts one pending connection as a non-blocking socket with Nagle off, or nil when none is waiting.
    static func accept(_ listener: Int32) -> Int32? {
        let fd = clinux_accept(listener)
        guard fd >= 0 else { return nil }
        noDelay(fd)
        return fd
    }

    /// Small responses go out at once rather than waiting for more bytes (Nagle's algorithm off).
    static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Starts a non-blocking connect; the socket becomes writable when it is done (or failed: see `pendingError`).
    static func connect(host: String, port: Int) throws(SystemError) -> Int32 {
        var address = try Self.address(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        noDelay(fd)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 && errno != EINPROGRESS {
            let error = SystemError("connect \(host):\(port)")
            close(fd)
            throw error
        }
        return fd
    }

    /// Sends as much of `bytes` as the socket takes now (retrying interruptions): how many bytes went, which is
    /// fewer than all when the socket's buffer filled; nil when the connection failed (errno says why).
    static func sendAvailable(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int? {
        var sent = 0
        while sent < bytes.count {
            let count = send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            if count > 0 {
                sent += count
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && errno == EAGAIN {
                break
            } else {
                return nil
            }
        }
        return sent
    }

    /// The error a non-blocking connect ended with (0 when it succeeded).
    static func pendingError(_ fd: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
        return code
    }
}
