// What `aiplatform serve` runs with: flags first, then the environment (the seed's variables), then embedded
// defaults. Every bad value is refused with a message naming the flag or variable and what was wrong.

import PlatformCore

#if canImport(Glibc)
    import Glibc
#endif

public struct ServeSettings: Sendable {
    /// Address the public listeners bind (the gateway and the metadata API).
    public var host = "0.0.0.0"
    public var gatewayPort = 8080
    public var metadataPort = 8083
    /// Reactor threads; each runs a gateway, router and orchestrator and accepts on the shared ports.
    public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Model servers speaking KServe v2 REST; empty means the built-in reference backend (embedded mode).
    public var backends: [BackendEndpoint] = []
    /// Port of the built-in reference backend (embedded mode), on 127.0.0.1.
    public var referencePort = 8090
    /// Where the model repository lives (`sample-classifier/1/weights.json`).
    public var modelRepository = "deploy/models"
    /// Where the embedded mode keeps its SQLite files and object store.
    public var dataDirectory = ".aiplatform"
    public var logLevel = "info"
    public var rateLimitPerMinute: Int64 = 100
    public var rateLimitBurst: Int64 = 20
    public var requestTimeout: Duration = .seconds(1)
    /// Static API keys (`name:secret`), besides the embedded mode's demo key.
    public var staticKeys: [Gateway.APIKey] = []
    /// Whether `demo-token` is accepted (embedded mode only).
    public var demoKey = true
    /// Directory to record every machine input to, if any.
    public var recordDirectory: String?
    /// Limits and timeouts of the gateway's connections (header, body and idle timeouts).
    public var http = HTTPServerSettings()
    /// Connection pools to the backends (size, queue, idle timeout).
    public var backendPool = BackendPoolSettings()

    public init() {}

    /// Embedded mode: no external model server, store or broker is configured.
    public var embedded: Bool { backends.isEmpty }

    /// The environment variables read, and what each sets.
    public static let environmentHelp: [(String, String)] = [
        ("PORT", "gateway port (8080)"),
        ("METADATA_PORT", "metadata API port (8083)"),
        ("HOST", "address to bind (0.0.0.0)"),
        ("LOG_LEVEL", "debug, info, warn or error (info)"),
        ("TRITON_URL", "comma-separated KServe v2 REST endpoints, e.g. http://127.0.0.1:8000; unset: embedded"),
        ("MODEL_REPOSITORY", "model repository folder (deploy/models)"),
        ("DATA_DIR", "embedded mode's data folder (.aiplatform)"),
        ("RATE_LIMIT_PER_MINUTE", "requests per minute per key (100)"),
        ("RATE_LIMIT_BURST", "burst per key (20)"),
        ("REQUEST_TIMEOUT_MS", "default inference deadline in ms (1000)"),
        ("API_KEYS", "static keys as name:secret, comma-separated"),
        ("SERVE_THREADS", "reactor threads (one per core)"),
    ]

    /// Reads flags (`--port 8080` or `--port=8080`) over the environment over the defaults.
    public static func parse(arguments: [String], environment: [String: String]) throws(SettingsError) -> ServeSettings
    {
        var settings = ServeSettings()
        try settings.apply(environment: environment)
        try settings.apply(arguments: arguments)
        return settings
    }

    mutating func apply(environment: [String: String]) throws(SettingsError) {
        if let value = environment["PORT"] { gatewayPort = try Self.port(value, "PORT") }
        if let value = environment["METADATA_PORT"] { metadataPort = try Self.port(value, "METADATA_PORT") }
        if let value = environment["HOST"] { host = value }
        if let value = environment["LOG_LEVEL"] { logLevel = value }
        if let value = environment["TRITON_URL"], !value.isEmpty { backends = try Self.endpoints(value, "TRITON_URL") }
        if let value = environment["MODEL_REPOSITORY"] { modelRepository = value }
        if let value = environment["DATA_DIR"] { dataDirectory = value }
        if let value = environment["RATE_LIMIT_PER_MINUTE"] {
            rateLimitPerMinute = try Self.positive(value, "RATE_LIMIT_PER_MINUTE")
        }
        if let value = environment["RATE_LIMIT_BURST"] { rateLimitBurst = try Self.positive(value, "RATE_LIMIT_BURST") }
        if let value = environment["REQUEST_TIMEOUT_MS"] {
            requestTimeout = .milliseconds(try Self.positive(value, "REQUEST_TIMEOUT_MS"))
        }
        if let value = environment["API_KEYS"], !value.isEmpty { staticKeys = try Self.keys(value, "API_KEYS") }
        if let value = environment["SERVE_THREADS"] { threads = Int(try Self.positive(value, "SERVE_THREADS")) }
    }

