// The core's one rule, checked mechanically: Sources/PlatformCore imports nothing but the
// standard library, never touches clocks, system randomness, threads, the environment or Swift
// concurrency, and its files stay short enough to read.

import Foundation
import Testing

@Suite struct TidyTests {
    static let banned = [
        "import Foundation", "import Dispatch", "import Glibc", "import Darwin", "Date()", "ContinuousClock",
        "SuspendingClock", "DispatchQueue", "Thread.", "ProcessInfo", "getenv", ".random(", "Int.random",
        "Double.random",
        ".shuffled()", ".randomElement()", "SystemRandomNumberGenerator", "UUID()", "Task {", "Task.", "async ",
        "await ",
        "actor ", "@MainActor", "NSLock", "pthread",
    ]

    static var coreSources: [URL] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/PlatformCore")
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }.sorted {
            $0.path < $1.path
        }
    }

    @Test func coreUsesNoBannedTokens() throws {
        let files = Self.coreSources
        #expect(files.count > 10)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.components(separatedBy: "//").first ?? ""
                for token in Self.banned where code.contains(token) {
                    Issue.record("\(file.lastPathComponent):\(number + 1) uses banned \"\(token)\" in PlatformCore")
                }
                if code.hasPrefix("import ") && !code.hasPrefix("import Synchronization") {
                    let place = "\(file.lastPathComponent):\(number + 1)"
                    Issue.record("\(place) imports a module; PlatformCore uses the standard library only")
                }
            }
        }
    }

    @Test func coreFilesStayReadable() throws {
        for file in Self.coreSources {
            let lines = try String(contentsOf: file, encoding: .utf8).split(
                separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count <= 650, "\(file.lastPathComponent) has \(lines.count) lines")
            for (number, line) in lines.enumerated() where line.count > 130 {
                Issue.record("\(file.lastPathComponent):\(number + 1) is \(line.count) columns wide")
            }
        }
    }
}
