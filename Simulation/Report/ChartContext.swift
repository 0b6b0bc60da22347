// What every time chart of the report shares: the sampled timeline, the time axis with its
// annotations, the colour palette, and the frame (grid, bands, axis, tooltips) around a chart.

enum Palette {
    static let p50 = "#9cbbe3"
    static let p95 = "#4a7fc1"
    static let p99 = "#1d3f73"
    static let slo = "#d64545"
    static let ok = "#3f9d63"
    static let rateLimited = "#f0a030"
    static let unavailable = "#d64545"
    static let timeout = "#8e5cc9"
    static let other = "#8a94a6"
    static let errorRate = "#d64545"
    static let retries = "#1f8fa0"
    static let series = [
        "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756",
        "#2a9d8f", "#c9a227", "#9d755d", "#ff6fa0", "#6b6ecf",
    ]
}

/// The sampled run plus the helpers that frame each time chart.
struct ChartContext {
    let report: RunReport
    let bucket: Double
    let axis: TimeAxis
    let samples: [TimelineSample]
    /// Timeline buckets per sample (1 unless the run was long).
    let group: Int

    init(report: RunReport) {
        self.report = report
        bucket = TimelineSampler.bucketSeconds(report)
        axis = TimeAxis(report: report, bucketSeconds: bucket)
        samples = TimelineSampler.samples(report, bucket: bucket)
        group = TimelineSampler.groupSize(report.timeline.count)
    }

    /// A chart card: heading, note, legend and the SVG.
    func section(id: String, title: String, note: String, legend: [LegendItem], svg: String) -> String {
        "<section class=\"card chart\" id=\"\(id)\"><div class=\"chart-head\"><h3>\(HTMLText.escape(title))</h3>"
            + "<span class=\"note\">\(HTMLText.escape(note))</span><div class=\"legend\">"
            + legend.map(\.html).joined() + "</div></div>" + svg + "</section>\n"
    }

    /// An SVG time chart: bands behind, grid, `body`, safety line and labels, time axis, and a
    /// hover column per sample whose tooltip is `tip(i)` under the sample's time range.
    func timeChart(label: String, scale: NiceScale, body: (ChartFrame) -> String, tip: (Int) -> String) -> String {
        let f = ChartFrame(top: axis.top, plotHeight: 160, tMax: axis.tMax, yMax: scale.end)
        var out = SVGDraw.open(f, label: label)
        out += axis.background(f)
        out += SVGDraw.yGrid(f, scale: scale)
        out += samples.isEmpty ? SVGDraw.noData(f, "no timeline buckets in this run") : body(f)
        out += axis.foreground(f)
        out += SVGDraw.xAxis(f, scale: axis.scale)
        if !samples.isEmpty {
            let spans = samples.map { (start: $0.start, end: $0.end) }
            out += SVGDraw.hoverColumns(f, spans: spans) { i in
                let s = samples[i]
                return timeRange(s) + "\n" + tip(i) + axis.activeFaults(from: s.start, to: s.end)
            }
        }
        return out + "</svg>"
    }

    /// "t 60–61 s", with the bucket count when samples merge several buckets.
    func timeRange(_ s: TimelineSample) -> String {
        let merged = group > 1 ? " (\(group) buckets)" : ""
        return "t " + ReportNumber.seconds(s.start) + "–" + ReportNumber.seconds(s.end) + " s" + merged
    }

    /// Pixel points for each run of samples that have a value; a run starts at its first
    /// sample's start and ends at its last sample's end so single buckets still show.
    func runs(_ f: ChartFrame, _ value: (Int) -> Double?) -> [[SVGDraw.Point]] {
        var out: [[SVGDraw.Point]] = []
        var current: [SVGDraw.Point] = []
        var lastValue = 0.0
        func close(_ i: Int) {
            guard !current.isEmpty else { return }
            current.append((f.x(samples[i - 1].end), f.y(lastValue)))
            out.append(current)
            current = []
        }
        for i in samples.indices {
            guard let v = value(i).map(ReportNumber.finite) else {
                close(i)
                continue
            }
            if current.isEmpty { current.append((f.x(samples[i].start), f.y(v))) }
            current.append((f.x(samples[i].mid), f.y(v)))
            lastValue = v
        }
        close(samples.count)
        return out
    }

    /// The same runs dropped to the zero line, to close areas under a line.
    func baseline(_ f: ChartFrame, _ run: [SVGDraw.Point]) -> [SVGDraw.Point] {
        run.map { ($0.x, f.plotBottom) }
    }

    /// "503" for an error kind, from the report's error list; "" when the kind is not listed.
    func status(_ kinds: [String]) -> String {
        let codes = kinds.compactMap { k in report.requests.errors.first { $0.kind == k }.map { String($0.status) } }
        return codes.joined(separator: "/")
    }

    /// A rate per second with one decimal.
    static func rate(_ v: Double) -> String {
        ReportNumber.fixed(v, v.magnitude >= 100 ? 0 : 1, grouping: true) + "/s"
    }
}
