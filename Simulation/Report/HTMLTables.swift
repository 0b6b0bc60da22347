// The report's tables: invariant violations (shown first when a run failed), per-API-key
// figures, sometimes-properties and fault windows. Long lists are capped to keep pages small.

enum HTMLTables {
    static let maxRows = 200
    /// Violations shown before the rest are folded away.
    static let firstRows = 12

    /// A table from a header row and body rows; cells are already HTML.
    /// Headers starting with "#" are right-aligned numeric columns.
    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        let numeric = headers.map { $0.hasPrefix("#") }
        var out = "<table><thead><tr>"
        for (h, isNum) in zip(headers, numeric) {
            let text = HTMLText.escape(isNum ? String(h.dropFirst()) : h)
            out += (isNum ? "<th class=\"num\">" : "<th>") + text + "</th>"
        }
        out += "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>"
            for (i, cell) in row.enumerated() {
                let isNum = i < numeric.count && numeric[i]
                out += (isNum ? "<td class=\"num\">" : "<td>") + cell + "</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table>"
    }

    static func more(_ total: Int, shown: Int, what: String) -> String {
        total > shown ? "<p class=\"more\">\(ReportNumber.grouped(total - shown)) more \(what) not shown.</p>" : ""
    }

    /// Violations in time order; empty when the run broke no invariant.
    static func violations(_ r: RunReport) -> String {
        guard !r.violations.isEmpty else { return "" }
        let ordered = r.violations.indices.sorted {
            (ReportNumber.finite(r.violations[$0].time), $0) < (ReportNumber.finite(r.violations[$1].time), $1)
        }
        let rows = ordered.prefix(maxRows).map { i -> [String] in
            let v = r.violations[i]
            return [
                "<strong>" + HTMLText.escape(v.invariant) + "</strong>",
                ReportNumber.fixed(v.time, 3) + " s",
                "<span class=\"mono\">" + HTMLText.escape(v.detail, limit: 600) + "</span>",
            ]
        }
        let n = r.violations.count
        let headers = ["invariant", "#time", "detail"]
        var body = table(headers, Array(rows.prefix(firstRows)))
        if rows.count > firstRows {
            body +=
                "<details><summary>Show \(rows.count - firstRows) more</summary>"
                + table(headers, Array(rows.dropFirst(firstRows))) + "</details>"
        }
        return "<section class=\"card violations\" id=\"violations\"><h2>\(ReportNumber.grouped(n)) invariant "
            + (n == 1 ? "violation" : "violations") + "</h2>" + body
            + more(n, shown: rows.count, what: "violations") + "</section>\n"
    }

    /// Requests, successes, rate limiting and p99 per API key.
    static func keys(_ r: RunReport) -> String {
        let slo = ReportNumber.finite(r.sloP99Milliseconds)
        let rows = r.keys.prefix(maxRows).map { k -> [String] in
            let p99 = ReportNumber.finite(k.p99Milliseconds)
            let over = slo > 0 && p99 > slo
            return [
                "<span class=\"mono\">" + HTMLText.escape(k.key, limit: 120) + "</span>",
                ReportNumber.grouped(k.requests), ReportNumber.grouped(k.ok),
                HTMLText.escape(ReportNumber.percent(k.ok, of: k.requests)),
                k.rateLimited > 0 ? ReportNumber.grouped(k.rateLimited) : "<span class=\"zero\">0</span>",
                (over ? "<span class=\"bad-text\">" : "<span>") + ReportNumber.ms(p99) + " ms</span>",
            ]
        }
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">No API keys in this run.</p>"
            : table(["key", "#requests", "#ok", "#ok %", "#rate limited", "#p99"], rows)
        return "<section class=\"card\" id=\"keys\"><h2>Per API key</h2>" + body
            + more(r.keys.count, shown: rows.count, what: "keys") + "</section>\n"
    }

    /// How the batch jobs ended, when the run had a batch path.
    static func batch(_ r: RunReport) -> String {
        guard let b = r.batch else { return "" }
        func cell(_ value: Int, bad: Bool = false) -> String {
            value == 0
                ? "<span class=\"zero\">0</span>"
                : (bad ? "<span class=\"bad-text\">" : "<span>")
                    + ReportNumber.grouped(value) + "</span>"
        }
        let row = [
            cell(b.accepted), cell(b.succeeded), cell(b.failed), cell(b.cancelled), cell(b.deadLettered),
            cell(b.unfinished, bad: true), cell(b.backlogAtFaultsEnd), cell(b.completedAfterFaults), cell(b.brokerLag),
            cell(b.orphansCollected),
        ]
        let headers = [
            "#accepted (202)", "#succeeded", "#failed", "#cancelled", "#dead-lettered", "#unfinished",
            "#backlog at faults end", "#done after", "#broker lag", "#orphans collected",
        ]
        return "<section class=\"card\" id=\"batch\"><h2>Batch jobs</h2>" + table(headers, [row]) + "</section>\n"
    }

