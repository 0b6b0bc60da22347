// The production host drops a machine timer its machine calls dead (`timerIsLive` false) instead of feeding it.
// That is only sound if a dead timer does nothing at all: no action now and no state that changes anything later.
// Shipped scenarios with faults, retries, backoffs, breakers, limiter outages and canaries are run twice per seed,
// feeding every timer and dropping the dead ones: no dead timer may act, and both runs must report the same.

import PlatformCore
import Testing

@testable import Simulation

@Suite struct DeadTimerTests {
    func shipped(_ name: String) throws -> Scenario {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let text = try String(contentsOfFile: "/" + path + "/scenarios/\(name).json", encoding: .utf8)
        return try Scenario.load(json: text, file: name + ".json")
    }

    /// The report without what differs by construction: events fed, history and wall time.
    func comparable(_ report: RunReport) -> RunReport {
        var report = report
        report.events = 0
        report.historyHash = ""
        report.wallSeconds = 0
        return report
    }

    @Test(arguments: [
        "retry-storm", "backend-crash-restart", "slow-backend", "limiter-outage-fail-open",
        "limiter-outage-fail-closed", "network-partition", "canary-bad", "clock-skew",
    ])
    func deadTimersDoNothing(_ name: String) throws {
        let scenario = try shipped(name)
        for seed: UInt64 in [1] {
            let feeding = Simulator(scenario: scenario, seed: seed)
            let fed = feeding.run()
            #expect(feeding.timerCounts.dead > 0, "\(name) seed \(seed): no dead timer was ever fired")
            #expect(feeding.timerCounts.deadActed == 0, "\(name) seed \(seed): a timer called dead acted")
            let dropping = Simulator(scenario: scenario, seed: seed)
            dropping.dropsDeadTimers = true
            let dropped = dropping.run()
            #expect(dropping.timerCounts.dead == feeding.timerCounts.dead)
            #expect(comparable(fed.report) == comparable(dropped.report), "\(name) seed \(seed)")
        }
    }
}
