// Helpers shared by the embedded-store tests: a fresh temporary folder per test, removed afterwards.

import Foundation

/// A temporary folder that lives as long as the value; tests run in parallel, so each gets its own.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("embedded-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the folder.
    func file(_ name: String) -> String { path + "/" + name }
}
