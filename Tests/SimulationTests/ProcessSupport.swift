// Runs the release `aiplatform` binary in a child process, as CI and people do. Determinism is
// only meaningful across processes (Swift's Hasher is seeded per process), so the simulation's
// end-to-end tests never run two seeds' comparisons inside this test process.

import Foundation
import Testing

struct ProcessResult {
    var status: Int32
    var standardOutput: String
    var standardError: String

    /// The per-seed JSON objects of `sim --json` (the summary line excluded).
    var seedObjects: [[String: Any]] {
        standardOutput.split(separator: "\n").compactMap { line in
            guard let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                object["summary"] == nil
            else { return nil }
            return object
        }
    }
}

enum AIPlatform {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func scenario(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("scenarios/\(name).json").path
    }

    /// The binary under test: $AIPLATFORM_BIN (set by `make test`), else the release build.
    static var binary: String? {
        if let path = ProcessInfo.processInfo.environment["AIPLATFORM_BIN"],
            FileManager.default.isExecutableFile(atPath: path)
        {
            return path
        }
        let release = repositoryRoot.appendingPathComponent(".build/release/aiplatform").path
        return FileManager.default.isExecutableFile(atPath: release) ? release : nil
    }

    static func run(_ arguments: [String]) throws -> ProcessResult {
        guard let binary else {
            Issue.record("no release binary: run `make test` (it builds .build/release/aiplatform first)")
            return ProcessResult(status: -1, standardOutput: "", standardError: "")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }
}
