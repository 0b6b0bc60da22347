// The model registry's reference semantics: commands in, replies out, under tenant isolation and
// optimistic concurrency (If-Match on `resourceVersion`). The simulator's metadata store runs exactly
// these rules and production's SQL mirrors them. Records live in one array sorted by (name bytes,
// version) and are found by binary search, so no hash-table order can reach a reply.

/// Which versions a listing returns, and from where: at most `limit` records in (name, version) order.
public struct RegistryQuery: Sendable, Hashable {
    /// Only names starting with these bytes.
    public var namePrefix: String?
    public var state: VersionState?
    /// Only versions carrying exactly this key with exactly this value.
    public var label: Label?
    /// Resume strictly after this position (the `next` of the previous page).
    public var after: RegistryCursor?
    /// 1...500.
    public var limit: Int

    /// The largest page a listing may ask for.
    public static let limitMax = 500

    public init(
        namePrefix: String? = nil, state: VersionState? = nil, label: Label? = nil, after: RegistryCursor? = nil,
        limit: Int = 100
    ) {
        self.namePrefix = namePrefix
        self.state = state
        self.label = label
        self.after = after
        self.limit = limit
    }

    /// True when `record` passes the filters (not the tenant or the cursor).
    public func matches(_ record: ModelVersionRecord) -> Bool {
        if let namePrefix, !record.spec.name.utf8.starts(with: namePrefix.utf8) { return false }
        if let state, record.state != state { return false }
        if let label, !record.spec.labels.contains(label) { return false }
        return true
    }
}

/// A read or a write on the registry, always on behalf of one tenant.
public enum RegistryCommand: Sendable, Hashable {
    /// Register a new version, in `registered`.
    case create(ModelVersionSpec, tenant: Int)
    /// Read one version.
    case get(name: String, version: Int, tenant: Int)
    /// Read a page of the tenant's versions.
    case list(RegistryQuery, tenant: Int)
    /// Replace the fields given (nil keeps a field); at least one must be given.
    case update(
        name: String, version: Int, tenant: Int, ifMatch: Int? = nil, framework: String? = nil,
        endpoints: [String]? = nil, labels: [Label]? = nil)
    /// Move a version along one lifecycle edge.
    case transition(name: String, version: Int, to: VersionState, tenant: Int, ifMatch: Int? = nil)
    /// Remove a version that takes no traffic.
    case delete(name: String, version: Int, tenant: Int, ifMatch: Int? = nil)
}

/// The registry's answer to one command.
public enum RegistryReply: Sendable, Hashable {
    /// The version was registered (201); the record as stored.
    case created(ModelVersionRecord)
    /// A read's answer.
    case record(ModelVersionRecord)
    /// A listing's answer; `next` resumes after the last record, nil when nothing more matches.
    case page([ModelVersionRecord], next: RegistryCursor?)
    /// An update or a transition applied; the record as it is now.
    case updated(ModelVersionRecord)
    /// The version is gone.
    case deleted(name: String, version: Int)
    /// No such version, or one owned by another tenant (indistinguishable on purpose) (404).
    case notFound
    /// The name and version, or the name, is already taken (409). Says nothing of another tenant's data.
    case conflict(reason: String)
    /// `ifMatch` named a stale `resourceVersion` (412); nothing changed.
    case preconditionFailed(current: Int)
    /// The lifecycle forbids this now (409); the reason names the states involved.
    case illegalTransition(reason: String)
    /// A field is malformed (400).
    case invalid(field: String, reason: String)
    /// The registry holds `versionsMax` versions (503).
    case full

    /// The HTTP status the metadata role answers with.
    public var httpStatus: Int {
        switch self {
        case .created: 201
        case .record, .page, .updated: 200
        case .deleted: 204
        case .notFound: 404
        case .conflict, .illegalTransition: 409
        case .preconditionFailed: 412
        case .invalid: 400
        case .full: 503
        }
    }
}

/// The model registry as a pure value: commands in, replies out.
///
/// Tenancy: a model name belongs to the tenant that registered its first (still existing) version; another
/// tenant registering any version under it gets `.conflict`. Uniqueness of (name, version) is therefore
/// global, and the one-canary-per-model rule never has to look at, or speak of, another tenant's versions.
///
/// Checks run in a fixed order: the command's own fields (400), then existence and ownership (404), then
/// `ifMatch` (412), then lifecycle rules (409). A refused command changes nothing.
public struct RegistryModel: Sendable {
    /// The registry's limit.
    public struct Configuration: Sendable, Equatable {
        /// Versions held at most, across tenants; a create beyond it is answered `.full`.
        public var versionsMax: Int = 100_000

        /// The default configuration.
        public init() {}
    }

    /// The configuration the registry was created with.
    public let configuration: Configuration
    /// Every version, sorted by `cursor`, with no two equal cursors.
    private var records: [ModelVersionRecord] = []

