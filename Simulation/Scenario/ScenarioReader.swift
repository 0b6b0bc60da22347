// Typed access to a scenario's JSON with errors that name the file, the field's path and what
// was expected, e.g. `scenarios/x.json: workload[2].requestsPerSecond: expected a number >= 0,
// got a string`. Unknown fields are errors too, so a typo never silently means "default".

import PlatformCore
import PlatformWire

/// A scenario file that could not be used, with where and why.
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)" }
}

/// Reads fields of one JSON object, remembering which were used.
struct FieldReader {
    let file: String
    let path: String
    let members: [(String, JSONValue)]

    init(file: String, path: String, value: JSONValue) throws(ScenarioError) {
        self.file = file
        self.path = path
        guard case .object(let members) = value else {
            throw ScenarioError(file: file, path: path, message: "expected an object, got \(value.typeName)")
        }
        self.members = members
    }

    func fail(_ field: String, _ message: String) -> ScenarioError {
        ScenarioError(file: file, path: child(field), message: message)
    }

    func child(_ field: String) -> String { path.isEmpty ? field : "\(path).\(field)" }

    /// Refuses members not in `known`.
    func onlyKnown(_ known: [String]) throws(ScenarioError) {
        for (name, _) in members where !known.contains(name) {
            throw fail(name, "unknown field (known fields: \(known.joined(separator: ", ")))")
        }
    }

    func value(_ field: String) -> JSONValue? { members.first { $0.0 == field }?.1 }

    func required(_ field: String) throws(ScenarioError) -> JSONValue {
        guard let value = value(field) else {
            throw ScenarioError(file: file, path: path, message: "missing field `\(field)`")
        }
        return value
    }

    func string(_ field: String, default fallback: String? = nil) throws(ScenarioError) -> String {
        guard let value = value(field) else {
            if let fallback { return fallback }
            throw ScenarioError(file: file, path: path, message: "missing field `\(field)` (a string)")
        }
        guard case .string(let text) = value else { throw fail(field, "expected a string, got \(value.typeName)") }
        return text
    }

    func bool(_ field: String, default fallback: Bool) throws(ScenarioError) -> Bool {
        guard let value = value(field) else { return fallback }
        guard case .bool(let flag) = value else { throw fail(field, "expected true or false, got \(value.typeName)") }
        return flag
    }

    func number(_ field: String, min: Double, max: Double, default fallback: Double?) throws(ScenarioError) -> Double {
        guard let value = value(field) else {
            if let fallback { return fallback }
            throw ScenarioError(file: file, path: path, message: "missing field `\(field)` (a number)")
        }
        guard case .number(let number, _) = value else {
            throw fail(
                field,
                "expected a number between \(JSONValue.format(min)) and \(JSONValue.format(max)), got \(value.typeName)"
            )
        }
        guard number >= min, number <= max else {
            throw fail(
                field,
                "expected a number between \(JSONValue.format(min)) and \(JSONValue.format(max)), got "
                    + "\(JSONValue.format(number))"
            )
        }
        return number
    }

    func integer(_ field: String, min: Int64, max: Int64, default fallback: Int64?) throws(ScenarioError) -> Int64 {
        guard let value = value(field) else {
            if let fallback { return fallback }
            throw ScenarioError(file: file, path: path, message: "missing field `\(field)` (an integer)")
        }
        guard case .number(let number, _) = value, number == number.rounded(), number >= Double(min),
            number <= Double(max)
        else {
            throw fail(field, "expected an integer between \(min) and \(max), got \(describe(value))")
        }
        return Int64(number)
    }

    func seconds(_ field: String, default fallback: Duration?) throws(ScenarioError) -> Duration {
        let fallbackSeconds = fallback.map { Double($0.nanoseconds) / 1e9 }
        let value = try number(field, min: 0, max: 86_400 * 7, default: fallbackSeconds)
        return Duration(nanoseconds: Int64((value * 1e9).rounded()))
    }

    func milliseconds(_ field: String, default fallback: Duration?) throws(ScenarioError) -> Duration {
        let fallbackMilliseconds = fallback.map { Double($0.nanoseconds) / 1e6 }
        let value = try number(field, min: 0, max: 3_600_000, default: fallbackMilliseconds)
        return Duration(nanoseconds: Int64((value * 1e6).rounded()))
    }

    func percent(_ field: String, default fallback: Ratio?, max: Double = 100) throws(ScenarioError) -> Ratio {
        let fallbackPercent = fallback.map { Double($0.partsPerMillion) / 10_000 }
        let value = try number(field, min: 0, max: max, default: fallbackPercent)
        return Ratio(partsPerMillion: Int64((value * 10_000).rounded()))
    }

    func array(_ field: String) throws(ScenarioError) -> [JSONValue] {
        guard let value = value(field) else { return [] }
        guard case .array(let elements) = value else { throw fail(field, "expected an array, got \(value.typeName)") }
        return elements
    }

    func strings(_ field: String) throws(ScenarioError) -> [String] {
        var result: [String] = []
        for (index, element) in try array(field).enumerated() {
            guard case .string(let text) = element else {
                throw fail("\(field)[\(index)]", "expected a string, got \(element.typeName)")
            }
            result.append(text)
        }
        return result
    }

    func object(_ field: String) throws(ScenarioError) -> FieldReader? {
        guard let value = value(field) else { return nil }
        return try FieldReader(file: file, path: child(field), value: value)
    }

    func element(_ field: String, _ index: Int, _ value: JSONValue) throws(ScenarioError) -> FieldReader {
        try FieldReader(file: file, path: "\(child(field))[\(index)]", value: value)
    }

    func describe(_ value: JSONValue) -> String {
        if case .number(let number, _) = value { return JSONValue.format(number) }
        return value.typeName
    }
}
