// The drawing kit for the report's charts: one time axis shared by every chart, "nice" tick
// steps, and the few SVG primitives (grid, lines, areas, hover columns) the charts are made of.

/// Where a chart's plot sits inside its SVG and how values map to pixels.
struct ChartFrame {
    static let width = 1160.0
    static let left = 200.0
    static let right = 24.0
    static let bottom = 24.0
    var top: Double
    var plotHeight: Double
    var tMax: Double
    var yMax: Double

    var height: Double { top + plotHeight + Self.bottom }
    static var plotWidth: Double { width - left - right }
    var plotBottom: Double { top + plotHeight }
    var plotRight: Double { Self.width - Self.right }

    /// The x pixel of a time in seconds, clamped to the plot.
    func x(_ t: Double) -> Double {
        let f = tMax > 0 ? ReportNumber.finite(t) / tMax : 0
        return Self.left + min(max(f, 0), 1) * Self.plotWidth
    }

    /// The y pixel of a value, clamped to the plot.
    func y(_ v: Double) -> Double {
        let f = yMax > 0 ? ReportNumber.finite(v) / yMax : 0
        return plotBottom - min(max(f, 0), 1) * plotHeight
    }
}

/// A tick step of 1, 2 or 5 × 10^k, how many decimals its labels need, and the axis end.
struct NiceScale {
    let step: Double
    let decimals: Int
    /// The first multiple of `step` at or above the maximum (at least one step).
    let end: Double

    init(maximum: Double, targetTicks: Int) {
        let given = min(max(ReportNumber.finite(maximum), 0), 1e15)
        let m = given > 0 ? given : 1
        let raw = m / Double(max(targetTicks, 1))
        var mag = 1.0
        var dec = 0
        while mag * 10 <= raw { mag *= 10 }
        while mag > raw && dec < 12 {
            mag /= 10
            dec += 1
        }
        let f = raw / mag
        let mult: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10
        step = mult * mag
        decimals = mult == 10 ? max(0, dec - 1) : dec
        end = Double(max(ReportNumber.ceiling(m / step - 1e-9), 1)) * step
    }

    /// Tick values from 0 up to `limit` (default: the axis end).
    func ticks(upTo limit: Double? = nil) -> [Double] {
        let top = limit ?? end
        let count = min(Int(min(max(top / step + 1e-9, 0), 60)), 60)
        return (0...max(count, 0)).map { Double($0) * step }
    }

    func label(_ v: Double) -> String {
        ReportNumber.fixed(v, decimals, grouping: true)
    }
}

/// A legend entry drawn in HTML above a chart.
struct LegendItem {
    enum Style: String { case line, dash, area }
    var style: Style
    var color: String
    var label: String

    var html: String {
        "<span class=\"key\"><i class=\"sw \(style.rawValue)\" style=\"--c:\(color)\"></i>"
            + HTMLText.escape(label) + "</span>"
    }
}

enum SVGDraw {
    typealias Point = (x: Double, y: Double)

    static func open(_ f: ChartFrame, label: String) -> String {
        let h = ReportNumber.px(f.height)
        return "<svg class=\"plot\" viewBox=\"0 0 \(Int(ChartFrame.width)) \(h)\" role=\"img\" aria-label=\""
            + HTMLText.escape(label) + "\">"
    }

    /// Horizontal grid lines with value labels left of the plot.
    static func yGrid(_ f: ChartFrame, scale: NiceScale) -> String {
        var out = ""
        let l = ReportNumber.px(ChartFrame.left)
        let r = ReportNumber.px(f.plotRight)
        for v in scale.ticks() {
            let y = ReportNumber.px(f.y(v))
            out += "<line class=\"grid\" x1=\"\(l)\" x2=\"\(r)\" y1=\"\(y)\" y2=\"\(y)\"/>"
            let ty = ReportNumber.px(f.y(v) + 4)
            out +=
                "<text class=\"yt\" x=\"\(ReportNumber.px(ChartFrame.left - 8))\" y=\"\(ty)\">"
                + scale.label(v) + "</text>"
        }
        return out
    }

