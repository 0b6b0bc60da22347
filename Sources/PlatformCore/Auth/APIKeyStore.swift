// API keys: created, listed, revoked and rotated through the admin API, each bound to one tenant and a set of
// scopes. The store keeps only a salted digest of each secret; the secret itself is shown once, in the answer to
// the create or rotate that made it. Random material (key id, secret, salt) comes in with the command because the
// core draws no randomness: production takes it from the system's CSPRNG, the simulator from its seeded stream.
// Digests come through `SecretDigest` (SHA-256 in libcrypto in production), so no hash is written here.

/// What a key (or a token) may do.
public struct Scopes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Synchronous inference.
    public static let infer = Scopes(rawValue: 1 << 0)
    /// Batch jobs: submit, read, cancel.
    public static let batch = Scopes(rawValue: 1 << 1)
    /// Registry reads.
    public static let modelsRead = Scopes(rawValue: 1 << 2)
    /// Registry writes.
    public static let modelsWrite = Scopes(rawValue: 1 << 3)
    /// Key administration within the key's own tenant.
    public static let admin = Scopes(rawValue: 1 << 4)

    /// Every scope with its wire name, in a fixed order.
    public static let named: [(name: String, scope: Scopes)] = [
        ("infer", .infer), ("batch", .batch), ("models:read", .modelsRead), ("models:write", .modelsWrite),
        ("admin", .admin),
    ]

    /// Scopes from their wire names; nil names the first unknown one through `unknown`.
    public static func parse(_ names: [String], unknown: inout String?) -> Scopes? {
        var scopes: Scopes = []
        for name in names {
            guard let entry = named.first(where: { $0.name == name }) else {
                unknown = name
                return nil
            }
            scopes.insert(entry.scope)
        }
        return scopes
    }

    /// The wire names of these scopes, in the fixed order.
    public var names: [String] { Scopes.named.filter { contains($0.scope) }.map(\.name) }
}

/// Who made a request, once authenticated: the tenant whose data it may see and what it may do.
public struct Principal: Sendable, Hashable {
    public var tenant: Int
    public var scopes: Scopes
    /// The API key's id, or the token's subject; for logs and limits, never a secret.
    public var subject: String
    /// A stored key's own rate limit, when it has one (else the tenant's bucket applies).
    public var requestsPerMinute: Int64?

    public init(tenant: Int, scopes: Scopes, subject: String, requestsPerMinute: Int64? = nil) {
        self.tenant = tenant
        self.scopes = scopes
        self.subject = subject
        self.requestsPerMinute = requestsPerMinute
    }
}

/// Computes the stored digest of a key's secret. Production: SHA-256 over salt then secret, from libcrypto.
public protocol SecretDigest: Sendable {
    func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8]
}

/// The random parts of a new key, drawn by the shell.
public struct KeyMaterial: Sendable, Hashable {
    /// The public identifier, `[a-z0-9]{8,32}`; part of the credential and of every log line about the key.
    public var keyID: String
    /// The secret, `[A-Za-z0-9_-]{32,128}` (at least 192 bits when drawn as base64url).
    public var secret: String
    /// At least 16 bytes.
    public var salt: [UInt8]

    public init(keyID: String, secret: String, salt: [UInt8]) {
        self.keyID = keyID
        self.secret = secret
        self.salt = salt
    }
}

/// One key as the admin API shows it: never its secret or digest.
public struct APIKeyView: Sendable, Hashable {
    public var keyID: String
    public var tenant: Int
    public var name: String
    public var scopes: Scopes
    public var createdAt: Instant
    /// When the key stops working (set by a rotation's grace period or at creation), if ever.
    public var expiresAt: Instant?
    public var revokedAt: Instant?
    /// The key that replaced this one, after a rotation.
    public var rotatedTo: String?
    /// Its own rate limit in requests per minute, or nil for the default.
    public var requestsPerMinute: Int64?

    public init(
        keyID: String, tenant: Int, name: String, scopes: Scopes, createdAt: Instant, expiresAt: Instant? = nil,
        revokedAt: Instant? = nil, rotatedTo: String? = nil, requestsPerMinute: Int64? = nil
    ) {
        self.keyID = keyID
        self.tenant = tenant
        self.name = name
        self.scopes = scopes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.rotatedTo = rotatedTo
        self.requestsPerMinute = requestsPerMinute
    }
}

/// A command on the key store, on behalf of one tenant (the caller's, checked by the node: admin scope).
public enum APIKeyCommand: Sendable, Hashable {
    case create(
        tenant: Int, name: String, scopes: Scopes, material: KeyMaterial, expiresAt: Instant? = nil,
        requestsPerMinute: Int64? = nil)
    case list(tenant: Int)
    case revoke(keyID: String, tenant: Int)
    /// Replace a key by a new one with the same tenant, name, scopes and limit; the old one keeps working for
    /// `grace` (zero: stops at once), so clients can switch without a failed request.
    case rotate(keyID: String, tenant: Int, material: KeyMaterial, grace: Duration)
}

