// Turns the run's timeline into at most a few hundred drawable samples. Long runs have
// thousands of buckets; neighbouring buckets are merged so the page stays small and readable.

/// One drawn point: one bucket, or several neighbouring buckets merged.
struct TimelineSample {
    var start: Double
    var end: Double
    var requests = 0
    var ok = 0
    var rateLimited = 0
    var unavailable = 0
    var timeout = 0
    var other = 0
    var retries = 0
    /// Latency percentiles (the worst bucket of the group); meaningful only when `hasLatency`.
    var p50 = 0.0
    var p95 = 0.0
    var p99 = 0.0
    var hasLatency = false
    /// The seconds the sample's buckets cover (count × bucket width).
    var seconds = 1.0

    var mid: Double { (start + end) / 2 }
    var failed: Int { max(requests - ok, 0) }

    /// `count` per second over this sample.
    func rate(_ count: Int) -> Double {
        seconds > 0 ? Double(max(count, 0)) / seconds : 0
    }

    /// Failed requests as a percentage of all requests; nil when there were none.
    var errorPercent: Double? {
        requests > 0 ? 100 * Double(failed) / Double(requests) : nil
    }
}

enum TimelineSampler {
    /// Most samples drawn per chart.
    static let maxPoints = 480

    /// The bucket width: the report's, or the timeline's spacing, or one second.
    static func bucketSeconds(_ r: RunReport) -> Double {
        let b = ReportNumber.finite(r.bucketSeconds)
        if b > 0 { return b }
        if r.timeline.count > 1 {
            let d = ReportNumber.finite(r.timeline[1].startSeconds - r.timeline[0].startSeconds)
            if d > 0 { return d }
        }
        return 1
    }

    /// How many buckets go into one sample so that at most `maxPoints` remain.
    static func groupSize(_ count: Int) -> Int {
        max(1, (count + maxPoints - 1) / maxPoints)
    }

    /// The timeline merged into groups of `groupSize` buckets.
    static func samples(_ r: RunReport, bucket: Double) -> [TimelineSample] {
        let g = groupSize(r.timeline.count)
        var out: [TimelineSample] = []
        out.reserveCapacity(r.timeline.count / g + 1)
        var i = 0
        while i < r.timeline.count {
            let slice = r.timeline[i..<min(i + g, r.timeline.count)]
            out.append(merge(slice, bucket: bucket))
            i += g
        }
        return out
    }

    private static func merge(_ slice: ArraySlice<TimeBucket>, bucket: Double) -> TimelineSample {
        let first = slice[slice.startIndex]
        let last = slice[slice.endIndex - 1]
        let start = ReportNumber.finite(first.startSeconds)
        var s = TimelineSample(start: start, end: max(start, ReportNumber.finite(last.startSeconds) + bucket))
        s.seconds = Double(slice.count) * bucket
        for b in slice {
            s.requests += max(b.requests, 0)
            s.ok += max(b.ok, 0)
            s.rateLimited += max(b.rateLimited, 0)
            s.unavailable += max(b.unavailable, 0)
            s.timeout += max(b.timeout, 0)
            s.other += max(b.otherErrors, 0)
            s.retries += max(b.retries, 0)
            let p99 = ReportNumber.finite(b.p99Milliseconds)
            guard b.ok > 0 || p99 > 0 else { continue }
            s.hasLatency = true
            s.p50 = max(s.p50, ReportNumber.finite(b.p50Milliseconds))
            s.p95 = max(s.p95, ReportNumber.finite(b.p95Milliseconds))
            s.p99 = max(s.p99, p99)
        }
        return s
    }

    /// A backend's calls per second, merged with the same group size as the timeline so the
    /// values line up with the timeline's samples.
    static func backendRates(_ backend: BackendTraffic, timeline: [TimeBucket], bucket: Double) -> [Double] {
        let g = groupSize(timeline.count)
        let calls = backend.callsPerBucket
        var out: [Double] = []
        var i = 0
        while i < calls.count {
            let slice = calls[i..<min(i + g, calls.count)]
            let sum = slice.reduce(0.0) { $0 + Double(max($1, 0)) }
            out.append(sum / (Double(slice.count) * bucket))
            i += g
        }
        return out
    }
}
