// The metadata stores' shell helpers: drawn key material passes the core's rules and differs per draw, and
// replicated entries are moved from the wall clock onto the reactor's monotonic clock without changing the
// order of their instants relative to "now".

import PlatformCore
import Testing

@testable import PlatformProduction

@Suite struct MetadataStoresTests {
    @Test func drawnMaterialIsAcceptedByTheKeyStore() throws {
        var store = APIKeyStore()
        var keyIDs: [String] = []
        for _ in 0..<20 {
            let material = try MetadataStores.drawMaterial()
            #expect(material.keyID.utf8.count == 12)
            #expect(material.secret.utf8.count == 43)
            #expect(material.salt.count == 16)
            let reply = store.apply(
                .create(tenant: 0, name: "k", scopes: [.infer], material: material), now: .zero,
                digest: SHA256SecretDigest())
            guard case .created = reply else {
                Issue.record("the store refused drawn material: \(reply)")
                return
            }
            keyIDs.append(material.keyID)
        }
        #expect(Set(keyIDs).count == keyIDs.count)
    }

    @Test func replicatedInstantsKeepTheirDistanceFromNow() {
        let wallNow = WallClock.now()
        let view = APIKeyView(
            keyID: "abcdefgh", tenant: 0, name: "k", scopes: [.infer], createdAt: wallNow - .seconds(60),
            expiresAt: wallNow + .seconds(600), revokedAt: wallNow - .seconds(1))
        let moved = MetadataStores.onReactorClock([APIKeyEntry(view: view, salt: [], digest: [])])[0].view
        let monotonicNow = Reactor.now()
        // A second of slack for the time between the two clock reads.
        #expect(abs((moved.revokedAt! - monotonicNow).nanoseconds + 1_000_000_000) < 1_000_000_000)
        #expect(abs((moved.expiresAt! - monotonicNow).nanoseconds - 600_000_000_000) < 1_000_000_000)
        #expect(moved.expiresAt! - moved.createdAt == .seconds(660))
    }
}
