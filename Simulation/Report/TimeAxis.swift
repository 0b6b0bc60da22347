// The time axis every chart of the report shares: the run's span, its ticks, and the fault
// windows, safety-phase end and recovery band drawn on each chart so cause and effect line up.

/// The shared x axis plus the annotations (fault bands, safety end, recovery bound).
struct TimeAxis {
    struct Band {
        var start: Double
        var end: Double
        var label: String
        var tooltip: String
        /// The label's row in the strip above the plot; nil when there was no room for it.
        var row: Int?
    }

    static let maxFaultBands = 300
    static let maxLabelRows = 3
    static let rowHeight = 13.0

    let tMax: Double
    let scale: NiceScale
    private(set) var faults: [Band]
    private(set) var recovery: Band?
    let safetyEnd: Double?
    private(set) var rows = 0

    /// Height above the plot that holds the band labels.
    var top: Double { 8 + Double(max(rows, 1)) * Self.rowHeight }

    init(report: RunReport, bucketSeconds: Double) {
        tMax = Self.span(report, bucketSeconds: bucketSeconds)
        scale = NiceScale(maximum: tMax, targetTicks: 12)
        let end = ReportNumber.finite(report.safetyEndSeconds)
        safetyEnd = end > 0 ? min(end, tMax) : nil
        faults = report.faults.prefix(Self.maxFaultBands).map { w in
            let s = ReportNumber.finite(w.startSeconds)
            let e = max(s, ReportNumber.finite(w.endSeconds))
            let range = ReportNumber.seconds(s) + "–" + ReportNumber.seconds(e) + " s"
            return Band(
                start: s, end: e, label: w.kind + " " + w.target,
                tooltip: "fault: \(w.kind) on \(w.target), \(range)")
        }
        let bound = ReportNumber.finite(report.recoveryBoundSeconds)
        if let safetyEnd {
            let b = max(bound, 0)
            recovery = Band(
                start: safetyEnd, end: safetyEnd + b,
                label: "faults off · recover ≤ \(ReportNumber.seconds(b)) s",
                tooltip: "safety phase ends at \(ReportNumber.seconds(safetyEnd)) s; the system must "
                    + "converge within \(ReportNumber.seconds(b)) s "
                    + "(by \(ReportNumber.seconds(safetyEnd + b)) s)")
        }
        layoutLabels()
    }

    /// The run's length in seconds: the longest of the simulated time and the timeline, never 0.
    private static func span(_ r: RunReport, bucketSeconds: Double) -> Double {
        var t = max(ReportNumber.finite(r.simulatedSeconds), 0)
        if let last = r.timeline.last { t = max(t, ReportNumber.finite(last.startSeconds) + bucketSeconds) }
        if t > 0 { return min(t, 1e12) }
        let ends = r.faults.map { ReportNumber.finite($0.endSeconds) } + [ReportNumber.finite(r.safetyEndSeconds)]
        let m = ends.max() ?? 0
        return m > 0 ? min(m, 1e12) : 1
    }

    /// Gives each label the first row where it does not overlap the previous label; the
    /// recovery label goes first so it is never crowded out by fault labels.
    private mutating func layoutLabels() {
        let f = ChartFrame(top: 0, plotHeight: 1, tMax: tMax, yMax: 1)
        var rowEnds: [Double] = []
        func place(_ band: Band) -> Int? {
            let width = Double(min(band.label.count, 48)) * 6.6 + 14
            let x0 = min(f.x(band.start), f.plotRight - width)
            if let r = rowEnds.firstIndex(where: { $0 <= x0 }) {
                rowEnds[r] = x0 + width
                return r
            }
            guard rowEnds.count < Self.maxLabelRows else { return nil }
            rowEnds.append(x0 + width)
            return rowEnds.count - 1
        }
        if let rec = recovery { recovery?.row = place(rec) }
        let order = faults.indices.sorted { (faults[$0].start, $0) < (faults[$1].start, $1) }
        for i in order { faults[i].row = place(faults[i]) }
        rows = rowEnds.count
    }

    /// Fault and recovery bands, drawn behind the data.
    func background(_ f: ChartFrame) -> String {
        var out = ""
        if let rec = recovery, rec.end > rec.start {
            out += band(f, rec, cls: "recov")
        }
        for b in faults { out += band(f, b, cls: "fault") }
        return out
    }

    private func band(_ f: ChartFrame, _ b: Band, cls: String) -> String {
        let x0 = f.x(b.start)
        let w = max(f.x(b.end) - x0, 1.5)
        let y0 = b.row.map { 2 + Double($0) * Self.rowHeight } ?? f.top
        return "<rect class=\"\(cls)\" x=\"\(ReportNumber.px(x0))\" y=\"\(ReportNumber.px(y0))\" width=\""
            + ReportNumber.px(w) + "\" height=\"\(ReportNumber.px(f.plotBottom - y0))\"><title>"
            + HTMLText.escape(b.tooltip) + "</title></rect>"
    }

    /// The safety-end line and the band labels, drawn over the data.
    func foreground(_ f: ChartFrame) -> String {
        var out = ""
        if let safetyEnd {
            let x = ReportNumber.px(f.x(safetyEnd))
            let y0 = recovery?.row.map { 2 + Double($0) * Self.rowHeight } ?? f.top
            out +=
                "<line class=\"safety\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(ReportNumber.px(y0))\" y2=\""
                + ReportNumber.px(f.plotBottom) + "\"/>"
        }
        for b in faults { out += label(f, b, cls: "flabel") }
        if let rec = recovery { out += label(f, rec, cls: "rlabel") }
        return out
    }

    private func label(_ f: ChartFrame, _ b: Band, cls: String) -> String {
        guard let row = b.row else { return "" }
        let width = Double(min(b.label.count, 48)) * 6.6 + 14
        let x = min(f.x(b.start), f.plotRight - width) + 4
        let y = 2 + Double(row) * Self.rowHeight + 10
        return "<text class=\"\(cls)\" x=\"\(ReportNumber.px(x))\" y=\"\(ReportNumber.px(y))\">"
            + HTMLText.escape(b.label, limit: 48) + "<title>" + HTMLText.escape(b.tooltip) + "</title></text>"
    }

    /// Tooltip lines naming the faults active between `start` and `end`.
    func activeFaults(from start: Double, to end: Double) -> String {
        let hits = faults.filter { $0.start < end && $0.end > start }
        guard !hits.isEmpty else { return "" }
        var lines = hits.prefix(3).map { "\n⚠ " + $0.label }
        if hits.count > 3 { lines.append("\n⚠ … \(hits.count - 3) more faults") }
        return lines.joined()
    }
}
