// The JSON reader is fed by users (scenario files now, API bodies later): strict RFC 8259,
// errors with positions, limits on depth, and a writer whose output reads back the same.

import PlatformCore
import Testing

@testable import PlatformWire

@Suite struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#"{"a": [1, -2.5e3, true, false, null], "b": "x\"\u00e9\n", "c": {}}"#)
        #expect(
            value["a"]
                == .array([
                    .number(1, isInteger: true), .number(-2500, isInteger: false), .bool(true), .bool(false), .null,
                ]))
        #expect(value["b"] == .string("x\"é\n"))
        #expect(value["c"] == .object([]))
    }

    @Test func keepsMemberOrder() throws {
        guard case .object(let members) = try JSONValue.parse(#"{"z": 1, "a": 2, "m": 3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.0) == ["z", "a", "m"])
    }

    @Test(arguments: [
        ("", "line 1, column 1: unexpected end of input, expected a value"),
        ("{\"a\" 1}", "line 1, column 6: expected ':'"),
        ("[1,]", "line 1, column 4: unexpected character ']', expected a value"),
        ("01", "line 1, column 2: unexpected text after the document"),
        ("\"\\x\"", "line 1, column 4: invalid escape '\\x'"),
        ("{\"a\":1,\"a\":2}", "line 1, column 11: duplicate member \"a\""),
        ("[1]\n  x", "line 2, column 3: unexpected text after the document"),
        ("\"\\ud800\"", "line 1, column 8: unpaired surrogate in \\u escape"),
        ("1e999", "line 1, column 6: number out of range"),
    ])
    func rejectsMalformedInputWithPosition(_ text: String, _ expected: String) {
        do {
            _ = try JSONValue.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func refusesDeepNesting() {
        let text = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func writerRoundTrips() throws {
        let original = JSONValue.object([
            ("name", .string("tab\there \"quoted\" \u{1}")), ("n", .number(0.125, isInteger: false)),
            ("list", .array([.number(42, isInteger: true), .null, .bool(true)])),
        ])
        let text = original.serialized()
        #expect(text == #"{"name":"tab\there \"quoted\" \u0001","n":0.125,"list":[42,null,true]}"#)
        #expect(try JSONValue.parse(text) == original)
    }
}

@Suite struct JSONNumberFastPathTests {
    /// The exact fast path must agree bit for bit with the standard library's conversion on every number it takes.
    @Test func fastPathAgreesWithTheStandardConversion() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<20_000 {
            let integer = random.below(UInt64(1) << random.below(54))
            let fraction = random.below(1_000_000_000)
            let exponent = Int(random.below(50)) - 25
            var text = random.below(2) == 0 ? "-" : ""
            text += String(integer)
            if random.below(2) == 0 { text += "." + String(fraction) }
            if random.below(3) == 0 { text += (random.below(2) == 0 ? "e" : "E") + String(exponent) }
            let parsed = try JSONValue.parse(text)
            guard case .number(let value, _) = parsed, let expected = Double(text) else {
                Issue.record("\(text) did not parse as a number")
                continue
            }
            #expect(value.bitPattern == expected.bitPattern, "\(text): \(value) != \(expected)")
        }
    }
}
