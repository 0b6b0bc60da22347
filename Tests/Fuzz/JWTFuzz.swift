// libFuzzer target for the compact JWS parser, which reads attacker bytes before any signature is checked: any
// byte string must decode or fail with a typed error, never crash; whatever decodes must re-encode to a token
// that decodes to the same header, claims and signature; and the authenticator must decide on it without
// trapping. Built by deploy/local/fuzz.sh with swiftc directly, against a PlatformCore module built first.

import PlatformCore

/// Refuses every signature, so the fuzzer reaches the claim checks only through `alg: none` under the sabotage.
private struct RefusingVerifier: SignatureVerifier {
    func verify(algorithm: JWSAlgorithm, keyID: String?, signingInput: [UInt8], signature: [UInt8]) -> SignatureCheck {
        keyID == nil ? .unknownKey : .invalid
    }
}

private let authenticators = [
    TokenAuthenticator(policy: TokenPolicy(issuer: "joe", audience: "inference")),
    TokenAuthenticator(
        policy: TokenPolicy(issuer: "joe", audience: "inference", acceptedAlgorithms: JWSAlgorithm.allCases),
        sabotage: .acceptAlgNone),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for authenticator in authenticators {
        _ = authenticator.authenticate(
            compact: bytes, now: Instant(nanoseconds: Int64(size)), verifier: RefusingVerifier())
    }
    guard let token = try? CompactJWS.parse(bytes) else { return 0 }
    guard token.signingInput == Array(bytes.prefix(token.signingInput.count)) else {
        fatalError("signing input is not a prefix of the token")
    }
    let signingInput = CompactJWS.signingInput(header: token.header, claims: token.claims)
    let again: BearerToken
    do {
        again = try CompactJWS.parse(
            CompactJWS.compact(signingInput: signingInput, signature: token.signature), bytesMax: 1 << 20)
    } catch {
        fatalError("re-encoded token does not parse: \(error)")
    }
    guard again.header == token.header, again.claims == token.claims, again.signature == token.signature else {
        fatalError("re-encoding changed the token: \(token) became \(again)")
    }
    return 0
}
