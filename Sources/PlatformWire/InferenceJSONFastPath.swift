// A fast path for the common KServe v2 inference body: flat `data`, no escapes in strings, no `parameters`,
// members each at most once. It reads the bytes once, without building a JSON tree, and gives exactly what the
// reference path (`JSONValue.parse` then `InferenceJSON.decodeRequest`) gives. On anything else, valid or not,
// it answers nil and the caller takes the reference path, so every refusal, with its message, comes from one
// place. The fuzz target and a property test check the two agree wherever the fast path answers.
//
// The scan works on the body's bytes through a pointer, by index: member names and datatypes are compared as
// bytes (an exact ASCII match; anything else, even a name Unicode would call equal, goes to the reference path),
// and a String is made only for the values kept (the id, tensor and output names). Numbers are converted as the
// reference parser converts them: exactly when the digits and the power of ten are exact Doubles, by the
// standard library otherwise.

import PlatformCore

extension InferenceJSON {
    /// The decoded body when the fast path applies; nil means "use the reference path".
    public static func decodeRequestFast(_ bytes: [UInt8]) -> InferenceRequestBody? {
        guard !bytes.isEmpty, bytes.count <= JSONLimits().bytesMax else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = FastScanner(base: buffer.baseAddress!, count: buffer.count)
            return scanner.body()
        }
    }
}

extension InferenceJSON {
    /// One input tensor with its flat numeric data, as `decodeNumericRequestFast` reads it.
    public struct NumericInput: Sendable, Equatable {
        public var name: String
        public var datatype: TensorDatatype
        public var shape: [Int64]
        /// The elements as `JSONValue.parse` gives them.
        public var values: [Double]
    }

    /// A numeric request's members (for a backend that computes on the values, such as the reference backend).
    public struct NumericRequest: Sendable, Equatable {
        public var id: String?
        public var inputs: [NumericInput]
        public var outputs: [String]
    }

    /// The body `{"id"?, "inputs": [...], "outputs"?: [{"name"}]}` with its values, when it has the fast path's
    /// common shape and every input's `data` is a flat array of numbers; nil means "use the reference path" (a
    /// JSON tree), which gives the same members and values wherever this answers.
    public static func decodeNumericRequestFast(_ bytes: [UInt8]) -> NumericRequest? {
        guard !bytes.isEmpty, bytes.count <= JSONLimits().bytesMax else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = FastScanner(base: buffer.baseAddress!, count: buffer.count)
            return scanner.numericBody()
        }
    }
}

/// The scanner over a body's bytes. `base` is valid for `count` bytes while the scanner is in use.
struct FastScanner {
    let base: UnsafePointer<UInt8>
    let count: Int
    var position = 0

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    // Member names as `key(_:)` packs them, written out so that comparing costs no lookup (a test checks them).
    static let idKey: UInt64 = 0x6469  // "id"
    static let inputsKey: UInt64 = 0x7374_7570_6e69  // "inputs"
    static let outputsKey: UInt64 = 0x73_7475_7074_756f  // "outputs"
    static let nameKey: UInt64 = 0x656d_616e  // "name"
    static let datatypeKey: UInt64 = 0x6570_7974_6174_6164  // "datatype"
    static let shapeKey: UInt64 = 0x65_7061_6873  // "shape"
    static let dataKey: UInt64 = 0x6174_6164  // "data"

    /// Up to 8 bytes of a name, little-endian, as `memberKey()` packs them; with the length, it identifies the
    /// name.
    static func key(_ name: StaticString) -> UInt64 {
        precondition(name.utf8CodeUnitCount <= 8)
        var key: UInt64 = 0
        for index in 0..<name.utf8CodeUnitCount { key |= UInt64(name.utf8Start[index]) << (8 * UInt64(index)) }
        return key
    }

