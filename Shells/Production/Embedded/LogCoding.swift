// A compact, versioned byte encoding for the commands the embedded stores keep in their logs. Fixed-width
// little-endian integers and length-prefixed strings: no dependence on Foundation's coders, whose output
// is not specified to stay the same across releases, while a log written today must replay next year.

import PlatformCore

/// A log entry that could not be read back: the table, the entry's sequence number and what was wrong.
public struct LogDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var table: String
    public var sequence: Int64
    public var reason: String

    public var description: String { "log entry \(sequence) of table \(table) is unreadable: \(reason)" }
}

/// Appends values to a byte buffer.
struct LogWriter {
    private(set) var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func int64(_ value: Int64) {
        var bits = UInt64(bitPattern: value)
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    mutating func uint64(_ value: UInt64) { int64(Int64(bitPattern: value)) }

    mutating func int(_ value: Int) { int64(Int64(value)) }

    mutating func string(_ value: String) {
        int(value.utf8.count)
        bytes.append(contentsOf: value.utf8)
    }

    mutating func optional<Value>(_ value: Value?, _ write: (inout LogWriter, Value) -> Void) {
        guard let value else { return byte(0) }
        byte(1)
        write(&self, value)
    }

    mutating func array<Element>(_ values: [Element], _ write: (inout LogWriter, Element) -> Void) {
        int(values.count)
        for value in values { write(&self, value) }
    }
}

/// Reads values back in the order they were written; every read checks the remaining length.
struct LogReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Why reading stopped, as a plain message for `LogDecodingError`.
    struct Failure: Error {
        var reason: String
    }

    var isAtEnd: Bool { position == bytes.count }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw Failure(reason: "truncated at byte \(position)") }
        position += 1
        return bytes[position - 1]
    }

    mutating func int64() throws -> Int64 {
        guard bytes.count - position >= 8 else { throw Failure(reason: "truncated at byte \(position)") }
        var bits: UInt64 = 0
        for index in (0..<8).reversed() { bits = bits << 8 | UInt64(bytes[position + index]) }
        position += 8
        return Int64(bitPattern: bits)
    }

    mutating func uint64() throws -> UInt64 { UInt64(bitPattern: try int64()) }

    /// An integer that must fit in `range` (counts, indices, enum payloads): a corrupt entry fails here
    /// instead of tripping a precondition deep in the core.
    mutating func int(in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        let value = try int64()
        guard let result = Int(exactly: value), range.contains(result) else {
            throw Failure(reason: "integer \(value) outside \(range.lowerBound)...\(range.upperBound)")
        }
        return result
    }

    mutating func string() throws -> String {
        let count = try int(in: 0...(bytes.count - position))
        let text = String(decoding: bytes[position..<position + count], as: UTF8.self)
        position += count
        return text
    }

    mutating func optional<Value>(_ read: (inout LogReader) throws -> Value) throws -> Value? {
        switch try byte() {
        case 0: return nil
        case 1: return try read(&self)
        case let other: throw Failure(reason: "optional marker \(other)")
        }
    }

    mutating func array<Element>(_ read: (inout LogReader) throws -> Element) throws -> [Element] {
        // Each element takes at least one byte, so a count beyond what is left is corruption.
        let count = try int(in: 0...(bytes.count - position))
        var values: [Element] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    mutating func instant() throws -> Instant { Instant(nanoseconds: try int64()) }

    mutating func duration() throws -> PlatformCore.Duration { PlatformCore.Duration(nanoseconds: try int64()) }

    mutating func raw<Value: RawRepresentable>(_: Value.Type) throws -> Value where Value.RawValue == UInt8 {
        let raw = try byte()
        guard let value = Value(rawValue: raw) else { throw Failure(reason: "unknown \(Value.self) \(raw)") }
        return value
    }
}
