// `aiplatform bench`: the simulator's speed against its peer measured in the same process, one
// after the other, so a noisy shared machine moves both figures together: the bare event queue
// (SchedulerBaseline) and full runs of a scenario.

import Foundation
import PlatformCore
import Simulation

enum BenchCommand {
    static func main(_ arguments: [String]) -> Int32 {
        var path = "scenarios/steady-state.json"
        var seedCount: UInt64 = 3
        var index = 0
        while index < arguments.count {
            if arguments[index] == "--seeds", index + 1 < arguments.count, let count = UInt64(arguments[index + 1]),
                count >= 1, count <= 100
            {
                seedCount = count
                index += 2
            } else if arguments[index].hasPrefix("-") {
                SimCommand.fail(
                    "aiplatform bench: unknown option \(arguments[index]) (usage: bench [SCENARIO.json] [--seeds N])")
                return 2
            } else {
                path = arguments[index]
                index += 1
            }
        }
        let scenario: Scenario
        do {
            scenario = try Scenario.load(json: try String(contentsOfFile: path, encoding: .utf8), file: path)
        } catch {
            SimCommand.fail("aiplatform bench: \(error)")
            return 2
        }
        let clock = ContinuousClock()
        var simulatedEvents = 0
        var batchJobs = 0
        var simulatedSeconds = 0.0
        let simulationStart = clock.now
        for seed in UInt64(1)...seedCount {
            let outcome = Simulator(scenario: scenario, seed: seed).run()
            simulatedEvents += outcome.report.events
            batchJobs += outcome.batchJobsAccepted
        }
        simulatedSeconds = seconds(clock.now - simulationStart)
        let baselineStart = clock.now
        let checksum = SchedulerBaseline.run(events: simulatedEvents)
        let baselineSeconds = seconds(clock.now - baselineStart)
        let simulationRate = Double(simulatedEvents) / simulatedSeconds
        let baselineRate = Double(simulatedEvents) / baselineSeconds
        print("scenario=\(scenario.name) seeds=1..\(seedCount) events=\(simulatedEvents)")
        print("simulation: \(Int(simulationRate)) events/s (\(SimCommand.format(simulatedSeconds, 3)) s)")
        let baselineTime = SimCommand.format(baselineSeconds, 3)
        print("bare event queue (peer): \(Int(baselineRate)) events/s (\(baselineTime) s, checksum \(checksum % 1000))")
        print("ratio simulation/peer: \(SimCommand.format(simulationRate / baselineRate, 3))")
        if batchJobs > 0 {
            print(
                "batch jobs accepted and run: \(batchJobs), \(Int(Double(batchJobs) / simulatedSeconds)) jobs "
                    + "per wall-clock second on one core"
            )
            benchAllCores(scenario, seedCount: seedCount)
        }
        return 0
    }

    /// Runs seeds side by side on every core, as `sim --seeds` does, for the batch throughput the machine
    /// gives a multi-seed run (at least four seeds per core, so no core idles at the end).
    static func benchAllCores(_ scenario: Scenario, seedCount: UInt64) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let seeds = Array(UInt64(1)...max(seedCount, UInt64(4 * cores)))
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = SimCommand.runBatch(scenario, seeds, [])
        let elapsed = seconds(clock.now - start)
        let jobs = outcomes.reduce(0) { $0 + $1.batchJobsAccepted }
        print(
            "on all \(cores) cores, seeds 1..\(seeds.count) side by side: \(jobs) jobs in "
                + "\(SimCommand.format(elapsed, 3)) s, \(Int(Double(jobs) / elapsed)) jobs per wall-clock second")
    }

    static func seconds(_ duration: Swift.Duration) -> Double {
        let components = duration.components
        return Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
