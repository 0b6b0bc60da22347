// Verification keys and the key ring the authenticator asks through `SignatureVerifier`. Each key is bound at
// load time to exactly one algorithm and checked against RFC 7518's minimums (HMAC secrets of at least 256 bits,
// RSA moduli of at least 2048 bits, ECDSA on P-256 only), so a token can never choose how its key is used.

import CCrypto
import PlatformCore

/// A key that verifies one JWS algorithm, under a key id.
public struct JWSKey: Sendable {
    enum Material: Sendable {
        case secret([UInt8])
        case publicKey(EVPKey)
    }

    /// The `kid` tokens name this key by.
    public let id: String
    /// The one algorithm this key verifies.
    public let algorithm: JWSAlgorithm
    let material: Material

    /// RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output.
    public static let hmacSecretBytesMin = 32
    /// RFC 7518 section 3.3: RSA keys of 2048 bits or larger.
    public static let rsaBitsMin = 2048

    /// An HS256 key from the raw shared secret.
    public static func hmac(id: String, secret: [UInt8]) throws(CryptoError) -> JWSKey {
        guard secret.count >= hmacSecretBytesMin else {
            throw CryptoError("HS256 secret for key \"\(id)\" is \(secret.count) bytes; at least 32 are required")
        }
        return JWSKey(id: id, algorithm: .hs256, material: .secret(secret))
    }

    /// An RS256 or ES256 key from a SubjectPublicKeyInfo PEM; the PEM's key type must match `algorithm`.
    public static func publicKey(id: String, algorithm: JWSAlgorithm, pem: [UInt8]) throws(CryptoError) -> JWSKey {
        let key: EVPKey
        do {
            key = try EVPKey(publicKeyPEM: pem)
        } catch {
            throw CryptoError("key \"\(id)\": \(error.message)")
        }
        return try publicKey(id: id, algorithm: algorithm, key: key)
    }

    /// An RS256 key from JWK `n` and `e`.
    public static func rsa(id: String, modulus: [UInt8], exponent: [UInt8]) throws(CryptoError) -> JWSKey {
        try publicKey(id: id, algorithm: .rs256, key: try EVPKey(rsaModulus: modulus, exponent: exponent))
    }

    /// An ES256 key from JWK `x` and `y`.
    public static func p256(id: String, x: [UInt8], y: [UInt8]) throws(CryptoError) -> JWSKey {
        try publicKey(id: id, algorithm: .es256, key: try EVPKey(p256X: x, y: y))
    }

    /// A key for `algorithm` from a loaded key (private keys verify too), after checking type and size.
    public static func publicKey(id: String, algorithm: JWSAlgorithm, key: EVPKey) throws(CryptoError) -> JWSKey {
        try requireKind(key.kind, for: algorithm, keyID: id)
        do {
            try key.checkPublicKey()
        } catch {
            throw CryptoError("key \"\(id)\": \(error.message)")
        }
        return JWSKey(id: id, algorithm: algorithm, material: .publicKey(key))
    }

    static func requireKind(_ kind: EVPKey.Kind, for algorithm: JWSAlgorithm, keyID: String) throws(CryptoError) {
        switch (algorithm, kind) {
        case (.rs256, .rsa(let bits)):
            guard bits >= rsaBitsMin else {
                throw CryptoError("RS256 key \"\(keyID)\" has \(bits) bits; at least \(rsaBitsMin) are required")
            }
        case (.es256, .ecP256): return
        case (.hs256, _): throw CryptoError("HS256 key \"\(keyID)\" must be a shared secret, not a public key")
        case (.rs256, _), (.es256, _):
            throw CryptoError("key \"\(keyID)\" is \(kind), which cannot verify \(algorithm.rawValue)")
        }
    }

    /// Whether `signature` is this key's valid signature over `signingInput`. Malformed signatures are invalid.
    public func verify(signingInput: [UInt8], signature: [UInt8]) -> Bool {
        switch (algorithm, material) {
        case (.hs256, .secret(let secret)):
            guard let expected = try? Signatures.hmacSHA256(key: secret, data: signingInput) else { return false }
            return Signatures.constantTimeEqual(expected, signature)
        case (.rs256, .publicKey(let key)):
            return Signatures.digestVerify(key: key, data: signingInput, signature: signature)
        case (.es256, .publicKey(let key)):
            // RFC 7518 section 3.4: exactly 64 bytes; anything else is refused, not reinterpreted.
            guard let der = Signatures.derSignature(fromRaw: signature) else { return false }
            return Signatures.digestVerify(key: key, data: signingInput, signature: der)
        case (.hs256, .publicKey), (.rs256, .secret), (.es256, .secret):
            // The factories never build these pairs.
            return false
        }
    }
}

