// Renders a run report as one self-contained HTML page for the on-call engineer: verdict and
// how to reproduce first, then violations, headline figures, time charts and tables.

/// The HTML rendering of a `RunReport`.
public enum HTMLReport {
    /// A self-contained HTML page (inline CSS and SVG, no scripts fetched, no external
    /// fonts/images) for one run. The same report always renders to the same bytes.
    public static func render(_ report: RunReport) -> String {
        let charts = ChartContext(report: report)
        var page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        page +=
            "<title>" + (report.violations.isEmpty ? "PASS" : "FAIL") + " · "
            + HTMLText.escape(report.scenario) + " · seed \(report.seed)</title>"
        page += "<style>\n" + HTMLStyle.css + "\n</style></head>\n<body><main>\n"
        page += header(report)
        page += HTMLTables.violations(report)
        page += HTMLTables.batch(report)
        page += HTMLTables.registry(report)
        page += HTMLTables.canary(report)
        page += tiles(report)
        page += "<h2>Timeline</h2>" + (report.timeline.isEmpty ? "" : annotationLegend(charts))
        if report.timeline.isEmpty {
            page +=
                "<section class=\"card\"><p class=\"empty\">This run recorded no timeline buckets, so there "
                + "are no latency, throughput, error, retry or backend charts.</p></section>\n"
            page += charts.breakerChart()
        } else {
            page += charts.latencyChart() + charts.throughputChart() + charts.errorRateChart()
            page += charts.retriesChart() + charts.breakerChart() + charts.backendChart()
        }
        page += "<h2>Details</h2>"
        page += HTMLTables.keys(report)
        page += "<div class=\"pair\">" + HTMLTables.sometimes(report) + HTMLTables.faults(report) + "</div>\n"
        page +=
            "<footer>aiplatform chaos simulator · run report · scenario "
            + HTMLText.escape(report.scenario) + " · seed \(report.seed)</footer>\n"
        return page + "</main></body></html>\n"
    }

    /// The command that replays this run.
    static func reproduceCommand(_ r: RunReport) -> String {
        var cmd = "aiplatform sim scenarios/\(r.scenario).json --seed \(r.seed)"
        if let s = r.sabotage { cmd += " --sabotage \(s)" }
        return cmd
    }

    private static func header(_ r: RunReport) -> String {
        let pass = r.violations.isEmpty
        let n = r.violations.count
        let verdict =
            pass
            ? "<span class=\"badge pass\">PASS</span><span class=\"muted\">no invariant violated</span>"
            : "<span class=\"badge fail\">FAIL</span><span class=\"muted\">\(ReportNumber.grouped(n)) invariant "
                + (n == 1 ? "violation" : "violations") + "</span>"
        var out =
            "<header class=\"card\"><div class=\"title-row\"><h1>" + HTMLText.escape(r.scenario) + "</h1>"
            + verdict + "</div>"
        if !r.description.isEmpty { out += "<p class=\"desc\">" + HTMLText.escape(r.description, limit: 4000) + "</p>" }
        var meta: [(String, String, Bool)] = [("seed", "<span class=\"mono\">\(r.seed)</span>", false)]
        if let s = r.sabotage {
            meta.append(("sabotage", "<span class=\"sabotage\">" + HTMLText.escape(s) + "</span>", false))
        }
        meta += [
            ("events", ReportNumber.grouped(r.events), false),
            ("simulated", ReportNumber.fixed(r.simulatedSeconds, 1, grouping: true) + " s", false),
            ("wall clock", ReportNumber.fixed(r.wallSeconds, 2, grouping: true) + " s", false),
            ("faults off at", ReportNumber.seconds(r.safetyEndSeconds) + " s", false),
            ("recovery bound", ReportNumber.seconds(r.recoveryBoundSeconds) + " s", false),
            (
                "history hash",
                "<span class=\"mono\">" + (r.historyHash.isEmpty ? "–" : HTMLText.escape(r.historyHash))
                    + "</span>", true
            ),
        ]
        out += "<dl class=\"meta\">"
        for (k, v, wide) in meta {
            out += (wide ? "<div class=\"wide\">" : "<div>") + "<dt>\(k)</dt><dd>\(v)</dd></div>"
        }
        out +=
            "</dl><div class=\"repro\"><span>reproduce with</span><code>"
            + HTMLText.escape(reproduceCommand(r)) + "</code></div></header>\n"
        return out
    }

