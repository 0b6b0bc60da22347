// The JWS compact serialization (RFC 7515 section 7.1) of a JWT: `b64url(header).b64url(payload).b64url(sig)`.
// Parsing is strict and bounded (size first, then exactly three parts, canonical base64url, JSON objects within
// `JSONLimits`, claims of the right type), and every failure names what was wrong. The claims are decoded here
// only into values; whether they are acceptable is the core's `TokenAuthenticator`'s decision.

import PlatformCore

/// Why a compact JWS could not be decoded.
public enum CompactJWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The token is longer than the limit (checked before any decoding).
    case tooLarge(bytes: Int, limit: Int)
    /// The token does not have exactly three dot-separated parts.
    case wrongPartCount(Int)
    /// A part is not canonical unpadded base64url.
    case badBase64URL(Part)
    /// The header or the payload is not a JSON object (the message says why).
    case notJSONObject(Part, String)
    /// The header has no `alg` string.
    case algorithmMissing
    /// A header member or claim has the wrong JSON type.
    case wrongType(Part, name: String, expected: String)
    /// The header lists `crit` extensions; the platform understands none, so RFC 7515 section 4.1.11 says refuse.
    case criticalExtension
    /// The `scope` claim lists more scopes than allowed.
    case tooManyScopes(Int, limit: Int)

    /// The three parts of the compact form.
    public enum Part: String, Sendable, Equatable {
        case header
        case payload
        case signature
    }

    /// The refusal the authenticator records for this error: every one is a 401.
    public var refusal: TokenRefusal {
        if case .tooLarge = self { return .tooLarge }
        return .malformed
    }

    public var description: String {
        switch self {
        case .tooLarge(let bytes, let limit): "token is \(bytes) bytes, more than the limit of \(limit)"
        case .wrongPartCount(let count): "token has \(count) dot-separated parts, expected 3"
        case .badBase64URL(let part): "\(part.rawValue) is not unpadded base64url"
        case .notJSONObject(let part, let why): "\(part.rawValue) is not a JSON object: \(why)"
        case .algorithmMissing: "header has no \"alg\" string"
        case .wrongType(let part, let name, let expected): "\(part.rawValue) member \"\(name)\" must be \(expected)"
        case .criticalExtension: "header lists critical extensions (\"crit\"), none of which are supported"
        case .tooManyScopes(let count, let limit): "scope lists \(count) scopes, more than the limit of \(limit)"
        }
    }
}

/// Decoding and encoding of compact JWS tokens.
public enum CompactJWS {
    /// The default longest token accepted, in bytes.
    public static let tokenBytesMaxDefault = 8 << 10
    /// The most scopes one token may carry.
    public static let scopesMax = 64
    /// JOSE headers and claim sets are flat; a deep document is an attack, not a token.
    static let jsonDepthMax = 8

    /// Decodes a compact token (the text after `Bearer `).
    public static func parse(_ token: String, bytesMax: Int = tokenBytesMaxDefault) throws(CompactJWSError)
        -> BearerToken
    {
        try parse(Array(token.utf8), bytesMax: bytesMax)
    }

