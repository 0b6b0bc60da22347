// Transcripts of the token authenticator's decisions with a test-only verifier that knows two keys by id: the
// check order (size, algorithm, signature, times, issuer, audience, subject), the exact leeway boundaries, and
// that `alg: none` passes only under the accept-alg-none sabotage.

import PlatformCore
import Testing

/// A verifier for tests: a signature is "valid" when it equals the key's tag followed by the signing input's length.
private struct TableVerifier: SignatureVerifier {
    var keys: [(id: String, algorithm: JWSAlgorithm, tag: UInt8)] = [
        ("hmac-1", .hs256, 0xA1), ("rsa-1", .rs256, 0xB2),
    ]

    func verify(algorithm: JWSAlgorithm, keyID: String?, signingInput: [UInt8], signature: [UInt8]) -> SignatureCheck {
        guard let key = keys.first(where: { $0.id == keyID }) else { return .unknownKey }
        guard key.algorithm == algorithm else { return .algorithmMismatch }
        return signature == TableVerifier.signature(tag: key.tag, signingInput) ? .valid : .invalid
    }

    static func signature(tag: UInt8, _ signingInput: [UInt8]) -> [UInt8] {
        [tag, UInt8(truncatingIfNeeded: signingInput.count)]
    }
}

@Suite struct TokenAuthenticatorTests {
    /// Unix second 1_700_000_000 is the node clock's instant zero plus 10 s.
    static let epoch = Instant(nanoseconds: -1_700_000_000 * 1_000_000_000)
    static let nowSeconds: Int64 = 1_700_000_010
    static let now = Instant(nanoseconds: 10 * 1_000_000_000)
    static let policy = TokenPolicy(
        issuer: "https://auth.example", audience: "inference", leeway: .seconds(30),
        acceptedAlgorithms: [.hs256, .rs256], tokenBytesMax: 512, unixEpoch: epoch)

    static func token(
        alg: String = "RS256", kid: String? = "rsa-1", claims edit: (inout BearerToken.Claims) -> Void = { _ in },
        tag: UInt8 = 0xB2
    ) -> BearerToken {
        var claims = BearerToken.Claims(
            issuer: "https://auth.example", subject: "user-7", audience: ["inference"],
            expiresAtUnixSeconds: nowSeconds + 600, notBeforeUnixSeconds: nowSeconds - 5,
            issuedAtUnixSeconds: nowSeconds - 5, tenant: "acme", scopes: ["infer", "jobs:read", "infer"])
        edit(&claims)
        let signingInput = Array("header.payload-\(claims.subject ?? "")".utf8)
        return BearerToken(
            header: .init(algorithm: alg, keyID: kid, type: "JWT"), claims: claims, signingInput: signingInput,
            signature: TableVerifier.signature(tag: tag, signingInput), encodedByteCount: 200)
    }

    static func decide(
        _ token: BearerToken, now: Instant = now, policy: TokenPolicy = policy, sabotage: Sabotage = []
    ) -> TokenDecision {
        TokenAuthenticator(policy: policy, sabotage: sabotage).authenticate(token, now: now, verifier: TableVerifier())
    }

    @Test func acceptsAGoodTokenWithScopesInOrderAndDeduplicated() {
        let expected = AuthenticatedPrincipal(subject: "user-7", tenant: "acme", scopes: ["infer", "jobs:read"])
        #expect(Self.decide(Self.token()) == .accepted(expected))
        #expect(expected.has(scope: "infer") && !expected.has(scope: "admin"))
        #expect(Self.decide(Self.token(alg: "HS256", kid: "hmac-1", tag: 0xA1)) == .accepted(expected))
    }

    @Test func refusesAlgNoneUnlessSabotaged() {
        var unsecured = Self.token(alg: "none", kid: nil)
        unsecured.signature = []
        #expect(Self.decide(unsecured) == .refused(.algorithmNotAllowed))
        for variant in ["None", "NONE", "nOnE", "HS512", "", "RS256 "] {
            #expect(Self.decide(Self.token(alg: variant)) == .refused(.algorithmNotAllowed), "alg \(variant)")
        }
        let expected = AuthenticatedPrincipal(subject: "user-7", tenant: "acme", scopes: ["infer", "jobs:read"])
        #expect(Self.decide(unsecured, sabotage: .acceptAlgNone) == .accepted(expected))
        // Even sabotaged, an unsecured token's claims are still checked.
        var expired = unsecured
        expired.claims.expiresAtUnixSeconds = Self.nowSeconds - 3_600
        #expect(Self.decide(expired, sabotage: .acceptAlgNone) == .refused(.expired))
        #expect(Sabotage(name: "accept-alg-none") == .acceptAlgNone)
    }

    @Test func refusesAlgorithmsOutsideThePolicyBeforeAskingForAKey() {
        #expect(Self.decide(Self.token(alg: "ES256", kid: "nobody")) == .refused(.algorithmNotAllowed))
    }

    @Test func mapsEachVerifierAnswer() {
        #expect(Self.decide(Self.token(kid: "rotated-out")) == .refused(.unknownKey))
        #expect(Self.decide(Self.token(kid: nil)) == .refused(.unknownKey))
        #expect(Self.decide(Self.token(tag: 0x00)) == .refused(.badSignature))
        // An HS256 header naming the RSA key: the key is bound to RS256, so no HMAC is ever computed with it.
        #expect(Self.decide(Self.token(alg: "HS256", kid: "rsa-1", tag: 0xA1)) == .refused(.keyAlgorithmMismatch))
    }

