// Merges every reactor's shard and writes the Prometheus text exposition format, version 0.0.4. The output is a
// function of the recorded values only: families sorted by name and series by label values, never hash order, so
// two scrapes of the same state are byte-identical and tests can compare exact text.

/// Renders the `/metrics` body.
public enum MetricsExposition {
    /// The Content-Type to serve the body with.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The exposition of all shards (which must share `registry`) merged: counters and histogram buckets summed,
    /// gauges merged as each family's `GaugeMerge` says.
    public static func render(shards: [MetricsShard], registry: MetricsRegistry) -> [UInt8] {
        // The registry first, then each shard in turn: never two locks at once, so a reactor waits at most for one
        // shard's copy.
        let (definitions, labelNames, labelValues) = registry.state.withLock {
            ($0.families, $0.schemaNames, $0.labelValues)
        }
        var merged = definitions.map { MergedFamily(definition: $0) }
        for shard in shards {
            precondition(shard.registry === registry, "a shard of another registry was passed to render")
            let families = shard.snapshot()
            for index in families.indices where index < merged.count {
                merged[index].merge(families[index], labelSetCount: labelValues[Int(families[index].schema)].count)
            }
        }
        merged.sort { $0.definition.name.utf8.lexicographicallyPrecedes($1.definition.name.utf8) }
        var output: [UInt8] = []
        output.reserveCapacity(4096 + 256 * merged.count)
        for family in merged {
            let schema = Int(family.definition.schema.index)
            family.write(into: &output, labelNames: labelNames[schema], labelValues: labelValues[schema])
        }
        return output
    }
}

/// One family's series summed over shards.
struct MergedFamily {
    struct SeriesKey: Hashable {
        var labels: Int32
        var code: Int32
    }

    struct Series {
        var value: Double = 0
        var denominator: Double = 0
        var sequence: UInt64 = 0
        var buckets: [UInt64] = []
        var sum: Double = 0
    }

    let definition: MetricFamilyDefinition
    var series: [SeriesKey: Series] = [:]

    init(definition: MetricFamilyDefinition) {
        self.definition = definition
    }

    mutating func merge(_ cells: FamilyCells, labelSetCount: Int) {
        // Label sets interned after the registry was read are left for the next scrape: their values are unknown.
        for labels in cells.cells.indices where labels < labelSetCount {
            for cell in cells.cells[labels] {
                let key = SeriesKey(labels: Int32(labels), code: cell.code)
                if let existing = series[key] {
                    series[key] = combine(existing, cell)
                } else {
                    series[key] = Series(value: cell.value, denominator: cell.denominator, sequence: cell.sequence)
                }
            }
        }
        // A shard grows its histogram arrays up to the highest label set it saw; the sets below it that it never
        // observed are all zeros and are not series.
        for labels in cells.sums.indices where labels < labelSetCount {
            let counts = cells.buckets(of: labels)
            guard counts.contains(where: { $0 != 0 }) else { continue }
            let key = SeriesKey(labels: Int32(labels), code: FamilyCells.noCode)
            var total = series[key] ?? Series(buckets: Array(repeating: 0, count: counts.count))
            for (bucket, count) in zip(total.buckets.indices, counts) {
                total.buckets[bucket] &+= count
            }
            total.sum += cells.sums[labels]
            series[key] = total
        }
    }

    private func combine(_ existing: Series, _ cell: MetricCell) -> Series {
        var result = existing
        switch definition.kind {
        case .counter, .gauge(.sum): result.value += cell.value
        case .gauge(.maximum): result.value = max(result.value, cell.value)
        case .gauge(.lastSet):
            if cell.sequence > result.sequence {
                result.value = cell.value
                result.sequence = cell.sequence
            }
        case .gauge(.ratioOfSums):
            result.value += cell.value
            result.denominator += cell.denominator
        case .histogram: preconditionFailure("histogram \(definition.name) holds counter cells")
        }
        return result
    }

