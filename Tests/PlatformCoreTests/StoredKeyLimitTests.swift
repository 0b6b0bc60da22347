// A stored API key created with `requestsPerMinute` is limited by that rate in a bucket of its own (with its
// tenant's burst, at most a minute's worth), locally, through the shared limiter store, and in fail-open's
// fallback; a stored key without one, and the tenant's other credentials, draw from the tenant's bucket.

import Testing

@testable import PlatformCore

/// Not cryptographic: the limit logic does not depend on the digest.
private struct PlainDigest: SecretDigest {
    func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] { salt + secret }
}

@Suite struct StoredKeyLimitTests {
    /// Credentials of tenant "good" (60 a minute, burst 2): a stored key limited to `ownRate` a minute, and a
    /// stored key without a limit of its own.
    struct Keys {
        var store = APIKeyStore()
        var limited = ""
        var plain = ""
    }

    func keys(ownRate: Int64) -> Keys {
        var keys = Keys()
        func create(_ id: String, rate: Int64?) -> String {
            let material = KeyMaterial(
                keyID: id, secret: String(repeating: "s", count: 40), salt: [UInt8](repeating: 7, count: 16))
            guard
                case .created(_, let credential) = keys.store.apply(
                    .create(
                        tenant: 0, name: id, scopes: .infer, material: material, requestsPerMinute: rate),
                    now: .zero, digest: PlainDigest())
            else { return "" }
            return credential
        }
        keys.limited = create("limited1", rate: ownRate)
        keys.plain = create("plainkey", rate: nil)
        return keys
    }

    func gateway(_ keys: Keys, configure: (inout Gateway.Configuration) -> Void = { _ in }) -> Gateway {
        GatewayTests().gateway {
            $0.credentials = CredentialSources(apiKeys: keys.store, secretDigest: PlainDigest())
            configure(&$0)
        }
    }

    func outcome(_ machine: inout Gateway, _ id: UInt64, _ credential: String, at now: Instant) -> InferenceOutcome? {
        var actions: [Gateway.Action] = []
        machine.handle(
            .request(
                InferenceRequest(
                    id: RequestID(id), credential: credential, model: ModelID(0), version: 0, inputElements: 4)),
            now: now, into: &actions)
        for action in actions {
            if case .forward = action { return nil }
            if case .respond(let response) = action { return response.outcome }
        }
        return nil
    }

    func ms(_ value: Int64) -> Instant { Instant(nanoseconds: value * 1_000_000) }