    /// An empty registry.
    public init(configuration: Configuration = .init()) {
        precondition(configuration.versionsMax >= 1, "versionsMax must be at least 1")
        self.configuration = configuration
    }

    /// Versions held, across tenants.
    public var versionCount: Int { records.count }

    /// Every version in (name, version) order, without a tenant check: for oracles and tests.
    public var allRecords: [ModelVersionRecord] { records }

    /// The version `name`@`version`, without a tenant check: for oracles and tests.
    public func record(name: String, version: Int) -> ModelVersionRecord? {
        index(of: RegistryCursor(name: name, version: version)).map { records[$0] }
    }

    /// Applies one command atomically at `now`. A write that applies sets `updatedAt = now` and adds 1 to
    /// `resourceVersion`; `ifMatch: nil` means unconditional.
    public mutating func apply(_ command: RegistryCommand, now: Instant) -> RegistryReply {
        switch command {
        case .create(let spec, let tenant):
            return create(spec, tenant: tenant, now: now)
        case .get(let name, let version, let tenant):
            guard let index = owned(name: name, version: version, tenant: tenant) else { return .notFound }
            return .record(records[index])
        case .list(let query, let tenant):
            return list(query, tenant: tenant)
        case .update(let name, let version, let tenant, let ifMatch, let framework, let endpoints, let labels):
            let key = RegistryCursor(name: name, version: version)
            let change = Change(framework: framework, endpoints: endpoints, labels: labels)
            return update(key, tenant: tenant, ifMatch: ifMatch, change: change, now: now)
        case .transition(let name, let version, let next, let tenant, let ifMatch):
            let key = RegistryCursor(name: name, version: version)
            return transition(key, to: next, tenant: tenant, ifMatch: ifMatch, now: now)
        case .delete(let name, let version, let tenant, let ifMatch):
            return delete(RegistryCursor(name: name, version: version), tenant: tenant, ifMatch: ifMatch)
        }
    }

    // MARK: - Commands

    private mutating func create(_ spec: ModelVersionSpec, tenant: Int, now: Instant) -> RegistryReply {
        if let error = ModelVersionSpec.validate(spec) { return .invalid(field: error.field, reason: error.reason) }
        let key = RegistryCursor(name: spec.name, version: spec.version)
        let position = lowerBound(key)
        if let owner = owner(ofName: spec.name), owner != tenant {
            // Only the name, which the caller chose, appears: nothing about the owner or its versions.
            return .conflict(reason: "the model name \"\(spec.name)\" is in use")
        }
        if position < records.count && records[position].cursor == key {
            return .conflict(reason: "\(spec.name) version \(spec.version) already exists")
        }
        guard records.count < configuration.versionsMax else { return .full }
        var stored = spec
        stored.labels = ModelVersionSpec.sorted(spec.labels)
        let record = ModelVersionRecord(spec: stored, tenant: tenant, now: now)
        records.insert(record, at: position)
        return .created(record)
    }

    private func list(_ query: RegistryQuery, tenant: Int) -> RegistryReply {
        guard query.limit >= 1 && query.limit <= RegistryQuery.limitMax else {
            let reason = "must be between 1 and \(RegistryQuery.limitMax); got \(query.limit)"
            return .invalid(field: "limit", reason: reason)
        }
        var position = 0
        if let namePrefix = query.namePrefix {
            position = lowerBound(RegistryCursor(name: namePrefix, version: Int.min))
        }
        if let after = query.after { position = max(position, upperBound(after)) }
        var page: [ModelVersionRecord] = []
        while position < records.count {
            let record = records[position]
            position += 1
            // Names sharing a prefix are contiguous from the prefix's lower bound: the first miss ends them.
            if let namePrefix = query.namePrefix, !record.spec.name.utf8.starts(with: namePrefix.utf8) { break }
            guard record.tenant == tenant && query.matches(record) else { continue }
            if page.count == query.limit { return .page(page, next: page.last?.cursor) }
            page.append(record)
        }
        return .page(page, next: nil)
    }

    /// The fields an update replaces.
    private struct Change {
        var framework: String?
        var endpoints: [String]?
        var labels: [Label]?

        /// Nil when the change may be applied.
        func validate() -> RegistryFieldError? {
            if framework == nil && endpoints == nil && labels == nil {
                return RegistryFieldError(field: "", reason: "the update names no field to change")
            }
            if let framework, let error = ModelVersionSpec.validateFramework(framework) { return error }
            if let endpoints, let error = ModelVersionSpec.validateEndpoints(endpoints) { return error }
            if let labels, let error = ModelVersionSpec.validateLabels(labels) { return error }
            return nil
        }
    }