    mutating func apply(arguments: [String]) throws(SettingsError) {
        var index = 0
        func value(_ flag: String, _ inline: String?) throws(SettingsError) -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.count else { throw SettingsError("\(flag) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            let parts = argument.split(separator: "=", maxSplits: 1)
            let flag = String(parts[0])
            let inline = parts.count == 2 ? String(parts[1]) : nil
            switch flag {
            case "--port": gatewayPort = try Self.port(try value(flag, inline), flag)
            case "--metadata-port": metadataPort = try Self.port(try value(flag, inline), flag)
            case "--host": host = try value(flag, inline)
            case "--threads": threads = Int(try Self.positive(try value(flag, inline), flag))
            case "--backend": backends.append(contentsOf: try Self.endpoints(try value(flag, inline), flag))
            case "--reference-port": referencePort = try Self.port(try value(flag, inline), flag)
            case "--model-repository": modelRepository = try value(flag, inline)
            case "--data-dir": dataDirectory = try value(flag, inline)
            case "--log-level": logLevel = try value(flag, inline)
            case "--rate-limit": rateLimitPerMinute = try Self.positive(try value(flag, inline), flag)
            case "--burst": rateLimitBurst = try Self.positive(try value(flag, inline), flag)
            case "--timeout-ms": requestTimeout = .milliseconds(try Self.positive(try value(flag, inline), flag))
            case "--api-key": staticKeys.append(contentsOf: try Self.keys(try value(flag, inline), flag))
            case "--no-demo-key": demoKey = false
            case "--record": recordDirectory = try value(flag, inline)
            default: throw SettingsError("unknown option \(argument) (see aiplatform serve --help)")
            }
            index += 1
        }
        if threads > 64 { throw SettingsError("--threads: at most 64 reactor threads, got \(threads)") }
    }

    static func port(_ text: String, _ name: String) throws(SettingsError) -> Int {
        guard let port = Int(text), (0...65_535).contains(port) else {
            throw SettingsError("\(name): \"\(text)\" is not a port number (0 to 65535)")
        }
        return port
    }

    static func positive(_ text: String, _ name: String) throws(SettingsError) -> Int64 {
        guard let number = Int64(text), number > 0 else {
            throw SettingsError("\(name): \"\(text)\" is not a positive whole number")
        }
        return number
    }

    static func endpoints(_ text: String, _ name: String) throws(SettingsError) -> [BackendEndpoint] {
        var found: [BackendEndpoint] = []
        for part in text.split(separator: ",") {
            let trimmed = String(part.filter { $0 != " " })
            guard let endpoint = BackendEndpoint(parsing: trimmed) else {
                throw SettingsError("\(name): \"\(trimmed)\" is not host:port or http://host:port")
            }
            found.append(endpoint)
        }
        return found
    }

    static func keys(_ text: String, _ name: String) throws(SettingsError) -> [Gateway.APIKey] {
        var keys: [Gateway.APIKey] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2, !pieces[0].isEmpty, pieces[1].utf8.count >= 8 else {
                throw SettingsError(
                    "\(name): \"\(part.prefix(3))…\" must be name:secret with a secret of 8 or more characters")
            }
            keys.append(Gateway.APIKey(credential: String(pieces[1]), name: String(pieces[0])))
        }
        return keys
    }
}

/// A refused setting, naming it.
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