    @Test func theAuthorizationCarriesAStoredKeysOwnLimit() {
        let keys = keys(ownRate: 5)
        let authenticator = Authenticator(
            keys: [Gateway.APIKey(credential: "sk-good", name: "good")],
            sources: CredentialSources(apiKeys: keys.store, secretDigest: PlainDigest()))
        #expect(
            authenticator.authorize(keys.limited, scope: .infer, now: .zero)
                == .allowed(keyIndex: 0, ownLimit: KeyLimit(keyID: "limited1", requestsPerMinute: 5)))
        #expect(authenticator.authorize(keys.plain, scope: .infer, now: .zero) == .allowed(keyIndex: 0))
        #expect(authenticator.authorize("sk-good", scope: .infer, now: .zero) == .allowed(keyIndex: 0))
    }

    @Test func aLowerOwnLimitRefusesThatKeyAloneAndLeavesTheTenantsBucketWhole() {
        let keys = keys(ownRate: 1)
        var machine = gateway(keys)
        // One a minute, so a burst of one (the tenant's burst of 2 is capped at a minute's worth).
        #expect(outcome(&machine, 1, keys.limited, at: ms(0)) == nil)
        #expect(
            outcome(&machine, 2, keys.limited, at: ms(1)) == .failed(.rateLimited, retryAfter: .milliseconds(59_999)))
        // The tenant's bucket was not drawn from: its burst of 2 is all there, shared by its other credentials.
        #expect(outcome(&machine, 3, keys.plain, at: ms(2)) == nil)
        #expect(outcome(&machine, 4, "sk-good", at: ms(3)) == nil)
        #expect(outcome(&machine, 5, keys.plain, at: ms(4)) == .failed(.rateLimited, retryAfter: .milliseconds(998)))
        // A minute on, the limited key has its token back.
        #expect(outcome(&machine, 6, keys.limited, at: ms(60_000)) == nil)
    }

    @Test func aHigherOwnLimitAdmitsBeyondTheTenantsRate() {
        let keys = keys(ownRate: 6_000)
        var machine = gateway(keys)
        // 6,000 a minute is a token every 10 ms, with the tenant's burst of 2.
        #expect(outcome(&machine, 1, keys.limited, at: ms(0)) == nil)
        #expect(outcome(&machine, 2, keys.limited, at: ms(0)) == nil)
        #expect(outcome(&machine, 3, keys.limited, at: ms(0)) == .failed(.rateLimited, retryAfter: .milliseconds(10)))
        #expect(outcome(&machine, 4, keys.limited, at: ms(10)) == nil)
        #expect(outcome(&machine, 5, keys.limited, at: ms(20)) == nil)
        // At the tenant's 60 a minute, the same calls 10 ms apart are refused.
        #expect(outcome(&machine, 6, keys.plain, at: ms(20)) == nil)
        #expect(outcome(&machine, 7, keys.plain, at: ms(20)) == nil)
        #expect(outcome(&machine, 8, keys.plain, at: ms(30)) == .failed(.rateLimited, retryAfter: .milliseconds(990)))
    }

    @Test func eachOfSeveralGatewaysEnforcesItsShareOfTheKeysOwnLimit() {
        let keys = keys(ownRate: 1_200)
        var machine = gateway(keys) { $0.gatewayCount = 2 }
        // Its share: 1,200 every two minutes (a token every 100 ms), and half the burst of 2.
        #expect(outcome(&machine, 1, keys.limited, at: ms(0)) == nil)
        #expect(outcome(&machine, 2, keys.limited, at: ms(0)) == .failed(.rateLimited, retryAfter: .milliseconds(100)))
        #expect(outcome(&machine, 3, keys.limited, at: ms(100)) == nil)
    }

    @Test func theSharedStoreIsAskedForTheKeysOwnBucket() {
        let keys = keys(ownRate: 1)
        var machine = gateway(keys) { $0.rateLimitMode = .shared(SharedLimitSettings(policy: .failClosed)) }
        var actions: [Gateway.Action] = []
        machine.handle(
            .request(
                InferenceRequest(
                    id: RequestID(1), credential: keys.limited, model: ModelID(0), version: 0, inputElements: 4)),
            now: ms(0), into: &actions)
        let own = KeyLimit(keyID: "limited1", requestsPerMinute: 1)
        let checks = actions.compactMap { if case .checkLimit(let check) = $0 { return check } else { return nil } }
        #expect(checks == [LimitCheck(id: RequestID(1), keyIndex: 0, ownLimit: own)])

        // The store keeps the key's bucket apart from its tenant's, at the key's rate.
        var store = LimiterStoreModel(limits: GatewayTests().gateway().configuration.rateLimits)
        let ownCheck = LimitCheck(id: RequestID(1), keyIndex: 0, ownLimit: own)
        #expect(store.take(ownCheck, key: "good", now: ms(0)) == .granted)
        #expect(store.take(ownCheck, key: "good", now: ms(1)) == .denied(retryAfter: .milliseconds(59_999)))
        let tenantCheck = LimitCheck(id: RequestID(2), keyIndex: 0)
        #expect(store.take(tenantCheck, key: "good", now: ms(2)) == .granted)
        #expect(store.take(tenantCheck, key: "good", now: ms(3)) == .granted)
        #expect(store.take(tenantCheck, key: "good", now: ms(4)) == .denied(retryAfter: .milliseconds(998)))
    }

    @Test func failOpenFallsBackToTheKeysOwnShare() {
        let keys = keys(ownRate: 1)
        var machine = gateway(keys) { $0.rateLimitMode = .shared(SharedLimitSettings(policy: .failOpen)) }
        func unavailable(_ id: UInt64, at now: Instant) -> InferenceOutcome? {
            var actions: [Gateway.Action] = []
            machine.handle(
                .request(
                    InferenceRequest(
                        id: RequestID(id), credential: keys.limited, model: ModelID(0), version: 0,
                        inputElements: 4)),
                now: now, into: &actions)
            actions.removeAll()
            machine.handle(
                .limiterAnswered(LimitAnswer(id: RequestID(id), decision: .unavailable)), now: now, into: &actions)
            for action in actions {
                if case .forward = action { return nil }
                if case .respond(let response) = action { return response.outcome }
            }
            return nil
        }
        #expect(unavailable(1, at: ms(0)) == nil)
        #expect(unavailable(2, at: ms(1)) == .failed(.rateLimited, retryAfter: .milliseconds(59_999)))
    }

    @Test func aLimitHoldsItsKeyIDAsPlainWords() throws {
        for id in [
            "abcdefgh", "m2x8c4v6b1n9", "abcdefghijklmnop", "abcdefghijklmnopq", String(repeating: "z9", count: 16),
        ] {
            let limit = try #require(KeyLimit(keyID: id, requestsPerMinute: 7))
            #expect(limit.keyID == id && limit.requestsPerMinute == 7)
        }
        #expect(KeyLimit(keyID: "abcdefgh", requestsPerMinute: 7) != KeyLimit(keyID: "abcdefgi", requestsPerMinute: 7))
        #expect(KeyLimit(keyID: String(repeating: "a", count: 33), requestsPerMinute: 1) == nil)
        #expect(KeyLimit(keyID: "", requestsPerMinute: 1) == nil)
        #expect(KeyLimit(keyID: "abc\u{0}defg", requestsPerMinute: 1) == nil)
        #expect(KeyLimit(keyID: "abcdefgh", requestsPerMinute: 0) == nil)
        #expect(_isPOD(KeyLimit.self))
    }

    @Test func aChecksOwnLimitReachesTheActionDigest() {
        func digest(_ check: LimitCheck) -> UInt64 {
            var digest = ActionDigest()
            digest.fold([.checkLimit(check)])
            return digest.value
        }
        let plain = LimitCheck(id: RequestID(1), keyIndex: 0)
        let one = LimitCheck(id: RequestID(1), keyIndex: 0, ownLimit: KeyLimit(keyID: "limited1", requestsPerMinute: 1))
        let other = LimitCheck(
            id: RequestID(1), keyIndex: 0, ownLimit: KeyLimit(keyID: "limited2", requestsPerMinute: 1))
        let faster = LimitCheck(
            id: RequestID(1), keyIndex: 0, ownLimit: KeyLimit(keyID: "limited1", requestsPerMinute: 2))
        #expect(Set([digest(plain), digest(one), digest(other), digest(faster)]).count == 4)
    }
}