    /// The datatype whose wire name, packed with its length in the top byte as `datatype()` packs it, is `key`.
    /// Written out so that the lookup is one switch; a test checks every datatype's name goes through it.
    static func datatype(key: UInt64) -> TensorDatatype? {
        switch key {
        case 0x400_0000_4c4f_4f42: .bool  // "BOOL"
        case 0x500_0038_544e_4955: .uint8  // "UINT8"
        case 0x600_3631_544e_4955: .uint16  // "UINT16"
        case 0x600_3233_544e_4955: .uint32  // "UINT32"
        case 0x600_3436_544e_4955: .uint64  // "UINT64"
        case 0x400_0000_3854_4e49: .int8  // "INT8"
        case 0x500_0036_3154_4e49: .int16  // "INT16"
        case 0x500_0032_3354_4e49: .int32  // "INT32"
        case 0x500_0034_3654_4e49: .int64  // "INT64"
        case 0x400_0000_3631_5046: .fp16  // "FP16"
        case 0x400_0000_3233_5046: .fp32  // "FP32"
        case 0x400_0000_3436_5046: .fp64  // "FP64"
        case 0x500_0053_4554_5942: .bytes  // "BYTES"
        default: nil
        }
    }

    /// Powers of ten a Double holds exactly, as `JSONParser.exactPowersOfTen` (a test checks they agree), written
    /// as literals so that reading one needs no lazy initialisation.
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ]

    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes at `index` (which must leave eight in the body), the first in the low byte.
    @inline(__always)
    func word(at index: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
    }

    /// The bytes of `word` equal to `byte`, flagged in their high bit. Only the lowest flag is exact (a borrow
    /// may flag bytes above a match), which is all the callers use.
    @inline(__always)
    static func matches(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let difference = word ^ (ones &* UInt64(byte))
        return (difference &- ones) & ~difference & highBits
    }

    /// The length of the string whose content starts at `start`, if its closing quote is among the next
    /// `limit` (at most 8) bytes; the content's bytes, packed as `key(_:)` packs them. Nil otherwise: too long,
    /// or the body ends first. The content is not checked: callers compare the key against names they know.
    @inline(__always)
    func shortString(at start: Int, limit: Int) -> (key: UInt64, length: Int)? {
        if start + 8 <= count {
            let word = word(at: start)
            let quotes = FastScanner.matches(word, UInt8(ascii: "\""))
            if quotes != 0 {
                let length = quotes.trailingZeroBitCount &>> 3
                guard length <= limit else { return nil }
                return (word & ((1 &<< UInt64(length &* 8)) &- 1), length)
            }
            guard limit == 8, start + 8 < count, base[start + 8] == UInt8(ascii: "\"") else { return nil }
            return (word, 8)
        }
        // Near the end of the body: byte by byte.
        var key: UInt64 = 0
        var length = 0
        while start + length < count {
            let byte = base[start + length]
            if byte == UInt8(ascii: "\"") { return (key, length) }
            guard length < limit else { return nil }
            key |= UInt64(byte) &<< UInt64(length &* 8)
            length += 1
        }
        return nil
    }

    @inline(__always)
    mutating func skipWhitespace() {
        // Most tokens follow no whitespace or a single space.
        guard position < count, base[position] <= 0x20 else { return }
        while position < count {
            switch base[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) or fails.
    @inline(__always)
    mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < count, base[position] == byte else { return false }
        position += 1
        return true
    }

    /// `, ` or the closing byte: true to continue, false when closed, nil when neither.
    @inline(__always)
    mutating func next(closing: UInt8) -> Bool? {
        skipWhitespace()
        guard position < count else { return nil }
        let byte = base[position]
        if byte == UInt8(ascii: ",") {
            position += 1
            return true
        }
        if byte == closing {
            position += 1
            return false
        }
        return nil
    }

    /// A string without escapes or control bytes, after whitespace: where its content starts and ends (the
    /// closing quote is consumed) and whether it is all ASCII. Nil on anything else; the UTF-8 of a non-ASCII
    /// string is not checked here.
    @inline(__always)
    mutating func stringBounds() -> (start: Int, end: Int, ascii: Bool)? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = position
        // Eight bytes at a time while none is a quote, a backslash, a control byte or beyond ASCII; the bytes
        // from the first word that might hold one are looked at one by one.
        while position + 8 <= count {
            let word = word(at: position)
            let controls = (word &- FastScanner.ones &* 0x20) & ~word & FastScanner.highBits
            let special =
                FastScanner.matches(word, UInt8(ascii: "\"")) | FastScanner.matches(word, UInt8(ascii: "\\"))
                | controls | (word & FastScanner.highBits)
            if special != 0 { break }
            position += 8
        }
        var high: UInt8 = 0
        while position < count {
            let byte = base[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return (start, position - 1, high < 0x80)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            high |= byte
            position += 1
        }
        return nil
    }

    /// A string without escapes or control bytes, valid UTF-8.
    mutating func string() -> String? {
        guard let (start, end, ascii) = stringBounds() else { return nil }
        let text = UnsafeBufferPointer(start: base + start, count: end - start)
        // ASCII (the rule for names and datatypes) is valid UTF-8 as it stands; anything else is checked.
        return ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
    }

    /// `"name":` for a member name of at most 8 bytes: its bytes packed as `key(_:)` packs them, and its length.
    /// Nil for anything else. The name is not otherwise checked: it is only compared with the names the fast
    /// path knows, and any other makes it give up (the reference path then decides).
    @inline(__always)
    mutating func memberKey() -> (key: UInt64, length: Int)? {
        guard take(UInt8(ascii: "\"")), let (key, length) = shortString(at: position, limit: 8) else { return nil }
        position += length + 1
        guard take(UInt8(ascii: ":")) else { return nil }
        return (key, length)
    }

    /// A datatype's wire name, exactly as the protocol spells it.
    mutating func datatype() -> TensorDatatype? {
        guard take(UInt8(ascii: "\"")), let (key, length) = shortString(at: position, limit: 7) else { return nil }
        position += length + 1
        return FastScanner.datatype(key: key | UInt64(length) &<< 56)
    }

    /// A number by the JSON grammar, after whitespace, converted as the reference parser converts it.
    mutating func number() -> (value: Double, isInteger: Bool)? {
        skipWhitespace()
        // A local index: the scan stays in registers, and `position` is written once.
        let start = position
        var index = start
        var negative = false
        if index < count, base[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        // The significant digits and the decimal exponent, as `JSONParser.fastDouble` counts them.
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var isInteger = true
        // An exponent of 1,000 or more is beyond the exact conversion; the fraction's digits cannot bring it back.
        var exponentHuge = false
        guard index < count, base[index] &- UInt8(ascii: "0") < 10 else { return nil }
        if base[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < count {
                let digit = base[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                digits += 1
                mantissa = mantissa &* 10 &+ UInt64(digit)
                index += 1
            }
        }
        if index < count, base[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < count, base[index] &- UInt8(ascii: "0") < 10 else { return nil }
            while index < count {
                let digit = base[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                if mantissa != 0 || digit != 0 { digits += 1 }
                mantissa = mantissa &* 10 &+ UInt64(digit)
                exponent -= 1
                index += 1
            }
        }
        if index < count, base[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            var exponentNegative = false
            if index < count, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") {
                exponentNegative = base[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < count, base[index] &- UInt8(ascii: "0") < 10 else { return nil }
            var written = 0
            while index < count {
                let digit = base[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                // Once past 1,000 the value stays there: the exact conversion is out of the question.
                if written < 1_000 { written = written * 10 + Int(digit) }
                index += 1
            }
            if written >= 1_000 { exponentHuge = true }
            exponent += exponentNegative ? -written : written
        }
        position = index
        if digits <= 15 && !exponentHuge && exponent >= -22 && exponent <= 22 {
            // Both the digits (below 10^15, so exact as an Int64 too) and the power of ten are exact Doubles: one
            // correctly rounded operation.
            var value = Double(Int64(truncatingIfNeeded: mantissa))
            if exponent < 0 {
                value /= FastScanner.exactPowersOfTen[-exponent]
            } else {
                value *= FastScanner.exactPowersOfTen[exponent]
            }
            return (negative ? -value : value, isInteger)
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return (value, isInteger)
    }

    mutating func body() -> InferenceRequestBody? {
        guard let (id, inputs, outputs) = request(tensor: { $0.tensor() }) else { return nil }
        return InferenceRequestBody(id: id, inputs: inputs, outputs: outputs)
    }

    /// The members of a request body, `{"id"?, "inputs": [tensor, ...], "outputs"?}`, each at most once and no
    /// other, with each tensor read by `tensor`.
    @inline(__always)
    mutating func request<Tensor>(tensor: (inout FastScanner) -> Tensor?) -> (
        id: String?, inputs: [Tensor], outputs: [String]
    )? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var id: String?
        var inputs: [Tensor]?
        var outputs: [String]?
        if !take(UInt8(ascii: "}")) {
            while true {
                guard let (key, length) = memberKey() else { return nil }
                if length == 6 && key == FastScanner.inputsKey && inputs == nil {
                    guard let value = tensors(tensor) else { return nil }
                    inputs = value
                } else if length == 2 && key == FastScanner.idKey && id == nil {
                    guard let value = string() else { return nil }
                    id = value
                } else if length == 7 && key == FastScanner.outputsKey && outputs == nil {
                    guard let value = outputNames() else { return nil }
                    outputs = value
                } else {
                    return nil
                }
                guard let more = next(closing: UInt8(ascii: "}")) else { return nil }
                if !more { break }
            }
        }
        skipWhitespace()
        guard position == count, let inputs else { return nil }
        return (id, inputs, outputs ?? [])
    }

    @inline(__always)
    mutating func tensors<Tensor>(_ tensor: (inout FastScanner) -> Tensor?) -> [Tensor]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var tensors: [Tensor] = []
        if take(UInt8(ascii: "]")) { return tensors }
        tensors.reserveCapacity(1)
        while true {
            guard let value = tensor(&self) else { return nil }
            tensors.append(value)
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return tensors }
        }
    }

    mutating func tensor() -> InferenceInputTensor? {
        // The summary does not depend on the datatype, wherever it comes: the elements are read once.
        guard let (name, datatype, shape, data) = tensor(data: { $0.scalars() }) else { return nil }
        return InferenceInputTensor(name: name, datatype: datatype, shape: shape, data: data.data(datatype: datatype))
    }

    /// A tensor's members, `name`, `datatype`, `shape` and `data` (read by `data`), each once and no other.
    @inline(__always)
    mutating func tensor<Data>(data readData: (inout FastScanner) -> Data?) -> (
        name: String, datatype: TensorDatatype, shape: [Int64], data: Data
    )? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var name: String?
        var datatype: TensorDatatype?
        var shape: [Int64]?
        var data: Data?
        if take(UInt8(ascii: "}")) { return nil }
        while true {
            guard let (key, length) = memberKey() else { return nil }
            if length == 4 && key == FastScanner.dataKey && data == nil {
                guard let value = readData(&self) else { return nil }
                data = value
            } else if length == 4 && key == FastScanner.nameKey && name == nil {
                guard let value = string() else { return nil }
                name = value
            } else if length == 8 && key == FastScanner.datatypeKey && datatype == nil {
                guard let value = self.datatype() else { return nil }
                datatype = value
            } else if length == 5 && key == FastScanner.shapeKey && shape == nil {
                guard let value = integers() else { return nil }
                shape = value
            } else {
                return nil
            }
            guard let more = next(closing: UInt8(ascii: "}")) else { return nil }
            if !more { break }
        }
        guard let name, let datatype, let shape, let data else { return nil }
        return (name, datatype, shape, data)
    }

    /// An array of integer literals below the reference decoder's integer limit.
    mutating func integers() -> [Int64]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var values: [Int64] = []
        values.reserveCapacity(4)
        if take(UInt8(ascii: "]")) { return values }
        while true {
            guard let (value, isInteger) = number(), isInteger, abs(value) < JSONFields.integerMagnitudeLimit else {
                return nil
            }
            values.append(Int64(value))
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return values }
        }
    }

    /// Reads the flat array at `position` into a summary, as the reference decoder's `DataSummary.add` would
    /// fold its elements; nil on anything `add` refuses, on nesting and on anything unusual.
    mutating func scalars() -> FastDataSummary? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var summary = FastDataSummary()
        if take(UInt8(ascii: "]")) { return summary }
        while true {
            skipWhitespace()
            guard position < count else { return nil }
            switch base[position] {
            case UInt8(ascii: "\""):
                guard let (start, end, ascii) = stringBounds() else { return nil }
                if !ascii {
                    let text = UnsafeBufferPointer(start: base + start, count: end - start)
                    guard String(validating: text, as: UTF8.self) != nil else { return nil }
                }
                guard summary.addString(bytes: end - start) else { return nil }
            case UInt8(ascii: "t"):
                guard position + 4 <= count, base[position + 1] == UInt8(ascii: "r"),
                    base[position + 2] == UInt8(ascii: "u"), base[position + 3] == UInt8(ascii: "e"),
                    summary.addBool()
                else { return nil }
                position += 4
            case UInt8(ascii: "f"):
                guard position + 5 <= count, base[position + 1] == UInt8(ascii: "a"),
                    base[position + 2] == UInt8(ascii: "l"), base[position + 3] == UInt8(ascii: "s"),
                    base[position + 4] == UInt8(ascii: "e"), summary.addBool()
                else { return nil }
                position += 5
            default:
                guard let (value, isInteger) = number(), summary.addNumber(value, isInteger: isInteger) else {
                    return nil
                }
            }
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return summary }
        }
    }

    mutating func numericBody() -> InferenceJSON.NumericRequest? {
        guard let (id, inputs, outputs) = request(tensor: { $0.numericTensor() }) else { return nil }
        return InferenceJSON.NumericRequest(id: id, inputs: inputs, outputs: outputs)
    }

    mutating func numericTensor() -> InferenceJSON.NumericInput? {
        guard let (name, datatype, shape, values) = tensor(data: { $0.numbers() }) else { return nil }
        return InferenceJSON.NumericInput(name: name, datatype: datatype, shape: shape, values: values)
    }

    /// A flat array of numbers, as `JSONValue.parse` converts them.
    mutating func numbers() -> [Double]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var values: [Double] = []
        values.reserveCapacity(8)
        if take(UInt8(ascii: "]")) { return values }
        while true {
            guard let (value, _) = number() else { return nil }
            values.append(value)
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return values }
        }
    }

    mutating func outputNames() -> [String]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var names: [String] = []
        if take(UInt8(ascii: "]")) { return names }
        while true {
            guard take(UInt8(ascii: "{")), let (key, length) = memberKey(), length == 4, key == FastScanner.nameKey,
                let name = string(), take(UInt8(ascii: "}"))
            else { return nil }
            names.append(name)
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return names }
        }
    }
}

