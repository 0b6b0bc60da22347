// Authentication in the simulated world: stored API keys (an authoritative key store, replicas in the
// gateways) and HS256 bearer tokens checked with the real libcrypto through the same composition the
// production shell uses. A scenario rotates both mid-traffic: the new key and signing key reach the
// gateways over the network, clients switch after `switchAfter`, and the old ones stop working when
// the grace period ends. Forged, expired and laggard credentials must always meet a 401.

import PlatformCore
import PlatformCrypto
import PlatformWire

/// The `auth` section of a scenario.
public struct AuthSpec: Sendable {
    public var issuer = "https://auth.sim.invalid"
    public var audience = "aiplatform"
    /// When both the API keys and the token signing key rotate (nil: never).
    public var rotateAt: Duration?
    /// How long the old API keys and the old signing key keep working after the rotation.
    public var grace: Duration = .seconds(10)
    /// How long after the rotation the clients start presenting the new credentials.
    public var switchAfter: Duration = .milliseconds(500)
}

/// What a stream presents, and so what the gateway must make of it.
public enum CredentialKind: String, Sendable, CaseIterable {
    /// The scenario key's static credential.
    case `static`
    /// A stored API key, switched to the new one after a rotation.
    case apiKey
    /// A valid HS256 token, signed with the current key.
    case token
    /// An unsigned token (`alg: none`) claiming the key's tenant.
    case forgedNone
    /// A token signed with a secret the platform never issued, under the current key id.
    case wrongKey
    /// A correctly signed token that expired before the run began.
    case expiredToken
    /// A token signed with the first key, never switched: valid until the grace period ends.
    case laggardToken
    /// The first stored API key, never switched: valid until the grace period ends.
    case laggardApiKey

    /// True for credentials that must never pass authentication.
    var isForged: Bool { self == .forgedNone || self == .wrongKey || self == .expiredToken }
    var isLaggard: Bool { self == .laggardToken || self == .laggardApiKey }
}

/// SHA-256 over the salt, then the secret: how stored keys' secrets are kept.
struct SHA256SecretDigest: SecretDigest {
    func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] { SHA256.hash(salt + secret) }
}

/// The gateway's bearer check, composed as production composes it: wire decoding, the core's decision, and a
/// libcrypto key ring.
struct KeyRingBearer: BearerAuthenticator {
    let authenticator: TokenAuthenticator
    let ring: JWSKeyRing

    func authenticate(bearer: String, now: Instant) -> TokenDecision {
        authenticator.authenticate(compact: Array(bearer.utf8), now: now, verifier: ring)
    }
}

/// What travels from the key store to a gateway after a change: the changed key entries and, when the signing
/// keys changed, the new bearer check. A class, so the simulator's message stays small.
final class AuthUpdate: @unchecked Sendable {
    let entries: [APIKeyEntry]
    let bearer: (any BearerAuthenticator)?

    init(entries: [APIKeyEntry], bearer: (any BearerAuthenticator)?) {
        self.entries = entries
        self.bearer = bearer
    }
}

/// The authoritative key store, the signing keys, and every stream's current credential.
final class AuthWorld {
    let spec: AuthSpec
    let digest = SHA256SecretDigest()
    let authenticator: TokenAuthenticator
    var store = APIKeyStore()
    /// Per scenario key: its stored key's id before and after the rotation.
    var keyIDs: [String] = []
    var rotatedKeyIDs: [String] = []
    /// Per scenario key, the credential of its first stored key (what laggards keep presenting).
    var firstCredentials: [String] = []
    var currentCredentials: [String] = []
    let firstSecret: [UInt8]
    let secondSecret: [UInt8]
    var rotated = false
    var random: SeededRandom
    /// Instant zero of every node's clock, in Unix seconds (a fixed date, so tokens are reproducible).
    static let epochUnixSeconds: Int64 = 1_800_000_000

    init(spec: AuthSpec, keyNames: [String], sabotage: Sabotage, random: SeededRandom) {
        self.spec = spec
        self.random = random
        authenticator = TokenAuthenticator(
            policy: TokenPolicy(
                issuer: spec.issuer, audience: spec.audience, acceptedAlgorithms: [.hs256],
                unixEpoch: Instant(nanoseconds: -AuthWorld.epochUnixSeconds * 1_000_000_000)),
            sabotage: sabotage)
        var draw = random
        firstSecret = (0..<32).map { _ in UInt8(truncatingIfNeeded: draw.next()) }
        secondSecret = (0..<32).map { _ in UInt8(truncatingIfNeeded: draw.next()) }
        self.random = draw
        for (tenant, name) in keyNames.enumerated() {
            let material = drawMaterial()
            guard
                case .created(let view, let credential) = store.apply(
                    .create(tenant: tenant, name: name, scopes: [.infer, .batch], material: material), now: .zero,
                    digest: digest)
            else { preconditionFailure("the simulator's own key material is valid") }
            keyIDs.append(view.keyID)
            firstCredentials.append(credential)
        }
        currentCredentials = firstCredentials
        rotatedKeyIDs = keyIDs
    }