    private static func tile(_ key: String, _ value: String, _ sub: String, bad: Bool = false) -> String {
        "<div class=\"tile\(bad ? " bad" : "")\"><div class=\"k\">\(key)</div><div class=\"v\">\(value)</div>"
            + "<div class=\"s\">\(sub)</div></div>"
    }

    private static func tiles(_ r: RunReport) -> String {
        let total = r.requests.total
        let ok = r.requests.ok
        let span = ReportNumber.finite(r.simulatedSeconds)
        let perSecond = span > 0 ? " · " + ReportNumber.fixed(Double(total) / span, 1, grouping: true) + "/s" : ""
        var out = "<section class=\"tiles\">"
        out += tile("Requests", ReportNumber.grouped(total), "ended during the run" + perSecond)
        out += tile(
            "Succeeded", HTMLText.escape(ReportNumber.percent(ok, of: total)),
            "\(ReportNumber.grouped(ok)) ok · \(ReportNumber.grouped(max(total - ok, 0))) failed")
        let slo = ReportNumber.finite(r.sloP99Milliseconds)
        let figures = [("p50", r.latency.p50), ("p95", r.latency.p95), ("p99", r.latency.p99)]
        for (name, value) in figures {
            out += latencyTile(name, ReportNumber.finite(value), slo: slo, judged: name == "p99", noData: ok == 0)
        }
        return out + errorsTile(r) + "</section>\n"
    }

    private static func latencyTile(_ name: String, _ v: Double, slo: Double, judged: Bool, noData: Bool) -> String {
        guard !noData else { return tile("Latency \(name)", "–", "no successful requests") }
        guard slo > 0 else { return tile("Latency \(name)", ReportNumber.ms(v) + " ms", "no SLO set") }
        let share = ReportNumber.fixed(100 * v / slo, 0) + "% of SLO " + ReportNumber.ms(slo) + " ms"
        guard judged else { return tile("Latency \(name)", ReportNumber.ms(v) + " ms", share) }
        let sub =
            v <= slo
            ? "<span class=\"good\">within SLO</span> " + ReportNumber.ms(slo) + " ms"
            : "<span class=\"bad-text\">over SLO</span> " + ReportNumber.ms(slo) + " ms (×"
                + ReportNumber.fixed(v / slo, 2) + ")"
        return tile("Latency \(name)", ReportNumber.ms(v) + " ms", sub, bad: v > slo)
    }

    private static func errorsTile(_ r: RunReport) -> String {
        let total = r.requests.total
        let failed = r.requests.errors.reduce(0) { $0 + max($1.count, 0) }
        guard !r.requests.errors.isEmpty else {
            return tile("Errors", "0", "no error kinds reported")
        }
        var rows = ""
        for e in r.requests.errors {
            let zero = e.count == 0 ? " class=\"zero\"" : ""
            rows +=
                "<tr\(zero)><td>" + HTMLText.escape(e.kind) + "</td><td class=\"num mono\">\(e.status)</td>"
                + "<td class=\"num\">" + ReportNumber.grouped(e.count) + "</td><td class=\"num\">"
                + HTMLText.escape(ReportNumber.percent(e.count, of: total)) + "</td></tr>"
        }
        return "<div class=\"tile\"><div class=\"k\">Errors by kind · \(ReportNumber.grouped(failed)) total</div>"
            + "<table><thead><tr><th>kind</th><th class=\"num\">HTTP</th><th class=\"num\">count</th>"
            + "<th class=\"num\">of all</th></tr></thead><tbody>" + rows + "</tbody></table></div>"
    }

    private static func annotationLegend(_ c: ChartContext) -> String {
        func key(_ swatch: String, _ style: String, _ text: String) -> String {
            "<span class=\"key\"><i class=\"sw \(swatch)\" style=\"\(style)\"></i>\(text)</span>"
        }
        var items = [key("band", "background:rgba(228,87,46,.22)", "fault window")]
        if c.axis.safetyEnd != nil {
            items.append(key("dash", "--c:#334155", "safety phase ends (faults off)"))
            items.append(key("band", "background:rgba(59,130,246,.18)", "recovery bound"))
        }
        items.append("<span>time in simulated seconds, shared by all charts · hover a chart for exact values</span>")
        return "<div class=\"anno\">" + items.joined() + "</div>\n"
    }
}