/// The key store's answer.
public enum APIKeyReply: Sendable, Hashable {
    /// The new key; `credential` is the only time the secret is ever shown (201).
    case created(APIKeyView, credential: String)
    /// The tenant's keys in key-id order (200).
    case listed([APIKeyView])
    case revoked(APIKeyView)
    case rotated(old: APIKeyView, new: APIKeyView, credential: String)
    /// No such key for this tenant (404): another tenant's key is indistinguishable from none.
    case notFound
    /// The key id is taken (409): the shell draws again.
    case conflict
    /// The command is malformed; the message names the field (400).
    case invalid(String)
    /// The tenant holds `keysPerTenantMax` keys already (409).
    case full
}

/// Why a credential was refused. Clients only ever see 401; the reason is for logs and metrics.
public enum KeyRefusal: String, Sendable, Hashable {
    case malformed, unknownKey, wrongSecret, revoked, expired
}

/// One key as stored and replicated to the gateways: its public view, its salt and the digest of its secret.
public struct APIKeyEntry: Sendable, Hashable {
    public var view: APIKeyView
    public var salt: [UInt8]
    public var digest: [UInt8]

    public init(view: APIKeyView, salt: [UInt8], digest: [UInt8]) {
        self.view = view
        self.salt = salt
        self.digest = digest
    }
}

/// The outcome of checking a credential.
public enum KeyCheck: Sendable, Hashable {
    case valid(Principal)
    case refused(KeyRefusal)
}