    /// How the gateways' registry caches answered, when the run had registry traffic.
    static func registry(_ r: RunReport) -> String {
        guard let g = r.registry else { return "" }
        let row = [
            ReportNumber.grouped(g.lookups), ReportNumber.grouped(g.hits), ReportNumber.grouped(g.misses),
            ReportNumber.grouped(g.staleServed), ReportNumber.grouped(g.unavailable),
            HTMLText.escape(ReportNumber.percent(Int(g.hitRatePartsPerMillion), of: 1_000_000)),
            ReportNumber.grouped(g.writesRefused),
        ]
        let headers = [
            "#lookups", "#hits", "#misses", "#served stale", "#unavailable", "cache hit rate", "#writes refused",
        ]
        return "<section class=\"card\" id=\"registry\"><h2>Registry cache</h2>" + table(headers, [row])
            + "</section>\n"
    }

    /// The canary controller's audit log: every decision with its evidence.
    static func canary(_ r: RunReport) -> String {
        guard let decisions = r.canaryDecisions else { return "" }
        let rows = decisions.prefix(maxRows).map { d -> [String] in
            let final = d.verdict.hasPrefix("promoted") || d.verdict.hasPrefix("rolled back")
            return [
                JSONSeconds.format(Int64(d.atSeconds * 1e9)),
                (final ? "<strong>" : "<span>") + HTMLText.escape(d.verdict, limit: 80)
                    + (final ? "</strong>" : "</span>"),
                "\(d.canaryWeightBasisPoints / 100)%",
                "\(ReportNumber.grouped(Int(d.stableSamples))) / \(ReportNumber.grouped(Int(d.stableFailures)))",
                "\(ReportNumber.grouped(Int(d.canarySamples))) / \(ReportNumber.grouped(Int(d.canaryFailures)))",
                ReportNumber.ms(d.stableP95Ms) + " / " + ReportNumber.ms(d.canaryP95Ms) + " ms",
                ReportNumber.fixed(Double(d.errorZMilli) / 1000, 2) + " / "
                    + ReportNumber.fixed(Double(d.errorThresholdMilli) / 1000, 2),
                "\(d.latencyExceedances) / \(d.latencyCriticalCount)",
                "\(d.excessFailures) / \(d.errorAllowance)",
            ]
        }
        let headers = [
            "time", "decision", "canary weight", "stable n / failed", "canary n / failed", "p95 stable / canary",
            "error z / threshold", "slow / critical", "excess failures / allowance",
        ]
        let body = rows.isEmpty ? "<p class=\"empty\">No decisions.</p>" : table(headers, Array(rows))
        return "<section class=\"card\" id=\"canary\"><h2>Canary analysis (audit log)</h2>" + body
            + more(decisions.count, shown: rows.count, what: "decisions") + "</section>\n"
    }

    /// Sometimes-properties: states the scenario wants reached, and whether this run did.
    static func sometimes(_ r: RunReport) -> String {
        let rows = r.sometimes.prefix(maxRows).map { p -> [String] in
            [
                HTMLText.escape(p.name, limit: 200), ReportNumber.grouped(p.hits),
                p.hits > 0 ? "<span class=\"hit\">✔ hit</span>" : "<span class=\"miss\">✘ not hit</span>",
            ]
        }
        let hit = r.sometimes.filter { $0.hits > 0 }.count
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">The scenario lists no sometimes-properties.</p>"
            : table(["property", "#hits", "reached"], rows)
        let count = r.sometimes.isEmpty ? "" : " · \(hit) of \(r.sometimes.count) reached"
        return "<section class=\"card\" id=\"sometimes\"><h2>Sometimes-properties\(count)</h2>" + body
            + more(r.sometimes.count, shown: rows.count, what: "properties") + "</section>\n"
    }

    /// The injected fault windows in time order.
    static func faults(_ r: RunReport) -> String {
        let ordered = r.faults.indices.sorted {
            (ReportNumber.finite(r.faults[$0].startSeconds), $0) < (ReportNumber.finite(r.faults[$1].startSeconds), $1)
        }
        let rows = ordered.prefix(maxRows).map { i -> [String] in
            let w = r.faults[i]
            let s = ReportNumber.finite(w.startSeconds)
            let e = ReportNumber.finite(w.endSeconds)
            return [
                "<strong>" + HTMLText.escape(w.kind, limit: 60) + "</strong>",
                "<span class=\"mono\">" + HTMLText.escape(w.target, limit: 120) + "</span>",
                ReportNumber.seconds(s) + " s", ReportNumber.seconds(e) + " s",
                ReportNumber.seconds(max(e - s, 0)) + " s",
            ]
        }
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">No faults were injected.</p>"
            : table(["kind", "target", "#start", "#end", "#duration"], rows)
        return "<section class=\"card\" id=\"faults\"><h2>Fault windows</h2>" + body
            + more(r.faults.count, shown: rows.count, what: "fault windows") + "</section>\n"
    }
}
