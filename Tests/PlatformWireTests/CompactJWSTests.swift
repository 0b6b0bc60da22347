// The compact JWS parser sees attacker-controlled bytes before any signature is checked: it must be strict
// (canonical base64url, three parts, JSON objects, typed claims), bounded (size first), and say what was wrong.

import PlatformCore
import Testing

@testable import PlatformWire

@Suite struct CompactJWSTests {
    /// RFC 7515 appendix A.1: header `{"typ":"JWT",\r\n "alg":"HS256"}`, the "joe" claims, and its HMAC.
    static let rfcHeader = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    static let rfcPayload =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    static let rfcSignature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let rfcToken = rfcHeader + "." + rfcPayload + "." + rfcSignature

    static func parseError(_ token: String, bytesMax: Int = CompactJWS.tokenBytesMaxDefault) -> CompactJWSError? {
        do {
            _ = try CompactJWS.parse(token, bytesMax: bytesMax)
            return nil
        } catch {
            return error
        }
    }

    static func token(header: String, payload: String, signature: String = "c2ln") -> String {
        Base64URL.encode(header) + "." + Base64URL.encode(payload) + "." + signature
    }

    @Test func parsesTheRFC7515Example() throws {
        let token = try CompactJWS.parse(Self.rfcToken)
        #expect(token.header == BearerToken.Header(algorithm: "HS256", keyID: nil, type: "JWT"))
        #expect(token.claims == BearerToken.Claims(issuer: "joe", expiresAtUnixSeconds: 1_300_819_380))
        #expect(token.signingInput == Array((Self.rfcHeader + "." + Self.rfcPayload).utf8))
        #expect(token.signature.count == 32)
        #expect(Base64URL.encode(token.signature) == Self.rfcSignature)
        #expect(token.encodedByteCount == Self.rfcToken.utf8.count)
    }

