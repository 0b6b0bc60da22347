// Wiring of the metadata role into `aiplatform serve`: the SQLite file under the data directory, one store
// thread for every reactor, a listener on the metadata port on each reactor (SO_REUSEPORT, as the gateway's),
// and the key replicas. Every reactor keeps three copies of the stored keys: the gateway machine's (which
// decides), the gateway service's (which orders 401 before 400) and the metadata service's (admin scopes);
// all three start from the stored keys and take every change before its admin call is answered.

import Foundation
import PlatformCore

/// The metadata role's parts, kept by `Platform`.
final class MetadataParts {
    var stores: MetadataStores?
    var servers: [HTTPServer] = []
    var port = 0
}

extension Platform {
    /// The port the metadata API listens on (0 until `start`).
    public var metadataPort: Int { metadata.port }

    /// Stored API keys for the gateway's credential check: an empty replica, filled from the store at start,
    /// and the digest their secrets are stored under.
    public static func storedKeyCredentials() -> CredentialSources {
        CredentialSources(apiKeys: APIKeyStore(), secretDigest: SHA256SecretDigest())
    }

    /// The metadata database's file, in the data directory (created if missing).
    func openMetadataStores() throws -> MetadataStores {
        do {
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw SettingsError("cannot create the data directory \(settings.dataDirectory): \(error)")
        }
        let path = settings.dataDirectory + "/metadata.sqlite"
        do {
            let stores = try MetadataStores(path: path)
            metadata.stores = stores
            return stores
        } catch {
            throw SettingsError("cannot open the metadata store \(path): \(error)")
        }
    }

    /// Reactor `reactor`'s metadata listener and key replicas, loaded with the stored keys. Runs before the
    /// reactor's thread starts, so the replicas are filled before any request can reach them.
    func serveMetadata(
        _ stores: MetadataStores, reactor: Reactor, host: NodeHost, gateway: GatewayService, keys: [Gateway.APIKey]
    ) throws {
        let service = MetadataService(reactor: reactor, stores: stores, keys: keys, log: log)
        gateway.authenticator = Authenticator(keys: keys, sources: Self.storedKeyCredentials())
        let apply = { (entries: [APIKeyEntry]) in
            let local = MetadataStores.onReactorClock(entries)
            host.apiKeysChanged(local)
            gateway.apiKeysChanged(local)
            service.apiKeysChanged(local)
        }
        apply(stores.storedKeys)
        stores.addReplica(mailbox: reactor, apply: apply)
        let server = try HTTPServer(
            reactor: reactor, host: settings.host, port: metadata.port == 0 ? settings.metadataPort : metadata.port,
            settings: settings.http, service: service)
        metadata.port = server.port
        metadata.servers.append(server)
        if reactor.index == 0 {
            log.info(
                caller: "serve", "metadata API listening",
                fields: [
                    ("metadata_port", .integer(Int64(server.port))),
                    ("stored_keys", .integer(Int64(stores.storedKeys.count))),
                ])
        }
    }

    /// Stops accepting on the metadata port (the reactors close their own listeners).
    func closeMetadataListeners() {
        for server in metadata.servers {
            nonisolated(unsafe) let server = server
            server.reactor.post { server.closeListener() }
        }
    }
}
