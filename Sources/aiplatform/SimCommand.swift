// `aiplatform sim`: runs a scenario for one or many seeds (several at once on the machine's
// cores), prints a line or a JSON object per seed in seed order, a summary, optional reports,
// and the exit status that CI and people act on.

import Foundation
import PlatformCore
import Simulation

enum SimCommand {
    static func main(_ arguments: [String]) -> Int32 {
        let options: SimOptions
        do {
            options = try SimOptions.parse(arguments)
        } catch {
            fail("aiplatform sim: \(error)")
            return 2
        }
        let scenario: Scenario
        do {
            let text = try String(contentsOfFile: options.scenarioPath, encoding: .utf8)
            scenario = try Scenario.load(json: text, file: options.scenarioPath)
        } catch let error as ScenarioError {
            fail("aiplatform sim: \(error)")
            return 2
        } catch {
            fail("aiplatform sim: \(options.scenarioPath): cannot read the file (\(error.localizedDescription))")
            return 2
        }
        if options.checkDeterminism { return DeterminismCheck.run(options) }
        if let path = options.historyOut { return HistoryWriter.run(scenario, options, path: path) }
        return runSeeds(scenario, options)
    }

    static func fail(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func runSeeds(_ scenario: Scenario, _ options: SimOptions) -> Int32 {
        let seeds = Array(options.seeds)
        let jobs = options.jobs > 0 ? options.jobs : max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let showProgress = isatty(2) == 1 && seeds.count > 1
        var summary = Summary(scenario: scenario, options: options)
        var position = 0
        while position < seeds.count {
            let batch = Array(seeds[position..<min(position + jobs, seeds.count)])
            let outcomes = runBatch(scenario, batch, options.sabotage)
            for outcome in outcomes {
                if options.json {
                    print(JSONLines.seedObject(outcome.report).serialized())
                } else {
                    print(line(outcome))
                }
                summary.add(outcome)
            }
            position += batch.count
            if showProgress {
                FileHandle.standardError.write(
                    Data("\r\u{1B}[K[\(position)/\(seeds.count)] seeds run, \(summary.failedSeeds.count) failed".utf8))
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        fflush(nil)
        if let directory = options.reportDirectory, let chosen = summary.reportOutcome {
            do {
                try ReportWriter.write(chosen.report, to: directory)
                fail("report for seed \(chosen.report.seed) written to \(directory)/report.html and report.json")
            } catch {
                fail("aiplatform sim: cannot write the report to \(directory): \(error.localizedDescription)")
                return 2
            }
        }
        summary.print(json: options.json)
        return summary.failedSeeds.isEmpty ? 0 : 1
    }

    static func runBatch(_ scenario: Scenario, _ seeds: [UInt64], _ sabotage: Sabotage) -> [RunOutcome] {
        let results = ResultSlots(count: seeds.count)
        DispatchQueue.concurrentPerform(iterations: seeds.count) { index in
            let clock = ContinuousClock()
            let start = clock.now
            let simulator = Simulator(scenario: scenario, seed: seeds[index], sabotage: sabotage)
            var outcome = simulator.run()
            let elapsed = clock.now - start
            let components = elapsed.components
            outcome.report.wallSeconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
            results.set(index, outcome)
        }
        return results.values()
    }

    static func line(_ outcome: RunOutcome) -> String {
        let report = outcome.report
        return "seed=\(report.seed) events=\(report.events) sim_s=\(format(report.simulatedSeconds, 1)) "
            + "wall_s=\(format(report.wallSeconds, 3)) hash=\(report.historyHash) violations=\(outcome.violationCount)"
            + (report.violations.first.map { " first=\($0.invariant)" } ?? "")
    }

    static func format(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }
}

/// Results of concurrently run seeds, kept in seed order.
final class ResultSlots: @unchecked Sendable {
    // Safe: every slot is written by exactly one iteration, under the lock, and read after all finish.
    private let lock = NSLock()
    private var slots: [RunOutcome?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ outcome: RunOutcome) {
        lock.lock()
        slots[index] = outcome
        lock.unlock()
    }

    func values() -> [RunOutcome] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
