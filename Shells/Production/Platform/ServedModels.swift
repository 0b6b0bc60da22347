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

    /// The model whose name is the UTF-8 bytes `name` (a request target's segment, not yet made a String).
    public func model(namedUTF8 name: UnsafeBufferPointer<UInt8>) -> (id: ModelID, model: Model)? {
        for position in models.indices {
            var stored = models[position].name
            let equal = stored.withUTF8 { bytes in
                guard bytes.count == name.count else { return false }
                for index in 0..<bytes.count where bytes[index] != name[index] { return false }
                return true
            }
            if equal { return (ModelID(position), models[position]) }
        }
        return nil
    }

    /// The version a request would be validated against: the pinned one, or the newest that takes traffic.
    public func version(of model: Model, pinned: Int) -> ServedVersion? {
        versionIndex(of: model, pinned: pinned).map { model.versions[$0] }
    }

    /// Where in `model.versions` that version is (plain loops: this runs for every request).
    public func versionIndex(of model: Model, pinned: Int) -> Int? {
        let versions = model.versions
        if pinned != 0 {
            for index in versions.indices where versions[index].spec.version == pinned { return index }
            return nil
        }
        var index = versions.count
        while index > 0 {
            index -= 1
            if versions[index].state == .serving { return index }
        }
        index = versions.count
        while index > 0 {
            index -= 1
            if versions[index].state.takesTraffic { return index }
        }
        return nil
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
