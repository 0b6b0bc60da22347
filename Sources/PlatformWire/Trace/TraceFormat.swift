// The values of a recorded trace: the header that lets a replay rebuild one reactor's machines, the inputs as
// the host fed them, and the typed error a damaged trace gives. The byte layout is summarised here and in
// docs/operations.md; TraceEncoder writes it and TraceDecoder reads it.
//
// File layout: magic "AIPTRACE", format version (varint), header fields, then records to the end of the file.
// A record is a tag byte, the `now` it was handled at as a zigzag varint delta from the previous record's `now`,
// the input's fields, and the low 16 bits of the running action digest after that input (little-endian). Ids
// are delta-encoded against the previous id of the same kind, so a busy trace spends a byte or two on each.
// The last record (tag 0xFF) holds the input count and the full 64-bit digest; a trace without it was cut off.

import PlatformCore

/// What a replay needs to configure one reactor's machines exactly as the recorded run did.
public struct TraceHeader: Sendable, Equatable {
    /// The reactor this trace belongs to (its machines' seeds and request-id prefix derive from it).
    public var reactorIndex: Int
    /// How many reactors shared the rate limits.
    public var reactorCount: Int
    public var rateLimitPerMinute: Int64
    public var rateLimitBurst: Int64
    /// The default inference deadline.
    public var requestTimeout: Duration
    public var backendCount: Int
    /// The static keys in configuration order, each credential replaced by its pseudonym (`key-<index>`).
    public var keys: [Gateway.APIKey]

    public init(
        reactorIndex: Int, reactorCount: Int, rateLimitPerMinute: Int64, rateLimitBurst: Int64,
        requestTimeout: Duration, backendCount: Int, keys: [Gateway.APIKey]
    ) {
        self.reactorIndex = reactorIndex
        self.reactorCount = reactorCount
        self.rateLimitPerMinute = rateLimitPerMinute
        self.rateLimitBurst = rateLimitBurst
        self.requestTimeout = requestTimeout
        self.backendCount = backendCount
        self.keys = keys
    }
}

/// An input the trace names but cannot carry, because carrying it would mean writing key material.
public enum UnreproducibleInput: Sendable, Equatable {
    /// Stored API keys changed (their salts and digests are not recorded).
    case apiKeysChanged(count: Int)
    /// The token signing keys changed (an authenticator object, not a value).
    case bearerKeysChanged
}

/// One machine input as a host fed it, in the form a trace holds.
public enum TraceInput: Sendable {
    case gateway(Gateway.Input)
    case router(Router.Input)
    case orchestrator(Orchestrator.Input)
    /// Recorded as a marker only; a replay stops there and says so.
    case unreproducible(UnreproducibleInput)

    /// The machine and the input's kind, for reports ("gateway request").
    public var name: String {
        switch self {
        case .gateway(let input):
            switch input {
            case .request: "gateway request"
            case .routerReplied: "gateway routerReplied"
            case .timerFired: "gateway timerFired"
            case .limiterAnswered: "gateway limiterAnswered"
            case .apiKeysChanged: "gateway apiKeysChanged"
            case .bearerKeysChanged: "gateway bearerKeysChanged"
            }
        case .router(let input):
            switch input {
            case .route: "router route"
            case .orchestratorReplied: "router orchestratorReplied"
            case .timerFired: "router timerFired"
            case .canaryOverride: "router canaryOverride"
            }
        case .orchestrator(let input):
            switch input {
            case .execute: "orchestrator execute"
            case .backendReplied: "orchestrator backendReplied"
            case .timerFired: "orchestrator timerFired"
            }
        case .unreproducible(.apiKeysChanged): "gateway apiKeysChanged"
        case .unreproducible(.bearerKeysChanged): "gateway bearerKeysChanged"
        }
    }
}

/// One record read back from a trace.
public enum TraceRecord: Sendable {
    /// An input, the instant it was handled at, and the low 16 bits of the action digest after it.
    case input(TraceInput, now: Instant, digest: UInt16)
    /// The recording ended cleanly after `inputs` inputs with this full action digest.
    case end(inputs: UInt64, digest: UInt64)
}

/// A trace that cannot be read, and where.
public struct TraceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Offset from the start of the file of the record or field that is wrong.
    public var offset: Int
    public var message: String
    public init(offset: Int, _ message: String) {
        self.offset = offset
        self.message = message
    }
    public var description: String { "byte \(offset): \(message)" }
}

/// Tag bytes and fixed values of the format.
enum TraceTag {
    static let magic: [UInt8] = Array("AIPTRACE".utf8)
    /// 2: the action digest folds with one multiply per word (version 1 traces carry the older digest).
    static let version: UInt64 = 2

    static let gatewayRequest: UInt8 = 1
    static let gatewayRouterReplied: UInt8 = 2
    static let gatewayTimer: UInt8 = 3
    static let gatewayLimiterAnswered: UInt8 = 4
    static let gatewayAPIKeysChanged: UInt8 = 5
    static let gatewayBearerKeysChanged: UInt8 = 6
    static let routerRoute: UInt8 = 16
    static let routerOrchestratorReplied: UInt8 = 17
    static let routerTimer: UInt8 = 18
    static let routerCanaryOverride: UInt8 = 19
    static let orchestratorExecute: UInt8 = 32
    static let orchestratorBackendReplied: UInt8 = 33
    static let orchestratorTimer: UInt8 = 34
    static let end: UInt8 = 0xFF
}

/// Credentials as a trace writes them: never the secret, only which configured key it was.
public enum TraceCredential {
    /// Stands for every credential that is no configured key; no key's pseudonym is ever this.
    public static let refused = "refused"

    /// The pseudonym of the configured key at `index`.
    public static func pseudonym(_ index: Int) -> String { "key-\(index)" }

    /// The key index a pseudonym names, if `credential` is one in canonical form (`key-0`, `key-17`).
    static func index(of credential: String) -> Int? {
        var utf8 = credential.utf8.makeIterator()
        for expected in "key-".utf8 {
            guard utf8.next() == expected else { return nil }
        }
        var value = 0
        var digits = 0
        while let byte = utf8.next() {
            guard byte >= 0x30, byte <= 0x39, digits < 9, !(digits == 1 && value == 0) else { return nil }
            value = value * 10 + Int(byte - 0x30)
            digits += 1
        }
        return digits == 0 ? nil : value
    }
}
