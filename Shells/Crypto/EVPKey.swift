// An owned OpenSSL EVP_PKEY: loaded from PEM or from JWK components, or generated; exported as PEM. Every
// OpenSSL object made here is freed on every path (defer right after creation), and every failure is a thrown
// `CryptoError`, never a crash, whatever bytes arrive.

import CCrypto

/// An asymmetric key held by libcrypto.
///
/// `@unchecked Sendable` is safe: the key is never mutated after construction, and OpenSSL 3 allows concurrent
/// read-only use of an EVP_PKEY (each sign or verify makes its own EVP_MD_CTX / EVP_PKEY_CTX).
public final class EVPKey: @unchecked Sendable {
    /// What kind of key this is, as far as JWS cares.
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        case rsa(bits: Int)
        case ecP256
        /// Any other key type or curve, named for the error message.
        case unsupported(String)

        public var description: String {
            switch self {
            case .rsa(let bits): "an RSA key of \(bits) bits"
            case .ecP256: "a P-256 EC key"
            case .unsupported(let what): "an unsupported key (\(what))"
            }
        }
    }

    let pointer: OpaquePointer
    public let kind: Kind
    /// Whether the key holds private material (it was loaded from a private PEM or generated).
    public let hasPrivateKey: Bool

    /// Input longer than this is not a key: refused before OpenSSL sees it.
    static let pemBytesMax = 64 << 10

    init(taking pointer: OpaquePointer, hasPrivateKey: Bool) {
        self.pointer = pointer
        self.hasPrivateKey = hasPrivateKey
        self.kind = EVPKey.kind(of: pointer)
    }

    deinit { EVP_PKEY_free(pointer) }

    static func kind(of pointer: OpaquePointer) -> Kind {
        let type = EVP_PKEY_get_base_id(pointer)
        if type == EVP_PKEY_RSA { return .rsa(bits: Int(EVP_PKEY_get_bits(pointer))) }
        guard type == EVP_PKEY_EC else { return .unsupported("key type \(type)") }
        var name = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 else {
            ERR_clear_error()
            return .unsupported("EC key without a named curve")
        }
        let curve = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return curve == "prime256v1" || curve == "P-256" ? .ecP256 : .unsupported("EC curve \(curve)")
    }

    // The passphrase callbacks below answer "no passphrase": an encrypted PEM is refused rather than
    // prompting on the terminal, which is what OpenSSL does when no callback is given.

    /// Loads a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    public convenience init(publicKeyPEM: [UInt8]) throws(CryptoError) {
        let pointer = try EVPKey.readPEM(publicKeyPEM, what: "public key") { bio in
            PEM_read_bio_PUBKEY(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        self.init(taking: pointer, hasPrivateKey: false)
    }

    /// Loads an unencrypted private key PEM (PKCS#8, or the traditional RSA / EC forms).
    public convenience init(privateKeyPEM: [UInt8]) throws(CryptoError) {
        let pointer = try EVPKey.readPEM(privateKeyPEM, what: "private key") { bio in
            PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        self.init(taking: pointer, hasPrivateKey: true)
    }

    static func readPEM(
        _ pem: [UInt8], what: String, read: (OpaquePointer) -> OpaquePointer?
    ) throws(CryptoError) -> OpaquePointer {
        guard !pem.isEmpty else { throw CryptoError("\(what) PEM is empty") }
        guard pem.count <= pemBytesMax else { throw CryptoError("\(what) PEM is larger than \(pemBytesMax) bytes") }
        let loaded: OpaquePointer? = pem.withUnsafeBytes { buffer in
            // The BIO reads `pem` in place, so it must not outlive this closure.
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
        guard let loaded else { throw CryptoError.openSSL("cannot read the \(what) PEM") }
        ERR_clear_error()
        return loaded
    }
}

extension EVPKey {
    /// Builds an RSA public key from JWK `n` and `e` (big-endian unsigned bytes, RFC 7518 section 6.3.1).
    public convenience init(rsaModulus modulus: [UInt8], exponent: [UInt8]) throws(CryptoError) {
        guard !modulus.isEmpty, !exponent.isEmpty, modulus.count <= 2048, exponent.count <= 8 else {
            throw CryptoError("RSA JWK needs a modulus of 1...2048 bytes and an exponent of 1...8 bytes")
        }
        let pointer = try EVPKey.fromData(algorithm: "RSA") { builder, arena throws(CryptoError) in
            let n = try arena.number(modulus)
            let e = try arena.number(exponent)
            guard OSSL_PARAM_BLD_push_BN(builder, arena.cString("n"), n) == 1,
                OSSL_PARAM_BLD_push_BN(builder, arena.cString("e"), e) == 1
            else { throw .openSSL("cannot set the RSA JWK parameters") }
        }
        self.init(taking: pointer, hasPrivateKey: false)
    }

    /// Builds a P-256 public key from JWK `x` and `y` (32 bytes each, RFC 7518 section 6.2.1); the point must lie
    /// on the curve.
    public convenience init(p256X x: [UInt8], y: [UInt8]) throws(CryptoError) {
        guard x.count == 32, y.count == 32 else { throw CryptoError("P-256 JWK coordinates must be 32 bytes each") }
        let pointer = try EVPKey.fromData(algorithm: "EC") { builder, arena throws(CryptoError) in
            let point = arena.bytes([0x04] + x + y)
            guard OSSL_PARAM_BLD_push_utf8_string(builder, arena.cString("group"), arena.cString("prime256v1"), 0) == 1,
                OSSL_PARAM_BLD_push_octet_string(builder, arena.cString("pub"), point.baseAddress, point.count) == 1
            else { throw .openSSL("cannot set the EC JWK parameters") }
        }
        self.init(taking: pointer, hasPrivateKey: false)
        try checkPublicKey()
    }

    /// Runs EVP_PKEY_fromdata for a public key whose parameters `build` pushes into the builder.
    static func fromData(
        algorithm: String, build: (OpaquePointer, inout ParameterArena) throws(CryptoError) -> Void
    ) throws(CryptoError) -> OpaquePointer {
        guard let builder = OSSL_PARAM_BLD_new() else { throw .openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        var arena = ParameterArena()
        defer { arena.release() }
        try build(builder, &arena)
        guard let parameters = OSSL_PARAM_BLD_to_param(builder) else { throw .openSSL("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(parameters) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw .openSSL("EVP_PKEY_CTX_new_from_name(\(algorithm))")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_fromdata_init(context) == 1,
            EVP_PKEY_fromdata(context, &key, ccrypto_selection_public_key(), parameters) == 1, let key
        else { throw .openSSL("cannot build the \(algorithm) key from its JWK components") }
        return key
    }

    /// Refuses a public key that is not valid for its type (for EC: the point must be on the curve).
    func checkPublicKey() throws(CryptoError) {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else {
            throw .openSSL("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_public_check(context) == 1 else { throw .openSSL("the public key is not valid") }
    }
}

extension EVPKey {
    /// A fresh RSA key pair of `bits` bits (tests and key rotation tooling; never in a machine).
    public static func generateRSA(bits: Int) throws(CryptoError) -> EVPKey {
        guard (2048...8192).contains(bits) else { throw CryptoError("RSA key size must be 2048...8192 bits") }
        return try generate(algorithm: "RSA") { context in EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)) }
    }

    /// A fresh P-256 key pair.
    public static func generateP256() throws(CryptoError) -> EVPKey {
        try generate(algorithm: "EC") { context in EVP_PKEY_CTX_set_group_name(context, "P-256") }
    }

    static func generate(algorithm: String, configure: (OpaquePointer) -> Int32) throws(CryptoError) -> EVPKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw .openSSL("EVP_PKEY_CTX_new_from_name(\(algorithm))")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_keygen_init(context) == 1, configure(context) == 1, EVP_PKEY_generate(context, &key) == 1,
            let key
        else { throw .openSSL("cannot generate an \(algorithm) key") }
        return EVPKey(taking: key, hasPrivateKey: true)
    }

    /// The SubjectPublicKeyInfo PEM of the key.
    public func publicKeyPEM() throws(CryptoError) -> String {
        try writePEM(what: "public key") { bio in PEM_write_bio_PUBKEY(bio, pointer) }
    }

    /// The unencrypted PKCS#8 PEM of the private key.
    public func privateKeyPEM() throws(CryptoError) -> String {
        guard hasPrivateKey else { throw CryptoError("the key has no private part to write") }
        return try writePEM(what: "private key") { bio in PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil)
        }
    }

    func writePEM(what: String, write: (OpaquePointer) -> Int32) throws(CryptoError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openSSL("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw .openSSL("cannot write the \(what) PEM") }
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = ccrypto_bio_mem_data(bio, &data)
        guard let data, length > 0 else { throw .openSSL("cannot read the \(what) PEM back") }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Memory the parameter builder points into: OSSL_PARAM_BLD_push_* keep the caller's pointers (names, strings,
/// numbers) until OSSL_PARAM_BLD_to_param copies them, so Swift's call-scoped temporary pointers will not do.
struct ParameterArena {
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var numbers: [OpaquePointer] = []

    /// A NUL-terminated copy of `text`, alive until `release`.
    mutating func cString(_ text: String) -> UnsafePointer<CChar> {
        let buffer = bytes(Array(text.utf8) + [0])
        return UnsafePointer(buffer.baseAddress!.assumingMemoryBound(to: CChar.self))
    }

    /// A copy of `content`, alive until `release`.
    mutating func bytes(_ content: [UInt8]) -> UnsafeRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(content.count, 1), alignment: 1)
        buffer.copyBytes(from: content)
        buffers.append(buffer)
        return UnsafeRawBufferPointer(rebasing: buffer[0..<content.count])
    }

    /// A BIGNUM of the big-endian `magnitude`, freed by `release`.
    mutating func number(_ magnitude: [UInt8]) throws(CryptoError) -> OpaquePointer {
        guard let number = BN_bin2bn(magnitude, Int32(magnitude.count), nil) else { throw .openSSL("BN_bin2bn") }
        numbers.append(number)
        return number
    }

    func release() {
        for buffer in buffers { buffer.deallocate() }
        for number in numbers { BN_free(number) }
    }
}