    @Test func base64URLRoundTripsAndIsStrict() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.encode(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
        // Padding, the standard alphabet, whitespace, impossible lengths, non-zero trailing bits.
        for bad in ["YQ==", "YQ=", "+/8", "YW Jj", "YWJjZ", "YR", "-_9", "\u{e9}"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad) decoded")
        }
    }

    @Test func claimsOfEveryKindDecode() throws {
        let payload = #"""
            {"iss":"https://auth.example","sub":"user-7","aud":["inference","billing"],"exp":1700000600,
             "nbf":1700000000.9,"iat":-5,"tenant":"acme","scope":"infer  jobs:read ","extra":{"x":[1]}}
            """#
        let token = try CompactJWS.parse(Self.token(header: #"{"alg":"ES256","kid":"k-2024"}"#, payload: payload))
        #expect(token.header == BearerToken.Header(algorithm: "ES256", keyID: "k-2024"))
        let expected = BearerToken.Claims(
            issuer: "https://auth.example", subject: "user-7", audience: ["inference", "billing"],
            expiresAtUnixSeconds: 1_700_000_600, notBeforeUnixSeconds: 1_700_000_000, issuedAtUnixSeconds: -5,
            tenant: "acme", scopes: ["infer", "jobs:read"])
        #expect(token.claims == expected)
        let single = try CompactJWS.parse(
            Self.token(header: #"{"alg":"none"}"#, payload: #"{"aud":"a"}"#, signature: ""))
        #expect(single.claims.audience == ["a"])
        #expect(single.signature.isEmpty)
    }

    @Test func namesWhatWasWrong() {
        let header = Base64URL.encode(#"{"alg":"HS256"}"#)
        let payload = Base64URL.encode("{}")
        let cases: [(String, CompactJWSError)] = [
            ("", .wrongPartCount(1)),
            ("a.b", .wrongPartCount(2)),
            ("a.b.c.d", .wrongPartCount(4)),
            (header + "." + payload, .wrongPartCount(2)),
            ("eyJ=." + payload + ".", .badBase64URL(.header)),
            (header + ".e30=.", .badBase64URL(.payload)),
            (header + "." + payload + ".a+b", .badBase64URL(.signature)),
            (header + "." + payload + ".abcde", .badBase64URL(.signature)),
            (Base64URL.encode("[1]") + "." + payload + ".", .notJSONObject(.header, "it is an array")),
            (header + "." + Base64URL.encode("\"x\"") + ".", .notJSONObject(.payload, "it is a string")),
            (Base64URL.encode(#"{"typ":"JWT"}"#) + "." + payload + ".", .algorithmMissing),
            (Base64URL.encode(#"{"alg":7}"#) + "." + payload + ".", .algorithmMissing),
            (
                Self.token(header: #"{"alg":"HS256","kid":1}"#, payload: "{}"),
                .wrongType(.header, name: "kid", expected: "a string")
            ),
            (Self.token(header: #"{"alg":"HS256","crit":["exp"]}"#, payload: "{}"), .criticalExtension),
            (
                Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"exp":"soon"}"#),
                .wrongType(.payload, name: "exp", expected: "a NumericDate (seconds within ±2^53)")
            ),
            (
                Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"nbf":1e300}"#),
                .wrongType(.payload, name: "nbf", expected: "a NumericDate (seconds within ±2^53)")
            ),
            (
                Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"aud":["a",2]}"#),
                .wrongType(.payload, name: "aud", expected: "a string or an array of strings")
            ),
            (
                Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"sub":null}"#),
                .wrongType(.payload, name: "sub", expected: "a string")
            ),
            (
                Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"scope":["a"]}"#),
                .wrongType(.payload, name: "scope", expected: "a string")
            ),
        ]
        for (token, expected) in cases {
            #expect(Self.parseError(token) == expected, "\(token)")
            #expect(Self.parseError(token)?.refusal == .malformed)
        }
    }

    @Test func malformedJSONSaysWhere() {
        guard
            case .notJSONObject(.payload, let why) = Self.parseError(
                Self.token(header: #"{"alg":"x"}"#, payload: "{\"a\":}"))
        else {
            Issue.record("expected a payload JSON error")
            return
        }
        #expect(why.contains("line 1, column 6"))
        let duplicate = Self.parseError(Self.token(header: #"{"alg":"x","alg":"none"}"#, payload: "{}"))
        #expect(duplicate?.description.contains("duplicate member") == true)
    }

    @Test func sizeIsCheckedBeforeAnythingElse() {
        let huge = String(repeating: "A", count: 9_000)
        #expect(Self.parseError(huge) == .tooLarge(bytes: 9_000, limit: 8_192))
        #expect(Self.parseError(huge)?.refusal == .tooLarge)
        #expect(Self.parseError(Self.rfcToken, bytesMax: 100) == .tooLarge(bytes: Self.rfcToken.utf8.count, limit: 100))
        let scopes = (0...CompactJWS.scopesMax).map { "s\($0)" }.joined(separator: " ")
        let many = Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"scope":"\#(scopes)"}"#)
        #expect(Self.parseError(many) == .tooManyScopes(65, limit: 64))
        let deep = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        let nested = Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"x":\#(deep)}"#)
        guard case .notJSONObject(.payload, let why) = Self.parseError(nested) else {
            Issue.record("expected a depth error")
            return
        }
        #expect(why.contains("nesting deeper than 8"))
    }

    @Test func encoderWritesWhatTheParserReads() throws {
        let header = BearerToken.Header(algorithm: "RS256", keyID: "k1", type: "JWT")
        let claims = BearerToken.Claims(
            issuer: "iss", subject: "sub", audience: ["one"], expiresAtUnixSeconds: 2_000_000_000,
            notBeforeUnixSeconds: 0, issuedAtUnixSeconds: 1_999_999_000, tenant: "t", scopes: ["a", "b"])
        let signingInput = CompactJWS.signingInput(header: header, claims: claims)
        let text = String(decoding: signingInput, as: UTF8.self)
        #expect(text.hasPrefix(Base64URL.encode(#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#) + "."))
        let compact = CompactJWS.compact(signingInput: signingInput, signature: [1, 2, 3])
        let parsed = try CompactJWS.parse(compact)
        #expect(parsed.header == header)
        #expect(parsed.claims == claims)
        #expect(parsed.signingInput == signingInput)
        #expect(parsed.signature == [1, 2, 3])
        var several = claims
        several.audience = ["one", "two"]
        let again = try CompactJWS.parse(
            CompactJWS.compact(
                signingInput: CompactJWS.signingInput(header: header, claims: several), signature: []))
        #expect(again.claims.audience == ["one", "two"])
    }
}