    func write(into output: inout [UInt8], labelNames: [String], labelValues: [[String]]) {
        output += "# HELP \(definition.name) ".utf8
        appendEscaped(definition.help, into: &output, quote: false)
        output += "\n# TYPE \(definition.name) ".utf8
        var all = series
        switch definition.kind {
        case .counter: output += "counter\n".utf8
        case .gauge: output += "gauge\n".utf8
        case .histogram(let bounds):
            output += "histogram\n".utf8
            if definition.schema == .unlabelled, all.isEmpty {
                all[SeriesKey(labels: 0, code: FamilyCells.noCode)] = Series(
                    buckets: Array(repeating: 0, count: bounds.count + 1))
            }
        }
        // A family without labels always has its one sample, so a dashboard sees 0 rather than no data.
        if definition.schema == .unlabelled, definition.codeLabel == nil, all.isEmpty {
            all[SeriesKey(labels: 0, code: FamilyCells.noCode)] = Series()
        }
        let ordered = all.sorted { left, right in
            let leftValues = labelValues[Int(left.key.labels)]
            let rightValues = labelValues[Int(right.key.labels)]
            if leftValues != rightValues {
                return leftValues.lexicographicallyPrecedes(rightValues) {
                    $0.utf8.lexicographicallyPrecedes($1.utf8)
                }
            }
            return left.key.code < right.key.code
        }
        for (key, series) in ordered {
            var labels: [(String, String)] = Array(zip(labelNames, labelValues[Int(key.labels)]))
            if let codeLabel = definition.codeLabel {
                labels.append((codeLabel, String(key.code)))
            }
            writeSeries(series, labels: labels, into: &output)
        }
    }

    private func writeSeries(_ series: Series, labels: [(String, String)], into output: inout [UInt8]) {
        let name = definition.name
        switch definition.kind {
        case .counter, .gauge(.sum), .gauge(.maximum), .gauge(.lastSet):
            writeSample(name, labels, series.value, into: &output)
        case .gauge(.ratioOfSums):
            writeSample(name, labels, series.denominator > 0 ? series.value / series.denominator : 0, into: &output)
        case .histogram(let bounds):
            var cumulative: UInt64 = 0
            for (index, count) in series.buckets.enumerated() {
                cumulative &+= count
                let bound = index < bounds.count ? formatNumber(bounds[index]) : "+Inf"
                writeSample(name + "_bucket", labels + [("le", bound)], Double(cumulative), into: &output)
            }
            writeSample(name + "_sum", labels, series.sum, into: &output)
            writeSample(name + "_count", labels, Double(cumulative), into: &output)
        }
    }

    private func writeSample(_ name: String, _ labels: [(String, String)], _ value: Double, into output: inout [UInt8])
    {
        output += name.utf8
        if !labels.isEmpty {
            output.append(UInt8(ascii: "{"))
            for (index, (labelName, labelValue)) in labels.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                output += labelName.utf8
                output += "=\"".utf8
                appendEscaped(labelValue, into: &output, quote: true)
                output.append(UInt8(ascii: "\""))
            }
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: " "))
        output += formatNumber(value).utf8
        output.append(UInt8(ascii: "\n"))
    }
}

/// The text format's escaping: backslash and newline everywhere, and the double quote inside label values (HELP
/// text must leave quotes alone, or the parser would read `\"` back as two characters).
func appendEscaped(_ text: String, into output: inout [UInt8], quote: Bool) {
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\\"): output += "\\\\".utf8
        case UInt8(ascii: "\n"): output += "\\n".utf8
        case UInt8(ascii: "\"") where quote: output += "\\\"".utf8
        default: output.append(byte)
        }
    }
}

/// A sample value or bucket bound as Prometheus reads it: integers without a fraction (counts read naturally, and
/// `le="1"` matches what other clients write), other values in Swift's shortest round-trip form, and the spellings
/// Go's parser accepts for infinities and NaN.
func formatNumber(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
    return "\(value)"
}
