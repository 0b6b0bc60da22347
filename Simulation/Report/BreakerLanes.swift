// Circuit breakers as swim lanes on the shared time axis: one lane per breaker, green while
// closed, amber while half-open, red while open, so an engineer sees when traffic was cut off.

/// A breaker's phase, ordered by how bad it is (the worst wins when phases are merged).
enum BreakerPhase: Int, Comparable {
    case closed = 0
    case unknown, halfOpen, open

    init(_ name: String) {
        let key = String(name.lowercased().filter { $0 != "-" && $0 != "_" && $0 != " " })
        switch key {
        case "closed": self = .closed
        case "open": self = .open
        case "halfopen": self = .halfOpen
        default: self = .unknown
        }
    }

    static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    var cssClass: String { ["bk-closed", "bk-unknown", "bk-half", "bk-open"][rawValue] }
    var name: String { ["closed", "unknown", "half-open", "open"][rawValue] }
}

/// A stretch of time a breaker spent in one phase.
struct BreakerSegment: Equatable {
    var start: Double
    var end: Double
    var phase: BreakerPhase
}

enum BreakerLanes {
    static let maxLanes = 24
    /// Above this many segments a lane is drawn per pixel column (worst phase wins).
    static let maxExactSegments = 400
    static let pitch = 22.0
    static let laneHeight = 15.0

    /// The phases of one breaker from 0 to `tMax`: closed at 0, each transition lasting until
    /// the next one or the end of the run. Adjacent equal phases are merged.
    static func segments(_ track: BreakerTrack, tMax: Double) -> [BreakerSegment] {
        let moves = track.transitions.enumerated()
            .map {
                (
                    t: min(max(ReportNumber.finite($0.element.atSeconds), 0), tMax), i: $0.offset,
                    p: $0.element.phase
                )
            }
            .sorted { ($0.t, $0.i) < ($1.t, $1.i) }
        var out: [BreakerSegment] = []
        var phase = BreakerPhase.closed
        var since = 0.0
        func emit(until t: Double) {
            guard t > since else { return }
            if let last = out.last, last.phase == phase, last.end == since {
                out[out.count - 1].end = t
            } else {
                out.append(BreakerSegment(start: since, end: t, phase: phase))
            }
        }
        for m in moves {
            emit(until: m.t)
            phase = BreakerPhase(m.p)
            since = max(since, m.t)
        }
        emit(until: tMax)
        return out
    }

    /// Segments reduced to at most one per pixel column, keeping the worst phase per column.
    static func quantized(_ segs: [BreakerSegment], frame f: ChartFrame) -> [BreakerSegment] {
        guard segs.count > maxExactSegments, f.tMax > 0 else { return segs }
        let columns = Int(ChartFrame.plotWidth)
        let perColumn = f.tMax / Double(columns)
        var worst = [BreakerPhase](repeating: .closed, count: columns)
        for s in segs where s.phase != .closed {
            let a = min(max(Int(s.start / perColumn), 0), columns - 1)
            let b = min(max(ReportNumber.ceiling(s.end / perColumn) - 1, a), columns - 1)
            for c in a...b where worst[c] < s.phase { worst[c] = s.phase }
        }
        var out: [BreakerSegment] = []
        for (c, p) in worst.enumerated() {
            let t0 = Double(c) * perColumn
            if let last = out.last, last.phase == p {
                out[out.count - 1].end = t0 + perColumn
            } else {
                out.append(BreakerSegment(start: t0, end: t0 + perColumn, phase: p))
            }
        }
        return out
    }

    /// "opened 3× · open 25 s · half-open 2 s", or "never left closed".
    static func summary(_ segs: [BreakerSegment]) -> String {
        let opens = segs.filter { $0.phase == .open }
        let half = segs.filter { $0.phase == .halfOpen }
        guard !opens.isEmpty || !half.isEmpty else { return "never left closed" }
        let openTime = opens.reduce(0) { $0 + $1.end - $1.start }
        let halfTime = half.reduce(0) { $0 + $1.end - $1.start }
        return "opened \(opens.count)× · open \(ReportNumber.fixed(openTime, 1)) s · half-open "
            + ReportNumber.fixed(halfTime, 1) + " s"
    }
}

