// Escaping and number formatting for the HTML report. Every string from a run report is
// scenario-controlled text, and every number is printed by hand so the same report always
// gives the same bytes (no locale, no platform float printing, NaN and infinity shown as 0).

enum HTMLText {
    /// `text` with `& < > " '` replaced by entities and control characters (other than tab
    /// and newline) by U+FFFD: safe in element content and in quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x20 || (0x7F...0x9F).contains(v) {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Escaped, and shortened to at most `limit` characters with an ellipsis when it was cut.
    static func escape(_ text: String, limit: Int) -> String {
        guard text.count > limit, limit > 1 else { return escape(text) }
        return escape(String(text.prefix(limit - 1))) + "…"
    }
}

enum ReportNumber {
    /// The value, or 0 when it is NaN or infinite.
    static func finite(_ value: Double) -> Double {
        value.isFinite ? value : 0
    }

    /// `value` with exactly `decimals` decimals (0...6), optionally with thousands separators.
    static func fixed(_ value: Double, _ decimals: Int, grouping: Bool = false) -> String {
        let places = max(0, min(decimals, 6))
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let limit = 9.0e15 / Double(scale)
        let x = max(-limit, min(limit, finite(value)))
        let n = Int64(x.magnitude * Double(scale) + 0.5)
        let whole = n / scale
        var text = grouping ? grouped(Int(whole)) : String(whole)
        if x < 0 && n != 0 { text = "-" + text }
        if places > 0 {
            let frac = String(n % scale)
            text += "." + String(repeating: "0", count: places - frac.count) + frac
        }
        return text
    }

    /// The smallest integer at or above `value`, for non-negative values below 2^53 (written out
    /// so the module needs no C maths library: `Double.rounded` links libm on Linux).
    static func ceiling(_ value: Double) -> Int {
        let v = min(max(finite(value), 0), 9.0e15)
        let whole = Int(v)
        return Double(whole) < v ? whole + 1 : whole
    }

    /// At most `maxDecimals` decimals, trailing zeros (and a trailing dot) removed.
    static func trimmed(_ value: Double, maxDecimals: Int) -> String {
        var text = fixed(value, maxDecimals)
        guard text.contains(".") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// An integer with thousands separators: 1,234,567.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = n < 0 ? "-" : ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    /// `part / total` in percent with one decimal; never rounds a partial share to 0 or 100.
    /// Plain text (it may contain `<` or `>`): escape it before putting it in HTML.
    static func percent(_ part: Int, of total: Int) -> String {
        guard total > 0 else { return "–" }
        let text = fixed(100 * Double(part) / Double(total), 1)
        if part != total && text == "100.0" { return ">99.9%" }
        if part != 0 && text == "0.0" { return "<0.1%" }
        return text + "%"
    }

    /// Milliseconds with precision that suits the magnitude: 1.23, 12.3, 123, 1,234.
    static func ms(_ value: Double) -> String {
        let v = finite(value)
        if v.magnitude >= 100 { return fixed(v, 0, grouping: true) }
        return fixed(v, v.magnitude >= 10 ? 1 : 2)
    }

    /// Simulated seconds: up to three decimals, trailing zeros dropped.
    static func seconds(_ value: Double) -> String {
        trimmed(value, maxDecimals: 3)
    }

    /// An SVG coordinate (one decimal keeps the page small and the lines crisp enough).
    static func px(_ value: Double) -> String {
        trimmed(value, maxDecimals: 1)
    }
}