    /// Decodes a compact token from its bytes.
    public static func parse(_ token: [UInt8], bytesMax: Int = tokenBytesMaxDefault) throws(CompactJWSError)
        -> BearerToken
    {
        guard token.count <= bytesMax else { throw .tooLarge(bytes: token.count, limit: bytesMax) }
        let parts = token.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .wrongPartCount(parts.count) }
        guard let headerBytes = Base64URL.decode(parts[0]) else { throw .badBase64URL(.header) }
        guard let payloadBytes = Base64URL.decode(parts[1]) else { throw .badBase64URL(.payload) }
        guard let signature = Base64URL.decode(parts[2]) else { throw .badBase64URL(.signature) }
        let header = try decodeHeader(try object(headerBytes, .header, bytesMax: bytesMax))
        let claims = try decodeClaims(try object(payloadBytes, .payload, bytesMax: bytesMax))
        let signingInput = Array(token[0..<(parts[0].count + 1 + parts[1].count)])
        return BearerToken(
            header: header, claims: claims, signingInput: signingInput, signature: signature,
            encodedByteCount: token.count)
    }

    static func object(_ bytes: [UInt8], _ part: CompactJWSError.Part, bytesMax: Int) throws(CompactJWSError)
        -> [(String, JSONValue)]
    {
        var limits = JSONLimits()
        limits.depthMax = jsonDepthMax
        limits.bytesMax = bytesMax
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, limits: limits)
        } catch {
            throw .notJSONObject(part, error.description)
        }
        guard case .object(let members) = value else { throw .notJSONObject(part, "it is \(value.typeName)") }
        return members
    }

    static func decodeHeader(_ members: [(String, JSONValue)]) throws(CompactJWSError) -> BearerToken.Header {
        var header = BearerToken.Header(algorithm: "")
        var sawAlgorithm = false
        for (name, value) in members {
            switch name {
            case "alg":
                guard case .string(let algorithm) = value else { throw .algorithmMissing }
                header.algorithm = algorithm
                sawAlgorithm = true
            case "kid": header.keyID = try string(value, .header, name)
            case "typ": header.type = try string(value, .header, name)
            case "crit": throw .criticalExtension
            default: continue
            }
        }
        guard sawAlgorithm else { throw .algorithmMissing }
        return header
    }

    static func decodeClaims(_ members: [(String, JSONValue)]) throws(CompactJWSError) -> BearerToken.Claims {
        var claims = BearerToken.Claims()
        for (name, value) in members {
            switch name {
            case "iss": claims.issuer = try string(value, .payload, name)
            case "sub": claims.subject = try string(value, .payload, name)
            case "aud": claims.audience = try audience(value)
            case "exp": claims.expiresAtUnixSeconds = try numericDate(value, name)
            case "nbf": claims.notBeforeUnixSeconds = try numericDate(value, name)
            case "iat": claims.issuedAtUnixSeconds = try numericDate(value, name)
            case "tenant": claims.tenant = try string(value, .payload, name)
            case "scope": claims.scopes = try scopes(value)
            default: continue
            }
        }
        return claims
    }

    static func string(_ value: JSONValue, _ part: CompactJWSError.Part, _ name: String) throws(CompactJWSError)
        -> String
    {
        guard case .string(let text) = value else { throw .wrongType(part, name: name, expected: "a string") }
        return text
    }

    static func audience(_ value: JSONValue) throws(CompactJWSError) -> [String] {
        let expected = "a string or an array of strings"
        switch value {
        case .string(let single): return [single]
        case .array(let elements):
            var audience: [String] = []
            for element in elements {
                guard case .string(let text) = element else {
                    throw .wrongType(.payload, name: "aud", expected: expected)
                }
                audience.append(text)
            }
            return audience
        default: throw .wrongType(.payload, name: "aud", expected: expected)
        }
    }

    /// A NumericDate (RFC 7519 section 2): seconds, possibly fractional, rounded down to the second. Values beyond
    /// 2^53 cannot be told apart as doubles and are refused rather than guessed.
    static func numericDate(_ value: JSONValue, _ name: String) throws(CompactJWSError) -> Int64 {
        guard case .number(let seconds, _) = value, seconds.isFinite, abs(seconds) <= 9_007_199_254_740_992 else {
            throw .wrongType(.payload, name: name, expected: "a NumericDate (seconds within ±2^53)")
        }
        return Int64(seconds.rounded(.down))
    }

    static func scopes(_ value: JSONValue) throws(CompactJWSError) -> [String] {
        let text = try string(value, .payload, "scope")
        let scopes = text.split(separator: " ").map(String.init)
        guard scopes.count <= scopesMax else { throw .tooManyScopes(scopes.count, limit: scopesMax) }
        return scopes
    }
}

extension CompactJWS {
    /// The JOSE header JSON for `header`, members in the order alg, kid, typ.
    public static func headerJSON(_ header: BearerToken.Header) -> JSONValue {
        var members: [(String, JSONValue)] = [("alg", .string(header.algorithm))]
        if let keyID = header.keyID { members.append(("kid", .string(keyID))) }
        if let type = header.type { members.append(("typ", .string(type))) }
        return .object(members)
    }

    /// The claims JSON for `claims`: absent claims are omitted, a one-element audience is a plain string.
    public static func claimsJSON(_ claims: BearerToken.Claims) -> JSONValue {
        var members: [(String, JSONValue)] = []
        if let issuer = claims.issuer { members.append(("iss", .string(issuer))) }
        if let subject = claims.subject { members.append(("sub", .string(subject))) }
        if claims.audience.count == 1 {
            members.append(("aud", .string(claims.audience[0])))
        } else if !claims.audience.isEmpty {
            members.append(("aud", .array(claims.audience.map { .string($0) })))
        }
        let dates = [
            ("exp", claims.expiresAtUnixSeconds), ("nbf", claims.notBeforeUnixSeconds),
            ("iat", claims.issuedAtUnixSeconds),
        ]
        for (name, seconds) in dates {
            if let seconds { members.append((name, .number(Double(seconds), isInteger: true))) }
        }
        if let tenant = claims.tenant { members.append(("tenant", .string(tenant))) }
        if !claims.scopes.isEmpty { members.append(("scope", .string(claims.scopes.joined(separator: " ")))) }
        return .object(members)
    }

    /// The signing input `b64url(header).b64url(claims)` for arbitrary JSON, so tests can build odd tokens.
    public static func signingInput(header: JSONValue, claims: JSONValue) -> [UInt8] {
        Array((Base64URL.encode(header.serialized()) + "." + Base64URL.encode(claims.serialized())).utf8)
    }

    /// The signing input for a header and claims.
    public static func signingInput(header: BearerToken.Header, claims: BearerToken.Claims) -> [UInt8] {
        signingInput(header: headerJSON(header), claims: claimsJSON(claims))
    }

    /// The compact token: the signing input, a dot, and the base64url signature.
    public static func compact(signingInput: [UInt8], signature: [UInt8]) -> String {
        String(decoding: signingInput, as: UTF8.self) + "." + Base64URL.encode(signature)
    }
}

extension TokenAuthenticator {
    /// Decodes a compact token (bounded by the policy's size limit) and decides on it: the one call a gateway
    /// makes with the credential after `Bearer `.
    public func authenticate(compact: [UInt8], now: Instant, verifier: some SignatureVerifier) -> TokenDecision {
        do {
            let token = try CompactJWS.parse(compact, bytesMax: policy.tokenBytesMax)
            return authenticate(token, now: now, verifier: verifier)
        } catch {
            return .refused(error.refusal)
        }
    }
}
