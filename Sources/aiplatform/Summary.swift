// The many-seed summary: how many seeds passed, which invariants broke in which seeds (with the
// command that reproduces the first), how often each "sometimes" property was reached, and the
// simulator's speed.

import Foundation
import PlatformCore
import PlatformWire
import Simulation

struct Summary {
    let scenario: Scenario
    let options: SimOptions
    var seeds = 0
    var events = 0
    var simulatedSeconds = 0.0
    var wallSeconds = 0.0
    var failedSeeds: [UInt64] = []
    var invariantSeeds: [String: [UInt64]] = [:]
    var sometimesSeeds: [Int]
    var firstOutcome: RunOutcome?
    var firstFailure: RunOutcome?

    init(scenario: Scenario, options: SimOptions) {
        self.scenario = scenario
        self.options = options
        sometimesSeeds = Array(repeating: 0, count: scenario.sometimes.count)
    }

    /// The run whose report `--report` writes: the first failing seed, else the first seed.
    var reportOutcome: RunOutcome? { firstFailure ?? firstOutcome }

    mutating func add(_ outcome: RunOutcome) {
        seeds += 1
        events += outcome.report.events
        simulatedSeconds += outcome.report.simulatedSeconds
        wallSeconds += outcome.report.wallSeconds
        if firstOutcome == nil { firstOutcome = outcome }
        if outcome.violationCount > 0 {
            failedSeeds.append(outcome.report.seed)
            if firstFailure == nil { firstFailure = outcome }
            var names: [String] = []
            for violation in outcome.report.violations where !names.contains(violation.invariant) {
                names.append(violation.invariant)
            }
            for name in names { invariantSeeds[name, default: []].append(outcome.report.seed) }
        }
        for (index, property) in outcome.report.sometimes.enumerated() where property.hits > 0 {
            sometimesSeeds[index] += 1
        }
    }

    func print(json: Bool) {
        let eventsPerSecond = wallSeconds > 0 ? Double(events) / wallSeconds : 0
        let invariants = invariantSeeds.keys.sorted()
        if json {
            let object = JSONValue.object([
                ("summary", .bool(true)),
                ("scenario", .string(scenario.name)),
                ("seeds", .number(Double(seeds), isInteger: true)),
                ("failedSeeds", .array(failedSeeds.map { .number(Double($0), isInteger: true) })),
                ("brokenInvariants", .array(invariants.map { .string($0) })),
                (
                    "sometimes",
                    .object(
                        scenario.sometimes.enumerated().map {
                            ($1, .number(Double(sometimesSeeds[$0]), isInteger: true))
                        })
                ),
                ("eventsPerWallSecond", .number(eventsPerSecond.rounded(), isInteger: true)),
            ])
            Swift.print(object.serialized())
            return
        }
        var lines: [String] = []
        let verdict = failedSeeds.isEmpty ? "PASS" : "FAIL"
        lines.append(
            "summary: \(verdict) scenario=\(scenario.name) seeds=\(seeds) failed=\(failedSeeds.count) events=\(events) "
                + "sim_s=\(SimCommand.format(simulatedSeconds, 1)) wall_s=\(SimCommand.format(wallSeconds, 2)) "
                + "events_per_wall_s=\(Int(eventsPerSecond))")
        for name in invariants {
            let list = invariantSeeds[name]!
            let shown = list.prefix(10).map(String.init).joined(separator: ",") + (list.count > 10 ? ",…" : "")
            lines.append("  broken: \(name) in \(list.count) seed(s): \(shown)")
        }
        if let failure = firstFailure {
            if let violation = failure.report.violations.first {
                lines.append(
                    "  first: seed=\(failure.report.seed) \(violation.invariant) at "
                        + "\(SimCommand.format(violation.time, 3))s: \(violation.detail)"
                )
            }
            let sabotage = options.sabotageName.map { " --sabotage \($0)" } ?? ""
            lines.append(
                "  reproduce with: aiplatform sim \(options.scenarioPath) --seed \(failure.report.seed)\(sabotage)")
        }
        for (index, name) in scenario.sometimes.enumerated() {
            let mark = sometimesSeeds[index] == 0 ? "  (never reached: the scenario may not exercise its fault)" : ""
            lines.append("  sometimes: \(name) reached in \(sometimesSeeds[index])/\(seeds) seeds\(mark)")
        }
        Swift.print(lines.joined(separator: "\n"))
    }
}
