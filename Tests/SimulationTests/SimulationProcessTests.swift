// End-to-end properties of the simulator, through the command line in separate processes:
// every shipped scenario passes seeds 1..50, histories are identical across processes and differ
// across seeds, every sabotage is caught by its scenario within 20 seeds, and bad input exits 2.

import Foundation
import Testing

@Suite struct SimulationProcessTests {
    static let scenarios = [
        "steady-state", "backend-crash-restart", "slow-backend", "network-partition", "canary-split", "retry-storm",
        "noisy-neighbour", "clock-skew", "worker-crash-mid-job", "rebalance-storm", "postgres-outage",
        "object-store-flaky", "duplicate-submit", "drain-on-shutdown", "backlog-burst", "mixed-batch-realtime",
        "zombie-worker", "limiter-outage-fail-open", "limiter-outage-fail-closed",
        "tenant-isolation", "canary-good", "canary-bad", "canary-slow", "canary-noisy-equal", "key-rotation",
        "registry-outage",
    ]

    /// (sabotage, the scenario that must catch it, the invariant it must name).
    static let sabotages: [(String, String, String)] = [
        ("no-breaker", "backend-crash-restart", "no-calls-while-open"),
        ("unbounded-retries", "retry-storm", "retry-budget"),
        ("no-rate-limit", "noisy-neighbour", "rate-limit"),
        ("canary-ignores-weight", "canary-split", "canary-share"),
        ("lost-reply", "steady-state", "exactly-one-response"),
        ("stale-health", "backend-crash-restart", "liveness-readmitted"),
        ("ack-before-commit", "worker-crash-mid-job", "job-terminal"),
        ("no-fencing", "zombie-worker", "single-result"),
        ("no-idempotency", "duplicate-submit", "idempotent-submit"),
        ("no-backpressure", "backlog-burst", "pool-bound"),
        ("keep-orphans", "rebalance-storm", "orphans-collected"),
        ("flip-limiter-policy", "limiter-outage-fail-open", "limiter-policy"),
        ("flip-limiter-policy", "limiter-outage-fail-closed", "limiter-policy"),
        ("cross-tenant", "tenant-isolation", "tenant-isolation"),
        ("no-rollback", "canary-bad", "canary-verdict"),
        ("no-rollback", "canary-slow", "canary-verdict"),
        ("accept-alg-none", "key-rotation", "authentication"),
        ("stale-cache", "registry-outage", "registry-staleness"),
    ]

    @Test("every scenario passes seeds 1..50", arguments: scenarios)
    func scenarioPasses(_ name: String) throws {
        let result = try AIPlatform.run(["sim", AIPlatform.scenario(name), "--seeds", "1..50", "--json", "--jobs", "1"])
        let failing = result.seedObjects.filter { ($0["violations"] as? [Any])?.isEmpty == false }
        let firstFailure = failing.first.map { "\($0["seed"] ?? "?"): \($0["violations"] ?? "")" } ?? "none"
        #expect(result.status == 0, "\(name): \(failing.count) failing seeds, first \(firstFailure)")
        #expect(result.seedObjects.count == 50)
    }

    @Test("two processes give the same history hash for seeds 1..20; seeds differ", arguments: scenarios)
    func determinismAcrossProcesses(_ name: String) throws {
        let arguments = ["sim", AIPlatform.scenario(name), "--seeds", "1..20", "--json", "--jobs", "1"]
        let first = try AIPlatform.run(arguments).seedObjects.map { $0["historyHash"] as? String ?? "" }
        let second = try AIPlatform.run(arguments).seedObjects.map { $0["historyHash"] as? String ?? "" }
        #expect(first.count == 20)
        #expect(first == second, "\(name): history hashes differ between two processes")
        #expect(Set(first).count == first.count, "\(name): two seeds produced the same history")
    }

    @Test("each sabotage is caught, naming its invariant, within 20 seeds", arguments: sabotages)
    func sabotageIsCaught(_ sabotage: String, _ scenario: String, _ invariant: String) throws {
        let result = try AIPlatform.run([
            "sim", AIPlatform.scenario(scenario), "--seeds", "1..20", "--sabotage", sabotage, "--json", "--jobs", "1",
        ])
        #expect(result.status == 1, "\(sabotage) on \(scenario) was not caught")
        let named = result.seedObjects.contains { object in
            (object["violations"] as? [[String: Any]] ?? []).contains { $0["invariant"] as? String == invariant }
        }
        #expect(named, "\(sabotage) on \(scenario): no seed reported \(invariant)")
    }

    @Test func checkDeterminismModeConfirmsIdenticalHistories() throws {
        let result = try AIPlatform.run([
            "sim", AIPlatform.scenario("steady-state"), "--seed", "3", "--check-determinism",
        ])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("seed=3 deterministic"))
    }

    @Test func malformedScenarioExitsTwoNamingFileAndField() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aiplatform-bad-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = try String(contentsOfFile: AIPlatform.scenario("steady-state"), encoding: .utf8)
            .replacingOccurrences(of: "\"requestsPerSecond\": 600", with: "\"requestsPerSecond\": \"lots\"")
        let path = directory.appendingPathComponent("bad.json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try AIPlatform.run(["sim", path, "--seed", "1"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("bad.json: workload[0].requestsPerSecond: expected an integer"))
    }

    @Test func badCommandLineExitsTwo() throws {
        let result = try AIPlatform.run(["sim", AIPlatform.scenario("steady-state"), "--seeds", "5..1"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("--seeds expects A <= B"))
    }
}
