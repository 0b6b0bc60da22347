import PlatformCore
import Testing

@testable import PlatformProduction

@Suite struct EmbeddedRegistryAndKeyStoreTests {
    @Test func registrySurvivesReopen() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("registry.sqlite")
        let tensor = TensorSchema(name: "input", datatype: .fp32, shape: [-1, 3])
        let spec = ModelVersionSpec(
            name: "resnet", version: 1, framework: "onnx", endpoints: ["triton:8001"], inputs: [tensor],
            outputs: [tensor], labels: ["team": "vision", "tier": "gold"])
        var expected: [ModelVersionRecord] = []
        do {
            let store = try EmbeddedRegistryStore(database: try SQLiteDatabase(path: path))
            _ = try store.apply(.create(spec, tenant: 1), now: Instant(nanoseconds: 1))
            var second = spec
            second.version = 2
            _ = try store.apply(.create(second, tenant: 1), now: Instant(nanoseconds: 2))
            _ = try store.apply(
                .transition(name: "resnet", version: 1, to: .staging, tenant: 1), now: Instant(nanoseconds: 3))
            _ = try store.apply(
                .update(name: "resnet", version: 1, tenant: 1, ifMatch: 2, labels: [Label(key: "a", value: "b")]),
                now: Instant(nanoseconds: 4))
            _ = try store.apply(.delete(name: "resnet", version: 2, tenant: 1), now: Instant(nanoseconds: 5))
            // A refused write is not logged and changes nothing.
            let stale = try store.apply(
                .transition(name: "resnet", version: 1, to: .serving, tenant: 1, ifMatch: 1),
                now: Instant(nanoseconds: 6))
            #expect(stale == .preconditionFailed(current: 3))
            expected = store.model.allRecords
        }
        let store = try EmbeddedRegistryStore(database: try SQLiteDatabase(path: path))
        #expect(store.model.allRecords == expected)
        #expect(expected.count == 1 && expected[0].resourceVersion == 3 && expected[0].state == .staging)
        // The name stays owned by tenant 1 after the reopen.
        var other = spec
        other.version = 9
        guard case .conflict = try store.apply(.create(other, tenant: 2), now: Instant(nanoseconds: 7)) else {
            Issue.record("tenant 2 took tenant 1's model name after a reopen")
            return
        }
    }

    private struct XorDigest: SecretDigest {
        func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] {
            secret.enumerated().map { $0.element ^ salt[$0.offset % salt.count] }
        }
    }

    private static func material(_ id: String) -> KeyMaterial {
        KeyMaterial(keyID: id, secret: String(repeating: "s", count: 40) + id, salt: Array(0..<16))
    }

    @Test func keysSurviveReopenWithoutSecrets() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("keys.sqlite")
        var expected: [APIKeyEntry] = []
        var credential = ""
        do {
            let store = try EmbeddedKeyStore(database: try SQLiteDatabase(path: path))
            let created = try store.apply(
                .create(
                    tenant: 3, name: "ci", scopes: [.batch, .infer], material: Self.material("zzzkey01"),
                    requestsPerMinute: 600), now: Instant(nanoseconds: 1), digest: XorDigest())
            guard case .created(_, let shown) = created else {
                Issue.record("create failed: \(created)")
                return
            }
            credential = shown
            _ = try store.apply(
                .create(tenant: 3, name: "old", scopes: [.admin], material: Self.material("aaakey01")),
                now: Instant(nanoseconds: 2), digest: XorDigest())
            _ = try store.apply(
                .rotate(keyID: "aaakey01", tenant: 3, material: Self.material("mmmkey01"), grace: .seconds(60)),
                now: Instant(nanoseconds: 3), digest: XorDigest())
            _ = try store.apply(
                .revoke(keyID: "mmmkey01", tenant: 3), now: Instant(nanoseconds: 4), digest: XorDigest())
            expected = store.entries
        }
        #expect(expected.map(\.view.keyID) == ["aaakey01", "mmmkey01", "zzzkey01"])
        let store = try EmbeddedKeyStore(database: try SQLiteDatabase(path: path))
        #expect(store.entries == expected)
        #expect(
            store.store.authenticate(credential, now: Instant(nanoseconds: 5), digest: XorDigest())
                != .refused(.unknownKey))
        guard
            case .valid(let principal) = store.store.authenticate(
                credential, now: Instant(nanoseconds: 5), digest: XorDigest())
        else {
            Issue.record("the stored key no longer authenticates")
            return
        }
        #expect(principal.tenant == 3 && principal.scopes == [.batch, .infer])
        // No secret reached the file: the table has no column for one and no row holds its text.
        let database = try SQLiteDatabase(path: path)
        let leaks = try database.prepare("SELECT count(*) FROM api_keys WHERE instr(CAST(digest AS TEXT), 'ssss') > 0")
            .rows([]) { $0.int64(0) }
        #expect(leaks == [0])
    }
}
