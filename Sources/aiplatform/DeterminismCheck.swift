// `--check-determinism`: runs the seed in two separate processes (Swift's Hasher is seeded per
// process, so one process proves nothing), has each write its delivered-input history, and names
// the first event where the two differ, or confirms they are identical.

import Foundation
import PlatformCore
import Simulation

enum DeterminismCheck {
    static let entrySize = 40

    static func run(_ options: SimOptions) -> Int32 {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "aiplatform-determinism-\(getpid())")
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var failed = false
        for seed in options.seeds {
            let paths = ["a", "b"].map { scratch.appendingPathComponent("history-\(seed)-\($0).bin").path }
            for path in paths {
                var arguments = ["sim", options.scenarioPath, "--seed", String(seed), "--history-out", path]
                if let sabotage = options.sabotageName { arguments += ["--sabotage", sabotage] }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.standardOutput = FileHandle.nullDevice
                do {
                    try process.run()
                    process.waitUntilExit()
                } catch {
                    SimCommand.fail("aiplatform sim: cannot start \(executable): \(error.localizedDescription)")
                    return 2
                }
            }
            guard let first = FileManager.default.contents(atPath: paths[0]),
                let second = FileManager.default.contents(atPath: paths[1])
            else {
                SimCommand.fail("aiplatform sim: a child run wrote no history")
                return 2
            }
            if let message = compare(Array(first), Array(second), seed: seed, options: options) {
                print(message)
                failed = true
            } else {
                print("seed=\(seed) deterministic: \(first.count / entrySize) events identical in two processes")
            }
        }
        return failed ? 1 : 0
    }

    static func compare(_ first: [UInt8], _ second: [UInt8], seed: UInt64, options: SimOptions) -> String? {
        let count = min(first.count, second.count) / entrySize
        for index in 0..<count {
            let range = (index * entrySize)..<((index + 1) * entrySize)
            if first[range] != second[range] {
                return "seed=\(seed) NOT deterministic: first divergence at event #\(index + 1)\n"
                    + "  process A: \(describe(first, index))\n  process B: \(describe(second, index))"
            }
        }
        if first.count != second.count {
            return "seed=\(seed) NOT deterministic: one history ends after \(count) events, the other goes on"
        }
        return nil
    }

    static func describe(_ bytes: [UInt8], _ index: Int) -> String {
        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for byte in 0..<8 { value |= UInt64(bytes[index * entrySize + offset + byte]) << (8 * UInt64(byte)) }
            return value
        }
        let time = Int64(bitPattern: word(8))
        return "t=\(Double(time) / 1e9)s node=\(word(16)) input=\(HistoryWriter.kindName(word(24))) id=\(word(32))"
    }
}

/// Writes one run's history, 40 bytes per delivered input (index, time, node, kind, id).
enum HistoryWriter {
    static func run(_ scenario: Scenario, _ options: SimOptions, path: String) -> Int32 {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        let simulator = Simulator(scenario: scenario, seed: options.seeds.lowerBound, sabotage: options.sabotage)
        simulator.setRecorder { entry in
            for value in [
                UInt64(entry.index), UInt64(bitPattern: entry.time), UInt64(entry.node), entry.kind, entry.id,
            ] {
                for byte in 0..<8 { buffer.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte)))) }
            }
        }
        let outcome = simulator.run()
        guard FileManager.default.createFile(atPath: path, contents: Data(buffer)) else {
            SimCommand.fail("aiplatform sim: cannot write \(path)")
            return 2
        }
        print("seed=\(options.seeds.lowerBound) hash=\(outcome.report.historyHash)")
        return outcome.violationCount > 0 ? 1 : 0
    }

    static func kindName(_ kind: UInt64) -> String {
        let names = [
            0: "arrival", 1: "request", 2: "response", 3: "route", 4: "routeReply", 5: "execute", 6: "executeReply",
            7: "backendCall", 8: "backendReply", 20: "timer", 21: "serviceDone", 22: "faultStart", 23: "faultEnd",
        ]
        return names[Int(kind & 0xFF)] ?? "kind\(kind)"
    }
}
