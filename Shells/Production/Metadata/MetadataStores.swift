// The metadata role's durable state in embedded mode: the registry and the API keys in one SQLite file, owned
// by one store thread that every reactor shares, so no reactor waits on an fsync and the connection is only
// ever used from that thread. Answers are posted back to the reactor that asked. A key change is first
// applied on every reactor's replicas and only then answered, so a client that was just shown a new key (or
// told a key is revoked) finds every gateway already agreeing.
//
// Times in the stores are wall-clock (Unix epoch) instants: records outlive the process and show their times
// to clients. The reactors' replicas compare against the monotonic clock instead, so entries are shifted onto
// it when they arrive there (`onReactorClock`).

import Foundation
import Glibc
import PlatformCore
import PlatformCrypto
import Synchronization

/// SHA-256 over salt then secret, from libcrypto: how stored keys' secrets are digested and checked.
public struct SHA256SecretDigest: SecretDigest {
    public init() {}
    public func digest(salt: [UInt8], secret: [UInt8]) -> [UInt8] { SHA256.hash(salt + secret) }
}

/// The wall clock, for times that are stored and shown.
public enum WallClock {
    public static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}

/// A value that only its reactor's thread touches, carried through `@Sendable` closures that run there.
final class ReactorConfined<Value>: @unchecked Sendable {
    // @unchecked: made on a reactor thread (or before the reactors start) and opened only by jobs posted to
    // that reactor's mailbox, which runs them on its own thread; no other thread reads `value`.
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A key-store request, turned into an `APIKeyCommand` on the store thread, where fresh material is drawn.
enum KeyRequest: Sendable {
    /// A new key for `tenant`; its id, secret and salt are drawn on the store thread.
    case create(tenant: Int, name: String, scopes: Scopes, requestsPerMinute: Int64?)
    /// The tenant's keys, in key-id order.
    case list(tenant: Int)
    /// Stop a key of `tenant` now.
    case revoke(keyID: String, tenant: Int)
    /// Replace a key of `tenant` by a freshly drawn one; the old one works for `grace` more.
    case rotate(keyID: String, tenant: Int, grace: Duration)
}

/// What came of a store call: the store's reply, or why there is none (the client gets 503).
enum StoreAnswer<Reply: Sendable>: Sendable {
    /// The store applied the command (or refused it by its rules) and answered.
    case replied(Reply)
    /// The store could not answer: SQLite failed, or the thread is full or shutting down. Said in a sentence.
    case failed(String)
}

/// The registry and key stores on their thread.
public final class MetadataStores: Sendable {
    /// One reactor's copies of the key store (gateway machine, gateway service, metadata service).
    struct Replica: Sendable {
        var mailbox: any Mailbox
        var apply: ReactorConfined<([APIKeyEntry]) -> Void>
    }

    let thread: StoreThread
    let registry: StoreConfined<EmbeddedRegistryStore?>
    let keys: StoreConfined<EmbeddedKeyStore?>
    let digest = SHA256SecretDigest()
    /// The keys stored when the stores opened, loaded into every replica before the reactors start.
    public let storedKeys: [APIKeyEntry]
    let replicas = Mutex<[Replica]>([])
    /// Draws of a fresh key id when the one drawn is taken (the store answers `.conflict`).
    static let keyIDDrawsMax = 4

    /// Opens (creating if needed) `path` on a new store thread; throws what SQLite or the replay reported.
    public init(path: String) throws {
        let thread = StoreThread(name: "metadata-store", queueMax: 10_000)
        self.thread = thread
        let registry = StoreConfined<EmbeddedRegistryStore?>(nil)
        let keys = StoreConfined<EmbeddedKeyStore?>(nil)
        self.registry = registry
        self.keys = keys
        let opened = Self.runAndWait(on: thread) { () throws -> [APIKeyEntry] in
            let database = try SQLiteDatabase(path: path)
            registry.value = try EmbeddedRegistryStore(database: database)
            let keyStore = try EmbeddedKeyStore(database: database)
            keys.value = keyStore
            return keyStore.entries
        }
        switch opened {
        case .success(let entries): storedKeys = entries
        case .failure(let error):
            thread.shutdown()
            throw error
        }
    }

    /// Runs `body` on `thread` and waits for it: only for opening, before any reactor runs.
    static func runAndWait<Value: Sendable>(
        on thread: StoreThread, _ body: @escaping @Sendable () throws -> Value
    ) -> Result<Value, any Error> {
        let outcome = Mutex<Result<Value, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let queued = thread.submit {
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            done.signal()
        }
        guard queued else { return .failure(SettingsError("the metadata store thread refused work")) }
        done.wait()
        return outcome.withLock { $0 } ?? .failure(SettingsError("the metadata store thread gave no answer"))
    }

    /// Registers one reactor's replicas; called for every reactor before any of them runs.
    func addReplica(mailbox: any Mailbox, apply: @escaping ([APIKeyEntry]) -> Void) {
        replicas.withLock { $0.append(Replica(mailbox: mailbox, apply: ReactorConfined(apply))) }
    }

    /// Stops taking work and finishes what is queued.
    public func shutdown() { thread.shutdown() }

