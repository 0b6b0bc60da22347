// The report's time charts: latency against the SLO, throughput by outcome, error rate,
// retries and calls per backend. Each is an inline SVG on the shared time axis.

extension ChartContext {
    var groupNote: String {
        group > 1 ? " · each point merges \(group) buckets (\(ReportNumber.seconds(Double(group) * bucket)) s)" : ""
    }

    /// Latency percentiles of successful requests over time, with the SLO as a dashed line.
    func latencyChart() -> String {
        let slo = max(ReportNumber.finite(report.sloP99Milliseconds), 0)
        let peak = samples.filter(\.hasLatency).map(\.p99).max() ?? 0
        let scale = NiceScale(maximum: max(peak, slo) * 1.08, targetTicks: 4)
        let series: [(String, String, KeyPath<TimelineSample, Double>)] = [
            ("p50", Palette.p50, \.p50), ("p95", Palette.p95, \.p95), ("p99", Palette.p99, \.p99),
        ]
        let svg = timeChart(
            label: "Latency over time", scale: scale,
            body: { f in
                var out = ""
                for (_, color, key) in series {
                    out += SVGDraw.line(
                        runs(f) { samples[$0].hasLatency ? samples[$0][keyPath: key] : nil }, color: color)
                }
                guard slo > 0 else { return out }
                let y = f.y(slo)
                let sloLine: [SVGDraw.Point] = [(ChartFrame.left, y), (f.plotRight, y)]
                out += SVGDraw.line([sloLine], color: Palette.slo, width: 1.4, dashed: true)
                let ty = y - 5 < f.top + 10 ? y + 13 : y - 5
                return out + "<text class=\"slolabel\" x=\"\(ReportNumber.px(f.plotRight - 4))\" y=\""
                    + ReportNumber.px(ty) + "\">SLO p99 \(ReportNumber.ms(slo)) ms</text>"
            },
            tip: { i in
                let s = samples[i]
                guard s.hasLatency else { return "no successful requests" }
                return "p50 \(ReportNumber.ms(s.p50)) ms · p95 \(ReportNumber.ms(s.p95)) ms"
                    + " · p99 \(ReportNumber.ms(s.p99)) ms"
                    + (slo > 0 && s.p99 > slo ? "  ▲ over SLO" : "")
            })
        var legend = series.map { LegendItem(style: .line, color: $0.1, label: $0.0) }
        if slo > 0 { legend.append(LegendItem(style: .dash, color: Palette.slo, label: "SLO p99")) }
        let note =
            "milliseconds, successful requests; gaps = no successes"
            + (group > 1 ? groupNote + ", worst shown" : "")
        return section(id: "latency", title: "Latency", note: note, legend: legend, svg: svg)
    }

    /// Outcome layers of the throughput chart, bottom to top.
    var outcomeLayers: [(label: String, color: String, count: KeyPath<TimelineSample, Int>)] {
        func named(_ name: String, _ kinds: [String]) -> String {
            let s = status(kinds)
            return s.isEmpty ? name : "\(name) \(s)"
        }
        return [
            ("ok", Palette.ok, \.ok),
            (named("rate limited", ["rateLimited"]), Palette.rateLimited, \.rateLimited),
            (named("unavailable", ["unavailable"]), Palette.unavailable, \.unavailable),
            (named("timeout", ["timeout"]), Palette.timeout, \.timeout),
            (named("other", ["badRequest", "unauthorized", "forbidden"]), Palette.other, \.other),
        ]
    }

    /// Requests per second ending in each bucket, ok and each error kind stacked.
    func throughputChart() -> String {
        let layers = outcomeLayers
        let totals = samples.map { s in s.rate(layers.reduce(0) { $0 + s[keyPath: $1.count] }) }
        let scale = NiceScale(maximum: (totals.max() ?? 0) * 1.05, targetTicks: 4)
        let svg = timeChart(
            label: "Throughput over time", scale: scale,
            body: { f in
                var out = ""
                var below = [Double](repeating: 0, count: samples.count)
                for layer in layers {
                    let above = samples.indices.map { below[$0] + samples[$0].rate(samples[$0][keyPath: layer.count]) }
                    if above != below, let upper = runs(f, { above[$0] }).first,
                        let lower = runs(f, { below[$0] }).first
                    {
                        out += SVGDraw.area(upper: upper, lower: lower, color: layer.color, opacity: 0.85)
                    }
                    below = above
                }
                return out
            },
            tip: { i in
                let s = samples[i]
                var parts = ["total \(Self.rate(s.rate(s.requests)))"]
                for layer in layers where s[keyPath: layer.count] > 0 {
                    parts.append("\(layer.label) \(Self.rate(s.rate(s[keyPath: layer.count])))")
                }
                return parts.joined(separator: " · ")
            })
        let legend = layers.map { LegendItem(style: .area, color: $0.color, label: $0.label) }
        let note = "requests per second by outcome, stacked" + groupNote
        return section(id: "throughput", title: "Throughput", note: note, legend: legend, svg: svg)
    }

