// Tokens minted and checked end to end through the libcrypto shell with freshly generated keys: round trips for
// the three algorithms via PEM, tampering, algorithm confusion, key rotation, time boundaries with leeway, issuer
// and audience checks, size and encoding limits, and clear errors for bad key material.

import PlatformCore
import PlatformCrypto
import PlatformWire
import Testing

@Suite struct JWSKeyRingTests {
    static let rsaKey = try! EVPKey.generateRSA(bits: 2048)
    static let ecKey = try! EVPKey.generateP256()
    static let hmacSecret = Array("a shared secret of at least 32 bytes, as RFC 7518 asks".utf8)

    /// The node clock's zero is Unix second 1_700_000_000.
    static let epoch = Instant(nanoseconds: -1_700_000_000 * 1_000_000_000)
    static let issuedAt: Int64 = 1_700_000_000
    static let policy = TokenPolicy(
        issuer: "https://auth.example", audience: "inference", leeway: .seconds(60),
        acceptedAlgorithms: [.hs256, .rs256, .es256], unixEpoch: epoch)

    static func ring() throws -> JWSKeyRing {
        try JWSKeyRing(keys: [
            try JWSKey.hmac(id: "hmac-1", secret: hmacSecret),
            try JWSKey.publicKey(id: "rsa-1", algorithm: .rs256, pem: Array(try rsaKey.publicKeyPEM().utf8)),
            try JWSKey.publicKey(id: "ec-1", algorithm: .es256, pem: Array(try ecKey.publicKeyPEM().utf8)),
        ])
    }

    static func signers() throws -> [JWSSigner] {
        [
            JWSSigner.hmac(keyID: "hmac-1", secret: hmacSecret),
            try JWSSigner.privateKey(keyID: "rsa-1", algorithm: .rs256, pem: Array(try rsaKey.privateKeyPEM().utf8)),
            try JWSSigner.privateKey(keyID: "ec-1", algorithm: .es256, pem: Array(try ecKey.privateKeyPEM().utf8)),
        ]
    }

    static func claims(_ edit: (inout BearerToken.Claims) -> Void = { _ in }) -> BearerToken.Claims {
        var claims = BearerToken.Claims(
            issuer: "https://auth.example", subject: "user-7", audience: ["inference"],
            expiresAtUnixSeconds: issuedAt + 300, issuedAtUnixSeconds: issuedAt, tenant: "acme", scopes: ["infer"])
        edit(&claims)
        return claims
    }

    static func mint(_ signer: JWSSigner, algorithm: String? = nil, claims: BearerToken.Claims = claims()) throws
        -> String
    {
        let header = BearerToken.Header(algorithm: algorithm ?? signer.algorithm.rawValue, keyID: signer.keyID)
        let signingInput = CompactJWS.signingInput(header: header, claims: claims)
        return CompactJWS.compact(signingInput: signingInput, signature: try signer.sign(signingInput))
    }

    static func decide(
        _ compact: String, now: Instant = .zero, ring: JWSKeyRing? = nil, policy: TokenPolicy = policy
    ) throws -> TokenDecision {
        TokenAuthenticator(policy: policy).authenticate(
            compact: Array(compact.utf8), now: now, verifier: try ring ?? Self.ring())
    }

    static let principal = AuthenticatedPrincipal(subject: "user-7", tenant: "acme", scopes: ["infer"])

    @Test func eachAlgorithmRoundTripsThroughPEMKeys() throws {
        for signer in try Self.signers() {
            let token = try Self.mint(signer)
            #expect(try Self.decide(token) == .accepted(Self.principal), "\(signer.algorithm)")
        }
        #expect(try Self.signers().map { try $0.sign([1, 2, 3]).count } == [32, 256, 64])
    }

    @Test func tamperedPayloadOrSignatureIsRefused() throws {
        let forged = Base64URL.encode(CompactJWS.claimsJSON(Self.claims { $0.tenant = "victim" }).serialized())
        for signer in try Self.signers() {
            let parts = try Self.mint(signer).split(separator: ".").map(String.init)
            let swapped = parts[0] + "." + forged + "." + parts[2]
            #expect(try Self.decide(swapped) == .refused(.badSignature), "\(signer.algorithm) payload")
            var signature = try #require(Base64URL.decode(parts[2]))
            signature[signature.count - 1] ^= 0x80
            let flipped = parts[0] + "." + parts[1] + "." + Base64URL.encode(signature)
            #expect(try Self.decide(flipped) == .refused(.badSignature), "\(signer.algorithm) signature")
            let stripped = parts[0] + "." + parts[1] + "."
            #expect(try Self.decide(stripped) == .refused(.badSignature), "\(signer.algorithm) no signature")
        }
    }

