// A fast path for the common KServe v2 inference body: flat `data`, no escapes in strings, no `parameters`,
// members each at most once. It reads the bytes once, without building a JSON tree, and gives exactly what the
// reference path (`JSONValue.parse` then `InferenceJSON.decodeRequest`) gives. On anything else, valid or not,
// it answers nil and the caller takes the reference path, so every refusal, with its message, comes from one
// place. The fuzz target and a property test check the two agree wherever the fast path answers.

import PlatformCore

extension InferenceJSON {
    /// The decoded body when the fast path applies; nil means "use the reference path".
    public static func decodeRequestFast(_ bytes: [UInt8]) -> InferenceRequestBody? {
        var scanner = FastScanner(bytes: bytes)
        return scanner.body()
    }
}

struct FastScanner {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) or fails.
    mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// After whitespace: true if the next byte is `byte` (not consumed).
    mutating func peek(_ byte: UInt8) -> Bool {
        skipWhitespace()
        return position < bytes.count && bytes[position] == byte
    }

    /// A string without escapes or control bytes, valid UTF-8.
    mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = position
        var ascii = true
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                // ASCII (the rule for names and datatypes) is valid UTF-8 as it stands; anything else is checked.
                let text =
                    ascii
                    ? String(decoding: bytes[start..<position], as: UTF8.self)
                    : String(validating: bytes[start..<position], as: UTF8.self)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            if byte >= 0x80 { ascii = false }
            position += 1
        }
        return nil
    }

    /// A number by the JSON grammar, converted as the reference parser converts it.
    mutating func number() -> (value: Double, isInteger: Bool)? {
        skipWhitespace()
        var parser = JSONParser(bytes: bytes, limits: JSONLimits())
        parser.position = position
        guard position < bytes.count,
            bytes[position] == UInt8(ascii: "-") || (bytes[position] >= 0x30 && bytes[position] <= 0x39),
            case .number(let value, let isInteger)? = try? parser.parseNumber()
        else { return nil }
        position = parser.position
        return (value, isInteger)
    }

    /// `"name":` — the member name and its colon.
    mutating func memberName() -> String? {
        guard let name = string(), take(UInt8(ascii: ":")) else { return nil }
        return name
    }

    /// `, ` or the closing byte: true to continue, false when closed, nil when neither.
    mutating func next(closing: UInt8) -> Bool? {
        if take(UInt8(ascii: ",")) { return true }
        if take(closing) { return false }
        return nil
    }

    mutating func body() -> InferenceRequestBody? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var id: String?
        var inputs: [InferenceInputTensor]?
        var outputs: [String]?
        if !take(UInt8(ascii: "}")) {
            while true {
                guard let name = memberName() else { return nil }
                switch name {
                case "id" where id == nil:
                    guard let value = string() else { return nil }
                    id = value
                case "inputs" where inputs == nil:
                    guard let value = tensors() else { return nil }
                    inputs = value
                case "outputs" where outputs == nil:
                    guard let value = outputNames() else { return nil }
                    outputs = value
                default: return nil
                }
                guard let more = next(closing: UInt8(ascii: "}")) else { return nil }
                if !more { break }
            }
        }
        skipWhitespace()
        guard position == bytes.count, let inputs, bytes.count <= JSONLimits().bytesMax else { return nil }
        return InferenceRequestBody(id: id, inputs: inputs, outputs: outputs ?? [])
    }

    mutating func tensors() -> [InferenceInputTensor]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var tensors: [InferenceInputTensor] = []
        if take(UInt8(ascii: "]")) { return tensors }
        while true {
            guard let tensor = tensor() else { return nil }
            tensors.append(tensor)
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return tensors }
        }
    }

    mutating func tensor() -> InferenceInputTensor? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var name: String?
        var datatype: TensorDatatype?
        var shape: [Int64]?
        var data: DataSummary?
        /// Where `data` began when it came before `datatype`: its elements are summarised once the datatype is known.
        var deferredData: Range<Int>?
        if take(UInt8(ascii: "}")) { return nil }
        while true {
            guard let member = memberName() else { return nil }
            switch member {
            case "name" where name == nil:
                guard let value = string() else { return nil }
                name = value
            case "datatype" where datatype == nil:
                guard let value = string(), let known = TensorDatatype(name: value) else { return nil }
                datatype = known
            case "shape" where shape == nil:
                guard let value = integers() else { return nil }
                shape = value
            case "data" where data == nil && deferredData == nil:
                if let datatype {
                    // The usual order: the datatype came first, so the elements are summarised in one pass.
                    var summary = DataSummary(datatype: datatype)
                    guard summarise(into: &summary) else { return nil }
                    data = summary
                } else {
                    skipWhitespace()
                    let start = position
                    guard skipFlatArray() else { return nil }
                    deferredData = start..<position
                }
            default: return nil
            }
            guard let more = next(closing: UInt8(ascii: "}")) else { return nil }
            if !more { break }
        }
        guard let name, let datatype, let shape else { return nil }
        if let deferredData {
            var summary = DataSummary(datatype: datatype)
            var elements = FastScanner(bytes: bytes)
            elements.position = deferredData.lowerBound
            guard elements.summarise(into: &summary), elements.position == deferredData.upperBound else { return nil }
            data = summary
        }
        guard let data else { return nil }
        return InferenceInputTensor(name: name, datatype: datatype, shape: shape, data: data.data)
    }

    /// An array of integer literals below the reference decoder's integer limit.
    mutating func integers() -> [Int64]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var values: [Int64] = []
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

    /// Moves past a flat array of scalars (no nested arrays or objects).
    mutating func skipFlatArray() -> Bool {
        var copy = self
        var summary = DataSummary(datatype: .fp32)
        guard copy.scalars(into: &summary, strict: false) else { return false }
        position = copy.position
        return true
    }

    /// Reads the flat array at `position` into `summary`, as the reference decoder's `add` would.
    mutating func summarise(into summary: inout DataSummary) -> Bool {
        scalars(into: &summary, strict: true)
    }

    /// `strict`: fold every element into the summary (refusals make the fast path give up); otherwise only check
    /// the syntax.
    mutating func scalars(into summary: inout DataSummary, strict: Bool) -> Bool {
        guard take(UInt8(ascii: "[")) else { return false }
        if take(UInt8(ascii: "]")) { return true }
        while true {
            skipWhitespace()
            guard position < bytes.count else { return false }
            let element: JSONValue
            switch bytes[position] {
            case UInt8(ascii: "\""):
                guard let text = string() else { return false }
                element = .string(text)
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let word: [UInt8] = bytes[position] == UInt8(ascii: "t") ? Array("true".utf8) : Array("false".utf8)
                guard position + word.count <= bytes.count,
                    bytes[position..<position + word.count].elementsEqual(word)
                else { return false }
                position += word.count
                element = .bool(word.count == 4)
            default:
                guard let (value, isInteger) = number() else { return false }
                element = .number(value, isInteger: isInteger)
            }
            if strict {
                do {
                    try summary.add(element, path: "")
                } catch {
                    return false
                }
            }
            guard let more = next(closing: UInt8(ascii: "]")) else { return false }
            if !more { return true }
        }
    }

    mutating func outputNames() -> [String]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var names: [String] = []
        if take(UInt8(ascii: "]")) { return names }
        while true {
            guard take(UInt8(ascii: "{")), let member = memberName(), member == "name", let name = string(),
                take(UInt8(ascii: "}"))
            else { return nil }
            names.append(name)
            guard let more = next(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return names }
        }
    }
}
