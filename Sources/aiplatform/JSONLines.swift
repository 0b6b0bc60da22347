// The `--json` object printed for each seed: the figures a script needs, in a fixed member order.

import PlatformWire
import Simulation

enum JSONLines {
    static func seedObject(_ report: RunReport) -> JSONValue {
        func number(_ value: Double) -> JSONValue { .number(value, isInteger: false) }
        func integer(_ value: Int) -> JSONValue { .number(Double(value), isInteger: true) }
        let errors = JSONValue.object(report.requests.errors.map { ($0.kind, integer($0.count)) })
        return .object([
            ("scenario", .string(report.scenario)),
            ("seed", .number(Double(report.seed), isInteger: true)),
            ("sabotage", report.sabotage.map { .string($0) } ?? .null),
            ("events", integer(report.events)),
            ("simulatedSeconds", number(report.simulatedSeconds)),
            ("wallSeconds", number((report.wallSeconds * 1_000).rounded() / 1_000)),
            ("historyHash", .string(report.historyHash)),
            (
                "violations",
                .array(
                    report.violations.map {
                        .object([
                            ("invariant", .string($0.invariant)), ("time", number($0.time)),
                            ("detail", .string($0.detail)),
                        ])
                    })
            ),
            (
                "latency",
                .object([
                    ("p50", number(report.latency.p50)), ("p95", number(report.latency.p95)),
                    ("p99", number(report.latency.p99)),
                ])
            ),
            (
                "requests",
                .object([
                    ("total", integer(report.requests.total)), ("ok", integer(report.requests.ok)), ("errors", errors),
                ])
            ),
            ("sometimes", .object(report.sometimes.map { ($0.name, integer($0.hits)) })),
        ])
    }
}
