// The models a serving process knows, with their versions, schemas and backends: the static deployment the
// router and orchestrator are configured with, and the schemas the gateway validates inference bodies against.

import PlatformCore

/// One model version as the serving process runs it.
public struct ServedVersion: Sendable {
    public var spec: ModelVersionSpec
    public var state: VersionState
    public var weight: Int64
    /// Indexes into the process's backend list.
    public var backends: [Int]
    public init(spec: ModelVersionSpec, state: VersionState = .serving, weight: Int64 = 100, backends: [Int]) {
        self.spec = spec
        self.state = state
        self.weight = weight
        self.backends = backends
    }
}

/// The models of one process, looked up by name on every request.
public struct ServedModels: Sendable {
    public struct Model: Sendable {
        public var name: String
        public var versions: [ServedVersion]
        public var inputElementsMax: Int
        public init(name: String, versions: [ServedVersion], inputElementsMax: Int = 1 << 22) {
            self.name = name
            self.versions = versions.sorted { $0.spec.version < $1.spec.version }
            self.inputElementsMax = inputElementsMax
        }
    }

    public var models: [Model]
    public var backendCount: Int
    let index: [String: Int]

    public init(models: [Model], backendCount: Int) {
        self.models = models
        self.backendCount = backendCount
        var index: [String: Int] = [:]
        for (position, model) in models.enumerated() { index[model.name] = position }
        self.index = index
    }

    public func model(named name: String) -> (id: ModelID, model: Model)? {
        // A few models are compared in turn, cheaper than hashing the name; many are looked up in the index.
        if models.count <= 8 {
            for position in models.indices where models[position].name == name {
                return (ModelID(position), models[position])
            }
            return nil
        }
        guard let position = index[name] else { return nil }
        return (ModelID(position), models[position])
    }

    /// The version a request would be validated against: the pinned one, or the newest that takes traffic.
    public func version(of model: Model, pinned: Int) -> ServedVersion? {
        if pinned != 0 { return model.versions.first { $0.spec.version == pinned } }
        return model.versions.last { $0.state == .serving } ?? model.versions.last { $0.state.takesTraffic }
    }

    /// The core's view: the same models in the same order, backends as ids.
    public var deployment: Deployment {
        Deployment(
            models: models.map { model in
                Deployment.Model(
                    name: model.name,
                    versions: model.versions.map {
                        Deployment.Version(
                            number: $0.spec.version, state: $0.state, weight: $0.weight,
                            backends: $0.backends.map(BackendID.init))
                    }, inputElementsMax: model.inputElementsMax)
            }, backendCount: backendCount)
    }
}
