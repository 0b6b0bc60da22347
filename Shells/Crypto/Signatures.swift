// The signature primitives of RFC 7518 section 3, each a thin call into libcrypto: HMAC-SHA256 with a
// constant-time comparison, EVP_DigestSign/Verify with SHA-256 for RSA PKCS#1 v1.5 and ECDSA, and the conversion
// between JWS's raw 64-byte ECDSA signature (r || s) and the DER form OpenSSL speaks.

import CCrypto

enum Signatures {
    /// HMAC-SHA256 of `data` under `key`.
    static func hmacSHA256(key: [UInt8], data: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard key.count <= 1 << 20 else { throw CryptoError("HMAC key longer than 1 MiB") }
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &output, &length) != nil else {
            throw .openSSL("HMAC-SHA256 failed")
        }
        return Array(output.prefix(Int(length)))
    }

    /// Whether two byte strings are equal, in time that depends only on their length (which is public).
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard !lhs.isEmpty else { return true }
        return CRYPTO_memcmp(lhs, rhs, lhs.count) == 0
    }

    /// Whether `signature` is a valid SHA-256 signature of `data` by `key` (RSA PKCS#1 v1.5 or DER ECDSA).
    static func digestVerify(key: EVPKey, data: [UInt8], signature: [UInt8]) -> Bool {
        guard !signature.isEmpty, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        let verified =
            EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1
            && EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
        // A refused signature leaves reasons on the thread's queue; they must not leak into a later error.
        ERR_clear_error()
        return verified
    }

    /// The SHA-256 signature of `data` by the private `key` (PKCS#1 v1.5 for RSA, DER for ECDSA).
    static func digestSign(key: EVPKey, data: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard key.hasPrivateKey else { throw CryptoError("signing needs a private key") }
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var length = 0
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer) == 1,
            EVP_DigestSign(context, nil, &length, data, data.count) == 1
        else { throw .openSSL("cannot start a SHA-256 signature") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, data, data.count) == 1 else {
            throw .openSSL("cannot sign")
        }
        return Array(signature.prefix(length))
    }

    /// The DER ECDSA-Sig-Value for a raw P-256 JWS signature, or nil when it is not exactly 64 bytes.
    static func derSignature(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 64, let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        guard let r = BN_bin2bn(raw, 32, nil) else { return nil }
        guard let s = raw.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress! + 32, 32, nil) }) else {
            BN_free(r)
            return nil
        }
        // On success ECDSA_SIG_set0 owns r and s; on failure they are still ours.
        guard ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(signature, &cursor)
        }
        guard written == length else { return nil }
        return der
    }

    /// The raw 64-byte r || s for a DER P-256 ECDSA signature.
    static func rawSignature(fromDER der: [UInt8]) throws(CryptoError) -> [UInt8] {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw .openSSL("cannot read the DER ECDSA signature") }
        defer { ECDSA_SIG_free(parsed) }
        var raw = [UInt8](repeating: 0, count: 64)
        let written = raw.withUnsafeMutableBufferPointer { buffer in
            (
                BN_bn2binpad(ECDSA_SIG_get0_r(parsed), buffer.baseAddress, 32),
                BN_bn2binpad(ECDSA_SIG_get0_s(parsed), buffer.baseAddress! + 32, 32)
            )
        }
        guard written == (32, 32) else { throw CryptoError("ECDSA signature value does not fit P-256") }
        return raw
    }
}

/// SHA-256 digests.
public enum SHA256 {
    /// The 32-byte SHA-256 digest of `data`.
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // EVP_Digest with the built-in SHA-256 cannot fail short of memory exhaustion.
        precondition(EVP_Digest(data, data.count, &output, &length, EVP_sha256(), nil) == 1, "SHA-256 failed")
        return Array(output.prefix(Int(length)))
    }
}

/// Cryptographically secure random bytes from OpenSSL's DRBG. Shell-only: machines draw from their seeded PRNG.
public enum SecureRandom {
    /// `count` random bytes.
    public static func randomBytes(count: Int) throws(CryptoError) -> [UInt8] {
        guard count >= 0, count <= 1 << 20 else { throw CryptoError("random byte count must be 0...1 MiB") }
        var output = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&output, Int32(count)) == 1 else { throw .openSSL("RAND_bytes failed") }
        return output
    }
}
