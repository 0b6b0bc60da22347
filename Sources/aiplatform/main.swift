// The `aiplatform` command: one binary for every role: `serve` (the production shell on real
// sockets), `sim` (seeded chaos scenarios in the deterministic simulator), `replay` (a recorded run), `bench`
// and `load` (an open-loop HTTP load generator for loopback benchmarks).

import Foundation

let usage = """
    usage: aiplatform <command> [options]

    commands:
      serve [options]   Run the platform on real sockets (`aiplatform serve --help`). With no
                        backend configured it runs embedded: the built-in reference backend
                        serves deploy/models/sample-classifier and `demo-token` is accepted.
      sim SCENARIO.json [--seed N | --seeds A..B] [--json] [--report DIR] [--sabotage NAME]
                        [--check-determinism] [--jobs N]
          Run a chaos scenario in the deterministic simulator, one line per seed, then a summary.
          Exit status: 0 no invariant broke, 1 an invariant broke, 2 bad input.
      replay DIR        Feed the inputs `serve --record DIR` recorded to fresh machines and check that the
                        same actions come out (hashes per reactor, or the first input that diverges).
                        Exit status: 0 identical, 1 diverged, 2 bad input.
      bench [SCENARIO.json] [--seeds N]
          Simulator speed: N seeds (default 3) of the scenario (default steady-state) against the
          bare event queue as a peer measured in the same run.
      load URL --rate R --duration S [--connections C] [--body FILE] [--header 'N: V']...
          Open-loop HTTP/1.1 load against a loopback URL: requests due at a fixed rate, latency
          measured from when each was due; prints the achieved rate and p50, p90, p99, max.
      help              Show this text.

    sabotages (deliberately break one mechanism to prove the oracles catch it):
      no-breaker, unbounded-retries, no-rate-limit, canary-ignores-weight, lost-reply, stale-health

    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
arguments.removeFirst()
switch command {
case "serve":
    exit(ServeCommand.main(arguments))
case "sim":
    exit(SimCommand.main(arguments))
case "replay":
    exit(ReplayCommand.main(arguments))
case "bench":
    exit(BenchCommand.main(arguments))
case "load":
    exit(LoadCommand.main(arguments))
case "help", "--help", "-h":
    print(usage, terminator: "")
    exit(0)
default:
    FileHandle.standardError.write(Data("aiplatform: unknown command \"\(command)\"\n\n\(usage)".utf8))
    exit(2)
}