    private mutating func update(
        _ key: RegistryCursor, tenant: Int, ifMatch: Int?, change: Change, now: Instant
    ) -> RegistryReply {
        if let error = change.validate() { return .invalid(field: error.field, reason: error.reason) }
        guard let index = owned(name: key.name, version: key.version, tenant: tenant) else { return .notFound }
        var record = records[index]
        if let refusal = Self.staleRefusal(ifMatch, record) { return refusal }
        if let framework = change.framework { record.spec.framework = framework }
        if let endpoints = change.endpoints { record.spec.endpoints = endpoints }
        if let labels = change.labels { record.spec.labels = ModelVersionSpec.sorted(labels) }
        return .updated(write(record, at: index, now: now))
    }

    private mutating func transition(
        _ key: RegistryCursor, to next: VersionState, tenant: Int, ifMatch: Int?, now: Instant
    ) -> RegistryReply {
        guard let index = owned(name: key.name, version: key.version, tenant: tenant) else { return .notFound }
        var record = records[index]
        if let refusal = Self.staleRefusal(ifMatch, record) { return refusal }
        let current = record.state
        if current == next {
            return .illegalTransition(reason: "\(key.name) version \(key.version) is already \(next.name)")
        }
        guard current.allowsTransition(to: next) else {
            let reason = "\(key.name) version \(key.version) cannot move from \(current.name) to \(next.name)"
            return .illegalTransition(reason: reason)
        }
        if next == .canary, let canary = canaryVersion(ofName: key.name) {
            let reason =
                "\(key.name) already has a canary, version \(canary); promote it or roll it back first"
            return .illegalTransition(reason: reason)
        }
        record.state = next
        return .updated(write(record, at: index, now: now))
    }

    private mutating func delete(_ key: RegistryCursor, tenant: Int, ifMatch: Int?) -> RegistryReply {
        guard let index = owned(name: key.name, version: key.version, tenant: tenant) else { return .notFound }
        let record = records[index]
        if let refusal = Self.staleRefusal(ifMatch, record) { return refusal }
        guard record.state.allowsDeletion else {
            let reason =
                "\(key.name) version \(key.version) is \(record.state.name) and takes traffic; "
                + "it cannot be deleted until it is deprecated or rolled back"
            return .illegalTransition(reason: reason)
        }
        records.remove(at: index)
        return .deleted(name: key.name, version: key.version)
    }

    // MARK: - Storage

    /// Stores a changed record: the one place that bumps `resourceVersion` and `updatedAt` and guards the
    /// lifecycle and the key, so no command can forget either.
    private mutating func write(_ changed: ModelVersionRecord, at index: Int, now: Instant) -> ModelVersionRecord {
        let previous = records[index]
        precondition(changed.cursor == previous.cursor && changed.tenant == previous.tenant, "a write moved a record")
        precondition(
            changed.state == previous.state || previous.state.allowsTransition(to: changed.state),
            "\(previous.cursor) moved from \(previous.state.name) to \(changed.state.name)")
        var changed = changed
        changed.resourceVersion = previous.resourceVersion + 1
        changed.updatedAt = now
        records[index] = changed
        return changed
    }

    /// `.preconditionFailed` when `ifMatch` names another resource version than `record`'s; nil otherwise.
    private static func staleRefusal(_ ifMatch: Int?, _ record: ModelVersionRecord) -> RegistryReply? {
        guard let ifMatch, ifMatch != record.resourceVersion else { return nil }
        return .preconditionFailed(current: record.resourceVersion)
    }

    /// The index of `name`@`version` when `tenant` owns it; nil when it is missing or another tenant's.
    private func owned(name: String, version: Int, tenant: Int) -> Int? {
        guard let index = index(of: RegistryCursor(name: name, version: version)) else { return nil }
        return records[index].tenant == tenant ? index : nil
    }

    /// The tenant owning `name` (every version of a name has the same owner), or nil for a free name.
    private func owner(ofName name: String) -> Int? {
        let position = lowerBound(RegistryCursor(name: name, version: Int.min))
        guard position < records.count, records[position].spec.name.utf8.elementsEqual(name.utf8) else {
            return nil
        }
        return records[position].tenant
    }

    /// The version of `name` in `canary`, if any (there is at most one).
    private func canaryVersion(ofName name: String) -> Int? {
        var position = lowerBound(RegistryCursor(name: name, version: Int.min))
        while position < records.count && records[position].spec.name.utf8.elementsEqual(name.utf8) {
            if records[position].state == .canary { return records[position].spec.version }
            position += 1
        }
        return nil
    }

    private func index(of key: RegistryCursor) -> Int? {
        let position = lowerBound(key)
        return position < records.count && records[position].cursor == key ? position : nil
    }

    /// The first index whose record is not before `key`.
    private func lowerBound(_ key: RegistryCursor) -> Int {
        var low = 0
        var high = records.count
        while low < high {
            let middle = low + (high - low) / 2
            if records[middle].cursor < key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The first index whose record is after `key`.
    private func upperBound(_ key: RegistryCursor) -> Int {
        var low = 0
        var high = records.count
        while low < high {
            let middle = low + (high - low) / 2
            if key < records[middle].cursor { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