extension ChartContext {
    /// One swim lane per breaker (the most active ones when there are many).
    func breakerChart() -> String {
        var legend = [
            LegendItem(style: .area, color: "#9fd8b2", label: "closed"),
            LegendItem(style: .area, color: "#f2b134", label: "half-open"),
            LegendItem(style: .area, color: "#d64545", label: "open"),
        ]
        let tracks = report.breakers
        guard !tracks.isEmpty else {
            return section(
                id: "breakers", title: "Circuit breakers", note: "no circuit breakers in this run",
                legend: [], svg: "")
        }
        let all = tracks.map { BreakerLanes.segments($0, tMax: axis.tMax) }
        if all.contains(where: { $0.contains { $0.phase == .unknown } }) {
            legend.append(LegendItem(style: .area, color: "#9ca3af", label: "unknown phase"))
        }
        let activity = all.map { segs in segs.filter { $0.phase != .closed }.count }
        let chosen = tracks.indices.sorted { (-activity[$0], $0) < (-activity[$1], $1) }
            .prefix(BreakerLanes.maxLanes).sorted()
        let plotHeight = Double(chosen.count) * BreakerLanes.pitch + 4
        let f = ChartFrame(top: axis.top, plotHeight: plotHeight, tMax: axis.tMax, yMax: 1)
        var svg = SVGDraw.open(f, label: "Circuit breaker phases")
        for (row, i) in chosen.enumerated() {
            svg += lane(f, row: row, name: tracks[i].name, segs: all[i])
        }
        svg += axis.background(f) + axis.foreground(f) + SVGDraw.xAxis(f, scale: axis.scale) + "</svg>"
        var note = "phase of each breaker over time"
        let omitted = tracks.count - chosen.count
        if omitted > 0 {
            let quiet = tracks.indices.filter { activity[$0] == 0 && !chosen.contains($0) }.count
            note +=
                " · the \(chosen.count) most active of \(tracks.count) shown, \(omitted) omitted"
                + " (\(quiet) of them never left closed)"
        }
        return section(id: "breakers", title: "Circuit breakers", note: note, legend: legend, svg: svg)
    }

    private func lane(_ f: ChartFrame, row: Int, name: String, segs: [BreakerSegment]) -> String {
        let y = f.top + 4 + Double(row) * BreakerLanes.pitch
        let h = ReportNumber.px(BreakerLanes.laneHeight)
        let summary = BreakerLanes.summary(segs)
        let ly = ReportNumber.px(y + BreakerLanes.laneHeight / 2 + 4)
        var out =
            "<text class=\"lane\" x=\"\(ReportNumber.px(ChartFrame.left - 10))\" y=\"\(ly)\">"
            + HTMLText.escape(name, limit: 28) + "<title>" + HTMLText.escape(name + "\n" + summary)
            + "</title></text>"
        out +=
            "<rect class=\"bk-closed\" x=\"\(ReportNumber.px(ChartFrame.left))\" y=\"\(ReportNumber.px(y))\""
            + " width=\""
            + ReportNumber.px(ChartFrame.plotWidth) + "\" height=\"\(h)\"><title>"
            + HTMLText.escape(name + ": closed unless marked\n" + summary) + "</title></rect>"
        let drawn = BreakerLanes.quantized(segs, frame: f)
        let merged = drawn.count != segs.count || drawn != segs
        for s in drawn where s.phase != .closed {
            let x0 = f.x(s.start)
            let w = max(f.x(s.end) - x0, 1)
            let span = ReportNumber.seconds(s.start) + "–" + ReportNumber.seconds(s.end) + " s"
            let tip =
                "\(name): \(s.phase.name) \(merged ? "≈ " : "")\(span)"
                + " (\(ReportNumber.fixed(s.end - s.start, 1)) s)" + (merged ? ", short phases merged" : "")
            out +=
                "<rect class=\"\(s.phase.cssClass)\" x=\"\(ReportNumber.px(x0))\" y=\"\(ReportNumber.px(y))\""
                + " width=\""
                + ReportNumber.px(w) + "\" height=\"\(h)\"><title>" + HTMLText.escape(tip) + "</title></rect>"
        }
        return out
    }
}