    @Test func algNoneIsRefusedWhateverItsSpelling() throws {
        for algorithm in ["none", "None", "NONE"] {
            let header = BearerToken.Header(algorithm: algorithm, keyID: "rsa-1")
            let token = CompactJWS.compact(
                signingInput: CompactJWS.signingInput(header: header, claims: Self.claims()), signature: [])
            #expect(try Self.decide(token) == .refused(.algorithmNotAllowed), "\(algorithm)")
        }
    }

    @Test func algorithmConfusionWithThePublicKeyAsHMACSecretIsRefused() throws {
        let publicPEM = Array(try Self.rsaKey.publicKeyPEM().utf8)
        let attacker = JWSSigner.hmac(keyID: "rsa-1", secret: publicPEM)
        let token = try Self.mint(attacker)
        #expect(try Self.decide(token) == .refused(.keyAlgorithmMismatch))
        // Same with every key the ring holds, and with the EC key's PEM against the EC key id.
        let ecAttacker = JWSSigner.hmac(keyID: "ec-1", secret: Array(try Self.ecKey.publicKeyPEM().utf8))
        #expect(try Self.decide(try Self.mint(ecAttacker)) == .refused(.keyAlgorithmMismatch))
        // Loading a public key PEM as an HS256 verification key is refused outright.
        #expect(throws: CryptoError.self) { try JWSKey.publicKey(id: "x", algorithm: .hs256, pem: publicPEM) }
        // And an RS256 header naming the HMAC key does not make the secret an RSA key.
        let rsaSigner = try Self.signers()[1]
        let relabelled = try Self.mint(
            JWSSigner.privateKey(keyID: "hmac-1", algorithm: .rs256, key: Self.rsaKey), algorithm: "RS256")
        #expect(try Self.decide(relabelled) == .refused(.keyAlgorithmMismatch))
        #expect(rsaSigner.keyID == "rsa-1")
    }

    @Test func rotatingKeysRetiresTheOldKid() throws {
        let newKey = try EVPKey.generateP256()
        let newSigner = try JWSSigner.privateKey(keyID: "ec-2", algorithm: .es256, key: newKey)
        let oldToken = try Self.mint(try Self.signers()[2])
        let newToken = try Self.mint(newSigner)
        var ring = try Self.ring()
        #expect(try Self.decide(newToken, ring: ring) == .refused(.unknownKey))
        try ring.insert(try JWSKey.publicKey(id: "ec-2", algorithm: .es256, key: newKey))
        #expect(try Self.decide(oldToken, ring: ring) == .accepted(Self.principal))
        #expect(try Self.decide(newToken, ring: ring) == .accepted(Self.principal))
        #expect(ring.remove(id: "ec-1") != nil)
        #expect(ring.keyIDs == ["ec-2", "hmac-1", "rsa-1"])
        #expect(try Self.decide(oldToken, ring: ring) == .refused(.unknownKey))
        #expect(try Self.decide(newToken, ring: ring) == .accepted(Self.principal))
        #expect(throws: CryptoError.self) { try ring.insert(try JWSKey.hmac(id: "rsa-1", secret: Self.hmacSecret)) }
        // A token without kid needs a default key.
        let anonymous = try Self.mint(JWSSigner.hmac(keyID: nil, secret: Self.hmacSecret))
        #expect(try Self.decide(anonymous, ring: ring) == .refused(.unknownKey))
        ring.defaultKeyID = "hmac-1"
        #expect(try Self.decide(anonymous, ring: ring) == .accepted(Self.principal))
    }

