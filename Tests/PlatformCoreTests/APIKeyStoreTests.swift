// Transcript tests for the API-key store: a secret is shown once and stored only as a salted digest, keys see
// only their own tenant, revocation and rotation (with its grace period) take effect at the stated instant, and
// every malformed command names its field.

import PlatformCore
import Testing

/// A stand-in digest for these tests only (not cryptographic): the store's logic does not depend on which digest
/// it is given, and the real one (SHA-256 from libcrypto) is tested with its vectors in PlatformCryptoTests.
private struct TestDigest: SecretDigest {
    func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] {
        var hasher = StableHasher()
        for byte in salt { hasher.combine(UInt64(byte)) }
        hasher.combine(UInt64(0xFF_FF))
        for byte in secret { hasher.combine(UInt64(byte)) }
        var value = hasher.value
        return (0..<8).map { _ in
            defer { value >>= 8 }
            return UInt8(truncatingIfNeeded: value)
        }
    }
}

private let digest = TestDigest()

private func at(_ seconds: Int64) -> Instant { Instant(nanoseconds: seconds * 1_000_000_000) }

private func material(_ id: String, secretByte: Character = "s") -> KeyMaterial {
    KeyMaterial(
        keyID: id, secret: String(repeating: secretByte, count: 40),
        salt: Array(id.utf8) + [UInt8](repeating: 7, count: 16))
}

private func created(_ reply: APIKeyReply) -> (APIKeyView, String)? {
    if case .created(let view, let credential) = reply { return (view, credential) }
    return nil
}

