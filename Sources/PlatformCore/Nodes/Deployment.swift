// Which models exist, which versions each has, in which lifecycle state, with what canary
// weight, and which backends serve each version. Gateways validate against it, routers split and
// pick from it, orchestrators find alternates in it. The registry (metadata role) owns it later;
// for now it is configuration.

/// A model version's lifecycle state; only `canary` and `serving` versions take traffic.
public enum VersionState: UInt8, Sendable, Hashable, CaseIterable {
    case registered, staging, canary, serving, deprecated, archived

    /// True when the router may send traffic to a version in this state.
    public var takesTraffic: Bool { self == .canary || self == .serving }

    /// The stable name used in configuration and reports.
    public var name: String {
        switch self {
        case .registered: "registered"
        case .staging: "staging"
        case .canary: "canary"
        case .serving: "serving"
        case .deprecated: "deprecated"
        case .archived: "archived"
        }
    }
}

/// The serving topology: models, versions and their backends.
public struct Deployment: Sendable, Hashable {
    public struct Version: Sendable, Hashable {
        public var number: Int
        public var state: VersionState
        /// Share of unpinned traffic, relative to the other versions' weights.
        public var weight: Int64
        /// Backends serving this version, in a fixed order.
        public var backends: [BackendID]
        public init(number: Int, state: VersionState, weight: Int64, backends: [BackendID]) {
            self.number = number
            self.state = state
            self.weight = weight
            self.backends = backends
        }
    }

    public struct Model: Sendable, Hashable {
        public var name: String
        /// Versions in ascending number order.
        public var versions: [Version]
        /// Largest accepted input, in tensor elements.
        public var inputElementsMax: Int
        public init(name: String, versions: [Version], inputElementsMax: Int) {
            self.name = name
            self.versions = versions
            self.inputElementsMax = inputElementsMax
        }
        /// The version with this number, if any.
        public func version(_ number: Int) -> Version? { versions.first { $0.number == number } }
    }

    /// Models indexed by `ModelID.value`.
    public var models: [Model]
    /// How many backends exist; `BackendID.value` is in `0..<backendCount`.
    public var backendCount: Int

    public init(models: [Model], backendCount: Int) {
        self.models = models
        self.backendCount = backendCount
    }

    /// True when `versions` holds one numbered `number` (what `Model.version(_:) != nil` says, copying nothing).
    static func contains(version number: Int, in versions: [Version]) -> Bool {
        var position = 0
        while position < versions.count {
            if versions[position].number == number { return true }
            position += 1
        }
        return false
    }

    /// The model with this id, if any.
    public func model(_ id: ModelID) -> Model? {
        id.value >= 0 && id.value < models.count ? models[id.value] : nil
    }
}
