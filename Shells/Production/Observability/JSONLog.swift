// Structured logs as JSON lines: one object per line, `level`, `ts`, `caller`, `msg` first, then the request's
// fields. Reactors hand finished lines to a sink; the production sink is a writer thread with a bounded buffer, so a
// slow terminal or a full pipe costs a reactor at most a memcpy (and, past the buffer, a dropped and counted line),
// never a blocked write(2). One thread writes, so lines never interleave however long they are.

import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How severe a line is; lines below the logger's level are not even formatted.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug
    case info
    case warn
    case error

    /// The name written in the `level` field.
    public var name: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }

    /// Reads a level name in any case (`INFO`, `Warn`); `warning` is taken as `warn`, as operators often write it.
    public init(parsing text: String) throws(LogLevelError) {
        switch text.lowercased() {
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warn
        case "error": self = .error
        default: throw LogLevelError(value: text)
        }
    }

    /// The level from `LOG_LEVEL`, `info` when it is unset or empty.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(LogLevelError) -> LogLevel {
        guard let text = environment["LOG_LEVEL"], !text.isEmpty else { return .info }
        return try LogLevel(parsing: text)
    }

    public static func < (left: LogLevel, right: LogLevel) -> Bool { left.rawValue < right.rawValue }
}

/// A `LOG_LEVEL` value that names no level.
public struct LogLevelError: Error, Sendable, Equatable, CustomStringConvertible {
    public var value: String

    public var description: String {
        "LOG_LEVEL \"\(value)\" is not a log level: use debug, info, warn or error (any case)"
    }
}