    /// A single filled series (error rate, retries): area plus line, gaps where `value` is nil.
    func singleSeriesChart(
        id: String, title: String, note: String, color: String, legend: String, maximum: Double,
        value: @escaping (TimelineSample) -> Double?, tip: @escaping (TimelineSample) -> String
    ) -> String {
        let scale = NiceScale(maximum: maximum, targetTicks: 4)
        let svg = timeChart(
            label: title + " over time", scale: scale,
            body: { f in
                let lines = runs(f) { value(samples[$0]) }
                var out = ""
                for run in lines {
                    out += SVGDraw.area(upper: run, lower: baseline(f, run), color: color, opacity: 0.16)
                }
                return out + SVGDraw.line(lines, color: color)
            }, tip: { tip(samples[$0]) })
        return section(
            id: id, title: title, note: note + groupNote,
            legend: [LegendItem(style: .area, color: color, label: legend)], svg: svg)
    }

    /// Failed requests as a percentage of the requests that ended in each bucket.
    func errorRateChart() -> String {
        let peak = samples.compactMap(\.errorPercent).max() ?? 0
        return singleSeriesChart(
            id: "errors", title: "Error rate", note: "% of requests that failed; gaps = no requests",
            color: Palette.errorRate, legend: "failed %", maximum: min(max(peak * 1.1, 1), 100),
            value: { $0.errorPercent },
            tip: { s in
                guard s.requests > 0 else { return "no requests" }
                let counts = "(\(ReportNumber.grouped(s.failed)) of \(ReportNumber.grouped(s.requests)))"
                return ReportNumber.percent(s.failed, of: s.requests) + " failed " + counts
            })
    }

    /// Retries the orchestrators sent, per second.
    func retriesChart() -> String {
        let peak = samples.map { $0.rate($0.retries) }.max() ?? 0
        return singleSeriesChart(
            id: "retries", title: "Retries", note: "retries sent by orchestrators per second",
            color: Palette.retries, legend: "retries/s", maximum: peak * 1.1,
            value: { $0.rate($0.retries) },
            tip: { s in "\(Self.rate(s.rate(s.retries))) retries (\(ReportNumber.grouped(s.retries)))" })
    }

    /// Most backends drawn as lines; the busiest are kept.
    static let maxBackendLines = 10

    /// Calls per second each backend received, one line per backend.
    func backendChart() -> String {
        let backends = report.backends
        let rates = backends.map { TimelineSampler.backendRates($0, timeline: report.timeline, bucket: bucket) }
        let totals = rates.map { $0.reduce(0, +) }
        let chosen = backends.indices.sorted { (-totals[$0], $0) < (-totals[$1], $1) }
            .prefix(Self.maxBackendLines).sorted()
        let color = { (n: Int) in Palette.series[n % Palette.series.count] }
        let peak = chosen.compactMap { rates[$0].max() }.max() ?? 0
        let scale = NiceScale(maximum: peak * 1.08, targetTicks: 4)
        let svg = timeChart(
            label: "Calls per backend over time", scale: scale,
            body: { f in
                guard !chosen.isEmpty else { return SVGDraw.noData(f, "no backends in this run") }
                var out = ""
                for (n, b) in chosen.enumerated() {
                    out += SVGDraw.line(runs(f) { $0 < rates[b].count ? rates[b][$0] : nil }, color: color(n))
                }
                return out
            },
            tip: { i in
                chosen.map { b in backends[b].name + " " + Self.rate(i < rates[b].count ? rates[b][i] : 0) }
                    .joined(separator: "\n")
            })
        let legend = chosen.enumerated().map { n, b in
            LegendItem(
                style: .line, color: color(n),
                label: "\(backends[b].name) · \(backends[b].model) v\(backends[b].version)")
        }
        var note = "calls received per second"
        if backends.count > chosen.count {
            note += " · the \(chosen.count) busiest of \(backends.count) backends shown"
        }
        return section(id: "backends", title: "Calls per backend", note: note + groupNote, legend: legend, svg: svg)
    }
}
