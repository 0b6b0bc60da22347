// Decides whether a bearer token authenticates a request. Pure: time comes in as `now`, signature math goes out
// through `SignatureVerifier`, and the answer is a value. Every refusal is a 401 for the client; the reason is
// only for logs and metrics, so a client learns nothing about which check failed.
//
// Unix time: an `Instant` counts nanoseconds on the node's own clock, whose epoch is not the Unix epoch (the
// simulator starts at zero). `TokenPolicy.unixEpoch` is the instant at which that clock read Unix time 0, so a
// claim of Unix second `s` is the instant `unixEpoch + s seconds`. Comparisons are done in Int128 nanoseconds, so
// no claim value, however large, can overflow.

/// What the authenticator checks, fixed per deployment.
public struct TokenPolicy: Sendable, Equatable {
    /// The only accepted `iss`.
    public var issuer: String
    /// The `aud` value this service answers to; the token's audience must contain it.
    public var audience: String
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (RFC 7519 allows "a few minutes" at most).
    public var leeway: Duration
    /// The algorithms accepted; anything else (including `none`) is refused before any key is looked up.
    public var acceptedAlgorithms: [JWSAlgorithm]
    /// The longest compact token accepted, in bytes.
    public var tokenBytesMax: Int
    /// The instant at which this node's clock read Unix time 0 (see the file comment).
    public var unixEpoch: Instant
    /// Whether a token must carry `exp`; a token that never expires cannot be revoked by waiting.
    public var requiresExpiry: Bool
    /// Whether a token must carry `tenant`; when it need not, the subject is its own tenant.
    public var requiresTenant: Bool

    public init(
        issuer: String, audience: String, leeway: Duration = .seconds(30),
        acceptedAlgorithms: [JWSAlgorithm] = [.rs256, .es256], tokenBytesMax: Int = 8 << 10,
        unixEpoch: Instant = .zero, requiresExpiry: Bool = true, requiresTenant: Bool = true
    ) {
        precondition(leeway >= .zero && leeway <= .minutes(10), "token leeway must be within 0...10 minutes")
        precondition(tokenBytesMax > 0, "tokenBytesMax must be positive")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.acceptedAlgorithms = acceptedAlgorithms
        self.tokenBytesMax = tokenBytesMax
        self.unixEpoch = unixEpoch
        self.requiresExpiry = requiresExpiry
        self.requiresTenant = requiresTenant
    }
}

/// Who an accepted token speaks for.
public struct AuthenticatedPrincipal: Sendable, Hashable {
    public var subject: String
    public var tenant: String
    /// The granted scopes in the order the token listed them, duplicates removed.
    public var scopes: [String]

    public init(subject: String, tenant: String, scopes: [String]) {
        self.subject = subject
        self.tenant = tenant
        self.scopes = scopes
    }

    /// Whether the token granted `scope`.
    public func has(scope: String) -> Bool { scopes.contains(scope) }
}

/// Why a token was refused. Never sent to the client: every case is a 401.
public enum TokenRefusal: Sendable, Hashable {
    /// The compact form could not be decoded (bad base64url, wrong part count, bad JSON, wrong claim type).
    case malformed
    /// The token is longer than the policy's limit.
    case tooLarge
    /// The header names an algorithm outside the policy, `none` included.
    case algorithmNotAllowed
    /// No key has the token's key id.
    case unknownKey
    /// The key named by the token is bound to a different algorithm than the header claims.
    case keyAlgorithmMismatch
    /// The signature does not verify.
    case badSignature
    /// `exp` has passed (beyond the leeway).
    case expired
    /// `nbf` has not arrived yet (beyond the leeway).
    case notYetValid
    /// `iat` is in the future (beyond the leeway): a minting clock far ahead, or a forged token.
    case issuedInFuture
    /// `iss` is not the policy's issuer.
    case wrongIssuer
    /// `aud` does not contain the policy's audience.
    case wrongAudience
    /// A claim the policy requires is absent.
    case missingClaim(Claim)

    /// The claims a policy can require.
    public enum Claim: String, Sendable, Hashable {
        case issuer = "iss"
        case subject = "sub"
        case audience = "aud"
        case expiresAt = "exp"
        case tenant
    }

    /// What the client is told, whatever the reason.
    public var errorKind: ErrorKind { .unauthorized }

    /// A stable name for metrics labels and logs.
    public var name: String {
        switch self {
        case .malformed: "malformed"
        case .tooLarge: "too_large"
        case .algorithmNotAllowed: "algorithm_not_allowed"
        case .unknownKey: "unknown_key"
        case .keyAlgorithmMismatch: "key_algorithm_mismatch"
        case .badSignature: "bad_signature"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .issuedInFuture: "issued_in_future"
        case .wrongIssuer: "wrong_issuer"
        case .wrongAudience: "wrong_audience"
        case .missingClaim(let claim): "missing_claim_\(claim.rawValue)"
        }
    }
}

