// The embedded API-key store: the core's `APIKeyStore` decides, SQLite keeps each key's public view, salt
// and digest, never a secret (a command carrying one is not logged; only the entry it produced is stored).
// Unlike the job table, the key store can be rebuilt from its entries through `upsert`, so no log is kept.
//
// One gap in the core's API: `APIKeyEntry` and `APIKeyView` have no public initializer. An entry is
// therefore made once from a throwaway store (a create with placeholder material) and every field is
// overwritten from the row; all of them are public `var`s, so nothing of the placeholder survives.

import PlatformCore

/// The durable key store. Owned by one store thread; not thread-safe.
public final class EmbeddedKeyStore {
    public private(set) var store: APIKeyStore
    private let database: SQLiteDatabase
    private let configuration: APIKeyStore.Configuration
    private let upsertRow: SQLiteStatement
    /// Every stored key id in bytewise order, so `entries` never depends on a hash table's order.
    private var keyIDs: [String] = []

    private static let columns =
        "key_id, tenant, name, scopes, created_at_ns, expires_at_ns, revoked_at_ns, rotated_to, "
        + "requests_per_minute, salt, digest"

    public init(database: SQLiteDatabase, configuration: APIKeyStore.Configuration = .init()) throws {
        self.database = database
        self.configuration = configuration
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS api_keys (
                key_id TEXT PRIMARY KEY, tenant INTEGER NOT NULL, name TEXT NOT NULL, scopes INTEGER NOT NULL,
                created_at_ns INTEGER NOT NULL, expires_at_ns INTEGER, revoked_at_ns INTEGER, rotated_to TEXT,
                requests_per_minute INTEGER, salt BLOB NOT NULL, digest BLOB NOT NULL)
            """)
        upsertRow = try database.prepare(
            "INSERT OR REPLACE INTO api_keys (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        store = APIKeyStore(configuration: configuration)
        try rebuild()
    }

    /// Applies an admin command; a change is committed before the reply (and its one-time credential) is
    /// returned, so a client is never shown a key that a crash could forget.
    public func apply(_ command: APIKeyCommand, now: Instant, digest: any SecretDigest) throws -> APIKeyReply {
        let reply = store.apply(command, now: now, digest: digest)
        let changed: [String]
        switch reply {
        case .created(let view, _), .revoked(let view): changed = [view.keyID]
        case .rotated(let old, let new, _): changed = [old.keyID, new.keyID]
        case .listed, .notFound, .conflict, .invalid, .full: changed = []
        }
        guard !changed.isEmpty else { return reply }
        do {
            try database.transaction {
                for keyID in changed {
                    guard let entry = store.entry(of: keyID) else { continue }
                    try upsertRow.run(Self.values(entry))
                }
            }
        } catch {
            store = APIKeyStore(configuration: configuration)
            try rebuild()
            throw error
        }
        for keyID in changed { insertKeyID(keyID) }
        return reply
    }

    /// Every key as replicated to the gateways (`JobFrontend.Input.apiKeysChanged`), in key-id order.
    public var entries: [APIKeyEntry] { keyIDs.compactMap { store.entry(of: $0) } }

    private func insertKeyID(_ keyID: String) {
        var low = 0
        var high = keyIDs.count
        while low < high {
            let middle = (low + high) / 2
            if keyIDs[middle].utf8.lexicographicallyPrecedes(keyID.utf8) { low = middle + 1 } else { high = middle }
        }
        if low == keyIDs.count || keyIDs[low] != keyID { keyIDs.insert(keyID, at: low) }
    }

    // MARK: - Rows

    private func rebuild() throws {
        keyIDs = []
        let template = Self.templateEntry()
        // SQLite's default text order is bytewise, the store's key order.
        let rows = try database.prepare("SELECT \(Self.columns) FROM api_keys ORDER BY key_id")
        try rows.bind([])
        while try rows.step() {
            guard let scopes = UInt8(exactly: rows.int64(3)) else {
                throw EmbeddedStoreError.damagedRow(table: "api_keys", key: rows.string(0))
            }
            var entry = template
            entry.view.keyID = rows.string(0)
            entry.view.tenant = Int(rows.int64(1))
            entry.view.name = rows.string(2)
            entry.view.scopes = Scopes(rawValue: scopes)
            entry.view.createdAt = Instant(nanoseconds: rows.int64(4))
            entry.view.expiresAt = rows.isNull(5) ? nil : Instant(nanoseconds: rows.int64(5))
            entry.view.revokedAt = rows.isNull(6) ? nil : Instant(nanoseconds: rows.int64(6))
            entry.view.rotatedTo = rows.isNull(7) ? nil : rows.string(7)
            entry.view.requestsPerMinute = rows.isNull(8) ? nil : rows.int64(8)
            entry.salt = rows.blob(9)
            entry.digest = rows.blob(10)
            store.upsert(entry)
            keyIDs.append(entry.view.keyID)
        }
    }

    private static func values(_ entry: APIKeyEntry) -> [SQLiteValue] {
        let view = entry.view
        return [
            .text(view.keyID), .integer(Int64(view.tenant)), .text(view.name), .integer(Int64(view.scopes.rawValue)),
            .integer(view.createdAt.nanoseconds), view.expiresAt.map { .integer($0.nanoseconds) } ?? .null,
            view.revokedAt.map { .integer($0.nanoseconds) } ?? .null, view.rotatedTo.map { .text($0) } ?? .null,
            view.requestsPerMinute.map { .integer($0) } ?? .null, .blob(entry.salt), .blob(entry.digest),
        ]
    }

    /// An entry whose every field the caller overwrites (see the file comment).
    private static func templateEntry() -> APIKeyEntry {
        struct PlaceholderDigest: SecretDigest {
            func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] { [] }
        }
        var scratch = APIKeyStore()
        let material = KeyMaterial(
            keyID: "placeholder", secret: String(repeating: "p", count: 32), salt: Array(repeating: 0, count: 16))
        let command = APIKeyCommand.create(tenant: 0, name: "placeholder", scopes: [], material: material)
        _ = scratch.apply(command, now: .zero, digest: PlaceholderDigest())
        guard let entry = scratch.entry(of: material.keyID) else {
            preconditionFailure("APIKeyStore refused the placeholder key; its validation rules changed")
        }
        return entry
    }
}

@available(*, unavailable) extension EmbeddedKeyStore: Sendable {}
