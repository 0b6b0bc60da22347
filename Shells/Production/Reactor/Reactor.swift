// One event loop on one thread: epoll for sockets, an eventfd for work posted from other threads, and timers kept
// in the loop itself: due timers run on every round, and the wait for events ends at the earliest timer (plus a
// small slack, so a stream of guard timers wakes the loop once per slack rather than once per timer). Every machine
// the production shell runs lives on exactly one reactor and is only touched from its thread, so a machine sees
// its inputs one at a time, as in the simulator.

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
    /// Handlers by file descriptor (descriptors are small integers, reused after close).
    var handlers: [ReactorHandler?] = []
    var timers = TimerHeap()
    var timerTargets: [ReactorTimerTarget] = []
    /// How late a timer may run when the loop would otherwise sleep: the wait ends at the earliest deadline plus
    /// this, and every timer due by then runs in that one wake-up. A busy loop runs timers on every round anyway.
    /// The platform's timers are guards (deadlines, attempt timeouts, backoffs, sweeps) for which a millisecond
    /// is well inside the shell's slack.
    public var timerSlack: Duration = .milliseconds(1)
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
        try control(EPOLL_CTL_ADD, wakeFD, UInt32(EPOLLIN.rawValue))
    }

    deinit {
        close(epollFD)
        close(wakeFD)
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

    /// Calls `target`'s `timerFired(id)` at `at` or soon after (within `timerSlack` when the loop is idle). Timers
    /// are not cancelled: an owner ignores one that no longer matters, as the machines do. Called on the reactor's
    /// thread, so the loop sees the new timer before it next sleeps.
    public func schedule(at: Instant, target: UInt32, id: UInt64) {
        timers.push(at: at, target: target, id: id)
    }

    /// Runs every timer due by now (one reading of the clock), including those the callbacks set for then.
    func runDueTimers() {
        guard timers.count > 0 else { return }
        let now = Reactor.now()
        while let top = timers.pop(dueBy: now) {
            timerTargets[Int(top.target)].timerFired(top.id, now: now)
        }
    }

    /// How long the loop may wait for events: until the earliest timer plus the slack, or without limit.
    func waitNanoseconds() -> Int64 {
        guard let first = timers.first else { return -1 }
        let (end, overflow) = first.at.nanoseconds.addingReportingOverflow(timerSlack.nanoseconds)
        if overflow { return -1 }
        return max(end - Reactor.now().nanoseconds, 0)
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
            runDueTimers()
            let count = clinux_epoll_wait_ns(epollFD, events, Int32(capacity), waitNanoseconds())
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait failed: \(SystemError("epoll_wait"))")
            }
            for slot in 0..<count {
                let fd = clinux_event_fd(events, slot)
                if fd == wakeFD {
                    runInbox()
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