/// The value of an extra field.
public enum LogValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    case string(String)
    case integer(Int64)
    /// Written in its shortest exact form; NaN and infinities, which JSON lacks, as `null`.
    case number(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// One log line's content, before it is stamped with a time.
public struct LogRecord: Sendable {
    public var level: LogLevel
    /// Who logs: a role (`gateway`) or `file:line`.
    public var caller: String
    public var message: String
    public var correlationID: String?
    public var model: String?
    public var version: String?
    public var durationMs: Double?
    public var status: Int?
    /// More fields, written in this order after the standard ones. A key that repeats a standard one is written
    /// as `extra.<key>`, so a line never carries the same key twice.
    public var fields: [(String, LogValue)]

    public init(
        level: LogLevel, caller: String, message: String, correlationID: String? = nil, model: String? = nil,
        version: String? = nil, durationMs: Double? = nil, status: Int? = nil, fields: [(String, LogValue)] = []
    ) {
        self.level = level
        self.caller = caller
        self.message = message
        self.correlationID = correlationID
        self.model = model
        self.version = version
        self.durationMs = durationMs
        self.status = status
        self.fields = fields
    }
}

/// The encoding of a record as one JSON line; pure, so the exact text is testable.
public enum JSONLogLine {
    static let standardKeys: Set<String> = [
        "level", "ts", "caller", "msg", "correlation_id", "model", "version", "duration_ms", "status",
    ]

    /// The line for `record` logged at `unixMilliseconds`, ending in a newline.
    public static func encode(_ record: LogRecord, unixMilliseconds: Int64) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(160 + record.message.utf8.count)
        line += "{\"level\":\"".utf8
        line += record.level.name.utf8
        line += "\",\"ts\":\"".utf8
        line += timestamp(unixMilliseconds: unixMilliseconds).utf8
        line += "\",\"caller\":".utf8
        appendString(record.caller, into: &line)
        line += ",\"msg\":".utf8
        appendString(record.message, into: &line)
        if let value = record.correlationID { appendField("correlation_id", .string(value), into: &line) }
        if let value = record.model { appendField("model", .string(value), into: &line) }
        if let value = record.version { appendField("version", .string(value), into: &line) }
        if let value = record.durationMs { appendField("duration_ms", .number(value), into: &line) }
        if let value = record.status { appendField("status", .integer(Int64(value)), into: &line) }
        for (key, value) in record.fields {
            appendField(standardKeys.contains(key) ? "extra." + key : key, value, into: &line)
        }
        line += "}\n".utf8
        return line
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-29T11:35:44.123Z`; computed here rather than with
    /// `gmtime_r`, which may take a lock and read the timezone database.
    public static func timestamp(unixMilliseconds: Int64) -> String {
        let (days, millisecondOfDay) = unixMilliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (day, milliseconds) =
            millisecondOfDay < 0 ? (days - 1, millisecondOfDay + 86_400_000) : (days, millisecondOfDay)
        let (year, month, dayOfMonth) = civilDate(daysSinceEpoch: day)
        let seconds = milliseconds / 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(dayOfMonth, 2) + "T" + pad(seconds / 3600, 2) + ":"
            + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2) + "." + pad(milliseconds % 1000, 3) + "Z"
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), exact for every Int64 day we will see.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static func appendField(_ key: String, _ value: LogValue, into line: inout [UInt8]) {
        line.append(UInt8(ascii: ","))
        appendString(key, into: &line)
        line.append(UInt8(ascii: ":"))
        switch value {
        case .string(let text): appendString(text, into: &line)
        case .integer(let number): line += String(number).utf8
        case .bool(let flag): line += (flag ? "true" : "false").utf8
        case .number(let number):
            if !number.isFinite {
                line += "null".utf8
            } else if number == number.rounded(), abs(number) < 9_007_199_254_740_992 {
                line += String(Int64(number)).utf8
            } else {
                line += "\(number)".utf8
            }
        }
    }

    /// A JSON string per RFC 8259. A Swift `String` is always valid UTF-8 (invalid input was repaired with U+FFFD
    /// when it was made), so copying its bytes never produces invalid UTF-8; only quote, backslash and the C0
    /// controls need escapes.
    static func appendString(_ text: String, into line: inout [UInt8]) {
        line.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): line += "\\\"".utf8
            case UInt8(ascii: "\\"): line += "\\\\".utf8
            case UInt8(ascii: "\n"): line += "\\n".utf8
            case UInt8(ascii: "\r"): line += "\\r".utf8
            case UInt8(ascii: "\t"): line += "\\t".utf8
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                line += "\\u00".utf8
                line.append(hex[Int(byte >> 4)])
                line.append(hex[Int(byte & 0xF)])
            default: line.append(byte)
            }
        }
        line.append(UInt8(ascii: "\""))
    }
}

/// Where finished lines go. `write` is called from any thread with one whole line.
public protocol LogSink: Sendable {
    func write(_ line: [UInt8])
}

/// Writes each line with write(2) on the calling thread, under a lock so that lines longer than PIPE_BUF or cut by a
/// partial write still never interleave. For tools and tests; a reactor should use `BackgroundLogSink`.
public final class FileDescriptorLogSink: LogSink {
    private let lock = Mutex(())
    public let fileDescriptor: Int32

    public init(fileDescriptor: Int32 = 1) {
        self.fileDescriptor = fileDescriptor
    }

    public func write(_ line: [UInt8]) {
        lock.withLock { _ in writeAll(fileDescriptor, line) }
    }
}

/// A writer thread that drains a bounded buffer to a file descriptor. `write` copies the line into the buffer and
/// returns; when the buffer holds `bufferBytesMax` bytes the line is dropped and counted, and the writer reports the
/// count in a `warn` line once it catches up. Dropping beats blocking: a stalled reactor would stall every request
/// it owns, while a lost log line loses only itself. The writer thread holds the sink until `close()`; a sink that is
/// never closed lives as long as the process, which is what stdout's sink does.
public final class BackgroundLogSink: LogSink {
    public let fileDescriptor: Int32
    public let bufferBytesMax: Int

    private struct State {
        var pending: [UInt8] = []
        var dropped = 0
        var writing = false
        var closing = false
        var closed = false
    }

    // NSCondition rather than Mutex: the writer sleeps on it when idle. Its lock is held only to append or swap.
    private let condition = NSCondition()
    // Only touched with `condition` locked.
    nonisolated(unsafe) private var state = State()

    public init(fileDescriptor: Int32 = 1, bufferBytesMax: Int = 4 << 20) {
        precondition(bufferBytesMax > 0, "bufferBytesMax \(bufferBytesMax) must be positive")
        self.fileDescriptor = fileDescriptor
        self.bufferBytesMax = bufferBytesMax
        NamedThread.start("log-writer") { [self] in run() }
    }

    public func write(_ line: [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        // After close there is no writer to report drops; the line just goes.
        guard !state.closing else { return }
        guard state.pending.count + line.count <= bufferBytesMax else {
            state.dropped += 1
            return
        }
        let wasEmpty = state.pending.isEmpty
        state.pending += line
        // The writer waits only when the buffer is empty; signalling just then keeps the futex wake-up off the path
        // of every line but the first of a burst.
        if wasEmpty { condition.signal() }
    }

    /// Waits until every line written so far has reached the file descriptor.
    public func flush() {
        condition.lock()
        while !state.pending.isEmpty || state.writing || state.dropped > 0 {
            condition.wait()
        }
        condition.unlock()
    }

    /// Writes what is buffered, then stops the writer thread; later lines are dropped.
    public func close() {
        condition.lock()
        state.closing = true
        condition.broadcast()
        while !state.closed {
            condition.wait()
        }
        condition.unlock()
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            condition.lock()
            while state.pending.isEmpty && state.dropped == 0 && !state.closing {
                condition.wait()
            }
            if state.pending.isEmpty && state.dropped == 0 && state.closing {
                state.closed = true
                condition.broadcast()
                condition.unlock()
                return
            }
            swap(&batch, &state.pending)
            let dropped = state.dropped
            state.dropped = 0
            state.writing = true
            condition.unlock()

            writeAll(fileDescriptor, batch)
            if dropped > 0 {
                let note = LogRecord(
                    level: .warn, caller: "log", message: "log lines dropped: the output could not keep up",
                    fields: [("dropped", .integer(Int64(dropped)))])
                writeAll(fileDescriptor, JSONLogLine.encode(note, unixMilliseconds: realtimeMilliseconds()))
            }
            batch.removeAll(keepingCapacity: true)

            condition.lock()
            state.writing = false
            condition.broadcast()
            condition.unlock()
        }
    }
}

// The state is guarded by `condition`; the other stored properties are immutable.
extension BackgroundLogSink: @unchecked Sendable {}

/// Formats and hands lines to a sink. Shared by all reactors; holds no mutable state itself.
public final class JSONLogger: Sendable {
    public let minimumLevel: LogLevel
    public let sink: any LogSink
    /// Wall-clock time in Unix milliseconds; replaceable so tests can pin `ts`.
    private let clock: @Sendable () -> Int64

    public init(
        minimumLevel: LogLevel, sink: any LogSink, clock: @escaping @Sendable () -> Int64 = realtimeMilliseconds
    ) {
        self.minimumLevel = minimumLevel
        self.sink = sink
        self.clock = clock
    }

    /// `file:line` of the call, for the `caller` field when a role name is not specific enough.
    public static func location(fileID: String = #fileID, line: Int = #line) -> String { "\(fileID):\(line)" }

    /// Whether a line at `level` would be written: test it before building costly fields.
    public func isEnabled(_ level: LogLevel) -> Bool { level >= minimumLevel }

    public func log(_ record: LogRecord) {
        guard isEnabled(record.level) else { return }
        sink.write(JSONLogLine.encode(record, unixMilliseconds: clock()))
    }

    public func log(
        _ level: LogLevel, caller: String, _ message: String, correlationID: String? = nil, model: String? = nil,
        version: String? = nil, durationMs: Double? = nil, status: Int? = nil, fields: [(String, LogValue)] = []
    ) {
        guard isEnabled(level) else { return }
        log(
            LogRecord(
                level: level, caller: caller, message: message, correlationID: correlationID, model: model,
                version: version, durationMs: durationMs, status: status, fields: fields))
    }

    public func debug(caller: String, _ message: String, fields: [(String, LogValue)] = []) {
        log(.debug, caller: caller, message, fields: fields)
    }

    public func info(caller: String, _ message: String, fields: [(String, LogValue)] = []) {
        log(.info, caller: caller, message, fields: fields)
    }

    public func warn(caller: String, _ message: String, fields: [(String, LogValue)] = []) {
        log(.warn, caller: caller, message, fields: fields)
    }

    public func error(caller: String, _ message: String, fields: [(String, LogValue)] = []) {
        log(.error, caller: caller, message, fields: fields)
    }
}

/// Wall-clock time now, in Unix milliseconds.
public func realtimeMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Writes all of `bytes`, retrying partial writes and EINTR. Other errors (a closed pipe, a full disk) drop the rest
/// of the line: there is nowhere left to report them.
func writeAll(_ fileDescriptor: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                // Someone made the descriptor non-blocking (a shared terminal's flags): wait until it drains.
                var poller = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, -1)
            } else {
                return
            }
        }
    }
}