    @Test func expiryNotBeforeAndIssuedAtHonourTheLeewayToTheNanosecond() throws {
        let signer = JWSSigner.hmac(keyID: "hmac-1", secret: Self.hmacSecret)
        let second: Int64 = 1_000_000_000
        // exp = issuedAt + 300: refused from 300 s + 60 s leeway after the clock's zero.
        let expiring = try Self.mint(signer)
        #expect(try Self.decide(expiring, now: Instant(nanoseconds: 360 * second - 1)) == .accepted(Self.principal))
        #expect(try Self.decide(expiring, now: Instant(nanoseconds: 360 * second)) == .refused(.expired))
        let later = try Self.mint(signer, claims: Self.claims { $0.notBeforeUnixSeconds = Self.issuedAt + 100 })
        #expect(try Self.decide(later, now: Instant(nanoseconds: 40 * second - 1)) == .refused(.notYetValid))
        #expect(try Self.decide(later, now: Instant(nanoseconds: 40 * second)) == .accepted(Self.principal))
        let early = try Self.mint(signer, claims: Self.claims { $0.issuedAtUnixSeconds = Self.issuedAt + 61 })
        #expect(try Self.decide(early) == .refused(.issuedInFuture))
        #expect(try Self.decide(early, now: Instant(nanoseconds: second)) == .accepted(Self.principal))
    }

    @Test func issuerAndAudienceMustMatch() throws {
        let signer = try Self.signers()[2]
        let foreign = try Self.mint(signer, claims: Self.claims { $0.issuer = "https://other.example" })
        #expect(try Self.decide(foreign) == .refused(.wrongIssuer))
        let elsewhere = try Self.mint(signer, claims: Self.claims { $0.audience = ["billing"] })
        #expect(try Self.decide(elsewhere) == .refused(.wrongAudience))
        let shared = try Self.mint(signer, claims: Self.claims { $0.audience = ["billing", "inference"] })
        #expect(try Self.decide(shared) == .accepted(Self.principal))
    }

    @Test func oversizedAndMalformedTokensAreRefusedBeforeAnyKeyIsUsed() throws {
        let signer = JWSSigner.hmac(keyID: "hmac-1", secret: Self.hmacSecret)
        let padded = try Self.mint(signer, claims: Self.claims { $0.subject = String(repeating: "x", count: 9_000) })
        #expect(try Self.decide(padded) == .refused(.tooLarge))
        var small = Self.policy
        small.tokenBytesMax = 64
        #expect(try Self.decide(try Self.mint(signer), policy: small) == .refused(.tooLarge))
        let good = try Self.mint(signer)
        for bad in [good + "=", String(good.dropLast()) + "+", "\u{2028}" + good, "Bearer " + good, good + ".x", "..."]
        {
            #expect(try Self.decide(bad) == .refused(.malformed), "\(bad)")
        }
    }

    @Test func badKeyMaterialThrowsClearErrors() throws {
        let garbage = #expect(throws: CryptoError.self) {
            try JWSKey.publicKey(id: "k1", algorithm: .rs256, pem: Array("-----BEGIN PUBLIC KEY-----\nAAAA\n".utf8))
        }
        #expect(garbage?.message.hasPrefix("key \"k1\": cannot read the public key PEM") == true)
        #expect(throws: CryptoError.self) { try EVPKey(publicKeyPEM: []) }
        #expect(throws: CryptoError.self) { try EVPKey(privateKeyPEM: Array(try Self.rsaKey.publicKeyPEM().utf8)) }
        #expect(throws: CryptoError.self) { try EVPKey(publicKeyPEM: [UInt8](repeating: 0x41, count: 70_000)) }
        let wrongType = #expect(throws: CryptoError.self) {
            try JWSKey.publicKey(id: "ec", algorithm: .rs256, pem: Array(try Self.ecKey.publicKeyPEM().utf8))
        }
        #expect(wrongType?.message.contains("cannot verify RS256") == true)
        let publicOnly = try EVPKey(publicKeyPEM: Array(try Self.ecKey.publicKeyPEM().utf8))
        #expect(publicOnly.kind == .ecP256)
        #expect(throws: CryptoError.self) { try JWSSigner.privateKey(keyID: nil, algorithm: .es256, key: publicOnly) }
        #expect(Self.rsaKey.kind == .rsa(bits: 2048))
    }

    @Test func digestAndRandomBytes() throws {
        let abc = SHA256.hash(Array("abc".utf8))
        #expect(Base64URL.encode(abc) == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
        #expect(SHA256.hash([]).count == 32)
        let first = try SecureRandom.randomBytes(count: 32)
        let second = try SecureRandom.randomBytes(count: 32)
        #expect(first.count == 32 && first != second)
        #expect(try SecureRandom.randomBytes(count: 0).isEmpty)
        #expect(throws: CryptoError.self) { try SecureRandom.randomBytes(count: -1) }
    }
}