/// The authenticator's answer.
public enum TokenDecision: Sendable, Hashable {
    /// The token is genuine, current and meant for us.
    case accepted(AuthenticatedPrincipal)
    /// The token is refused; answer 401.
    case refused(TokenRefusal)
}

/// Checks bearer tokens against a policy. Holds no mutable state: keys live behind the verifier, so rotating
/// them is the shell's business and needs no new authenticator.
public struct TokenAuthenticator: Sendable {
    public var policy: TokenPolicy
    public var sabotage: Sabotage

    public init(policy: TokenPolicy, sabotage: Sabotage = []) {
        self.policy = policy
        self.sabotage = sabotage
    }

    /// Decides on a decoded token. The order is fixed: size, algorithm, signature, then claims, so nothing
    /// read from an unauthenticated payload influences anything but the final refusal reason.
    public func authenticate(
        _ token: BearerToken, now: Instant, verifier: some SignatureVerifier
    ) -> TokenDecision {
        guard token.encodedByteCount <= policy.tokenBytesMax else { return .refused(.tooLarge) }
        if let refusal = checkSignature(token, verifier: verifier) { return .refused(refusal) }
        if let refusal = checkTimes(token.claims, now: now) { return .refused(refusal) }
        return principal(token.claims)
    }

    /// Decides on a token the wire layer could not decode.
    public func refuseUndecodable(tooLarge: Bool) -> TokenDecision {
        .refused(tooLarge ? .tooLarge : .malformed)
    }

    private func checkSignature(_ token: BearerToken, verifier: some SignatureVerifier) -> TokenRefusal? {
        if token.header.algorithm == "none" {
            // SABOTAGE ONLY: an unsecured token is taken at its word.
            return sabotage.contains(.acceptAlgNone) ? nil : .algorithmNotAllowed
        }
        guard let algorithm = JWSAlgorithm(headerName: token.header.algorithm),
            policy.acceptedAlgorithms.contains(algorithm)
        else { return .algorithmNotAllowed }
        let check = verifier.verify(
            algorithm: algorithm, keyID: token.header.keyID, signingInput: token.signingInput,
            signature: token.signature)
        switch check {
        case .valid: return nil
        case .invalid: return .badSignature
        case .unknownKey: return .unknownKey
        case .algorithmMismatch: return .keyAlgorithmMismatch
        }
    }

    private func checkTimes(_ claims: BearerToken.Claims, now: Instant) -> TokenRefusal? {
        let nanosecondsPerSecond: Int128 = 1_000_000_000
        let nowNs = Int128(now.nanoseconds) - Int128(policy.unixEpoch.nanoseconds)
        let leewayNs = Int128(policy.leeway.nanoseconds)
        if let expires = claims.expiresAtUnixSeconds {
            // RFC 7519 4.1.4: the current time must be before exp.
            if nowNs >= Int128(expires) * nanosecondsPerSecond + leewayNs { return .expired }
        } else if policy.requiresExpiry {
            return .missingClaim(.expiresAt)
        }
        if let notBefore = claims.notBeforeUnixSeconds, nowNs < Int128(notBefore) * nanosecondsPerSecond - leewayNs {
            return .notYetValid
        }
        if let issuedAt = claims.issuedAtUnixSeconds, Int128(issuedAt) * nanosecondsPerSecond > nowNs + leewayNs {
            return .issuedInFuture
        }
        return nil
    }

    private func principal(_ claims: BearerToken.Claims) -> TokenDecision {
        guard let issuer = claims.issuer else { return .refused(.missingClaim(.issuer)) }
        guard issuer == policy.issuer else { return .refused(.wrongIssuer) }
        guard !claims.audience.isEmpty else { return .refused(.missingClaim(.audience)) }
        guard claims.audience.contains(policy.audience) else { return .refused(.wrongAudience) }
        guard let subject = claims.subject, !subject.isEmpty else { return .refused(.missingClaim(.subject)) }
        let tenant: String
        if let claimed = claims.tenant, !claimed.isEmpty {
            tenant = claimed
        } else if policy.requiresTenant {
            return .refused(.missingClaim(.tenant))
        } else {
            tenant = subject
        }
        var scopes: [String] = []
        for scope in claims.scopes where !scopes.contains(scope) { scopes.append(scope) }
        return .accepted(AuthenticatedPrincipal(subject: subject, tenant: tenant, scopes: scopes))
    }
}
