// A simulated Triton instance: a fixed number of execution slots, a bounded queue in front of
// them, a service time of base + exponential extra, and fault modes (crash with lost in-flight
// work, hang, slowdown, error bursts). Work that was queued keeps being served after its caller
// gave up, as on a real server: the wasted work is what makes retry storms dangerous.

import PlatformCore

struct SimulatedBackend {
    let spec: BackendSpec
    var random: SeededRandom
    var busy = 0
    var waiting: [(call: CallID, replyTo: Int)] = []
    var waitingHead = 0
    var epoch: UInt32 = 0
    var crashed = false
    var hung = false
    var slowdownFactor: Int64 = 1
    var errorRate: Ratio

    init(spec: BackendSpec, random: SeededRandom) {
        self.spec = spec
        self.random = random
        errorRate = spec.errorRate
    }

    var waitingCount: Int { waiting.count - waitingHead }

    mutating func serviceTime() -> Int64 {
        let extra = random.exponential(mean: spec.serviceMeanExtra)
        return (spec.serviceBase + extra).nanoseconds * slowdownFactor
    }

    enum Admission {
        case start(service: Int64)
        case queued
        case refused
        /// The process is down: the connection is refused at once.
        case connectionRefused
        case dropped
    }

    /// A call arrived: start it, queue it, refuse it (queue full or process down) or lose it (hung).
    mutating func admit(_ call: CallID, replyTo: Int) -> Admission {
        if crashed { return .connectionRefused }
        if hung { return .dropped }
        if busy < spec.concurrency {
            busy += 1
            return .start(service: serviceTime())
        }
        guard waitingCount < spec.queueMax else { return .refused }
        waiting.append((call, replyTo))
        return .queued
    }

    /// A call finished serving; returns its failure, if any.
    mutating func finish() -> RetryPolicy.Failure? {
        busy -= 1
        return random.chance(errorRate) ? .serverError : nil
    }

    /// Takes the next waiting call into a free slot.
    mutating func startNext() -> (call: CallID, replyTo: Int, service: Int64)? {
        guard waitingHead < waiting.count, busy < spec.concurrency, !hung else { return nil }
        let next = waiting[waitingHead]
        waitingHead += 1
        if waitingHead > 1_024 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        busy += 1
        return (next.call, next.replyTo, serviceTime())
    }

    /// The process stops answering: everything in flight or queued is never answered.
    mutating func hang() {
        hung = true
        loseAllWork()
    }

    /// The process dies: everything in flight or queued is lost.
    mutating func crash() {
        crashed = true
        loseAllWork()
    }

    /// Forgets everything in flight or queued; completions already scheduled see a new epoch.
    private mutating func loseAllWork() {
        epoch &+= 1
        busy = 0
        waiting.removeAll()
        waitingHead = 0
    }
}
