// Short in-process runs: a healthy scenario breaks nothing, runs are repeatable within a process
// (the cross-process check lives in SimulationProcessTests), and the report is filled in.

import PlatformCore
import Testing

@testable import Simulation

@Suite struct InProcessRunTests {
    func tinyScenario() throws -> Scenario {
        try Scenario.load(
            json: """
                {"name": "tiny", "durationSeconds": 8, "faultsEndSeconds": 2, "recoveryBoundSeconds": 2,
                 "backends": [{"name": "b1"}, {"name": "b2"}],
                 "models": [{"name": "m", "versions": [{"version": 1, "backends": ["b1", "b2"]}]}],
                 "keys": [{"name": "k", "requestsPerMinute": 600000, "burst": 1000}],
                 "workload": [{"key": "k", "requestsPerSecond": 200}]}
                """, file: "tiny.json")
    }

    @Test func healthyRunBreaksNothing() throws {
        let outcome = Simulator(scenario: try tinyScenario(), seed: 7).run()
        #expect(outcome.violationCount == 0, "\(outcome.report.violations)")
        #expect(outcome.report.requests.total > 1_000)
        #expect(outcome.report.requests.ok == outcome.report.requests.total)
        #expect(outcome.report.latency.p50 > 0)
    }

    @Test func sameSeedSameHistoryDifferentSeedDifferentHistory() throws {
        let scenario = try tinyScenario()
        let first = Simulator(scenario: scenario, seed: 11).run()
        let again = Simulator(scenario: scenario, seed: 11).run()
        let other = Simulator(scenario: scenario, seed: 12).run()
        #expect(first.historyHash == again.historyHash)
        #expect(first.report.events == again.report.events)
        #expect(first.historyHash != other.historyHash)
    }

    @Test func lostReplySabotageIsCaughtInProcess() throws {
        let outcome = Simulator(scenario: try tinyScenario(), seed: 1, sabotage: .lostReply).run()
        #expect(outcome.report.violations.contains { $0.invariant == "exactly-one-response" })
    }

    /// The scenario file shipped under `scenarios/`.
    func shipped(_ name: String) throws -> Scenario {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let text = try String(contentsOfFile: "/" + path + "/scenarios/\(name).json", encoding: .utf8)
        return try Scenario.load(json: text, file: name + ".json")
    }

    @Test func theReportCarriesTheCanaryAuditLogAndTheRegistryCache() throws {
        let canary = Simulator(scenario: try shipped("canary-bad"), seed: 1).run().report
        let decisions = try #require(canary.canaryDecisions)
        #expect(decisions.first?.verdict == "started")
        #expect(decisions.last?.verdict.hasPrefix("rolled back") == true)
        #expect(decisions.last.map { $0.canarySamples > 0 && $0.errorThresholdMilli > 0 } == true)
        let registry = try #require(Simulator(scenario: try shipped("registry-outage"), seed: 1).run().report.registry)
        #expect(registry.lookups == registry.hits + registry.misses)
        #expect(registry.hitRatePartsPerMillion > 0 && registry.staleServed > 0 && registry.writesRefused > 0)
        #expect(Simulator(scenario: try tinyScenario(), seed: 1).run().report.canaryDecisions == nil)
    }
}