/// The keys a deployment trusts, by key id: the `SignatureVerifier` the production shell hands the authenticator.
/// Rotation is adding the new key, moving signers over, then removing the old id: tokens naming it then fail
/// with `unknownKey`.
public struct JWSKeyRing: SignatureVerifier {
    private var keysByID: [String: JWSKey] = [:]
    /// The key used for tokens without a `kid`; nil refuses them as `unknownKey`.
    public var defaultKeyID: String?

    /// The most keys a ring holds: a rotation needs two or three, so more is a configuration mistake.
    public static let keysMax = 64

    public init(keys: [JWSKey] = [], defaultKeyID: String? = nil) throws(CryptoError) {
        for key in keys { try insert(key) }
        self.defaultKeyID = defaultKeyID
    }

    /// The key ids, sorted.
    public var keyIDs: [String] { keysByID.keys.sorted() }

    /// Adds a key; its id must be new.
    public mutating func insert(_ key: JWSKey) throws(CryptoError) {
        guard keysByID[key.id] == nil else { throw CryptoError("key id \"\(key.id)\" is already in the key ring") }
        guard keysByID.count < Self.keysMax else { throw CryptoError("key ring is full (\(Self.keysMax) keys)") }
        keysByID[key.id] = key
    }

    /// Removes the key with `id`, returning it.
    @discardableResult public mutating func remove(id: String) -> JWSKey? {
        keysByID.removeValue(forKey: id)
    }

    public func verify(
        algorithm: JWSAlgorithm, keyID: String?, signingInput: [UInt8], signature: [UInt8]
    ) -> SignatureCheck {
        guard let id = keyID ?? defaultKeyID, let key = keysByID[id] else { return .unknownKey }
        guard key.algorithm == algorithm else { return .algorithmMismatch }
        return key.verify(signingInput: signingInput, signature: signature) ? .valid : .invalid
    }
}

/// Signs JWS signing inputs: used by tests and by the simulator to mint tokens, never by a machine.
public struct JWSSigner: Sendable {
    enum Material: Sendable {
        case secret([UInt8])
        case privateKey(EVPKey)
    }

    /// The `kid` to put in the header (the signer does not write headers; it only remembers this).
    public let keyID: String?
    public let algorithm: JWSAlgorithm
    let material: Material

    /// An HS256 signer. No minimum length here, so tests can forge with weak secrets; the key ring refuses them.
    public static func hmac(keyID: String?, secret: [UInt8]) -> JWSSigner {
        JWSSigner(keyID: keyID, algorithm: .hs256, material: .secret(secret))
    }

    /// An RS256 or ES256 signer from an unencrypted private key PEM.
    public static func privateKey(keyID: String?, algorithm: JWSAlgorithm, pem: [UInt8]) throws(CryptoError)
        -> JWSSigner
    {
        try privateKey(keyID: keyID, algorithm: algorithm, key: try EVPKey(privateKeyPEM: pem))
    }

    /// An RS256 or ES256 signer from a loaded private key.
    public static func privateKey(keyID: String?, algorithm: JWSAlgorithm, key: EVPKey) throws(CryptoError)
        -> JWSSigner
    {
        guard key.hasPrivateKey else { throw CryptoError("signing needs a private key") }
        try JWSKey.requireKind(key.kind, for: algorithm, keyID: keyID ?? "(no kid)")
        return JWSSigner(keyID: keyID, algorithm: algorithm, material: .privateKey(key))
    }

    /// The JWS signature over `signingInput` (32 bytes for HS256, the modulus size for RS256, 64 for ES256).
    public func sign(_ signingInput: [UInt8]) throws(CryptoError) -> [UInt8] {
        switch material {
        case .secret(let secret): return try Signatures.hmacSHA256(key: secret, data: signingInput)
        case .privateKey(let key):
            let signature = try Signatures.digestSign(key: key, data: signingInput)
            return algorithm == .es256 ? try Signatures.rawSignature(fromDER: signature) : signature
        }
    }
}