/// API keys, each stored as (key id, salt, digest of the secret). Records are kept in key-id order so listings
/// never depend on a hash table's order.
public struct APIKeyStore: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var keysPerTenantMax: Int = 100
        public var keysMax: Int = 100_000
        public init() {}
    }

    typealias Record = APIKeyEntry

    /// The prefix every credential starts with, so a leaked key is recognisable by secret scanners.
    public static let credentialPrefix = "aip_"

    public let configuration: Configuration
    /// Sorted by key id.
    var records: [Record] = []

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Keys held, across tenants.
    public var count: Int { records.count }

    /// The credential a client presents for this material: `aip_<keyID>_<secret>`.
    public static func credential(_ material: KeyMaterial) -> String {
        credentialPrefix + material.keyID + "_" + material.secret
    }

    /// Applies one admin command.
    public mutating func apply(_ command: APIKeyCommand, now: Instant, digest: any SecretDigest) -> APIKeyReply {
        switch command {
        case .create(let tenant, let name, let scopes, let material, let expiresAt, let requestsPerMinute):
            if let problem = APIKeyStore.check(name: name, material: material, requestsPerMinute: requestsPerMinute) {
                return .invalid(problem)
            }
            let view = APIKeyView(
                keyID: material.keyID, tenant: tenant, name: name, scopes: scopes, createdAt: now,
                expiresAt: expiresAt, revokedAt: nil, rotatedTo: nil, requestsPerMinute: requestsPerMinute)
            return insert(view, material, digest: digest).map {
                .created($0, credential: APIKeyStore.credential(material))
            }
                ?? failure(keyID: material.keyID, tenant: tenant)
        case .list(let tenant):
            return .listed(records.filter { $0.view.tenant == tenant }.map(\.view))
        case .revoke(let keyID, let tenant):
            guard let index = position(of: keyID), records[index].view.tenant == tenant else { return .notFound }
            if records[index].view.revokedAt == nil { records[index].view.revokedAt = now }
            return .revoked(records[index].view)
        case .rotate(let keyID, let tenant, let material, let grace):
            guard let index = position(of: keyID), records[index].view.tenant == tenant else { return .notFound }
            let old = records[index].view
            guard old.revokedAt == nil, old.rotatedTo == nil, !APIKeyStore.isExpired(old, now: now) else {
                return .invalid("keyID: key \(keyID) is revoked, expired or already rotated")
            }
            guard grace >= .zero else { return .invalid("grace: must not be negative") }
            if let problem = APIKeyStore.check(name: old.name, material: material, requestsPerMinute: nil) {
                return .invalid(problem)
            }
            let fresh = APIKeyView(
                keyID: material.keyID, tenant: tenant, name: old.name, scopes: old.scopes, createdAt: now,
                expiresAt: old.expiresAt, revokedAt: nil, rotatedTo: nil, requestsPerMinute: old.requestsPerMinute)
            // A rotation replaces a key, so it may go one over the tenant's count for the grace period.
            guard let created = insert(fresh, material, digest: digest, replacing: true) else {
                return failure(keyID: material.keyID, tenant: tenant)
            }
            let oldIndex = position(of: keyID)!
            let graceEnd = now + grace
            records[oldIndex].view.rotatedTo = material.keyID
            if records[oldIndex].view.expiresAt.map({ $0 > graceEnd }) ?? true {
                records[oldIndex].view.expiresAt = graceEnd
            }
            return .rotated(old: records[oldIndex].view, new: created, credential: APIKeyStore.credential(material))
        }
    }

    /// Checks a credential: the key exists, is neither revoked nor expired, and the secret's digest matches.
    public func authenticate(_ credential: String, now: Instant, digest: any SecretDigest) -> KeyCheck {
        guard let (keyID, secret) = APIKeyStore.split(credential) else { return .refused(.malformed) }
        guard let index = position(of: keyID) else { return .refused(.unknownKey) }
        let record = records[index]
        // The digest is compared before the state so that a revoked key and a wrong secret take the same work.
        let matches = APIKeyStore.constantTimeEqual(
            digest.digest(salt: record.salt, secret: Array(secret.utf8)), record.digest)
        guard matches else { return .refused(.wrongSecret) }
        if record.view.revokedAt.map({ $0 <= now }) ?? false { return .refused(.revoked) }
        if APIKeyStore.isExpired(record.view, now: now) { return .refused(.expired) }
        return .valid(
            Principal(
                tenant: record.view.tenant, scopes: record.view.scopes, subject: keyID,
                requestsPerMinute: record.view.requestsPerMinute))
    }

    /// The key's public view, without a tenant check: for oracles, tests and the gateway's limit lookup.
    public func view(of keyID: String) -> APIKeyView? {
        position(of: keyID).map { records[$0].view }
    }

    /// The key as stored, for replicating it to the gateways after a change.
    public func entry(of keyID: String) -> APIKeyEntry? {
        position(of: keyID).map { records[$0] }
    }

    /// A replica (a gateway's copy) takes a changed key from the store: inserted, or replaced whole.
    public mutating func upsert(_ entry: APIKeyEntry) {
        if let index = position(of: entry.view.keyID) {
            records[index] = entry
        } else {
            records.insert(entry, at: insertionPoint(entry.view.keyID))
        }
    }

    static func isExpired(_ view: APIKeyView, now: Instant) -> Bool {
        view.expiresAt.map { $0 <= now } ?? false
    }

    /// `aip_<keyID>_<secret>` split into its parts, or nil when it is not of that shape.
    static func split(_ credential: String) -> (keyID: String, secret: Substring)? {
        let utf8 = credential.utf8
        guard utf8.count <= 256, credential.hasPrefix(credentialPrefix) else { return nil }
        let body = credential.dropFirst(credentialPrefix.count)
        guard let separator = body.firstIndex(of: "_") else { return nil }
        let keyID = String(body[..<separator])
        let secret = body[body.index(after: separator)...]
        guard isKeyID(keyID), !secret.isEmpty else { return nil }
        return (keyID, secret)
    }

    static func isKeyID(_ text: String) -> Bool {
        let count = text.utf8.count
        return count >= 8 && count <= 32
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isSecret(_ text: String) -> Bool {
        let count = text.utf8.count
        return count >= 32 && count <= 128
            && text.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F
                    || $0 == 0x2D
            }
    }

    /// The first problem with a create's fields, naming the field.
    static func check(name: String, material: KeyMaterial, requestsPerMinute: Int64?) -> String? {
        if name.isEmpty || name.utf8.count > 128 { return "name: must be 1 to 128 bytes" }
        if !isKeyID(material.keyID) { return "keyID: must be 8 to 32 characters of a-z and 0-9" }
        if !isSecret(material.secret) { return "secret: must be 32 to 128 characters of A-Z, a-z, 0-9, _ and -" }
        if material.salt.count < 16 { return "salt: must be at least 16 bytes" }
        if let requestsPerMinute, requestsPerMinute < 1 || requestsPerMinute > 1_000_000_000 {
            return "requestsPerMinute: must be 1 to 1000000000"
        }
        return nil
    }

    /// Compares two digests in time that depends only on their lengths.
    static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<left.count { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    /// Binary search by key id (bytewise order).
    func position(of keyID: String) -> Int? {
        let index = insertionPoint(keyID)
        return index < records.count && records[index].view.keyID == keyID ? index : nil
    }

    func insertionPoint(_ keyID: String) -> Int {
        var low = 0
        var high = records.count
        while low < high {
            let middle = (low + high) / 2
            if records[middle].view.keyID.utf8.lexicographicallyPrecedes(keyID.utf8) {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }

    /// Inserts a new key; nil when the id is taken or a limit is reached (the caller tells which).
    mutating func insert(_ view: APIKeyView, _ material: KeyMaterial, digest: any SecretDigest, replacing: Bool = false)
        -> APIKeyView?
    {
        guard position(of: view.keyID) == nil, records.count < configuration.keysMax else { return nil }
        let live = records.lazy.filter { $0.view.tenant == view.tenant && $0.view.revokedAt == nil }.count
        guard live < configuration.keysPerTenantMax + (replacing ? 1 : 0) else { return nil }
        let record = Record(
            view: view, salt: material.salt,
            digest: digest.digest(salt: material.salt, secret: Array(material.secret.utf8)))
        records.insert(record, at: insertionPoint(view.keyID))
        return view
    }

    /// Why an insert failed.
    func failure(keyID: String, tenant: Int) -> APIKeyReply {
        position(of: keyID) != nil ? .conflict : .full
    }
}