/// The running summary of one tensor's flat data, folded exactly as `DataSummary.add` folds it; false from an
/// `add` is a refusal there (the fast path gives up). The datatype only decides the kind of empty data, so it is
/// applied at the end.
struct FastDataSummary {
    var kind: TensorData.Kind?
    var count = 0
    var minimum = 0.0
    var maximum = 0.0
    var stringBytes = 0

    @inline(__always)
    mutating func addNumber(_ value: Double, isInteger: Bool) -> Bool {
        let elementKind: TensorData.Kind = isInteger ? .integers : .numbers
        switch kind {
        case nil:
            minimum = value
            maximum = value
            kind = elementKind
        case .integers?, .numbers?:
            minimum = min(minimum, value)
            maximum = max(maximum, value)
            if elementKind == .numbers { kind = .numbers }
        default: return false
        }
        count += 1
        return true
    }

    @inline(__always)
    mutating func addBool() -> Bool {
        switch kind {
        case nil: kind = .booleans
        case .booleans?: break
        default: return false
        }
        count += 1
        return true
    }

    @inline(__always)
    mutating func addString(bytes: Int) -> Bool {
        switch kind {
        case nil: kind = .strings
        case .strings?: break
        default: return false
        }
        stringBytes += bytes
        count += 1
        return true
    }

    func data(datatype: TensorDatatype) -> TensorData {
        guard let kind else { return DataSummary(datatype: datatype).data }
        return TensorData(kind: kind, count: count, minimum: minimum, maximum: maximum, stringBytes: stringBytes)
    }
}
