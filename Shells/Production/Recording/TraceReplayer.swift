// Replays recorded traces (`aiplatform replay DIR`): for each reactor's trace it rebuilds that reactor's gateway,
// router and orchestrator from the header with the same functions `serve` used, feeds every recorded input with
// its recorded `now`, folds the actions into the same digest, and compares after every input. The machines are
// pure, so the same inputs must give the same actions; the first input where the digests differ is where the
// build, the configuration or the trace itself departs from the recorded run.

import Foundation
import PlatformCore
import PlatformWire

/// How one reactor's trace replayed.
public struct TraceReplayReport: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Every input gave the recorded actions.
        case identical
        /// Input `input` (counted from 1) gave other actions than recorded (digests truncated to 16 bits).
        case diverged(input: Int, name: String, recorded: UInt16, replayed: UInt16)
        /// Every input's truncated digest agreed but the full digests at the end differ.
        case divergedAtEnd
        /// Input `input` is one a trace cannot carry (key material); replay stopped before it.
        case unreproducible(input: Int, name: String)
    }

    public var file: String
    public var reactorIndex: Int
    /// Inputs replayed.
    public var inputs: Int
    /// The digest the recording ended with; nil when the trace has no end record (the recording was cut off).
    public var recordedDigest: UInt64?
    public var replayedDigest: UInt64
    public var verdict: Verdict

    /// One line for the replay command.
    public var summary: String {
        let recorded = recordedDigest.map(Self.hex) ?? "none (no end record: the recording was cut off)"
        let head = "\(file): \(inputs) inputs, recorded \(recorded), replayed \(Self.hex(replayedDigest)): "
        switch verdict {
        case .identical: return head + "identical"
        case .diverged(let input, let name, let recorded, let replayed):
            return head
                + "diverged at input \(input) (\(name)): recorded \(Self.hex16(recorded)) replayed \(Self.hex16(replayed))"
        case .divergedAtEnd: return head + "diverged: every input agreed on 16 bits, the final digests differ"
        case .unreproducible(let input, let name):
            return head
                + "cannot reproduce input \(input) (\(name)): the trace records that keys changed, not the keys"
        }
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
    }

    static func hex16(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// A trace file that cannot be read or replayed, naming the file.
public struct TraceFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

public enum TraceReplayer {
    /// The reactor index a trace file's name carries (`reactor-3.trace` -> 3).
    public static func reactorIndex(ofFile name: String) -> Int? {
        guard name.hasPrefix("reactor-"), name.hasSuffix(".trace") else { return nil }
        return Int(name.dropFirst("reactor-".count).dropLast(".trace".count))
    }

    /// The trace files of a recording directory in reactor order (or `path` itself if it is a file).
    public static func traceFiles(_ path: String) throws(TraceFileError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TraceFileError(file: path, message: "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw TraceFileError(file: path, message: "cannot list: \(error)")
        }
        let traces = names.compactMap { name in reactorIndex(ofFile: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        guard !traces.isEmpty else { throw TraceFileError(file: path, message: "no reactor-<i>.trace files") }
        return traces.map { path + "/" + $0.1 }
    }

    /// Reads and replays one trace file.
    public static func replay(file: String) throws(TraceFileError) -> TraceReplayReport {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw TraceFileError(file: file, message: "cannot read")
        }
        return try replay(bytes: [UInt8](data), file: file)
    }

    /// Replays a trace's bytes; `file` names it in the report and in errors.
    public static func replay(bytes: [UInt8], file: String) throws(TraceFileError) -> TraceReplayReport {
        var decoder = TraceDecoder(bytes: bytes)
        do throws(TraceError) {
            let header = try decoder.header()
            var machines = try ReplayMachines(header: header, file: file)
            var report = TraceReplayReport(
                file: file, reactorIndex: header.reactorIndex, inputs: 0, recordedDigest: nil, replayedDigest: 0,
                verdict: .identical)
            while let record = try decoder.next() {
                switch record {
                case .input(let input, let now, let recorded):
                    report.inputs += 1
                    if let problem = machines.refusal(input) {
                        throw TraceError(offset: decoder.recordStart, problem)
                    }
                    guard machines.feed(input, now: now) else {
                        report.verdict = .unreproducible(input: report.inputs, name: input.name)
                        report.replayedDigest = machines.digest.value
                        return report
                    }
                    let replayed = UInt16(truncatingIfNeeded: machines.digest.value)
                    if replayed != recorded, report.verdict == .identical {
                        report.verdict = .diverged(
                            input: report.inputs, name: input.name, recorded: recorded, replayed: replayed)
                    }
                case .end(let inputs, let digest):
                    guard inputs == UInt64(report.inputs) else {
                        throw TraceError(
                            offset: decoder.offset,
                            "end record counts \(inputs) inputs, the trace holds \(report.inputs)")
                    }
                    report.recordedDigest = digest
                    if digest != machines.digest.value, report.verdict == .identical { report.verdict = .divergedAtEnd }
                }
            }
            report.replayedDigest = machines.digest.value
            return report
        } catch {
            throw TraceFileError(file: file, message: error.description)
        }
    }
}

/// Fresh machines configured from a trace header, and the digest of what they do.
struct ReplayMachines {
    var gateway: Gateway
    var router: Router
    var orchestrator: Orchestrator
    var digest = ActionDigest()
    var gatewayActions: [Gateway.Action] = []
    var routerActions: [Router.Action] = []
    var orchestratorActions: [Orchestrator.Action] = []
    let backendCount: Int

    init(header: TraceHeader, file: String) throws(TraceError) {
        guard header.reactorCount >= 1, header.reactorCount <= 64, header.reactorIndex >= 0,
            header.reactorIndex < header.reactorCount, header.backendCount >= 0, header.backendCount <= 1_024,
            header.rateLimitPerMinute > 0, header.rateLimitBurst > 0, header.requestTimeout > .zero
        else {
            throw TraceError(offset: 0, "the header's settings are out of range (a damaged header)")
        }
        backendCount = header.backendCount
        var settings = ServeSettings()
        settings.threads = header.reactorCount
        settings.rateLimitPerMinute = header.rateLimitPerMinute
        settings.rateLimitBurst = header.rateLimitBurst
        settings.requestTimeout = header.requestTimeout
        let models = Platform.servedModels(backendCount: header.backendCount)
        let (gateway, router, orchestrator) = Platform.machineConfigurations(
            settings: settings, index: header.reactorIndex, keys: header.keys, models: models,
            limits: Platform.rateLimits(settings))
        self.gateway = Gateway(configuration: gateway)
        self.router = Router(configuration: router)
        self.orchestrator = Orchestrator(configuration: orchestrator)
    }

    /// Why a decoded input cannot be fed as it is: the machines trust their shell for backend ids, so a damaged
    /// trace must be stopped here rather than trap inside a machine.
    func refusal(_ input: TraceInput) -> String? {
        if case .orchestrator(.execute(let request)) = input,
            request.preferredBackend.value < 0 || request.preferredBackend.value >= backendCount
        {
            return "backend \(request.preferredBackend.value) does not exist (the header has \(backendCount))"
        }
        return nil
    }

    /// Handles one input and folds its actions; false for an input that cannot be reproduced.
    mutating func feed(_ input: TraceInput, now: Instant) -> Bool {
        switch input {
        case .gateway(let gatewayInput):
            gateway.handle(gatewayInput, now: now, into: &gatewayActions)
            digest.fold(gatewayActions)
            gatewayActions.removeAll(keepingCapacity: true)
        case .router(let routerInput):
            router.handle(routerInput, now: now, into: &routerActions)
            digest.fold(routerActions)
            routerActions.removeAll(keepingCapacity: true)
        case .orchestrator(let orchestratorInput):
            orchestrator.handle(orchestratorInput, now: now, into: &orchestratorActions)
            digest.fold(orchestratorActions)
            orchestratorActions.removeAll(keepingCapacity: true)
        case .unreproducible: return false
        }
        return true
    }
}
