// Log lines are read by machines (Loki, jq): each must be one valid JSON object with the fields in a fixed order,
// whatever the strings contain, and lines from many threads must arrive whole.

import Foundation
import Synchronization
import Testing

@testable import PlatformProduction

/// Keeps lines in memory.
private final class CapturingSink: LogSink {
    let lines = Mutex<[String]>([])
    func write(_ line: [UInt8]) { lines.withLock { $0.append(String(decoding: line, as: UTF8.self)) } }
}

private func object(_ line: some Collection<UInt8>) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
}

@Suite struct JSONLogTests {
    @Test func levelsParseInAnyCase() throws {
        #expect(try LogLevel(parsing: "INFO") == .info)
        #expect(try LogLevel(parsing: "Debug") == .debug)
        #expect(try LogLevel(parsing: "warn") == .warn)
        #expect(try LogLevel(parsing: "WARNING") == .warn)
        #expect(try LogLevel(parsing: "error") == .error)
        #expect(throws: LogLevelError(value: "verbose")) { try LogLevel(parsing: "verbose") }
        #expect(
            LogLevelError(value: "verbose").description
                == "LOG_LEVEL \"verbose\" is not a log level: use debug, info, warn or error (any case)")
        #expect(try LogLevel.fromEnvironment([:]) == .info)
        #expect(try LogLevel.fromEnvironment(["LOG_LEVEL": ""]) == .info)
        #expect(try LogLevel.fromEnvironment(["LOG_LEVEL": "ERROR"]) == .error)
        #expect(throws: LogLevelError(value: "loud")) { try LogLevel.fromEnvironment(["LOG_LEVEL": "loud"]) }
    }

    @Test func aLineHasTheSeedShapeInAFixedOrder() {
        let record = LogRecord(
            level: .info, caller: "gateway", message: "inference served", correlationID: "req-1", model: "resnet",
            version: "2", durationMs: 12.5, status: 200, fields: [("backend", "triton-a"), ("tries", 2)])
        let line = String(decoding: JSONLogLine.encode(record, unixMilliseconds: 1_700_000_000_123), as: UTF8.self)
        #expect(
            line == """
                {"level":"info","ts":"2023-11-14T22:13:20.123Z","caller":"gateway","msg":"inference served",\
                "correlation_id":"req-1","model":"resnet","version":"2","duration_ms":12.5,"status":200,\
                "backend":"triton-a","tries":2}

                """)
    }

    @Test func timestampsAreRFC3339UTCWithMilliseconds() {
        #expect(JSONLogLine.timestamp(unixMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogLine.timestamp(unixMilliseconds: 1_709_164_800_007) == "2024-02-29T00:00:00.007Z")
        #expect(JSONLogLine.timestamp(unixMilliseconds: 951_868_799_999) == "2000-02-29T23:59:59.999Z")
        #expect(JSONLogLine.timestamp(unixMilliseconds: 4_102_444_800_000) == "2100-01-01T00:00:00.000Z")
        #expect(JSONLogLine.timestamp(unixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
        // Cross-check the date and time against Foundation over a spread of instants (whole seconds, so no
        // floating-point rounding of the fraction gets in the way), and the milliseconds by arithmetic.
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        for milliseconds in stride(from: Int64(-2_000_000_000_000), to: 5_000_000_000_000, by: 86_399_999_937) {
            let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(seconds))).dropLast()
            let fraction = String(milliseconds - seconds * 1000)
            let padded = String(repeating: "0", count: 3 - fraction.count) + fraction
            #expect(JSONLogLine.timestamp(unixMilliseconds: milliseconds) == expected + "." + padded + "Z")
        }
    }

    @Test func stringsAreEscapedAndStayValidUTF8() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7F} é 😀 \u{2028}"
        let invalid = String(decoding: [0x66, 0xFF, 0xC3, 0x28, 0x6F], as: UTF8.self)
        let record = LogRecord(
            level: .error, caller: "a\"b", message: nasty, correlationID: invalid, fields: [("k\n", .string(nasty))])
        let line = JSONLogLine.encode(record, unixMilliseconds: 0)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") })
        #expect(String(validating: line, as: UTF8.self) != nil)
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""msg":"quote \" backslash \\ newline \n tab \t nul \u0000 bell \u0007 del "#))
        let parsed = try object(line.dropLast())
        #expect(parsed["msg"] as? String == nasty)
        #expect(parsed["caller"] as? String == "a\"b")
        #expect(parsed["correlation_id"] as? String == "f\u{FFFD}\u{FFFD}(o")
        #expect(parsed["k\n"] as? String == nasty)
    }

    @Test func numbersAndReservedKeys() throws {
        let record = LogRecord(
            level: .warn, caller: "x", message: "m", durationMs: 0.0001,
            fields: [("level", "shadow"), ("nan", .number(.nan)), ("inf", .number(.infinity)), ("ok", true)])
        let line = String(decoding: JSONLogLine.encode(record, unixMilliseconds: 0), as: UTF8.self)
        #expect(line.hasSuffix(#""duration_ms":0.0001,"extra.level":"shadow","nan":null,"inf":null,"ok":true}"# + "\n"))
        #expect(try object(Array(line.utf8))["level"] as? String == "warn")
    }

    @Test func linesBelowTheLevelAreNotWritten() {
        let sink = CapturingSink()
        let logger = JSONLogger(minimumLevel: .warn, sink: sink, clock: { 0 })
        logger.info(caller: "t", "hidden")
        logger.debug(caller: "t", "hidden")
        logger.warn(caller: "t", "shown")
        #expect(JSONLogger.location().hasPrefix("PlatformProductionTests/JSONLogTests.swift:"))
        logger.error(caller: "t", "shown", fields: [("code", 7)])
        let lines = sink.lines.withLock { $0 }
        #expect(
            lines == [
                #"{"level":"warn","ts":"1970-01-01T00:00:00.000Z","caller":"t","msg":"shown"}"# + "\n",
                #"{"level":"error","ts":"1970-01-01T00:00:00.000Z","caller":"t","msg":"shown","code":7}"# + "\n",
            ])
    }

    /// Four threads log long lines (beyond PIPE_BUF) at once; every line must come out whole.
    @Test func backgroundSinkKeepsLinesWholeAcrossThreads() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID()).jsonl").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        defer { unlink(path) }
        let sink = BackgroundLogSink(fileDescriptor: descriptor, bufferBytesMax: 64 << 20)
        let logger = JSONLogger(minimumLevel: .info, sink: sink)
        let padding = String(repeating: "x", count: 6000)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for index in 0..<500 {
                logger.info(caller: "thread\(thread)", padding, fields: [("index", .integer(Int64(index)))])
            }
        }
        sink.close()
        close(descriptor)
        let lines = try Data(contentsOf: URL(fileURLWithPath: path)).split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 2000)
        var perThread: [String: Int] = [:]
        for line in lines {
            let parsed = try object(line)
            #expect(parsed["msg"] as? String == padding)
            perThread[parsed["caller"] as? String ?? "", default: 0] += 1
        }
        #expect(perThread == ["thread0": 500, "thread1": 500, "thread2": 500, "thread3": 500])
    }

    /// With nobody reading the pipe the writer stalls; callers must not, and the lost lines are reported.
    @Test func aStalledOutputDropsAndCountsInsteadOfBlocking() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let sink = BackgroundLogSink(fileDescriptor: ends[1], bufferBytesMax: 4096)
        let logger = JSONLogger(minimumLevel: .info, sink: sink, clock: { 0 })
        let message = String(repeating: "y", count: 100)
        let start = ContinuousClock.now
        for _ in 0..<5000 {
            logger.info(caller: "t", message)
        }
        #expect(ContinuousClock.now - start < .seconds(2), "logging blocked on a stalled pipe")
        // Now drain the pipe on another thread so the writer can finish.
        let received = Mutex<[UInt8]>([])
        let readEnd = ends[0]
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count <= 0 { break }
                received.withLock { $0 += buffer[0..<count] }
            }
        }
        reader.start()
        sink.close()
        close(ends[1])
        while !reader.isFinished { usleep(1000) }
        close(ends[0])
        let lines = received.withLock { $0 }.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count < 5000)
        let notes = try lines.map(object).filter {
            $0["msg"] as? String == "log lines dropped: the output could not keep up"
        }
        let dropped = notes.compactMap { $0["dropped"] as? Int }.reduce(0, +)
        #expect(!notes.isEmpty)
        #expect(lines.count - notes.count + dropped == 5000)
    }
}