    @Test func refusesOversizedTokensFirst() {
        var token = Self.token(alg: "none")
        token.encodedByteCount = 513
        #expect(Self.decide(token) == .refused(.tooLarge))
        token.encodedByteCount = 512
        #expect(Self.decide(token) != .refused(.tooLarge))
    }

    @Test func expiryIsExclusiveAtExpPlusLeeway() {
        let token = Self.token { $0.expiresAtUnixSeconds = Self.nowSeconds }
        let deadline = Self.now + .seconds(30)
        #expect(Self.decide(token, now: deadline - .nanoseconds(1)) != .refused(.expired))
        #expect(Self.decide(token, now: deadline) == .refused(.expired))
        var strict = Self.policy
        strict.leeway = .zero
        #expect(Self.decide(token, now: Self.now - .nanoseconds(1), policy: strict) != .refused(.expired))
        #expect(Self.decide(token, now: Self.now, policy: strict) == .refused(.expired))
    }

    @Test func notBeforeIsInclusiveAtNbfMinusLeeway() {
        let token = Self.token { $0.notBeforeUnixSeconds = Self.nowSeconds + 100 }
        let opening = Self.now + .seconds(100) - .seconds(30)
        #expect(Self.decide(token, now: opening - .nanoseconds(1)) == .refused(.notYetValid))
        #expect(Self.decide(token, now: opening) != .refused(.notYetValid))
    }

    @Test func issuedAtMayBeAtMostLeewayAhead() {
        let token = Self.token { $0.issuedAtUnixSeconds = Self.nowSeconds + 30 }
        #expect(Self.decide(token, now: Self.now - .nanoseconds(1)) == .refused(.issuedInFuture))
        #expect(Self.decide(token, now: Self.now) != .refused(.issuedInFuture))
    }

    @Test func extremeTimeClaimsNeitherOverflowNorPass() {
        let never = Self.token { $0.expiresAtUnixSeconds = Int64.max }
        #expect(Self.decide(never, now: .distantFuture) != .refused(.expired))
        let ancient = Self.token { $0.expiresAtUnixSeconds = Int64.min }
        #expect(Self.decide(ancient) == .refused(.expired))
        let farFuture = Self.token { $0.notBeforeUnixSeconds = Int64.max }
        #expect(Self.decide(farFuture) == .refused(.notYetValid))
        let minted = Self.token { $0.issuedAtUnixSeconds = Int64.max }
        #expect(Self.decide(minted) == .refused(.issuedInFuture))
    }

    @Test func requiresExpiryUnlessThePolicySaysOtherwise() {
        let token = Self.token { $0.expiresAtUnixSeconds = nil }
        #expect(Self.decide(token) == .refused(.missingClaim(.expiresAt)))
        var lenient = Self.policy
        lenient.requiresExpiry = false
        #expect(Self.decide(token, policy: lenient) != .refused(.missingClaim(.expiresAt)))
    }

    @Test func checksIssuerAudienceSubjectAndTenant() {
        #expect(Self.decide(Self.token { $0.issuer = nil }) == .refused(.missingClaim(.issuer)))
        #expect(Self.decide(Self.token { $0.issuer = "https://evil.example" }) == .refused(.wrongIssuer))
        #expect(Self.decide(Self.token { $0.audience = [] }) == .refused(.missingClaim(.audience)))
        #expect(Self.decide(Self.token { $0.audience = ["billing"] }) == .refused(.wrongAudience))
        #expect(Self.decide(Self.token { $0.audience = ["billing", "inference"] }) != .refused(.wrongAudience))
        #expect(Self.decide(Self.token { $0.subject = nil }) == .refused(.missingClaim(.subject)))
        #expect(Self.decide(Self.token { $0.subject = "" }) == .refused(.missingClaim(.subject)))
        #expect(Self.decide(Self.token { $0.tenant = nil }) == .refused(.missingClaim(.tenant)))
        var lenient = Self.policy
        lenient.requiresTenant = false
        let principal = AuthenticatedPrincipal(subject: "user-7", tenant: "user-7", scopes: [])
        let anonymousTenant = Self.token {
            $0.tenant = nil
            $0.scopes = []
        }
        #expect(Self.decide(anonymousTenant, policy: lenient) == .accepted(principal))
    }

    @Test func everyRefusalIsA401WithAStableName() {
        let refusals: [TokenRefusal] = [
            .malformed, .tooLarge, .algorithmNotAllowed, .unknownKey, .keyAlgorithmMismatch, .badSignature, .expired,
            .notYetValid, .issuedInFuture, .wrongIssuer, .wrongAudience, .missingClaim(.tenant),
        ]
        #expect(refusals.allSatisfy { $0.errorKind == .unauthorized && $0.errorKind.httpStatus == 401 })
        #expect(Set(refusals.map(\.name)).count == refusals.count)
        #expect(TokenRefusal.missingClaim(.expiresAt).name == "missing_claim_exp")
        let authenticator = TokenAuthenticator(policy: Self.policy)
        #expect(authenticator.refuseUndecodable(tooLarge: true) == .refused(.tooLarge))
        #expect(authenticator.refuseUndecodable(tooLarge: false) == .refused(.malformed))
    }
}
