// Scenario files are user input: every mistake must come back as an error naming the file, the
// field and what was expected, and every shipped scenario must load.

import Foundation
import Testing

@testable import Simulation

@Suite struct ScenarioLoaderTests {
    static let minimal = """
        {"name": "tiny", "durationSeconds": 10, "faultsEndSeconds": 2, "recoveryBoundSeconds": 2,
         "backends": [{"name": "b1"}],
         "models": [{"name": "m", "versions": [{"version": 1, "backends": ["b1"]}]}],
         "keys": [{"name": "k"}],
         "workload": [{"key": "k", "requestsPerSecond": 10}]}
        """

    func error(_ text: String) -> String {
        do {
            _ = try Scenario.load(json: text, file: "x.json")
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func minimalScenarioLoadsWithDefaults() throws {
        let scenario = try Scenario.load(json: Self.minimal, file: "x.json")
        #expect(scenario.name == "tiny")
        #expect(scenario.backends[0].concurrency == 8)
        #expect(scenario.workload[0].requestsPerSecond == 10)
        #expect(
            scenario.layout.count == 11, "client, gateway, router, two orchestrators, b1, the four batch nodes, redis")
    }

    @Test func shippedScenariosLoad() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scenarios")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 8)
        for file in files.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let scenario = try Scenario.load(json: text, file: file)
            #expect(scenario.name + ".json" == file, "a scenario's name matches its file name")
        }
    }

    @Test func invalidJSONNamesTheFileAndPosition() {
        #expect(error("{\"name\": }").hasPrefix("x.json: not valid JSON: line 1, column 10"))
    }

    @Test func wrongTypeNamesTheField() {
        let text = Self.minimal.replacingOccurrences(
            of: "\"requestsPerSecond\": 10", with: "\"requestsPerSecond\": \"fast\"")
        #expect(
            error(text)
                == "x.json: workload[0].requestsPerSecond: expected an integer between 1 and 1000000, got a string")
    }

    @Test func unknownFieldIsRefused() {
        let text = Self.minimal.replacingOccurrences(
            of: "\"name\": \"b1\"", with: "\"name\": \"b1\", \"concurency\": 4")
        #expect(error(text).hasPrefix("x.json: backends[0].concurency: unknown field"))
    }

    @Test func unknownReferenceIsRefused() {
        let text = Self.minimal.replacingOccurrences(of: "\"backends\": [\"b1\"]", with: "\"backends\": [\"b9\"]")
        #expect(error(text) == "x.json: models[0].versions[0].backends[0]: no backend named \"b9\"")
    }

    @Test func faultOutsideTheSafetyPhaseIsRefused() {
        let text = Self.minimal.replacingOccurrences(
            of: "\"keys\"",
            with:
                "\"faults\": [{\"kind\": \"crash\", \"target\": \"b1\", \"fromSeconds\": 1, \"toSeconds\": "
                + "5}], \"keys\""
        )
        #expect(error(text) == "x.json: faults[0].toSeconds: faults must end by faultsEndSeconds (the safety phase)")
    }

    @Test func missingFieldIsNamed() {
        let text = Self.minimal.replacingOccurrences(of: "\"name\": \"tiny\",", with: "")
        #expect(error(text) == "x.json: missing field `name` (a string)")
    }

    @Test func unknownInvariantIsRefused() {
        let text = Self.minimal.replacingOccurrences(of: "\"keys\"", with: "\"checks\": [\"no-bugs\"], \"keys\"")
        #expect(error(text).hasPrefix("x.json: checks[0]: unknown invariant \"no-bugs\""))
    }

    @Test func batchFaultsNeedABatchSection() {
        let text = Self.minimal.replacingOccurrences(
            of: "\"keys\"",
            with: "\"faults\": [{\"kind\": \"storeOutage\", \"fromSeconds\": 1, \"toSeconds\": 2}], \"keys\"")
        #expect(error(text) == "x.json: faults[0].kind: storeOutage needs a `batch` section")
    }

    @Test func batchSectionLoadsAndNamesItsNodes() throws {
        let text = Self.minimal.replacingOccurrences(
            of: "\"keys\"",
            with: """
                "batch": {"workers": 2, "jobs": [{"key": "k", "jobsPerSecond": 5}]},
                "faults": [{"kind": "delay", "between": ["worker-1", "postgres"], "delayMs": 500,
                            "fromSeconds": 1, "toSeconds": 2}],
                "keys"
                """)
        let scenario = try Scenario.load(json: text, file: "x.json")
        #expect(scenario.batch?.workers == 2)
        #expect(scenario.faults[0].delay == .milliseconds(500))
        #expect(scenario.nodeName(scenario.faults[0].nodes.0) == "worker-1")
        #expect(scenario.nodeName(scenario.faults[0].nodes.1) == "postgres")
        let unknown = text.replacingOccurrences(of: "worker-1", with: "worker-7")
        #expect(error(unknown).hasPrefix("x.json: faults[0].between[0]: no node named \"worker-7\""))
    }

    /// The minimal scenario with a batch section holding `fields` before its job stream.
    func withBatch(_ fields: String) -> String {
        Self.minimal.replacingOccurrences(
            of: "\"keys\"", with: "\"batch\": {\(fields)\"jobs\": [{\"key\": \"k\", \"jobsPerSecond\": 5}]}, \"keys\"")
    }

    @Test func batchCallFetchAndCollectorKeysLoad() throws {
        let defaults = try Scenario.load(json: withBatch(""), file: "x.json").batch
        #expect(defaults?.callsInFlightPerJob == 4 && defaults?.itemsPerCall == 8 && defaults?.fetchRecordsMin == 8)
        #expect(defaults?.collectEvery == .seconds(10))
        let text = withBatch(
            "\"callsInFlightPerJob\": 3, \"itemsPerCall\": 16, \"fetchRecordsMin\": 5, \"collectEverySeconds\": 2.5, ")
        let batch = try Scenario.load(json: text, file: "x.json").batch
        #expect(batch?.callsInFlightPerJob == 3 && batch?.itemsPerCall == 16 && batch?.fetchRecordsMin == 5)
        #expect(batch?.collectEvery == .milliseconds(2_500))
    }

    @Test func batchKeysAreValidated() {
        #expect(error(withBatch("\"collectEverySeconds\": 0, ")) == "x.json: batch.collectEverySeconds: must be > 0")
        #expect(
            error(withBatch("\"itemsPerCall\": 0, "))
                == "x.json: batch.itemsPerCall: expected an integer between 1 and 10000, got 0")
        #expect(
            error(withBatch("\"fetchRecordsMin\": 0, "))
                == "x.json: batch.fetchRecordsMin: expected an integer between 1 and 100000, got 0")
        let renamed = error(withBatch("\"itemsInFlightPerJob\": 4, "))
        #expect(renamed.hasPrefix("x.json: batch.itemsInFlightPerJob: unknown field"), "the old name is gone")
        #expect(renamed.contains("callsInFlightPerJob"), "the error lists the known fields")
    }

    @Test func theCollectorIsANamedNode() throws {
        let text = withBatch("").replacingOccurrences(
            of: "\"keys\"",
            with: "\"faults\": [{\"kind\": \"delay\", \"between\": [\"collector\", \"postgres\"], \"delayMs\": 50, "
                + "\"fromSeconds\": 1, \"toSeconds\": 2}], \"keys\"")
        let scenario = try Scenario.load(json: text, file: "x.json")
        #expect(scenario.faults[0].nodes.0 == scenario.layout.collector)
        #expect(scenario.layout.collector == scenario.layout.objectStore + 1)
        #expect(scenario.layout.redis == scenario.layout.collector + 1)
        #expect(scenario.layout.count == scenario.layout.redis + 1)
        #expect(scenario.nodeName(scenario.layout.collector) == "collector")
        #expect(scenario.nodeName(scenario.layout.redis) == "redis")
    }

    /// The minimal scenario with `section` added before `"keys"`.
    func with(_ section: String) -> String {
        Self.minimal.replacingOccurrences(of: "\"keys\"", with: section + ", \"keys\"")
    }

    @Test func limiterCanaryAuthAndRegistrySectionsNameTheirMistakes() {
        #expect(
            error(with("\"limiter\": {\"policy\": \"fail-sometimes\"}"))
                == "x.json: limiter.policy: expected \"fail-open\" or \"fail-closed\", got \"fail-sometimes\"")
        #expect(
            error(with("\"canary\": {\"stable\": 1, \"canary\": 2, \"expect\": \"promote\", \"deadlineSeconds\": 5}"))
                == "x.json: canary.canary: model m has no version 2")
        #expect(
            error(with("\"canary\": {\"stable\": 1, \"canary\": 1, \"expect\": \"promote\", \"deadlineSeconds\": 5}"))
                == "x.json: canary.canary: must differ from stable")
        #expect(
            error(with("\"registry\": {\"ttlSeconds\": 0}"))
                == "x.json: registry.ttlSeconds: ttlSeconds, readTimeoutMs and stalenessBoundMs must be greater than 0")
        #expect(
            error(with("\"auth\": {\"graceSeconds\": 1, \"switchAfterMs\": 2000}"))
                == "x.json: auth.switchAfterMs: clients must switch before the grace period ends")
        let tokenWithoutAuth = Self.minimal.replacingOccurrences(
            of: "\"requestsPerSecond\": 10", with: "\"requestsPerSecond\": 10, \"credential\": \"token\"")
        #expect(error(tokenWithoutAuth) == "x.json: workload[0].credential: needs an `auth` section")
        let outageWithoutLimiter = with(
            "\"faults\": [{\"kind\": \"limiterOutage\", \"fromSeconds\": 0, \"toSeconds\": 1}]")
        #expect(error(outageWithoutLimiter) == "x.json: faults[0].kind: limiterOutage needs a `limiter` section")
    }
}
