// `aiplatform replay DIR`: feeds every recorded input of `serve --record DIR` to fresh machines and checks that
// they ask for the same actions, reactor by reactor. Exit status: 0 every trace replayed identically, 1 a trace
// diverged, 2 bad input (a missing, damaged or unreplayable trace).

import Foundation
import PlatformProduction

enum ReplayCommand {
    static let usage = """
        usage: aiplatform replay DIR | FILE

          Replays the traces `aiplatform serve --record DIR` wrote (DIR/reactor-<i>.trace, or one file) and
          prints per reactor: inputs, recorded and replayed action hash, and `identical` or the first input
          where they diverge. Exit status: 0 identical, 1 diverged, 2 bad input.

        """

    static func main(_ arguments: [String]) -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage, terminator: "")
            return 0
        }
        guard arguments.count == 1 else {
            FileHandle.standardError.write(Data("aiplatform replay: expected one directory or file\n\n\(usage)".utf8))
            return 2
        }
        let files: [String]
        do {
            files = try TraceReplayer.traceFiles(arguments[0])
        } catch {
            FileHandle.standardError.write(Data("aiplatform replay: \(error)\n".utf8))
            return 2
        }
        var status: Int32 = 0
        var inputs = 0
        let started = Date()
        for file in files {
            do {
                let report = try TraceReplayer.replay(file: file)
                print(report.summary)
                inputs += report.inputs
                switch report.verdict {
                case .identical: break
                case .diverged, .divergedAtEnd: status = max(status, 1)
                case .unreproducible: status = 2
                }
            } catch {
                print("\(error)")
                status = 2
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print(
            "\(files.count) trace(s), \(inputs) inputs replayed in \(String(format: "%.3f", seconds)) s: "
                + (status == 0 ? "identical" : status == 1 ? "DIVERGED" : "NOT REPLAYABLE"))
        return status
    }
}