@Suite struct APIKeyStoreTests {
    @Test func createShowsTheSecretOnceAndStoresOnlyItsDigest() throws {
        var store = APIKeyStore()
        let reply = store.apply(
            .create(tenant: 1, name: "ci", scopes: [.infer, .batch], material: material("key00001")), now: at(1),
            digest: digest)
        let (view, credential) = try #require(created(reply))
        #expect(credential == "aip_key00001_" + String(repeating: "s", count: 40))
        #expect(view.tenant == 1 && view.scopes == [.infer, .batch] && view.createdAt == at(1))
        // Listing never carries the secret: the view has no field for it, and the listing equals the view.
        #expect(store.apply(.list(tenant: 1), now: at(2), digest: digest) == .listed([view]))
        #expect(
            store.authenticate(credential, now: at(2), digest: digest)
                == .valid(Principal(tenant: 1, scopes: [.infer, .batch], subject: "key00001")))
    }

    @Test func wrongSecretUnknownKeyAndMalformedCredentialsAreRefused() {
        var store = APIKeyStore()
        _ = store.apply(
            .create(tenant: 1, name: "ci", scopes: .infer, material: material("key00001")), now: at(1), digest: digest)
        let wrong = "aip_key00001_" + String(repeating: "t", count: 40)
        #expect(store.authenticate(wrong, now: at(2), digest: digest) == .refused(.wrongSecret))
        #expect(
            store.authenticate("aip_key00002_" + String(repeating: "s", count: 40), now: at(2), digest: digest)
                == .refused(.unknownKey))
        for bad in [
            "", "aip_", "aip_key00001", "aip_KEY00001_x", "sk-tenant-a", "aip_k_" + String(repeating: "s", count: 40),
            String(repeating: "a", count: 300),
        ] {
            #expect(store.authenticate(bad, now: at(2), digest: digest) == .refused(.malformed), "\(bad)")
        }
    }

    @Test func keysAreSeenOnlyByTheirTenant() {
        var store = APIKeyStore()
        _ = store.apply(
            .create(tenant: 1, name: "a", scopes: .infer, material: material("tenanta01")), now: at(1), digest: digest)
        _ = store.apply(
            .create(tenant: 2, name: "b", scopes: .infer, material: material("tenantb01")), now: at(1), digest: digest)
        guard case .listed(let keys) = store.apply(.list(tenant: 2), now: at(2), digest: digest) else {
            Issue.record("list did not answer a listing")
            return
        }
        #expect(keys.map(\.keyID) == ["tenantb01"])
        #expect(store.apply(.revoke(keyID: "tenanta01", tenant: 2), now: at(2), digest: digest) == .notFound)
        #expect(
            store.apply(
                .rotate(keyID: "tenanta01", tenant: 2, material: material("tenanta02"), grace: .zero), now: at(2),
                digest: digest) == .notFound)
        #expect(store.view(of: "tenanta01")?.revokedAt == nil)
    }

    @Test func revokedKeysStopAtOnce() {
        var store = APIKeyStore()
        let (_, credential) = created(
            store.apply(
                .create(tenant: 1, name: "ci", scopes: .infer, material: material("key00001")), now: at(1),
                digest: digest))!
        guard case .revoked(let view) = store.apply(.revoke(keyID: "key00001", tenant: 1), now: at(5), digest: digest)
        else {
            Issue.record("revoke did not answer revoked")
            return
        }
        #expect(view.revokedAt == at(5))
        #expect(store.authenticate(credential, now: at(5), digest: digest) == .refused(.revoked))
        // Revoking twice keeps the first instant.
        #expect(store.apply(.revoke(keyID: "key00001", tenant: 1), now: at(9), digest: digest) == .revoked(view))
    }

    @Test func rotationKeepsTheOldKeyForItsGraceOnly() throws {
        var store = APIKeyStore()
        let (_, oldCredential) = try #require(
            created(
                store.apply(
                    .create(
                        tenant: 1, name: "ci", scopes: [.infer], material: material("key00001"), requestsPerMinute: 600),
                    now: at(1), digest: digest)))
        let reply = store.apply(
            .rotate(keyID: "key00001", tenant: 1, material: material("key00002", secretByte: "n"), grace: .seconds(30)),
            now: at(10), digest: digest)
        guard case .rotated(let old, let new, let newCredential) = reply else {
            Issue.record("rotate answered \(reply)")
            return
        }
        #expect(old.rotatedTo == "key00002" && old.expiresAt == at(40))
        #expect(new.scopes == [.infer] && new.requestsPerMinute == 600 && new.name == "ci")
        #expect(store.authenticate(oldCredential, now: at(39), digest: digest).isValid)
        #expect(store.authenticate(oldCredential, now: at(40), digest: digest) == .refused(.expired))
        #expect(store.authenticate(newCredential, now: at(40), digest: digest).isValid)
        // A rotated key cannot be rotated again: the new one can.
        #expect(
            store.apply(
                .rotate(keyID: "key00001", tenant: 1, material: material("key00003"), grace: .zero), now: at(11),
                digest: digest) == .invalid("keyID: key key00001 is revoked, expired or already rotated"))
    }

    @Test func takenIdsAndFullTenantsAreRefused() {
        var configuration = APIKeyStore.Configuration()
        configuration.keysPerTenantMax = 2
        var store = APIKeyStore(configuration: configuration)
        _ = store.apply(
            .create(tenant: 1, name: "a", scopes: .infer, material: material("key00001")), now: at(1), digest: digest)
        #expect(
            store.apply(
                .create(tenant: 2, name: "b", scopes: .infer, material: material("key00001")), now: at(1),
                digest: digest) == .conflict)
        _ = store.apply(
            .create(tenant: 1, name: "b", scopes: .infer, material: material("key00002")), now: at(1), digest: digest)
        #expect(
            store.apply(
                .create(tenant: 1, name: "c", scopes: .infer, material: material("key00003")), now: at(1),
                digest: digest) == .full)
        // A rotation may go one over for its grace period.
        if case .rotated = store.apply(
            .rotate(keyID: "key00001", tenant: 1, material: material("key00004"), grace: .seconds(5)), now: at(2),
            digest: digest)
        {
        } else {
            Issue.record("rotation at the tenant's limit was refused")
        }
    }

    @Test func malformedCommandsNameTheirField() {
        var store = APIKeyStore()
        func create(_ name: String = "ci", material: KeyMaterial = material("key00001"), rpm: Int64? = nil)
            -> APIKeyReply
        {
            store.apply(
                .create(tenant: 1, name: name, scopes: .infer, material: material, requestsPerMinute: rpm), now: at(1),
                digest: digest)
        }
        #expect(create("") == .invalid("name: must be 1 to 128 bytes"))
        #expect(create(material: material("short")) == .invalid("keyID: must be 8 to 32 characters of a-z and 0-9"))
        #expect(
            create(material: KeyMaterial(keyID: "key00001", secret: "tooshort", salt: [UInt8](repeating: 1, count: 16)))
                == .invalid("secret: must be 32 to 128 characters of A-Z, a-z, 0-9, _ and -"))
        #expect(
            create(material: KeyMaterial(keyID: "key00001", secret: String(repeating: "s", count: 40), salt: [1]))
                == .invalid("salt: must be at least 16 bytes"))
        #expect(create(rpm: 0) == .invalid("requestsPerMinute: must be 1 to 1000000000"))
        #expect(store.count == 0)
    }

    @Test func scopesParseAndPrintInOneOrder() {
        var unknown: String?
        #expect(Scopes.parse(["admin", "infer", "models:read"], unknown: &unknown) == [.infer, .modelsRead, .admin])
        #expect(Scopes([.admin, .infer]).names == ["infer", "admin"])
        #expect(Scopes.parse(["infer", "root"], unknown: &unknown) == nil && unknown == "root")
    }
}

extension KeyCheck {
    fileprivate var isValid: Bool {
        if case .valid = self { return true }
        return false
    }
}