    /// The time axis under the plot: baseline, ticks and labels in seconds.
    static func xAxis(_ f: ChartFrame, scale: NiceScale) -> String {
        let base = ReportNumber.px(f.plotBottom)
        var out =
            "<line class=\"axis\" x1=\"\(ReportNumber.px(ChartFrame.left))\" x2=\""
            + ReportNumber.px(f.plotRight) + "\" y1=\"\(base)\" y2=\"\(base)\"/>"
        for t in scale.ticks(upTo: f.tMax) {
            let x = ReportNumber.px(f.x(t))
            out +=
                "<line class=\"axis\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(base)\" y2=\""
                + ReportNumber.px(f.plotBottom + 4) + "\"/>"
            out +=
                "<text class=\"xt\" x=\"\(x)\" y=\"\(ReportNumber.px(f.plotBottom + 16))\">"
                + scale.label(t) + "</text>"
        }
        out +=
            "<text class=\"yt\" x=\"\(ReportNumber.px(ChartFrame.left - 20))\" y=\""
            + ReportNumber.px(f.plotBottom + 16) + "\">time (s)</text>"
        return out
    }

    /// A line through each run of points (runs are separated where data is missing).
    static func line(_ runs: [[Point]], color: String, width: Double = 1.6, dashed: Bool = false) -> String {
        var d = ""
        for run in runs where !run.isEmpty {
            for (i, p) in run.enumerated() {
                d += (i == 0 ? "M" : "L") + ReportNumber.px(p.x) + " " + ReportNumber.px(p.y)
            }
        }
        guard !d.isEmpty else { return "" }
        let dash = dashed ? " stroke-dasharray=\"6 4\"" : ""
        return "<path class=\"ln\" d=\"\(d)\" stroke=\"\(color)\" stroke-width=\"\(ReportNumber.px(width))\"\(dash)/>"
    }

    /// A filled band between an upper and a lower edge sharing the same x positions.
    static func area(upper: [Point], lower: [Point], color: String, opacity: Double) -> String {
        guard upper.count > 1, upper.count == lower.count else { return "" }
        var pts = ""
        for p in upper + lower.reversed() {
            pts += ReportNumber.px(p.x) + "," + ReportNumber.px(p.y) + " "
        }
        pts.removeLast()
        return "<polygon points=\"\(pts)\" fill=\"\(color)\" fill-opacity=\"\(ReportNumber.fixed(opacity, 2))\"/>"
    }

    /// Invisible full-height columns, one per time span, whose `<title>` is the tooltip.
    static func hoverColumns(_ f: ChartFrame, spans: [(start: Double, end: Double)], tip: (Int) -> String) -> String {
        var out = "<g class=\"hv\">"
        let top = ReportNumber.px(f.top)
        let h = ReportNumber.px(f.plotHeight)
        for (i, s) in spans.enumerated() {
            let x0 = f.x(s.start)
            let w = max(f.x(s.end) - x0, 1)
            out +=
                "<rect x=\"\(ReportNumber.px(x0))\" y=\"\(top)\" width=\"\(ReportNumber.px(w))\" height=\"\(h)\">"
                + "<title>" + HTMLText.escape(tip(i)) + "</title></rect>"
        }
        return out + "</g>"
    }

    /// A centred grey message inside an empty plot.
    static func noData(_ f: ChartFrame, _ message: String) -> String {
        let x = ReportNumber.px(ChartFrame.left + ChartFrame.plotWidth / 2)
        let y = ReportNumber.px(f.top + f.plotHeight / 2 + 4)
        return "<text class=\"nodata\" x=\"\(x)\" y=\"\(y)\">" + HTMLText.escape(message) + "</text>"
    }
}
