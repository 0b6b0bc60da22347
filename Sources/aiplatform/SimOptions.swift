// Command-line options of `aiplatform sim`, parsed strictly: an unknown flag, a missing value or
// a malformed seed range is an error that says which and why (exit status 2).

import PlatformCore

struct SimOptions {
    var scenarioPath = ""
    var seeds: ClosedRange<UInt64> = 1...1
    var json = false
    var reportDirectory: String?
    var sabotage: Sabotage = []
    var sabotageName: String?
    var checkDeterminism = false
    var jobs = 0
    /// Hidden: write the delivered-input history of the single seed to this file (used by --check-determinism).
    var historyOut: String?

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ arguments: [String]) throws(Problem) -> SimOptions {
        var options = SimOptions()
        var index = 0
        func value(_ flag: String) throws(Problem) -> String {
            index += 1
            guard index < arguments.count else { throw Problem(description: "\(flag) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--seed":
                let text = try value(argument)
                guard let seed = UInt64(text) else {
                    throw Problem(description: "--seed expects a non-negative integer, got \"\(text)\"")
                }
                options.seeds = seed...seed
            case "--seeds":
                options.seeds = try parseRange(try value(argument))
            case "--json": options.json = true
            case "--report": options.reportDirectory = try value(argument)
            case "--sabotage":
                let name = try value(argument)
                guard let sabotage = Sabotage(name: name) else {
                    let known = Sabotage.named.map(\.name).joined(separator: ", ")
                    throw Problem(description: "unknown sabotage \"\(name)\" (known: \(known))")
                }
                options.sabotage = sabotage
                options.sabotageName = name
            case "--check-determinism": options.checkDeterminism = true
            case "--jobs":
                let text = try value(argument)
                guard let jobs = Int(text), jobs >= 1, jobs <= 64 else {
                    throw Problem(description: "--jobs expects an integer from 1 to 64, got \"\(text)\"")
                }
                options.jobs = jobs
            case "--history-out": options.historyOut = try value(argument)
            default:
                if argument.hasPrefix("-") { throw Problem(description: "unknown option \(argument)") }
                guard options.scenarioPath.isEmpty else {
                    throw Problem(
                        description: "one scenario file at a time (got \"\(options.scenarioPath)\" and \"\(argument)\")"
                    )
                }
                options.scenarioPath = argument
            }
            index += 1
        }
        guard !options.scenarioPath.isEmpty else {
            throw Problem(description: "missing the scenario file (SCENARIO.json)")
        }
        return options
    }

    static func parseRange(_ text: String) throws(Problem) -> ClosedRange<UInt64> {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].isEmpty, let low = UInt64(parts[0]), let high = UInt64(parts[2]) else {
            throw Problem(description: "--seeds expects A..B with integers A <= B, got \"\(text)\"")
        }
        guard low <= high else { throw Problem(description: "--seeds expects A <= B, got \"\(text)\"") }
        guard high - low < 1_000_000 else { throw Problem(description: "--seeds covers at most 1,000,000 seeds") }
        return low...high
    }
}
