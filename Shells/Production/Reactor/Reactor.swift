// One event loop on one thread: epoll for sockets, a timerfd for the earliest timer, an eventfd for work posted
// from other threads. Every machine the production shell runs lives on exactly one reactor and is only touched
// from its thread, so a machine sees its inputs one at a time, as in the simulator.

import CLinux
import Glibc
import PlatformCore
import Synchronization

/// Something registered with a reactor for readiness of one file descriptor.
public protocol ReactorHandler: AnyObject {
    /// Called on the reactor's thread with the epoll event bits (`EPOLLIN`, `EPOLLOUT`, `EPOLLHUP`, `EPOLLERR`).
    func ready(_ events: UInt32)
}

/// What a reactor timer calls back: one object per kind of timer owner (a node host, a connection sweeper),
/// told the opaque id it set, so no closure is allocated per timer.
public protocol ReactorTimerTarget: AnyObject {
    func timerFired(_ id: UInt64, now: Instant)
}

/// An epoll loop with timers and a mailbox.
public final class Reactor: Mailbox, @unchecked Sendable {
    public let index: Int
    let epollFD: Int32
    let wakeFD: Int32
    let timerFD: Int32
    /// Handlers by file descriptor (descriptors are small integers, reused after close).
    var handlers: [ReactorHandler?] = []
    var timers = TimerHeap()
    var timerTargets: [ReactorTimerTarget] = []
    /// The deadline the timerfd is armed for, so it is re-armed only when the earliest timer moves.
    var armedAt = Instant.distantFuture
    let inbox = Mutex<[@Sendable () -> Void]>([])
    let wakePending = Atomic<Bool>(false)
    let stopRequested = Atomic<Bool>(false)
    var drained: [@Sendable () -> Void] = []

    public init(index: Int) throws(SystemError) {
        self.index = index
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemError("epoll_create1") }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw SystemError("eventfd") }
        timerFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard timerFD >= 0 else { throw SystemError("timerfd_create") }
        try control(EPOLL_CTL_ADD, wakeFD, UInt32(EPOLLIN.rawValue))
        try control(EPOLL_CTL_ADD, timerFD, UInt32(EPOLLIN.rawValue))
    }

    deinit {
        close(epollFD)
        close(wakeFD)
        close(timerFD)
    }

    /// The monotonic clock every machine on this reactor is given as `now`.
    public static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Instant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    // MARK: - Descriptors

    func control(_ operation: Int32, _ fd: Int32, _ events: UInt32) throws(SystemError) {
        guard clinux_epoll_add(epollFD, operation, fd, events) == 0 else { throw SystemError("epoll_ctl") }
    }

    /// Watches `fd` for `events` (level-triggered) and calls `handler` when it is ready.
    public func add(_ fd: Int32, events: UInt32, handler: ReactorHandler) throws(SystemError) {
        let slot = Int(fd)
        if slot >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: slot + 1 - handlers.count)) }
        handlers[slot] = handler
        do {
            try control(EPOLL_CTL_ADD, fd, events)
        } catch {
            handlers[slot] = nil
            throw error
        }
    }

    /// Changes the events watched on `fd`.
    public func modify(_ fd: Int32, events: UInt32) {
        try? control(EPOLL_CTL_MOD, fd, events)
    }

    /// Stops watching `fd` (before it is closed).
    public func remove(_ fd: Int32) {
        _ = clinux_epoll_add(epollFD, EPOLL_CTL_DEL, fd, 0)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    // MARK: - Timers

    /// Registers the object timers of one kind call back; the returned number names it in `schedule`.
    public func addTimerTarget(_ target: ReactorTimerTarget) -> UInt32 {
        timerTargets.append(target)
        return UInt32(timerTargets.count - 1)
    }

    /// Calls `target`'s `timerFired(id)` at `at` or soon after. Timers are not cancelled: an owner ignores one
    /// that no longer matters, as the machines do.
    public func schedule(at: Instant, target: UInt32, id: UInt64) {
        timers.push(at: at, target: target, id: id)
        if at < armedAt { arm(at) }
    }

    func arm(_ at: Instant) {
        armedAt = at
        var spec = itimerspec()
        if at == .distantFuture {
            spec.it_value = timespec(tv_sec: 0, tv_nsec: 0)
        } else {
            // An absolute deadline of 0 would disarm the timer, so a deadline already past is made 1 ns.
            let nanoseconds = max(at.nanoseconds, 1)
            spec.it_value = timespec(
                tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        }
        _ = timerfd_settime(timerFD, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    func runDueTimers() {
        var count: UInt64 = 0
        _ = read(timerFD, &count, 8)
        let now = Reactor.now()
        while let top = timers.first, top.at <= now {
            timers.pop()
            timerTargets[Int(top.target)].timerFired(top.id, now: now)
        }
        arm(timers.first?.at ?? .distantFuture)
    }

    // MARK: - Mailbox

    /// Runs `job` on this reactor's thread soon; callable from any thread.
    public func post(_ job: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(job) }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    func runInbox() {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
        wakePending.store(false, ordering: .releasing)
        // The posted jobs are taken in one swap and run without the lock held.
        inbox.withLock { swap(&drained, &$0) }
        for job in drained { job() }
        drained.removeAll(keepingCapacity: true)
    }

    // MARK: - Loop

    /// Asks the loop to return after its current round; callable from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        post {}
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while !stopRequested.load(ordering: .acquiring) {
            let count = epoll_wait(epollFD, events, Int32(capacity), -1)
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait failed: \(SystemError("epoll_wait"))")
            }
            for slot in 0..<count {
                let fd = clinux_event_fd(events, slot)
                if fd == wakeFD {
                    runInbox()
                } else if fd == timerFD {
                    runDueTimers()
                } else if Int(fd) < handlers.count, let handler = handlers[Int(fd)] {
                    handler.ready(clinux_event_bits(events, slot))
                }
            }
        }
    }
}

/// A failed system call, with its errno and what was being done.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var code: Int32
    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }
    public var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
}
