// What the simulator measures while a run goes on: per timeline bucket, per API key and per
// backend. Only integers are accumulated; percentiles are computed once at the end.

import PlatformCore

struct RunMetrics {
    struct Bucket {
        var requests = 0
        var ok = 0
        var errors = [Int](repeating: 0, count: ErrorKind.allCases.count)
        var retries = 0
        var latency = LatencyHistogram()
    }

    struct KeyFigures {
        var requests = 0
        var ok = 0
        var rateLimited = 0
        var latency = LatencyHistogram()
    }

    let bucketNanoseconds: Int64
    var buckets: [Bucket]
    var keys: [KeyFigures]
    /// calls[backend][bucket]
    var backendCalls: [[Int]]
    var overall = LatencyHistogram()
    var total = 0
    var ok = 0
    var errors = [Int](repeating: 0, count: ErrorKind.allCases.count)
    /// Successful latencies after the run recovered (for the liveness SLO).
    var recovered = LatencyHistogram()
    var recoveredRequests = 0
    var recoveredFailures = 0

    init(duration: Duration, bucket: Duration, keyCount: Int, backendCount: Int) {
        var width = bucket.nanoseconds
        if width <= 0 {
            width = max(1_000_000_000, (duration.nanoseconds + 599) / 600)
            width = (width + 999_999_999) / 1_000_000_000 * 1_000_000_000
        }
        bucketNanoseconds = width
        let count = Int((duration.nanoseconds + width - 1) / width)
        buckets = Array(repeating: Bucket(), count: max(count, 1))
        keys = Array(repeating: KeyFigures(), count: keyCount + 1)
        backendCalls = Array(repeating: Array(repeating: 0, count: max(count, 1)), count: backendCount)
    }

    @inline(__always) func bucketIndex(_ time: Int64) -> Int {
        min(max(Int(time / bucketNanoseconds), 0), buckets.count - 1)
    }

    /// A client got its answer; `key` is -1 for unknown credentials (kept in the last slot).
    mutating func recordResponse(at time: Int64, latency: Int64, key: Int, error: ErrorKind?, recoveredPhase: Bool) {
        let index = bucketIndex(time)
        let keySlot = key >= 0 ? key : keys.count - 1
        buckets[index].requests += 1
        keys[keySlot].requests += 1
        total += 1
        if recoveredPhase { recoveredRequests += 1 }
        if let error {
            buckets[index].errors[Int(error.rawValue)] += 1
            errors[Int(error.rawValue)] += 1
            if error == .rateLimited { keys[keySlot].rateLimited += 1 }
            if recoveredPhase && (error == .unavailable || error == .timeout) { recoveredFailures += 1 }
        } else {
            buckets[index].ok += 1
            buckets[index].latency.record(nanoseconds: latency)
            keys[keySlot].ok += 1
            keys[keySlot].latency.record(nanoseconds: latency)
            ok += 1
            overall.record(nanoseconds: latency)
            if recoveredPhase { recovered.record(nanoseconds: latency) }
        }
    }

    mutating func recordCall(at time: Int64, backend: Int, retry: Bool) {
        let index = bucketIndex(time)
        backendCalls[backend][index] += 1
        if retry { buckets[index].retries += 1 }
    }
}
