import Foundation
import Synchronization
import Testing

@testable import PlatformProduction

@Suite struct NamedThreadTests {
    /// What the kernel calls the thread that runs the body, read back through /proc.
    func kernelName(startingAs name: String) -> String? {
        let seen = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        NamedThread.start(name) {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm?.trimmingCharacters(in: .newlines) }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else { return nil }
        return seen.withLock { $0 }
    }

    @Test func theKernelSeesTheThreadsRole() {
        #expect(kernelName(startingAs: "reactor-3") == "reactor-3")
    }

    @Test func aLongNameIsCutToWhatTheKernelKeeps() {
        #expect(kernelName(startingAs: "metadata-store-writer") == "metadata-store-")
        #expect(NamedThread.kernelName("metadata-store-writer").utf8.count == NamedThread.nameBytesMax)
        // A character that would straddle the 15th byte is left out whole.
        #expect(NamedThread.kernelName("reactor-ééééé") == "reactor-ééé")
    }
}