    /// Runs `work` on the registry at `now`; `deliver` runs on `mailbox`'s reactor with the answer.
    func registry(
        now: Instant, replyTo mailbox: any Mailbox,
        _ work: @escaping @Sendable (EmbeddedRegistryStore, Instant) throws -> RegistryReply,
        deliver: @escaping @Sendable (StoreAnswer<RegistryReply>) -> Void
    ) {
        let registry = self.registry
        let queued = thread.submit {
            let answer: StoreAnswer<RegistryReply>
            if let store = registry.value {
                do {
                    answer = .replied(try work(store, now))
                } catch {
                    answer = .failed("the registry store failed: \(error)")
                }
            } else {
                answer = .failed("the registry store is not open")
            }
            mailbox.post { deliver(answer) }
        }
        if !queued { mailbox.post { deliver(.failed("the metadata store is shutting down or overloaded")) } }
    }

    /// Applies a key request at `now`; a change reaches every replica before `deliver` runs on `mailbox`.
    func keys(
        _ request: KeyRequest, now: Instant, replyTo mailbox: any Mailbox,
        deliver: @escaping @Sendable (StoreAnswer<APIKeyReply>) -> Void
    ) {
        let queued = thread.submit { [self] in
            let answer: StoreAnswer<APIKeyReply>
            do {
                answer = .replied(try apply(request, now: now))
            } catch {
                answer = .failed("the key store failed: \(error)")
            }
            let changed = Self.changedKeyIDs(answer)
            guard !changed.isEmpty, let store = keys.value else { return mailbox.post { deliver(answer) } }
            broadcast(changed.compactMap { store.store.entry(of: $0) }) { mailbox.post { deliver(answer) } }
        }
        if !queued { mailbox.post { deliver(.failed("the metadata store is shutting down or overloaded")) } }
    }

    /// On the store thread: the command for `request`, applied; a taken key id is drawn again.
    private func apply(_ request: KeyRequest, now: Instant) throws -> APIKeyReply {
        guard let store = keys.value else { throw SettingsError("the key store is not open") }
        var reply = APIKeyReply.conflict
        for _ in 0..<Self.keyIDDrawsMax {
            let command: APIKeyCommand
            switch request {
            case .create(let tenant, let name, let scopes, let requestsPerMinute):
                command = .create(
                    tenant: tenant, name: name, scopes: scopes, material: try Self.drawMaterial(),
                    requestsPerMinute: requestsPerMinute)
            case .list(let tenant): command = .list(tenant: tenant)
            case .revoke(let keyID, let tenant): command = .revoke(keyID: keyID, tenant: tenant)
            case .rotate(let keyID, let tenant, let grace):
                command = .rotate(keyID: keyID, tenant: tenant, material: try Self.drawMaterial(), grace: grace)
            }
            reply = try store.apply(command, now: now, digest: digest)
            guard reply == .conflict else { return reply }
        }
        return reply
    }

    /// The keys a reply changed (the store already committed them).
    static func changedKeyIDs(_ answer: StoreAnswer<APIKeyReply>) -> [String] {
        guard case .replied(let reply) = answer else { return [] }
        switch reply {
        case .created(let view, _), .revoked(let view): return [view.keyID]
        case .rotated(let old, let new, _): return [old.keyID, new.keyID]
        case .listed, .notFound, .conflict, .invalid, .full: return []
        }
    }

    /// Posts `entries` to every replica; `then` runs once the last one has taken them.
    private func broadcast(_ entries: [APIKeyEntry], then: @escaping @Sendable () -> Void) {
        let targets = replicas.withLock { $0 }
        guard !targets.isEmpty else { return then() }
        let remaining = Countdown(targets.count)
        for target in targets {
            let apply = target.apply
            target.mailbox.post {
                apply.value(entries)
                if remaining.finishOne() { then() }
            }
        }
    }

    /// Random material for a new key from the system's CSPRNG: a 12-character id of `a-z0-9` (public, so
    /// uniqueness is what matters, and a clash is drawn again), a 43-character secret of 258 bits and a 16-byte
    /// salt. Characters are picked without modulo bias: the id rejects bytes from 252 up, the secret keeps 6 bits.
    static func drawMaterial() throws -> KeyMaterial {
        let idAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var id: [UInt8] = []
        while id.count < 12 {
            for byte in try SecureRandom.randomBytes(count: 24) where byte < 252 && id.count < 12 {
                id.append(idAlphabet[Int(byte) % 36])
            }
        }
        let secret = try SecureRandom.randomBytes(count: 43).map { secretAlphabet[Int($0 & 63)] }
        return KeyMaterial(
            keyID: String(decoding: id, as: UTF8.self), secret: String(decoding: secret, as: UTF8.self),
            salt: try SecureRandom.randomBytes(count: 16))
    }

    /// `entries` with their instants moved from the wall clock to the reactor's monotonic clock, which the
    /// replicas compare them with. Run on the reactor, at the moment they are applied.
    static func onReactorClock(_ entries: [APIKeyEntry]) -> [APIKeyEntry] {
        let shift = Duration(nanoseconds: WallClock.now().nanoseconds &- Reactor.now().nanoseconds)
        return entries.map { entry in
            var moved = entry
            moved.view.createdAt = entry.view.createdAt - shift
            moved.view.expiresAt = entry.view.expiresAt.map { $0 - shift }
            moved.view.revokedAt = entry.view.revokedAt.map { $0 - shift }
            return moved
        }
    }
}

/// Counts replicas still to take a change, from any reactor thread.
final class Countdown: Sendable {
    private let left: Atomic<Int>
    init(_ count: Int) { left = Atomic(count) }
    /// True for the call that brings the count to zero.
    func finishOne() -> Bool { left.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}
