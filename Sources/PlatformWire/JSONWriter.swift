// Writes JSON text deterministically: members in the order given, numbers in a fixed format,
// strings escaped per RFC 8259. Used for `--json` lines and API bodies.

/// Writes one JSON document straight into bytes, for an answer of a fixed shape made on every request: the same
/// text `JSONValue.serializedBytes()` gives for the equivalent tree (strings escaped and numbers formatted by the
/// same functions), without building the tree. The caller writes the structure (`raw`) and is answerable for it.
public struct JSONByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Punctuation and keys, as written (a key must be given with its quotes, and needs no escaping).
    public mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A string literal, escaped as `JSONValue.string` is.
    public mutating func string(_ text: String) { JSONValue.writeString(text, into: &bytes) }

    /// A number, formatted as `JSONValue.number` is.
    public mutating func number(_ value: Double) { JSONValue.writeNumber(value, into: &bytes) }
}

extension JSONValue {
    /// Compact JSON text for this value.
    public func serialized() -> String {
        String(decoding: serializedBytes(), as: UTF8.self)
    }

    /// Compact JSON text for this value as UTF-8 bytes, the form every HTTP body takes: written byte by byte,
    /// which costs a fraction of appending to a String.
    public func serializedBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(into: &output)
        return output
    }

    func write(into output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: value ? "true".utf8 : "false".utf8)
        case .number(let value, _): JSONValue.writeNumber(value, into: &output)
        case .string(let text): JSONValue.writeString(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.0, into: &output)
                output.append(UInt8(ascii: ":"))
                member.1.write(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// `exact(value)` as bytes; integers are written digit by digit without an intermediate String.
    static func writeNumber(_ value: Double, into output: inout [UInt8]) {
        guard value.isFinite else { return output.append(UInt8(ascii: "0")) }
        guard value == value.rounded(), abs(value) < 9e15 else {
            // The shortest text that reads back as the value, as interpolation gives it, without interpolation's
            // stream machinery around it.
            return output.append(contentsOf: value.description.utf8)
        }
        var integer = Int64(value)
        if integer < 0 {
            output.append(UInt8(ascii: "-"))
            integer = -integer
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(integer % 10)
                integer /= 10
                count += 1
            } while integer > 0
            for index in stride(from: count - 1, through: 0, by: -1) { output.append(buffer[index]) }
        }
    }

    /// The shortest text that reads back as exactly `value` (integers without a fraction).
    public static func exact(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded(), abs(value) < 9e15 { return String(Int64(value)) }
        return value.description
    }

    /// For people: integers print without a fraction; other numbers with up to 6 decimals, trailing zeros cut.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded(), abs(value) < 9e15 { return String(Int64(value)) }
        let scaled = (value * 1_000_000).rounded()
        if abs(scaled) >= 9e15 { return "\(value)" }
        let integer = Int64(scaled)
        let sign = integer < 0 ? "-" : ""
        let magnitude = integer.magnitude
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(magnitude / 1_000_000)" + (fraction.isEmpty ? "" : ".\(fraction)")
    }

    static func writeString(_ text: String, into output: inout String) {
        var bytes: [UInt8] = []
        writeString(text, into: &bytes)
        output += String(decoding: bytes, as: UTF8.self)
    }

    /// A JSON string literal: quotes, the two characters every string must escape, short escapes for the common
    /// controls and \u00XX for the rest. Other bytes, including UTF-8 sequences, are copied as they are.
    static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // Most strings (names, datatypes, labels, ids) need no escape: their bytes are copied in one go.
        let copied: Bool? = text.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            output.append(contentsOf: bytes)
            return true
        }
        if copied == true { return output.append(UInt8(ascii: "\"")) }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                output.append(contentsOf: "\\u00".utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
