// A JSON Web Token (RFC 7519) in JWS compact form, already decoded by the wire layer into plain values:
// the core decides on these values and never parses text, and the signature math stays behind
// `SignatureVerifier`, so authentication is as pure and replayable as every other machine.

/// The signature algorithms the platform can verify (RFC 7518 section 3). `none` is deliberately not one of them:
/// an unsecured token has no algorithm to verify, and the authenticator refuses it before any key is consulted.
public enum JWSAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// HMAC with SHA-256 over a shared secret.
    case hs256 = "HS256"
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    case rs256 = "RS256"
    /// ECDSA on P-256 with SHA-256; the signature is the raw 64-byte r || s.
    case es256 = "ES256"

    /// The algorithm a JOSE header names, or nil when the name is not one of ours (names are case-sensitive).
    public init?(headerName: String) { self.init(rawValue: headerName) }
}

/// A bearer token as the wire parser decoded it: nothing in it has been checked yet.
public struct BearerToken: Sendable, Equatable {
    /// The JOSE header fields the platform reads.
    public struct Header: Sendable, Equatable {
        /// The `alg` member exactly as sent (it may name an algorithm we refuse, such as `none`).
        public var algorithm: String
        /// The `kid` member: which key signed the token, so keys can rotate.
        public var keyID: String?
        /// The `typ` member, informational only.
        public var type: String?

        public init(algorithm: String, keyID: String? = nil, type: String? = nil) {
            self.algorithm = algorithm
            self.keyID = keyID
            self.type = type
        }
    }

    /// The registered claims (RFC 7519 section 4.1) and the platform's own `tenant` and `scope`.
    public struct Claims: Sendable, Equatable {
        /// `iss`: who minted the token.
        public var issuer: String?
        /// `sub`: the principal the token speaks for.
        public var subject: String?
        /// `aud`: the recipients the token is meant for (a JSON string becomes one element).
        public var audience: [String]
        /// `exp`, Unix seconds: the token is refused at or after this second (plus leeway).
        public var expiresAtUnixSeconds: Int64?
        /// `nbf`, Unix seconds: the token is refused before this second (minus leeway).
        public var notBeforeUnixSeconds: Int64?
        /// `iat`, Unix seconds: when the token was minted.
        public var issuedAtUnixSeconds: Int64?
        /// `tenant`: the tenant the subject acts for.
        public var tenant: String?
        /// `scope`, split on spaces (RFC 8693 section 4.2), in the order sent.
        public var scopes: [String]

        public init(
            issuer: String? = nil, subject: String? = nil, audience: [String] = [],
            expiresAtUnixSeconds: Int64? = nil, notBeforeUnixSeconds: Int64? = nil, issuedAtUnixSeconds: Int64? = nil,
            tenant: String? = nil, scopes: [String] = []
        ) {
            self.issuer = issuer
            self.subject = subject
            self.audience = audience
            self.expiresAtUnixSeconds = expiresAtUnixSeconds
            self.notBeforeUnixSeconds = notBeforeUnixSeconds
            self.issuedAtUnixSeconds = issuedAtUnixSeconds
            self.tenant = tenant
            self.scopes = scopes
        }
    }

    public var header: Header
    public var claims: Claims
    /// The ASCII bytes `base64url(header) "." base64url(payload)`: exactly what was signed.
    public var signingInput: [UInt8]
    /// The decoded signature bytes (empty for an unsecured token).
    public var signature: [UInt8]
    /// The length of the whole compact token as received, checked against the policy's limit.
    public var encodedByteCount: Int

    public init(header: Header, claims: Claims, signingInput: [UInt8], signature: [UInt8], encodedByteCount: Int) {
        self.header = header
        self.claims = claims
        self.signingInput = signingInput
        self.signature = signature
        self.encodedByteCount = encodedByteCount
    }
}
