// The seam between the pure authenticator and signature math. The production shell implements it with
// libcrypto (PlatformCrypto); core tests and the simulator may implement it with anything deterministic.
// A verifier is a synchronous, side-effect-free question, so calling it keeps the authenticator pure.

/// What a verifier found for one signature.
public enum SignatureCheck: Sendable, Hashable {
    /// A key with this id exists, is bound to this algorithm, and the signature is correct.
    case valid
    /// The key exists and is bound to this algorithm, but the signature does not verify (or is malformed).
    case invalid
    /// No key has this id (or the token named none and there is no default key): perhaps rotated out.
    case unknownKey
    /// The key exists but is bound to another algorithm. Refusing here, before any math, is what makes
    /// algorithm confusion (an HS256 token "signed" with an RSA public key as the secret) impossible.
    case algorithmMismatch
}

/// Verifies JWS signatures with keys chosen by key id. Each key is bound to exactly one algorithm.
public protocol SignatureVerifier: Sendable {
    /// Checks `signature` over `signingInput` with the key named `keyID` (nil: the verifier's default key, if any).
    func verify(algorithm: JWSAlgorithm, keyID: String?, signingInput: [UInt8], signature: [UInt8]) -> SignatureCheck
}

/// Decides on the credential after `Bearer ` when it is a token: the shell's composition of the wire layer's
/// compact-JWS decoding, `TokenAuthenticator` and a key ring. The gateway sees only this question, so a key
/// rotation is a new authenticator handed to it.
public protocol BearerAuthenticator: Sendable {
    func authenticate(bearer: String, now: Instant) -> TokenDecision
}
