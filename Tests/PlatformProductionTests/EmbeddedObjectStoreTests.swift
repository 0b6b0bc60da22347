import Foundation
import Testing

@testable import PlatformProduction

@Suite struct EmbeddedObjectStoreTests {
    @Test(arguments: ["", "/etc/passwd", "../x", "results/../../x", "a//b", "a/", ".hidden", "a/.tmp", "a b", "a\\b"])
    func rejectsBadKeys(key: String) throws {
        let folder = try TemporaryFolder()
        let store = try FolderObjectStore(root: folder.file("objects"))
        let error = #expect(throws: ObjectStoreError.self) { try store.put([1], at: key) }
        guard case .invalidKey(let named, _) = error else {
            Issue.record("expected invalidKey, got \(String(describing: error))")
            return
        }
        #expect(named == key)
        #expect(error?.description.contains("\"\(key)\"") == true)
        #expect(throws: ObjectStoreError.self) { try store.get(key) }
    }

    @Test func putGetOverwriteAndSurviveReopen() throws {
        let folder = try TemporaryFolder()
        let root = folder.file("objects")
        do {
            let store = try FolderObjectStore(root: root)
            try store.put(Array("first".utf8), at: "results/1/1")
            try store.put(Array("second".utf8), at: "results/1/1")
            try store.put([], at: "results/2/1")
            #expect(throws: ObjectStoreError.notFound("results/3/1")) { try store.get("results/3/1") }
        }
        let store = try FolderObjectStore(root: root)
        #expect(try store.get("results/1/1") == Array("second".utf8))
        #expect(try store.get("results/2/1") == [])
        // No temporary file is left beside the objects.
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/results/1")
        #expect(names == ["1"])
        try store.delete("results/1/1")
        try store.delete("results/1/1")
        #expect(throws: ObjectStoreError.notFound("results/1/1")) { try store.get("results/1/1") }
    }

    /// A reader racing a writer sees a whole old or whole new object under the key, never a prefix.
    @Test func putIsAtomicForAConcurrentReader() throws {
        let folder = try TemporaryFolder()
        let store = try FolderObjectStore(root: folder.file("objects"))
        let old = [UInt8](repeating: 1, count: 300_000)
        let new = [UInt8](repeating: 2, count: 600_000)
        try store.put(old, at: "results/9/1")
        let done = ManagedAtomicFlag()
        let reader = Thread {
            while !done.isSet {
                let seen = (try? store.get("results/9/1")) ?? []
                if seen != old && seen != new { done.recordTornRead() }
            }
            done.readerStopped()
        }
        reader.start()
        for round in 0..<20 { try store.put(round % 2 == 0 ? new : old, at: "results/9/1") }
        done.set()
        done.waitForReader()
        #expect(!done.sawTornRead)
    }
}

/// A tiny lock-protected flag for the race test above.
final class ManagedAtomicFlag: @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    private let condition = NSCondition()
    private var flag = false
    private var torn = false
    private var stopped = false

    var isSet: Bool { condition.withLock { flag } }
    var sawTornRead: Bool { condition.withLock { torn } }
    func set() { condition.withLock { flag = true } }
    func recordTornRead() { condition.withLock { torn = true } }

    func readerStopped() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    func waitForReader() {
        condition.withLock {
            while !stopped { condition.wait() }
        }
    }
}
