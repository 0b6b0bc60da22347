// The worked examples of RFC 7515 appendix A verified through the libcrypto shell with keys built from the RFC's
// own JWK components, and the minimums of RFC 7518 section 3 (secret length, RSA size, ES256 signature form).

import PlatformCore
import PlatformCrypto
import PlatformWire
import Testing

@Suite struct RFCVectorTests {
    /// The claims all three examples sign: `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`.
    static let payload =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    /// A.1: HS256.
    static let hmacSecret = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    static let hmacToken =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + payload
        + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

    /// A.2: RS256.
    static let rsaModulus =
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2l"
        + "ZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEM"
        + "a2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2P"
        + "AcDTW9gb54h4FRWyuXpoQ"
    static let rsaToken =
        "eyJhbGciOiJSUzI1NiJ9." + payload + "."
        + "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9"
        + "CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOL"
        + "n6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtV"
        + "rBp0igcN_IoypGlUPQGe77Rw"

    /// A.3: ES256.
    static let ecX = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    static let ecY = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    static let ecToken =
        "eyJhbGciOiJFUzI1NiJ9." + payload + "."
        + "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

    static func bytes(_ base64URL: String) -> [UInt8] {
        guard let bytes = Base64URL.decode(base64URL) else { preconditionFailure("bad test vector \(base64URL)") }
        return bytes
    }

    static func check(_ compact: String, _ key: JWSKey) throws -> SignatureCheck {
        let token = try CompactJWS.parse(compact)
        let ring = try JWSKeyRing(keys: [key], defaultKeyID: key.id)
        let algorithm = try #require(JWSAlgorithm(headerName: token.header.algorithm))
        return ring.verify(
            algorithm: algorithm, keyID: token.header.keyID, signingInput: token.signingInput,
            signature: token.signature)
    }

    @Test func a1HS256VerifiesAndSigningReproducesTheSignatureExactly() throws {
        let key = try JWSKey.hmac(id: "a1", secret: Self.bytes(Self.hmacSecret))
        #expect(try Self.check(Self.hmacToken, key) == .valid)
        let token = try CompactJWS.parse(Self.hmacToken)
        let signature = try JWSSigner.hmac(keyID: nil, secret: Self.bytes(Self.hmacSecret)).sign(token.signingInput)
        #expect(signature == token.signature)
        #expect(CompactJWS.compact(signingInput: token.signingInput, signature: signature) == Self.hmacToken)
    }

    @Test func a2RS256Verifies() throws {
        let key = try JWSKey.rsa(id: "a2", modulus: Self.bytes(Self.rsaModulus), exponent: Self.bytes("AQAB"))
        #expect(try Self.check(Self.rsaToken, key) == .valid)
    }

    @Test func a3ES256Verifies() throws {
        let key = try JWSKey.p256(id: "a3", x: Self.bytes(Self.ecX), y: Self.bytes(Self.ecY))
        #expect(try Self.check(Self.ecToken, key) == .valid)
    }

    @Test func eachVectorFailsUnderAnotherVectorsKeyOrAFlippedBit() throws {
        let hmac = try JWSKey.hmac(id: "k", secret: Self.bytes(Self.hmacSecret))
        let rsa = try JWSKey.rsa(id: "k", modulus: Self.bytes(Self.rsaModulus), exponent: Self.bytes("AQAB"))
        let ec = try JWSKey.p256(id: "k", x: Self.bytes(Self.ecX), y: Self.bytes(Self.ecY))
        #expect(try Self.check(Self.hmacToken, rsa) == .algorithmMismatch)
        #expect(try Self.check(Self.rsaToken, ec) == .algorithmMismatch)
        #expect(try Self.check(Self.ecToken, hmac) == .algorithmMismatch)
        for (compact, key) in [(Self.hmacToken, hmac), (Self.rsaToken, rsa), (Self.ecToken, ec)] {
            var token = try CompactJWS.parse(compact)
            token.signature[5] ^= 0x01
            let ring = try JWSKeyRing(keys: [key], defaultKeyID: "k")
            let algorithm = try #require(JWSAlgorithm(headerName: token.header.algorithm))
            #expect(
                ring.verify(
                    algorithm: algorithm, keyID: nil, signingInput: token.signingInput, signature: token.signature)
                    == .invalid)
        }
    }

    @Test func rfc7518MinimumsAreEnforcedWhenKeysAreLoaded() throws {
        // 3.2: an HS256 secret shorter than the hash output is refused.
        #expect(throws: CryptoError.self) { try JWSKey.hmac(id: "short", secret: [UInt8](repeating: 7, count: 31)) }
        _ = try JWSKey.hmac(id: "ok", secret: [UInt8](repeating: 7, count: 32))
        // 3.3: an RSA key under 2048 bits is refused (half the RFC modulus is a 1024-bit number).
        let short = Array(Self.bytes(Self.rsaModulus).prefix(128))
        let error = #expect(throws: CryptoError.self) {
            try JWSKey.rsa(id: "small", modulus: short, exponent: [1, 0, 1])
        }
        #expect(error?.message.contains("1024 bits; at least 2048") == true)
        // 6.2.1: a point that is not on P-256 is refused.
        var y = Self.bytes(Self.ecY)
        y[31] ^= 1
        #expect(throws: CryptoError.self) { try JWSKey.p256(id: "off", x: Self.bytes(Self.ecX), y: y) }
        #expect(throws: CryptoError.self) { try JWSKey.p256(id: "short", x: [1], y: [2]) }
    }

    @Test func es256SignaturesMustBeExactly64RawBytes() throws {
        let key = try JWSKey.p256(id: "a3", x: Self.bytes(Self.ecX), y: Self.bytes(Self.ecY))
        let token = try CompactJWS.parse(Self.ecToken)
        #expect(key.verify(signingInput: token.signingInput, signature: token.signature))
        // 3.4: no DER, no leading zero, no truncation.
        for signature in [
            [0] + token.signature, Array(token.signature.dropLast()), [], [UInt8](repeating: 0, count: 64),
        ] {
            #expect(!key.verify(signingInput: token.signingInput, signature: signature))
        }
    }

    @Test func anUnsecuredTokenIsRefusedEndToEnd() throws {
        // RFC 7515 A.5: `{"alg":"none"}` with an empty signature.
        let unsecured = "eyJhbGciOiJub25lIn0." + Self.payload + "."
        let policy = TokenPolicy(issuer: "joe", audience: "any", acceptedAlgorithms: JWSAlgorithm.allCases)
        let ring = try JWSKeyRing(keys: [try JWSKey.hmac(id: "a1", secret: Self.bytes(Self.hmacSecret))])
        let before = Instant(nanoseconds: 1_300_819_000 * 1_000_000_000)
        let decision = TokenAuthenticator(policy: policy).authenticate(
            compact: Array(unsecured.utf8), now: before, verifier: ring)
        #expect(decision == .refused(.algorithmNotAllowed))
        // Under the sabotage the signature is skipped; the RFC claims then lack an audience.
        let sabotaged = TokenAuthenticator(policy: policy, sabotage: .acceptAlgNone).authenticate(
            compact: Array(unsecured.utf8), now: before, verifier: ring)
        #expect(sabotaged == .refused(.missingClaim(.audience)))
    }
}