    /// Key material from the world's own stream (production draws it from the system's CSPRNG).
    func drawMaterial() -> KeyMaterial {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let id = String(
            decoding: (0..<16).map { _ in alphabet[Int(random.below(UInt64(alphabet.count)))] }, as: UTF8.self)
        let secret = Base64URL.encode((0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        let salt = (0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        return KeyMaterial(keyID: id, secret: secret, salt: salt)
    }

    /// What every gateway (both its sides) starts with: the key store as created, and the first signing key.
    func initialSources() -> CredentialSources {
        CredentialSources(apiKeys: store, secretDigest: digest, bearer: bearer(firstKey: true, secondKey: false))
    }

    /// The bearer check a gateway runs with these signing keys (ids "k1" and "k2").
    func bearer(firstKey: Bool, secondKey: Bool) -> any BearerAuthenticator {
        var keys: [JWSKey] = []
        do {
            if firstKey { keys.append(try JWSKey.hmac(id: "k1", secret: firstSecret)) }
            if secondKey { keys.append(try JWSKey.hmac(id: "k2", secret: secondSecret)) }
            return KeyRingBearer(authenticator: authenticator, ring: try JWSKeyRing(keys: keys))
        } catch {
            preconditionFailure("the simulator's signing keys are valid: \(error)")
        }
    }

    /// A compact token for `tenant`, signed as `kind` asks.
    func token(tenant: String, kind: CredentialKind, runEnd: Duration) -> String {
        let useSecond = rotated && kind == .token
        let keyID = useSecond ? "k2" : "k1"
        let expires =
            kind == .expiredToken
            ? AuthWorld.epochUnixSeconds - 3_600
            : AuthWorld.epochUnixSeconds + runEnd.nanoseconds / 1_000_000_000 + 3_600
        let claims = BearerToken.Claims(
            issuer: spec.issuer, subject: "client-\(tenant)", audience: [spec.audience], expiresAtUnixSeconds: expires,
            issuedAtUnixSeconds: AuthWorld.epochUnixSeconds - 7_200, tenant: tenant, scopes: ["infer", "batch"])
        let algorithm = kind == .forgedNone ? "none" : "HS256"
        let input = CompactJWS.signingInput(
            header: BearerToken.Header(algorithm: algorithm, keyID: keyID, type: "JWT"), claims: claims)
        if kind == .forgedNone { return CompactJWS.compact(signingInput: input, signature: []) }
        let secret =
            kind == .wrongKey
            ? Array("a secret the platform never issued!".utf8) : useSecond ? secondSecret : firstSecret
        do {
            return CompactJWS.compact(
                signingInput: input, signature: try JWSSigner.hmac(keyID: keyID, secret: secret).sign(input))
        } catch {
            preconditionFailure("HMAC signing cannot fail: \(error)")
        }
    }

    /// Rotates every stored key with the grace period; returns the changed entries (old and new) for the gateways.
    func rotate(now: Instant) -> [APIKeyEntry] {
        rotated = true
        var changed: [APIKeyEntry] = []
        for (tenant, keyID) in keyIDs.enumerated() {
            let material = drawMaterial()
            guard
                case .rotated(let old, let new, let credential) = store.apply(
                    .rotate(keyID: keyID, tenant: tenant, material: material, grace: spec.grace), now: now,
                    digest: digest)
            else { preconditionFailure("the simulator's rotation is valid") }
            rotatedKeyIDs[tenant] = new.keyID
            currentCredentials[tenant] = credential
            changed.append(store.entry(of: old.keyID)!)
            changed.append(store.entry(of: new.keyID)!)
        }
        return changed
    }
}

extension Simulator {
    /// The credential a stream presents now.
    func credential(_ stream: StreamSpec, _ auth: AuthWorld) -> String {
        let tenant = stream.key
        switch stream.credential {
        case .static: return Simulator.credential(scenario.keys[tenant].name)
        case .apiKey: return auth.currentCredentials[tenant]
        case .laggardApiKey: return auth.firstCredentials[tenant]
        case .token, .forgedNone, .wrongKey, .expiredToken, .laggardToken:
            return auth.token(tenant: scenario.keys[tenant].name, kind: stream.credential, runEnd: scenario.duration)
        }
    }

    /// One step of the key rotation: the store rotates and tells every gateway over the network; the clients
    /// switch; the old signing key is dropped (old API keys expire by themselves at the end of their grace).
    func authStep(_ step: Int) {
        guard let auth else { return }
        switch step {
        case 0:
            let entries = auth.rotate(now: localNow(layout.redis))
            let update = AuthUpdate(entries: entries, bearer: auth.bearer(firstKey: true, secondKey: true))
            for gateway in 0..<scenario.gateways {
                send(.control(ControlMessage(.authUpdate(update))), from: layout.redis, to: layout.gateway(gateway))
            }
        case 1:
            for (index, stream) in scenario.workload.enumerated()
            where stream.credential == .apiKey || stream.credential == .token {
                streamCredentials[index] = credential(stream, auth)
            }
        default:
            let update = AuthUpdate(entries: [], bearer: auth.bearer(firstKey: false, secondKey: true))
            for gateway in 0..<scenario.gateways {
                send(.control(ControlMessage(.authUpdate(update))), from: layout.redis, to: layout.gateway(gateway))
            }
        }
    }

    /// What authentication must make of a request a stream sends now: 1 accept, 2 refuse, 0 no check (static
    /// keys, and laggards within a second of the end of the grace period).
    func authExpectation(_ stream: StreamSpec) -> UInt8 {
        guard let auth, stream.credential != .static else { return 0 }
        if stream.credential.isForged { return 2 }
        guard stream.credential.isLaggard, let rotateAt = auth.spec.rotateAt else { return 1 }
        let graceEnd = (rotateAt + auth.spec.grace).nanoseconds
        if now < graceEnd - 1_000_000_000 { return 1 }
        return now > graceEnd + 1_000_000_000 ? 2 : 0
    }
}
