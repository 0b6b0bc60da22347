// The shell's threads carry their role as the kernel's thread name, so `top -H`, `ps -L`, perf and
// /proc/PID/task/TID/comm tell a reactor from the log writer or a store thread. Foundation's `Thread.name` is kept
// inside Foundation on Linux and never reaches the kernel, so the started thread names itself first.

import CLinux
import Foundation

enum NamedThread {
    /// The kernel keeps at most 15 bytes of a thread's name.
    static let nameBytesMax = 15

    /// Runs `body` on a new thread called `name` (cut to 15 bytes for the kernel).
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let kernelName = kernelName(name)
        let thread = Thread {
            _ = clinux_name_this_thread(kernelName)
            body()
        }
        thread.name = name
        thread.start()
    }

    /// `name` cut to what the kernel keeps, on a character boundary.
    static func kernelName(_ name: String) -> String {
        var cut = ""
        for character in name {
            if cut.utf8.count + character.utf8.count > nameBytesMax { break }
            cut.append(character)
        }
        return cut
    }
}
