// The gateway's one authentication decision: stored API keys (scopes and tenant from the key store's
// replica, updates taken as they come), bearer tokens (through the shell's token check), static keys;
// 401 for any refused credential, 403 for a valid one without the call's scope.

import PlatformCore
import Testing

/// Not cryptographic: the decision logic does not depend on the digest (SHA-256 is tested in PlatformCryptoTests).
private struct TestDigest: SecretDigest {
    func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] {
        var hasher = StableHasher()
        for byte in salt + [0xFF] + secret { hasher.combine(UInt64(byte)) }
        return (0..<8).map { UInt8(truncatingIfNeeded: hasher.value >> (8 * UInt64($0))) }
    }
}

/// Accepts exactly the tokens it was given, as the principals it was given.
private struct TableBearer: BearerAuthenticator {
    var principals: [String: AuthenticatedPrincipal]
    func authenticate(bearer: String, now: Instant) -> TokenDecision {
        principals[bearer].map { .accepted($0) } ?? .refused(.badSignature)
    }
}

@Suite struct AuthenticatorTests {
    let keys = [
        Gateway.APIKey(credential: "sk-a", name: "tenant-a"), Gateway.APIKey(credential: "sk-b", name: "tenant-b"),
    ]

    func store() -> (APIKeyStore, inferOnly: String, batchOnly: String) {
        var store = APIKeyStore()
        func create(_ id: String, tenant: Int, _ scopes: Scopes) -> String {
            let material = KeyMaterial(
                keyID: id, secret: String(repeating: "s", count: 40), salt: [UInt8](repeating: 1, count: 16))
            guard
                case .created(_, let credential) = store.apply(
                    .create(tenant: tenant, name: id, scopes: scopes, material: material), now: .zero,
                    digest: TestDigest())
            else { return "" }
            return credential
        }
        let infer = create("inferkey1", tenant: 1, .infer)
        let batch = create("batchkey1", tenant: 0, .batch)
        return (store, infer, batch)
    }

    @Test func storedKeysGiveTheirTenantAndNeedTheCallsScope() {
        let (store, inferOnly, batchOnly) = store()
        let authenticator = Authenticator(
            keys: keys, sources: CredentialSources(apiKeys: store, secretDigest: TestDigest()))
        #expect(authenticator.authorize(inferOnly, scope: .infer, now: .zero) == .allowed(keyIndex: 1))
        #expect(authenticator.authorize(inferOnly, scope: .batch, now: .zero) == .refused(.forbidden))
        #expect(authenticator.authorize(batchOnly, scope: .batch, now: .zero) == .allowed(keyIndex: 0))
        #expect(
            authenticator.authorize("aip_inferkey1_" + String(repeating: "x", count: 40), scope: .infer, now: .zero)
                == .refused(.unauthorized))
        // Static keys still work beside stored ones.
        #expect(authenticator.authorize("sk-b", scope: .infer, now: .zero) == .allowed(keyIndex: 1))
        #expect(authenticator.authorize("sk-nope", scope: .infer, now: .zero) == .refused(.unauthorized))
    }

    @Test func aRevocationReachesTheReplica() {
        var (authoritative, inferOnly, _) = store()
        var authenticator = Authenticator(
            keys: keys, sources: CredentialSources(apiKeys: authoritative, secretDigest: TestDigest()))
        _ = authoritative.apply(
            .revoke(keyID: "inferkey1", tenant: 1), now: Instant(nanoseconds: 5), digest: TestDigest())
        // Until the change arrives the replica still accepts the key; afterwards it refuses it.
        #expect(
            authenticator.authorize(inferOnly, scope: .infer, now: Instant(nanoseconds: 6)) == .allowed(keyIndex: 1))
        authenticator.apiKeysChanged([authoritative.entry(of: "inferkey1")!])
        #expect(
            authenticator.authorize(inferOnly, scope: .infer, now: Instant(nanoseconds: 6)) == .refused(.unauthorized))
    }

    @Test func tokensNameTheirTenantAndCarryTheirScopes() {
        var authenticator = Authenticator(
            keys: keys,
            sources: CredentialSources(
                bearer: TableBearer(principals: [
                    "h.p.s": AuthenticatedPrincipal(subject: "u1", tenant: "tenant-b", scopes: ["infer"]),
                    "h.p.other": AuthenticatedPrincipal(subject: "u2", tenant: "tenant-z", scopes: ["infer"]),
                ])))
        #expect(authenticator.authorize("h.p.s", scope: .infer, now: .zero) == .allowed(keyIndex: 1))
        #expect(authenticator.authorize("h.p.s", scope: .batch, now: .zero) == .refused(.forbidden))
        #expect(
            authenticator.authorize("h.p.other", scope: .infer, now: .zero) == .refused(.unauthorized), "unknown tenant"
        )
        #expect(authenticator.authorize("h.p.forged", scope: .infer, now: .zero) == .refused(.unauthorized))
        // After a signing-key change, the old token is judged by the new check.
        authenticator.bearerKeysChanged(TableBearer(principals: [:]))
        #expect(authenticator.authorize("h.p.s", scope: .infer, now: .zero) == .refused(.unauthorized))
    }

    @Test func rememberingAnswersExactlyAsAuthorize() {
        let (store, inferOnly, batchOnly) = store()
        let many = (0..<12).map { Gateway.APIKey(credential: "sk-\($0 % 10)", name: "t\($0)", mayInfer: $0 != 3) }
        for keys in [
            keys, many, [Gateway.APIKey(credential: "dup", name: "x"), Gateway.APIKey(credential: "dup", name: "y")],
        ] {
            var authenticator = Authenticator(
                keys: keys,
                sources: CredentialSources(
                    apiKeys: store, secretDigest: TestDigest(),
                    bearer: TableBearer(principals: [
                        "h.p.s": AuthenticatedPrincipal(subject: "u1", tenant: keys[1].name, scopes: ["infer"])
                    ])))
            let credentials = [
                "sk-a", "sk-a", "sk-b", "sk-3", "sk-3", "sk-9", "dup", "dup", "nope", "", "h.p.s", "h.p.s", inferOnly,
                inferOnly, batchOnly, "sk-a", "a.b.c", "sk-1", "sk-1",
            ]
            for (step, credential) in credentials.enumerated() {
                if step == 11 { authenticator.bearerKeysChanged(TableBearer(principals: [:])) }
                for scope in [Scopes.infer, .batch] {
                    let now = Instant(nanoseconds: Int64(step))
                    let expected = authenticator.authorize(credential, scope: scope, now: now)
                    #expect(authenticator.authorizeRemembering(credential, scope: scope, now: now) == expected)
                }
            }
        }
    }

    @Test func staticKeysFoundByScanAndByHashAlike() {
        for count in [1, 2, 8, 9, 40] {
            let keys = (0..<count).map {
                Gateway.APIKey(credential: "key-\($0 % 7)", name: "n\($0)", mayInfer: $0 % 5 != 4)
            }
            let table = APIKeyTable(keys)
            for probe in (0..<9).map({ "key-\($0)" }) + ["", "key-", "Key-1"] {
                let last = keys.lastIndex { $0.credential == probe }
                let expected: APIKeyTable.Authorization =
                    last.map { keys[$0].mayInfer ? .allowed(keyIndex: $0) : .refused(.forbidden) }
                    ?? .refused(.unauthorized)
                #expect(table.authorize(probe) == expected, "\(count) keys, \(probe)")
            }
        }
    }
}
